package mcpserver_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"rewire/api"
	"rewire/api/wire"
	"rewire/fusefs"
	"rewire/internal/testtool"
	"rewire/kafkawire"
	"rewire/mcpserver"
	"rewire/storage"
)

type env struct {
	store *storage.Store
	url   string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	store, err := storage.Open(ctx, storage.Config{Dir: t.TempDir(), MoverInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	for _, n := range []string{"alice", "bob"} {
		if _, err := store.CreateTenant(ctx, n, n+"-pw"); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv := httptest.NewServer(mcpserver.NewHTTPHandler(store, mcpserver.Options{Log: log}))
	t.Cleanup(srv.Close)
	return &env{store: store, url: srv.URL + "/mcp"}
}

// authRT adds credentials to every request.
type authRT struct {
	user, pass, bearer string
}

func (a authRT) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if a.bearer != "" {
		r.Header.Set("Authorization", "Bearer "+a.bearer)
	} else {
		r.SetBasicAuth(a.user, a.pass)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (e *env) connect(t *testing.T, rt authRT) (*mcp.ClientSession, error) {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "rewire-test", Version: "1"}, nil)
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: e.url,
		HTTPClient: &http.Client{Transport: rt}, MaxRetries: -1, DisableStandaloneSSE: true}, nil)
	if err == nil {
		t.Cleanup(func() { cs.Close() })
	}
	return cs, err
}

// call runs a tool and returns its structured result as JSON, failing
// the test on a tool error unless wantErr.
func call(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any, wantErr bool) string {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		if wantErr {
			return err.Error()
		}
		t.Fatalf("%s: %v", name, err)
	}
	text := ""
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			text += tc.Text
		}
	}
	if res.IsError != wantErr {
		t.Fatalf("%s(%v): isError=%v: %s", name, args, res.IsError, text)
	}
	if wantErr {
		return text
	}
	b, _ := json.Marshal(res.StructuredContent)
	return string(b)
}

