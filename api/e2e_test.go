package api_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"rewire/api"
	"rewire/api/wire"
	"rewire/client"
	"rewire/gitsmart"
	"rewire/internal/testtool"
	"rewire/kafkawire"
	"rewire/storage/gitstore"
)

func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func TestGitMethods(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	g := e.alice.Git()
	if err := g.Create(ctx, "proj"); err != nil {
		t.Fatal(err)
	}
	if err := g.Create(ctx, "proj"); client.ErrCode(err) != wire.CodeExists {
		t.Fatalf("create twice: %v", err)
	}
	if err := g.Create(ctx, "../x"); client.ErrCode(err) != wire.CodeInvalidParams {
		t.Fatalf("bad name: %v", err)
	}
	// Two commits made from a directory of alice's files.
	f := e.alice.Files()
	f.WriteFile(ctx, "/wt/readme.md", []byte("one\n"), true)
	f.WriteFile(ctx, "/wt/src/main.go", []byte("package main\n"), true)
	tn, err := e.store.Acquire(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Release()
	ops := api.NewOps(tn)
	c1, err := ops.Commit(ctx, api.Snapshot{Repo: "proj", Dir: "wt", Message: "first\n"})
	if err != nil {
		t.Fatal(err)
	}
	f.WriteFile(ctx, "/wt/readme.md", []byte("two\n"), false)
	c2, err := ops.Commit(ctx, api.Snapshot{Repo: "proj", Dir: "wt", Message: "second\n"})
	if err != nil {
		t.Fatal(err)
	}
	log, err := g.Log(ctx, "proj", "", 0)
	if err != nil || len(log) != 2 || log[0].Hash != c2.String() || log[1].Hash != c1.String() || log[0].Parents[0] != c1.String() {
		t.Fatalf("log %+v %v", log, err)
	}
	refs, err := g.Refs(ctx, "proj")
	if err != nil || refs.Head != "refs/heads/main" || len(refs.Refs) != 1 || refs.Refs[0].Hash != c2.String() {
		t.Fatalf("refs %+v %v", refs, err)
	}
	r, err := g.ReadFile(ctx, "proj", c1.String()[:10], "readme.md")
	if err != nil || r.Content != "one\n" {
		t.Fatalf("read at c1: %+v %v", r, err)
	}
	r, err = g.ReadFile(ctx, "proj", "main", "src/main.go")
	if err != nil || r.Content != "package main\n" {
		t.Fatalf("read at main: %+v %v", r, err)
	}
	d, err := g.Diff(ctx, "proj", c1.String(), "HEAD")
	if err != nil || len(d.Files) != 1 || d.Files[0].Action != "modify" || !strings.Contains(d.Patch, "-one\n+two") {
		t.Fatalf("diff %+v %v", d, err)
	}
	if _, err := g.Log(ctx, "proj", "nosuch", 0); !client.IsNotFound(err) {
		t.Fatalf("bad rev: %v", err)
	}
	// Bob does not see alice's repository.
	if _, err := e.bob.Git().Refs(ctx, "proj"); !client.IsNotFound(err) {
		t.Fatalf("bob sees alice's repo: %v", err)
	}
	// The stock git client clones what the API committed.
	gitBin := testtool.Need(t, "git")
	gs := httptest.NewServer(gitsmart.NewHandler(e.store, nil))
	t.Cleanup(gs.Close)
	dir := t.TempDir()
	u := strings.Replace(gs.URL, "http://", "http://alice:alice-pw@", 1) + "/git/alice/proj.git"
	run(t, dir, gitBin, "clone", "-q", u, "clone")
	got, err := os.ReadFile(filepath.Join(dir, "clone", "readme.md"))
	if err != nil || string(got) != "two\n" {
		t.Fatalf("cloned readme %q %v", got, err)
	}
	if err := g.Delete(ctx, "proj"); err != nil {
		t.Fatal(err)
	}
	if repos, err := g.List(ctx); err != nil || len(repos) != 0 {
		t.Fatalf("list after delete: %v %v", repos, err)
	}
}

// startKafka serves kafkawire for the env's store on 127.0.0.1:0.
func startKafka(t *testing.T, e *env) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := kafkawire.NewServer(e.store, kafkawire.Config{}, nil)
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return ln.Addr().String()
}

