package api_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"rewire/api/wire"
	"rewire/client"
	"rewire/pgwire"
)

// TestSQLPostgresDialect: statements in PostgreSQL's dialect go through
// pgwire's translator, and pgx connected to pgwire sees the same table.
func TestSQLPostgresDialect(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.alice
	q := func(sql string, params ...any) wire.SQLResult {
		t.Helper()
		var r wire.SQLResult
		err := c.Call(ctx, "sql.query", wire.SQLParams{SQL: sql, Params: params, Dialect: "postgres"}, &r)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return r
	}
	q("CREATE TABLE items (id SERIAL PRIMARY KEY, name TEXT NOT NULL, done BOOLEAN DEFAULT false, at TIMESTAMPTZ)")
	r := q("INSERT INTO items (name, done, at) VALUES ($1, $2, $3), ($4, false, NULL)", "write", "true",
		"2026-01-02 03:04:05+00", "test")
	if r.RowsAffected != 2 {
		t.Fatalf("insert %+v", r)
	}
	r = q("SELECT id, name, done FROM items WHERE name = $1", "write")
	if len(r.Rows) != 1 || r.Rows[0][0] != float64(1) || r.Rows[0][1] != "write" || r.Rows[0][2] != true {
		t.Fatalf("select %+v", r)
	}
	var bad wire.SQLResult
	if err := c.Call(ctx, "sql.query", wire.SQLParams{SQL: "BEGIN", Dialect: "postgres"}, &bad); client.ErrCode(err) != wire.CodeInvalidOp {
		t.Fatalf("BEGIN: %v", err)
	}
	if err := c.Call(ctx, "sql.query", wire.SQLParams{SQL: "SELEC 1", Dialect: "postgres"}, &bad); client.ErrCode(err) != wire.CodeInvalidOp {
		t.Fatalf("syntax error: %v", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := pgwire.NewServer(e.store, pgwire.Config{}, nil)
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	pc, err := pgx.Connect(ctx, fmt.Sprintf("postgres://alice:alice-pw@%s/alice?sslmode=disable", ln.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(ctx)
	var name string
	var done bool
	var at time.Time
	if err := pc.QueryRow(ctx, "SELECT name, done, at FROM items WHERE id = 1").Scan(&name, &done, &at); err != nil {
		t.Fatal(err)
	}
	if name != "write" || !done || !at.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Fatalf("pgx reads %q %v %v", name, done, at)
	}
	if _, err := pc.Exec(ctx, "INSERT INTO items (name) VALUES ('from-pgx')"); err != nil {
		t.Fatal(err)
	}
	if r := q("SELECT count(*) FROM items"); r.Rows[0][0] != float64(3) {
		t.Fatalf("count after pgx insert %+v", r)
	}
}