func TestToolsListed(t *testing.T) {
	e := newEnv(t)
	cs, err := e.connect(t, authRT{user: "alice", pass: "alice-pw"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, tl := range res.Tools {
		have[tl.Name] = true
		if tl.InputSchema == nil || tl.Description == "" {
			t.Errorf("tool %s lacks a schema or description", tl.Name)
		}
	}
	for _, n := range strings.Fields(`fs_read fs_write fs_append fs_delete fs_move fs_copy fs_list fs_mkdir
		fs_stat fs_exists fs_search fs_tree sql_query kafka_produce kafka_consume kafka_admin
		nats_publish nats_stream nats_consumer git_init git_status git_add git_commit git_log git_diff
		git_branch git_checkout git_reset git_merge git_tag git_stash`) {
		if !have[n] {
			t.Errorf("tool %s missing", n)
		}
	}
}

func TestFileTools(t *testing.T) {
	e := newEnv(t)
	cs, err := e.connect(t, authRT{user: "alice", pass: "alice-pw"})
	if err != nil {
		t.Fatal(err)
	}
	call(t, cs, "fs_mkdir", map[string]any{"path": "/notes", "parents": true}, false)
	call(t, cs, "fs_write", map[string]any{"path": "/notes/a.txt", "content": "alpha\n"}, false)
	call(t, cs, "fs_append", map[string]any{"path": "/notes/a.txt", "content": "beta\n"}, false)
	if out := call(t, cs, "fs_read", map[string]any{"path": "/notes/a.txt"}, false); !strings.Contains(out, `"content":"alpha\nbeta\n"`) {
		t.Fatalf("fs_read %s", out)
	}
	call(t, cs, "fs_copy", map[string]any{"from": "/notes/a.txt", "to": "/notes/b.txt"}, false)
	call(t, cs, "fs_move", map[string]any{"from": "/notes/b.txt", "to": "/notes/c.txt"}, false)
	if out := call(t, cs, "fs_list", map[string]any{"path": "/notes"}, false); !strings.Contains(out, `"name":"c.txt"`) ||
		strings.Contains(out, "b.txt") {
		t.Fatalf("fs_list %s", out)
	}
	if out := call(t, cs, "fs_stat", map[string]any{"path": "/notes/c.txt"}, false); !strings.Contains(out, `"size":11`) {
		t.Fatalf("fs_stat %s", out)
	}
	if out := call(t, cs, "fs_exists", map[string]any{"path": "/notes/zzz"}, false); !strings.Contains(out, `"exists":false`) {
		t.Fatalf("fs_exists %s", out)
	}
	if out := call(t, cs, "fs_search", map[string]any{"content": "beta"}, false); strings.Count(out, `"line":2`) != 2 {
		t.Fatalf("fs_search %s", out)
	}
	if out := call(t, cs, "fs_tree", map[string]any{"path": "/"}, false); !strings.Contains(out, `"path":"/notes"`) {
		t.Fatalf("fs_tree %s", out)
	}
	call(t, cs, "fs_delete", map[string]any{"path": "/notes/c.txt"}, false)

	// Bad input: traversal, wrong types, unknown members, oversize
	// content, unknown tools. Nothing changes.
	if out := call(t, cs, "fs_read", map[string]any{"path": "../../etc/passwd"}, true); !strings.Contains(out, "invalid arguments") {
		t.Fatalf("traversal: %s", out)
	}
	call(t, cs, "fs_write", map[string]any{"path": 5, "content": "x"}, true)
	call(t, cs, "fs_write", map[string]any{"path": "/x", "content": "x", "mode": 7}, true)
	call(t, cs, "fs_write", map[string]any{"path": "/big", "content": strings.Repeat("z", 9<<20)}, true)
	if out := call(t, cs, "fs_read", map[string]any{"path": "/notes/missing"}, true); !strings.Contains(out, "not found") {
		t.Fatalf("missing: %s", out)
	}
	if _, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "no_such_tool"}); err == nil {
		t.Fatal("unknown tool accepted")
	}
	if out := call(t, cs, "fs_tree", map[string]any{}, false); strings.Contains(out, "big") || strings.Contains(out, `"x"`) {
		t.Fatalf("bad input changed the tree: %s", out)
	}
	// sql_query with parameters.
	call(t, cs, "sql_query", map[string]any{"sql": "CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER)"}, false)
	call(t, cs, "sql_query", map[string]any{"sql": "INSERT INTO kv VALUES ($1, $2)", "params": []any{"a", 41}}, false)
	if out := call(t, cs, "sql_query", map[string]any{"sql": "SELECT v + 1 AS n FROM kv WHERE k = ?", "params": []any{"a"}}, false); !strings.Contains(out, `"rows":[[42]]`) {
		t.Fatalf("sql_query %s", out)
	}
}

func TestTenantBoundary(t *testing.T) {
	e := newEnv(t)
	alice, err := e.connect(t, authRT{user: "alice", pass: "alice-pw"})
	if err != nil {
		t.Fatal(err)
	}
	call(t, alice, "fs_write", map[string]any{"path": "/secret", "content": "a"}, false)
	bob, err := e.connect(t, authRT{user: "bob", pass: "bob-pw"})
	if err != nil {
		t.Fatal(err)
	}
	call(t, bob, "fs_read", map[string]any{"path": "/secret"}, true)
	if _, err := e.connect(t, authRT{user: "bob", pass: "alice-pw"}); err == nil {
		t.Fatal("wrong password connected")
	}
	// A token of alice's with the tenant part changed opens nothing.
	tn, _ := e.store.Acquire(context.Background(), "alice")
	tok, err := api.NewOps(tn).CreateToken(context.Background(), wire.TokenParams{Name: "t"})
	tn.Release()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.connect(t, authRT{bearer: strings.Replace(tok.Secret, "rw_alice_", "rw_bob_", 1)}); err == nil {
		t.Fatal("forged token connected")
	}
	cs, err := e.connect(t, authRT{bearer: tok.Secret})
	if err != nil {
		t.Fatal(err)
	}
	if out := call(t, cs, "fs_read", map[string]any{"path": "/secret"}, false); !strings.Contains(out, `"content":"a"`) {
		t.Fatalf("token read %s", out)
	}
	// Bob's session id is unknown on alice's side: the tenants' sessions
	// are apart.
	req, _ := http.NewRequest("POST", e.url, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	req.SetBasicAuth("alice", "alice-pw")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Session-Id", bob.ID())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatal("alice used bob's session")
	}
}