func kcatArgs(addr string) []string {
	return []string{"-b", addr, "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=PLAIN",
		"-X", "sasl.username=alice", "-X", "sasl.password=alice-pw"}
}

func TestStreamsProduceConsumedByKcat(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.alice.Streams()
	if err := s.CreateTopic(ctx, "events", 2); err != nil {
		t.Fatal(err)
	}
	k1, v1, v2 := "k1", "hello", "world"
	base, err := s.Produce(ctx, wire.ProduceParams{Topic: "events", Partition: 1,
		Records: []wire.Record{{Key: &k1, Value: &v1, Headers: []wire.Header{{Key: "h", Value: "x"}}}, {Value: &v2}}})
	if err != nil || base != 0 {
		t.Fatalf("produce: %d %v", base, err)
	}
	base, err = s.Produce(ctx, wire.ProduceParams{Topic: "events", Partition: 1, Records: []wire.Record{{Value: &v1}}})
	if err != nil || base != 2 {
		t.Fatalf("second produce: %d %v", base, err)
	}
	res, err := s.Read(ctx, wire.ConsumeParams{Topic: "events", Partition: 1, Offset: 1})
	if err != nil || len(res.Records) != 2 || *res.Records[0].Value != "world" || res.Next != 3 || res.Records[1].Offset != 2 {
		t.Fatalf("read: %+v %v", res, err)
	}
	if _, err := s.Read(ctx, wire.ConsumeParams{Topic: "events", Partition: 0, Offset: 5}); client.ErrCode(err) != wire.CodeOutOfRange {
		t.Fatalf("read past end: %v", err)
	}
	if _, err := s.Produce(ctx, wire.ProduceParams{Topic: "events", Partition: 7, Records: []wire.Record{{Value: &v1}}}); client.ErrCode(err) != wire.CodeInvalidParams {
		t.Fatalf("bad partition: %v", err)
	}
	if _, err := e.bob.Streams().Read(ctx, wire.ConsumeParams{Topic: "events"}); !client.IsNotFound(err) {
		t.Fatalf("bob reads alice's topic: %v", err)
	}
	l, err := s.List(ctx)
	if err != nil || len(l.Topics) != 1 || l.Topics[0].Partitions[1].Next != 3 {
		t.Fatalf("list %+v %v", l, err)
	}
	// kcat consumes through the Kafka protocol what the API produced.
	kcat := testtool.Need(t, "kcat")
	addr := startKafka(t, e)
	args := append(kcatArgs(addr), "-C", "-t", "events", "-p", "1", "-o", "beginning", "-e", "-q",
		"-f", "%o|%k|%s|%h\n")
	out := run(t, t.TempDir(), kcat, args...)
	want := "0|k1|hello|h=x\n1||world|\n2||hello|\n"
	if out != want {
		t.Fatalf("kcat read %q, want %q", out, want)
	}
	// And the API reads what kcat produced (gzip-compressed).
	run(t, t.TempDir(), "sh", "-c", "printf 'a:b\\nc:d\\n' | "+kcat+" "+strings.Join(append(kcatArgs(addr),
		"-P", "-t", "events", "-p", "0", "-K", ":", "-z", "gzip"), " "))
	res, err = s.Read(ctx, wire.ConsumeParams{Topic: "events", Partition: 0})
	if err != nil || len(res.Records) != 2 || *res.Records[1].Key != "c" || *res.Records[1].Value != "d" {
		t.Fatalf("read kcat records: %+v %v", res, err)
	}
}

