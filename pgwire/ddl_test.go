package pgwire

import (
	"context"
	"strings"
	"testing"
)

// TestUpsertReturningAndAlterTable checks RETURNING * of an upsert (the
// target's columns once, not excluded's too) and ALTER TABLE's column
// changes, DROP COLUMN included.
func TestUpsertReturningAndAlterTable(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	c := ts.connect(t, "acme", "acme")
	mustExec(t, c, `CREATE TABLE up (id int PRIMARY KEY, n text, k int)`)
	mustExec(t, c, `INSERT INTO up VALUES (1, 'a', 1)`)
	rows, err := c.Query(ctx, `INSERT INTO up VALUES (1, 'b', 2) ON CONFLICT (id) DO UPDATE SET n = excluded.n || 'x' RETURNING *`)
	if err != nil {
		t.Fatal(err)
	}
	var got [][]any
	for rows.Next() {
		v, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0]) != 3 || got[0][1] != "bx" || got[0][2] != int32(1) {
		t.Fatalf("upsert RETURNING *: %v", got)
	}

	mustExec(t, c, `ALTER TABLE up ADD COLUMN extra int DEFAULT 5`)
	mustExec(t, c, `ALTER TABLE up RENAME COLUMN extra TO more`)
	mustExec(t, c, `ALTER TABLE up DROP COLUMN k`)
	mustExec(t, c, `ALTER TABLE up DROP COLUMN IF EXISTS nope`)
	if _, err := c.Exec(ctx, `ALTER TABLE up DROP COLUMN nope`); sqlState(err) != "42703" {
		t.Fatalf("drop of a missing column: %v", err)
	}
	var id, more int32
	var n string
	if err := c.QueryRow(ctx, `SELECT * FROM up`).Scan(&id, &n, &more); err != nil || id != 1 || n != "bx" || more != 5 {
		t.Fatalf("after ALTER TABLE: %d %q %d %v", id, n, more, err)
	}
	mustExec(t, c, `ALTER TABLE up RENAME TO up2`)
	if _, err := c.Exec(ctx, `SELECT * FROM up`); sqlState(err) != "42P01" {
		t.Fatalf("old name after rename: %v", err)
	}
}

// TestCreateTableAs checks CREATE TABLE … AS and SELECT … INTO: the new
// table's rows, column names and PostgreSQL types, and the command tags.
func TestCreateTableAs(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	c := ts.connect(t, "acme", "acme")
	mustExec(t, c, `CREATE TABLE src (i int, n numeric(6,2), t text)`)
	mustExec(t, c, `INSERT INTO src VALUES (1, 1.5, 'a'), (2, 2, 'b')`)
	for _, tc := range []struct{ sql, tag string }{
		{`CREATE TABLE c1 AS SELECT * FROM src WHERE i > 0`, "SELECT 2"},
		{`CREATE TABLE c2 (x, y) AS SELECT i, t || '!' FROM src`, "SELECT 2"},
		{`SELECT i * 2 AS dbl, t INTO c3 FROM src WHERE i = 2`, "SELECT 1"},
		{`CREATE TABLE c4 AS SELECT * FROM src WITH NO DATA`, "CREATE TABLE AS"},
		{`CREATE TABLE IF NOT EXISTS c1 AS SELECT 1`, "CREATE TABLE AS"},
	} {
		tag, err := c.PgConn().Exec(ctx, tc.sql).ReadAll()
		if err != nil || len(tag) != 1 || tag[0].CommandTag.String() != tc.tag {
			t.Fatalf("%s: %v %v", tc.sql, tag, err)
		}
	}
	if _, err := c.Exec(ctx, `CREATE TABLE c1 AS SELECT 1`); sqlState(err) != "42P07" {
		t.Fatalf("existing table: %v", err)
	}
	var types []string
	rows, err := c.Query(ctx, `SELECT column_name || ' ' || data_type FROM information_schema.columns WHERE table_name = 'c1' ORDER BY ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		types = append(types, s)
	}
	if strings.Join(types, ", ") != "i integer, n numeric, t text" {
		t.Fatalf("c1 columns: %v", types)
	}
	var x int32
	var y string
	if err := c.QueryRow(ctx, `SELECT x, y FROM c2 WHERE x = 2`).Scan(&x, &y); err != nil || y != "b!" {
		t.Fatalf("c2: %d %q %v", x, y, err)
	}
	var n int
	if err := c.QueryRow(ctx, `SELECT (SELECT dbl FROM c3) + (SELECT count(*) FROM c4)`).Scan(&n); err != nil || n != 4 {
		t.Fatalf("c3, c4: %d %v", n, err)
	}
}