// TestSharedCore: a file written over MCP is read through the FUSE mount,
// and a record produced with kafka_produce is consumed with kcat.
func TestSharedCore(t *testing.T) {
	e := newEnv(t)
	cs, err := e.connect(t, authRT{user: "alice", pass: "alice-pw"})
	if err != nil {
		t.Fatal(err)
	}
	call(t, cs, "kafka_produce", map[string]any{"topic": "agent-events", "create": true,
		"records": []any{map[string]any{"key": "k", "value": "from-mcp"}}}, false)
	if out := call(t, cs, "kafka_consume", map[string]any{"topic": "agent-events"}, false); !strings.Contains(out, `"value":"from-mcp"`) {
		t.Fatalf("kafka_consume %s", out)
	}
	if out := call(t, cs, "kafka_admin", map[string]any{"action": "list"}, false); !strings.Contains(out, "agent-events") {
		t.Fatalf("kafka_admin %s", out)
	}
	kcat := testtool.Need(t, "kcat")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ks := kafkawire.NewServer(e.store, kafkawire.Config{}, nil)
	go ks.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ks.Shutdown(ctx)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, kcat, "-b", ln.Addr().String(), "-X", "security.protocol=SASL_PLAINTEXT",
		"-X", "sasl.mechanisms=PLAIN", "-X", "sasl.username=alice", "-X", "sasl.password=alice-pw",
		"-C", "-t", "agent-events", "-o", "beginning", "-e", "-q", "-f", "%k=%s\n").CombinedOutput()
	if err != nil || string(out) != "k=from-mcp\n" {
		t.Fatalf("kcat: %v %q", err, out)
	}

	call(t, cs, "fs_write", map[string]any{"path": "/shared/hello.txt", "content": "written over MCP\n", "parents": true}, false)
	testtool.NeedFUSE(t)
	dir := filepath.Join(t.TempDir(), "mnt")
	os.Mkdir(dir, 0o755)
	m, err := fusefs.Mount(context.Background(), e.store, "alice", dir, fusefs.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Unmount(); err != nil {
			syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	got, err := os.ReadFile(filepath.Join(dir, "shared", "hello.txt"))
	if err != nil || string(got) != "written over MCP\n" {
		t.Fatalf("read through FUSE: %q %v", got, err)
	}
}

// TestRevokedTokenClosesMCP: a token revoked through the JSON-RPC API
// stops working on /mcp at once, though /mcp had it cached.
func TestRevokedTokenClosesMCP(t *testing.T) {
	e := newEnv(t)
	tn, _ := e.store.Acquire(context.Background(), "alice")
	ops := api.NewOps(tn)
	tok, err := ops.CreateToken(context.Background(), wire.TokenParams{Name: "agent"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.connect(t, authRT{bearer: tok.Secret}); err != nil {
		t.Fatal(err)
	}
	if _, err := ops.RevokeToken(context.Background(), wire.TokenID{ID: tok.ID}); err != nil {
		t.Fatal(err)
	}
	tn.Release()
	if _, err := e.connect(t, authRT{bearer: tok.Secret}); err == nil {
		t.Fatal("revoked token still connects")
	}
}