func TestSQLQuery(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	q := e.alice.SQL()
	if _, err := q.Query(ctx, "", "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)"); err != nil {
		t.Fatal(err)
	}
	r, err := q.Query(ctx, "", "INSERT INTO t (id, name) VALUES ($1, $2), (?3, ?4)", 1, "a", 2, "b")
	if err != nil || r.RowsAffected != 2 {
		t.Fatalf("insert %+v %v", r, err)
	}
	r, err = q.Query(ctx, "", "SELECT id, name FROM t WHERE id >= ? ORDER BY id", 1)
	if err != nil || len(r.Rows) != 2 || r.Columns[1] != "name" || r.Rows[1][1] != "b" || r.Rows[0][0] != float64(1) {
		t.Fatalf("select %+v %v", r, err)
	}
	if _, err := q.Query(ctx, "", "ATTACH DATABASE '/tmp/x.db' AS x"); client.ErrCode(err) != wire.CodeInvalidOp {
		t.Fatalf("attach: %v", err)
	}
	if _, err := q.Query(ctx, "../etc", "SELECT 1"); client.ErrCode(err) != wire.CodeInvalidParams {
		t.Fatalf("bad db: %v", err)
	}
	if _, err := q.Query(ctx, "other", "SELECT 1"); !client.IsNotFound(err) {
		t.Fatalf("missing db: %v", err)
	}
	// Bob's default database is his own.
	if _, err := e.bob.SQL().Query(ctx, "", "SELECT * FROM t"); err == nil {
		t.Fatal("bob reads alice's table")
	}
	u, err := e.alice.Usage(ctx)
	if err != nil || u.SQLBytes == 0 {
		t.Fatalf("usage %+v %v", u, err)
	}
}

// TestCommitsRepack: each commit through the API adds a pack; once there
// are RepackPacks of them they are merged, and the history stays whole.
func TestCommitsRepack(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.alice.Git().Create(ctx, "many"); err != nil {
		t.Fatal(err)
	}
	tn, err := e.store.Acquire(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Release()
	ops := api.NewOps(tn)
	f := e.alice.Files()
	for i := range api.RepackPacks + 2 {
		if err := f.WriteFile(ctx, "/many/n.txt", []byte(fmt.Sprintf("%d\n", i)), true); err != nil {
			t.Fatal(err)
		}
		if _, err := ops.Commit(ctx, api.Snapshot{Repo: "many", Dir: "many", Message: fmt.Sprintf("c%d\n", i)}); err != nil {
			t.Fatal(err)
		}
	}
	repo, err := gitstore.Open(ctx, tn, "many")
	if err != nil {
		t.Fatal(err)
	}
	packs := len(repo.Packs)
	repo.Close()
	if packs >= api.RepackPacks {
		t.Fatalf("%d packs after %d commits: never merged", packs, api.RepackPacks+2)
	}
	commits, err := e.alice.Git().Log(ctx, "many", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(commits) != api.RepackPacks+2 {
		t.Fatalf("log has %d commits", len(commits))
	}
}

// TestCommitPackDeltas: a commit that changes a large file a little is
// stored as a delta against the version in the same write.
func TestCommitPackDeltas(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.alice.Git().Create(ctx, "big"); err != nil {
		t.Fatal(err)
	}
	tn, err := e.store.Acquire(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Release()
	f := e.alice.Files()
	var text []byte
	for i := range 20000 {
		text = fmt.Appendf(text, "line %d of a file that changes a little\n", i)
	}
	// Two similar files in one commit: one becomes a delta of the other.
	if err := f.WriteFile(ctx, "/big/a.txt", text, true); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteFile(ctx, "/big/b.txt", append([]byte("changed first line\n"), text...), true); err != nil {
		t.Fatal(err)
	}
	if _, err := api.NewOps(tn).Commit(ctx, api.Snapshot{Repo: "big", Dir: "big", Message: "two\n"}); err != nil {
		t.Fatal(err)
	}
	repo, err := gitstore.Open(ctx, tn, "big")
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	var size int64
	for _, p := range repo.Packs {
		size += p.Size
	}
	// Without deltas the pack holds both files compressed, at least
	// twice the size of one.
	one := compressedSize(text)
	if size >= 2*one {
		t.Fatalf("pack of %d bytes for two near-identical files compressing to %d each: no delta", size, one)
	}
}

func compressedSize(b []byte) int64 {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return int64(buf.Len())
}
