package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/nats-io/nats.go"

	"rewire/client"
	"rewire/internal/testserver"
	"rewire/internal/testtool"
)

// basicAuth adds a tenant's credentials to every request.
type basicAuth struct{ user, pass string }

func (b basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(b.user, b.pass)
	return http.DefaultTransport.RoundTrip(r)
}

// TestHTTPAPIAndMCPFromServe checks that `rewire serve` serves the JSON-RPC
// API at /rpc, file transfer at /v1/files/ and MCP at /mcp on the HTTP
// address, all on the same tenant data psql sees.
func TestHTTPAPIAndMCPFromServe(t *testing.T) {
	psql := testtool.Need(t, "psql")
	srv := testserver.Start(t, testserver.Options{})
	srv.CreateTenant(t, "gamma", "gamma-pw")
	srv.CreateTenant(t, "delta", "delta-pw")
	a := srv.Addrs
	ctx := context.Background()

	mustRun(t, "", psql, psqlArgs(a.PG, "gamma", "gamma-pw", "-c",
		"CREATE TABLE notes (id int PRIMARY KEY, body text)", "-c", "INSERT INTO notes VALUES (1, 'from psql')")...)

	base := "http://" + a.HTTP
	c := client.New(base, &client.Options{User: "gamma", Password: "gamma-pw"})
	res, err := c.SQL().Query(ctx, "", "SELECT body FROM notes WHERE id = ?", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 1 || res.Rows[0][0] != "from psql" {
		t.Fatalf("sql.query over /rpc = %+v", res)
	}
	// Another tenant's credentials see none of it.
	other := client.New(base, &client.Options{User: "delta", Password: "delta-pw"})
	if _, err := other.SQL().Query(ctx, "", "SELECT body FROM notes"); err == nil {
		t.Fatal("delta read gamma's table over /rpc")
	}
	if _, err := client.New(base, &client.Options{User: "gamma", Password: "wrong"}).SQL().Query(ctx, "", "SELECT 1"); err == nil {
		t.Fatal("wrong password accepted by /rpc")
	}

	// MCP: a go-sdk client writes a file; the API's file transfer reads it.
	mc := mcp.NewClient(&mcp.Implementation{Name: "rewire-e2e", Version: "1"}, nil)
	cs, err := mc.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: base + "/mcp",
		HTTPClient: &http.Client{Transport: basicAuth{"gamma", "gamma-pw"}}, MaxRetries: -1, DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	tools, err := cs.ListTools(ctx, nil)
	if err != nil || len(tools.Tools) < 20 {
		t.Fatalf("tools/list: %d tools, %v", len(tools.Tools), err)
	}
	r, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "fs_write",
		Arguments: map[string]any{"path": "/docs/hello.txt", "content": "hello from mcp\n", "parents": true}})
	if err != nil || r.IsError {
		b, _ := json.Marshal(r)
		t.Fatalf("fs_write: %v %s", err, b)
	}
	req, _ := http.NewRequest("GET", base+"/v1/files/docs/hello.txt", nil)
	req.SetBasicAuth("gamma", "gamma-pw")
	req.Header.Set("Range", "bytes=6-")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || string(body) != "from mcp\n" {
		t.Fatalf("GET /v1/files range = %d %q", resp.StatusCode, body)
	}
	req, _ = http.NewRequest("GET", base+"/v1/files/docs/hello.txt", nil)
	req.SetBasicAuth("delta", "delta-pw")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("delta reading gamma's file: %d", resp.StatusCode)
	}
	// nats_publish goes through the server's NATS listener: a stream made
	// by a NATS client stores it.
	nc, err := nats.Connect("nats://"+a.NATS, nats.UserInfo("gamma", "gamma-pw"), nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AddStream(&nats.StreamConfig{Name: "AGENT", Subjects: []string{"agent.>"}}); err != nil {
		t.Fatal(err)
	}
	r, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "nats_publish",
		Arguments: map[string]any{"subject": "agent.note", "data": "from mcp"}})
	if err != nil || r.IsError {
		t.Fatalf("nats_publish: %v %+v", err, r)
	}
	if m, err := js.GetMsg("AGENT", 1); err != nil || string(m.Data) != "from mcp" {
		t.Fatalf("stream message: %v %+v", err, m)
	}

	// Unauthenticated MCP requests are refused.
	resp, err = http.Post(base+"/mcp", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous /mcp: %d", resp.StatusCode)
	}
}

// TestMCPStdio runs `rewire mcp --tenant T` as an MCP client's subprocess,
// as an AI agent would, and checks that it refuses a data directory a
// server is using.
func TestMCPStdio(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	srv.CreateTenant(t, "solo", "solo-pw")
	ctx := context.Background()

	// While the server runs, the data directory is locked.
	out, err := exec.Command(srv.Bin, "mcp", "--tenant", "solo", "--data", srv.DataDir).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use by another rewire process") {
		t.Fatalf("rewire mcp beside a server: %v: %s", err, out)
	}
	srv.Stop(t)

	mc := mcp.NewClient(&mcp.Implementation{Name: "rewire-e2e", Version: "1"}, nil)
	cmd := exec.Command(srv.Bin, "mcp", "--tenant", "solo", "--data", srv.DataDir)
	cs, err := mc.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tools, err := cs.ListTools(ctx, nil)
	if err != nil || len(tools.Tools) < 20 {
		t.Fatalf("tools/list: %v", err)
	}
	r, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "fs_write",
		Arguments: map[string]any{"path": "/agent.txt", "content": "written over stdio\n"}})
	if err != nil || r.IsError {
		t.Fatalf("fs_write: %v %+v", err, r)
	}
	r, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "fs_read", Arguments: map[string]any{"path": "/../../agent.txt"}})
	if err == nil && !r.IsError {
		t.Fatalf("fs_read outside the tenant's tree succeeded: %+v", r)
	}
	if err := cs.Close(); err != nil {
		t.Logf("close: %v", err)
	}

	// The server sees the file after a restart.
	srv.Restart(t)
	c := client.New("http://"+srv.Addrs.HTTP, &client.Options{User: "solo", Password: "solo-pw"})
	var got struct {
		Content string `json:"content"`
	}
	if err := c.Call(ctx, "files.read", map[string]any{"path": "/agent.txt"}, &got); err != nil {
		t.Fatal(err)
	}
	if got.Content != "written over stdio\n" {
		t.Fatalf("files.read = %q", got.Content)
	}
}

// TestNATSMaxPayloadFlag: --nats-max-payload is what NATS clients are told.
func TestNATSMaxPayloadFlag(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Args: []string{"--nats-max-payload", "4096"}})
	srv.CreateTenant(t, "small", "small-pw")
	nc, err := nats.Connect("nats://"+srv.Addrs.NATS, nats.UserInfo("small", "small-pw"), nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if nc.MaxPayload() != 4096 {
		t.Fatalf("max payload %d, want 4096", nc.MaxPayload())
	}
	if err := nc.Publish("x", make([]byte, 5000)); err == nil {
		t.Fatal("publish above the max payload accepted")
	}
}
