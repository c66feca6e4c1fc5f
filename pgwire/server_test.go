package pgwire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"rewire/storage"
)

// quietLogs discards server logs (fuzz workers must not flood stderr).
var quietLogs bool

// testServer is a rewire PostgreSQL listener on a loopback port over a
// fresh store.
type testServer struct {
	store *storage.Store
	srv   *Server
	addr  *net.TCPAddr
}

func startServer(t testing.TB, tenants ...string) *testServer {
	t.Helper()
	return startServerWith(t, Config{}, tenants...)
}

// startServerWith starts a server with the given configuration.
func startServerWith(t testing.TB, cfg Config, tenants ...string) *testServer {
	t.Helper()
	ctx := context.Background()
	st, err := storage.Open(ctx, storage.Config{Dir: t.TempDir(), MoverInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(tenants) == 0 {
		tenants = []string{"acme"}
	}
	for _, name := range tenants {
		if _, err := st.CreateTenant(ctx, name, "secret-"+name); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	level := slog.LevelWarn
	if os.Getenv("REWIRE_PG_DEBUG") != "" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if quietLogs {
		log = slog.New(slog.DiscardHandler)
	}
	srv := NewServer(st, cfg, log)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		st.Close()
	})
	return &testServer{store: st, srv: srv, addr: ln.Addr().(*net.TCPAddr)}
}

func (ts *testServer) url(tenant, db string) string {
	return fmt.Sprintf("postgres://%s:secret-%s@127.0.0.1:%d/%s?sslmode=disable", tenant, tenant, ts.addr.Port, db)
}

func (ts *testServer) connect(t testing.TB, tenant, db string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), ts.url(tenant, db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func TestConnectAndQuery(t *testing.T) {
	ts := startServer(t)
	c := ts.connect(t, "acme", "acme")
	ctx := context.Background()
	mustExec(t, c, `CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, qty int, price numeric(10,2))`)
	mustExec(t, c, `INSERT INTO items (name, qty, price) VALUES ('apple', 3, 1.5), ('pear', 5, 2.25)`)
	var n int
	var total float64
	if err := c.QueryRow(ctx, `SELECT count(*), sum(qty * price) FROM items`).Scan(&n, &total); err != nil {
		t.Fatal(err)
	}
	if n != 2 || total != 15.75 {
		t.Fatalf("got %d %v", n, total)
	}
	var name string
	var id int64
	if err := c.QueryRow(ctx, `SELECT id, name FROM items WHERE qty = $1`, 5).Scan(&id, &name); err != nil {
		t.Fatal(err)
	}
	if name != "pear" || id != 2 {
		t.Fatalf("got %d %q", id, name)
	}
}

func mustExec(t testing.TB, c *pgx.Conn, q string, args ...any) {
	t.Helper()
	if _, err := c.Exec(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestWriterDropsMapping checks that a session reads through the file
// mapping until it commits a write, then without it, and that its
// connection goes back to the pool mapped again (see mmapBytes).
func TestWriterDropsMapping(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	client, server := net.Pipe()
	defer client.Close()
	go io.Copy(io.Discard, client)
	c := ts.srv.newConn(server)
	if err := c.openForTest("acme", "acme"); err != nil {
		t.Fatal(err)
	}
	mapped := func() int64 {
		t.Helper()
		var n int64
		if err := c.sc.QueryRowContext(ctx, "PRAGMA mmap_size").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := mapped(); n != mmapBytes {
		t.Fatalf("new session maps %d bytes, want %d", n, mmapBytes)
	}
	if _, err := c.sc.ExecContext(ctx, "CREATE TABLE w (x)"); err != nil {
		t.Fatal(err)
	}
	if err := c.syncCommit(); err != nil {
		t.Fatal(err)
	}
	if n := mapped(); n != 0 || !c.unmapped {
		t.Fatalf("after a write the session maps %d bytes", n)
	}
	// Another session keeps the database open while c closes; the idle
	// connection c hands back must be mapped again.
	client2, server2 := net.Pipe()
	defer client2.Close()
	c2 := ts.srv.newConn(server2)
	if err := c2.openForTest("acme", "acme"); err != nil {
		t.Fatal(err)
	}
	defer c2.close()
	c.close()
	sc, err := sessionConn(ctx, c2.db)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	var n int64
	if err := sc.QueryRowContext(ctx, "PRAGMA mmap_size").Scan(&n); err != nil || n != mmapBytes {
		t.Fatalf("connection back in the pool maps %d bytes (%v), want %d", n, err, mmapBytes)
	}
}
