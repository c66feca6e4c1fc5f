package pgwire

import (
	"context"
	"errors"
	"fmt"
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
