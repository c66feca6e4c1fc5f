package pgwire

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestSearchPath resolves unqualified names through the session's
// search_path, keeps the translation cache from leaking one session's
// resolution into another's, and accepts pg_dump's set_config call.
func TestSearchPath(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	app := ts.connect(t, "acme", "acme")
	other := ts.connect(t, "acme", "acme")
	mustExec(t, app, `CREATE SCHEMA app`)
	mustExec(t, app, `CREATE TABLE t (a int)`)
	mustExec(t, app, `INSERT INTO t VALUES (2)`)
	mustExec(t, app, `SET search_path TO app, public`)
	mustExec(t, app, `CREATE TABLE t (a int, b serial)`)
	mustExec(t, app, `INSERT INTO t (a) VALUES (1)`)
	mustExec(t, app, `CREATE TABLE only_public_ref (x int)`) // lands in app too

	one := func(c *pgx.Conn, q string, mode pgx.QueryExecMode) (string, error) {
		var s string
		err := c.QueryRow(ctx, q, mode).Scan(&s)
		return s, err
	}
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		// The same text means different tables in the two sessions.
		if got, err := one(other, `SELECT a::text FROM t`, mode); err != nil || got != "2" {
			t.Fatalf("%s: default path: %q, %v", mode, got, err)
		}
		if got, err := one(app, `SELECT a::text FROM t`, mode); err != nil || got != "1" {
			t.Fatalf("%s: app path: %q, %v", mode, got, err)
		}
		if got, err := one(other, `SELECT a::text FROM t`, mode); err != nil || got != "2" {
			t.Fatalf("%s: default path after the app session: %q, %v", mode, got, err)
		}
	}
	if got, err := one(app, `SELECT count(*)::text FROM app.only_public_ref`, pgx.QueryExecModeSimpleProtocol); err != nil || got != "0" {
		t.Fatalf("table created through the path: %q, %v", got, err)
	}
	if got, err := one(app, `SELECT current_schema()::text`, pgx.QueryExecModeSimpleProtocol); err != nil || got != "app" {
		t.Fatalf("current_schema: %q, %v", got, err)
	}
	if got, err := one(app, `SELECT b::text FROM t`, pgx.QueryExecModeSimpleProtocol); err != nil || got != "1" {
		t.Fatalf("serial column of a table in a schema: %q, %v", got, err)
	}
	// pg_dump's reset of the path, through set_config.
	if got, err := one(app, `SELECT pg_catalog.set_config('search_path', '', false)`, pgx.QueryExecModeSimpleProtocol); err != nil || got != "" {
		t.Fatalf("set_config: %q, %v", got, err)
	}
	if got, err := one(app, `SELECT a::text FROM t`, pgx.QueryExecModeSimpleProtocol); err != nil || got != "2" {
		t.Fatalf("after set_config: %q, %v", got, err)
	}
	if got, err := one(app, `SELECT set_config('search_path', 'app', false)`, pgx.QueryExecModeCacheStatement); err != nil || got != "app" {
		t.Fatalf("set_config, extended protocol: %q, %v", got, err)
	}
	if got, err := one(app, `SELECT a::text FROM t`, pgx.QueryExecModeSimpleProtocol); err != nil || got != "1" {
		t.Fatalf("after set_config to app: %q, %v", got, err)
	}
	mustExec(t, app, `RESET search_path`)
	if got, err := one(app, `SELECT a::text FROM t`, pgx.QueryExecModeSimpleProtocol); err != nil || got != "2" {
		t.Fatalf("after RESET: %q, %v", got, err)
	}
}
