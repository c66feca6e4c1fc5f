package pgwire

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestSequences drives CREATE SEQUENCE, nextval, currval and setval over
// the extended protocol (pgx) and the simple one.
func TestSequences(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	c := ts.connect(t, "acme", "acme")
	mustExec(t, c, `CREATE SEQUENCE s1 START 10 INCREMENT 5`)
	mustExec(t, c, `CREATE SEQUENCE "Mixed"`)
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		var got []int64
		for _, q := range []string{
			`SELECT nextval('s1')`, `SELECT nextval('public.s1'::regclass)`, `SELECT currval('s1')`,
			`SELECT setval('s1', 100)`, `SELECT nextval('s1')`, `SELECT setval('s1', 7, false)`, `SELECT nextval('s1')`,
			`SELECT nextval('"Mixed"')`,
		} {
			var v int64
			if err := c.QueryRow(ctx, q, mode).Scan(&v); err != nil {
				t.Fatalf("%s %s: %v", mode, q, err)
			}
			got = append(got, v)
		}
		// The second round starts where setval(…, 7, false) left s1.
		want := map[pgx.QueryExecMode][]int64{
			pgx.QueryExecModeCacheStatement: {10, 15, 15, 100, 105, 7, 7, 1},
			pgx.QueryExecModeSimpleProtocol: {12, 17, 17, 100, 105, 7, 7, 2},
		}[mode]
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", mode, got, want)
		}
	}
	// A parameter names the sequence.
	var v int64
	if err := c.QueryRow(ctx, `SELECT nextval($1)`, "s1").Scan(&v); err != nil || v != 12 {
		t.Fatalf("nextval($1): %d, %v", v, err)
	}
	_, err := c.Exec(ctx, `SELECT nextval('nope')`)
	if sqlState(err) != "42P01" {
		t.Fatalf("unknown sequence: %v", err)
	}
	// The catalog lists the sequence for psql's \ds and \d.
	var name, typ string
	var start, incr int64
	err = c.QueryRow(ctx, `SELECT c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement
		FROM pg_class c JOIN pg_sequence s ON s.seqrelid = c.oid WHERE c.relkind = 'S' AND c.relname = 's1'`).Scan(&name, &typ, &start, &incr)
	if err != nil || name != "s1" || typ != "bigint" || start != 10 || incr != 5 {
		t.Fatalf("catalog: %s %s %d %d %v", name, typ, start, incr, err)
	}
	mustExec(t, c, `DROP SEQUENCE s1`)
	if _, err := c.Exec(ctx, `SELECT nextval('s1')`); sqlState(err) != "42P01" {
		t.Fatalf("dropped sequence: %v", err)
	}
}

// TestSequencesInExpressions uses sequences where PostgreSQL allows any
// expression: column defaults, serial columns that are not the key,
// INSERT … VALUES, a select list over a table, and psql's \d output.
func TestSequencesInExpressions(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	c := ts.connect(t, "acme", "acme")
	mustExec(t, c, `CREATE SEQUENCE ids START 100`)
	mustExec(t, c, `CREATE TABLE orders (id bigint PRIMARY KEY DEFAULT nextval('ids'::regclass), line serial, note text)`)
	mustExec(t, c, `INSERT INTO orders (note) VALUES ('a'), ('b')`)
	mustExec(t, c, `INSERT INTO orders (id, note) VALUES (nextval('ids') * 10, 'c')`)
	var ids, lines []int64
	rows, err := c.Query(ctx, `SELECT id, line FROM orders ORDER BY line`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, line int64
		if err := rows.Scan(&id, &line); err != nil {
			t.Fatal(err)
		}
		ids, lines = append(ids, id), append(lines, line)
	}
	if rows.Err() != nil || !slices.Equal(ids, []int64{100, 101, 1020}) || !slices.Equal(lines, []int64{1, 2, 3}) {
		t.Fatalf("ids %v lines %v, %v", ids, lines, rows.Err())
	}
	// RETURNING sees the drawn value; currval reads it back.
	var id, cur int64
	if err := c.QueryRow(ctx, `INSERT INTO orders (note) VALUES ('d') RETURNING id`).Scan(&id); err != nil || id != 103 {
		t.Fatalf("returning: %d, %v", id, err)
	}
	if err := c.QueryRow(ctx, `SELECT currval('ids') + 0`).Scan(&cur); err != nil || cur != 103 {
		t.Fatalf("currval in an expression: %d, %v", cur, err)
	}
	// One value per row of a select list over a table.
	var n, distinct int64
	err = c.QueryRow(ctx, `SELECT count(*), count(DISTINCT v) FROM (SELECT nextval('ids') AS v FROM orders) x`).Scan(&n, &distinct)
	if err != nil || n != 4 || distinct != 4 {
		t.Fatalf("nextval per row: %d rows, %d distinct, %v", n, distinct, err)
	}
	// setval inside an expression, with a parameter.
	if err := c.QueryRow(ctx, `SELECT setval('ids', $1::bigint) + 1`, int64(500)).Scan(&cur); err != nil || cur != 501 {
		t.Fatalf("setval: %d, %v", cur, err)
	}
	if err := c.QueryRow(ctx, `INSERT INTO orders (note) VALUES ('e') RETURNING id`).Scan(&id); err != nil || id != 501 {
		t.Fatalf("after setval: %d, %v", id, err)
	}
	// The catalog shows the defaults as PostgreSQL prints them.
	var defs []string
	rows, err = c.Query(ctx, `SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d
		JOIN pg_class c ON c.oid = d.adrelid WHERE c.relname = 'orders' ORDER BY d.adnum`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var d string
		rows.Scan(&d)
		defs = append(defs, d)
	}
	if want := []string{"nextval('ids'::regclass)", "nextval('orders_line_seq'::regclass)"}; !slices.Equal(defs, want) {
		t.Fatalf("defaults %q, want %q", defs, want)
	}
	// A missing sequence and one never drawn from fail as in PostgreSQL.
	if _, err := c.Exec(ctx, `INSERT INTO orders (id, note) VALUES (nextval('nope'), 'x')`); sqlState(err) != "42P01" {
		t.Fatalf("missing sequence: %v", err)
	}
	mustExec(t, c, `CREATE SEQUENCE fresh`)
	if _, err := c.Exec(ctx, `SELECT currval('fresh') + 1`); sqlState(err) != "55000" {
		t.Fatalf("currval before nextval: %v", err)
	}
	// A failed statement leaves the table as it was.
	if _, err := c.Exec(ctx, `INSERT INTO orders (id, note) VALUES (nextval('ids'), NULL), (1 / 0, 'x')`); sqlState(err) != "22012" {
		t.Fatalf("division by zero: %v", err)
	}
	if err := c.QueryRow(ctx, `SELECT count(*) FROM orders`).Scan(&n); err != nil || n != 5 {
		t.Fatalf("rows after a failed insert: %d, %v", n, err)
	}
}

// TestSetDefault resets columns to their defaults in UPDATE, including a
// sequence default, which draws a new value for each row.
func TestSetDefault(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	c := ts.connect(t, "acme", "acme")
	mustExec(t, c, `CREATE SEQUENCE tick`)
	mustExec(t, c, `CREATE TABLE sd (id int PRIMARY KEY, status text DEFAULT 'new', n bigint DEFAULT nextval('tick'), note text)`)
	mustExec(t, c, `INSERT INTO sd (id, status, note) VALUES (1, 'done', 'x'), (2, 'open', 'y')`)
	mustExec(t, c, `UPDATE sd SET status = DEFAULT, note = DEFAULT, n = DEFAULT`)
	rows, err := c.Query(ctx, `SELECT status, coalesce(note, 'NULL'), n FROM sd ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var s, note string
		var n int64
		rows.Scan(&s, &note, &n)
		got = append(got, fmt.Sprintf("%s %s %d", s, note, n))
	}
	if want := []string{"new NULL 3", "new NULL 4"}; !slices.Equal(got, want) {
		t.Fatalf("after SET DEFAULT: %q, want %q", got, want)
	}
}

// TestSerialKeySequence checks the sequence of a serial primary key, which
// rewire keeps as the table's rowid: keys are never handed out twice,
// nextval and setval move the next key, currval follows inserts, and
// pg_get_serial_sequence names it (ORMs reset keys with these).
func TestSerialKeySequence(t *testing.T) {
	ts := startServer(t, "acme", "other")
	ctx := context.Background()
	c := ts.connect(t, "acme", "acme")
	mustExec(t, c, `CREATE TABLE items (id serial PRIMARY KEY, v text)`)
	if _, err := c.Exec(ctx, `SELECT currval('items_id_seq')`); sqlState(err) != "55000" {
		t.Fatalf("currval before any key: %v, want 55000", err)
	}
	insert := func() int64 {
		t.Helper()
		var id int64
		if err := c.QueryRow(ctx, `INSERT INTO items(v) VALUES ('x') RETURNING id`).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	one := func(q string) int64 {
		t.Helper()
		var v int64
		if err := c.QueryRow(ctx, q).Scan(&v); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return v
	}
	var got []int64
	got = append(got, insert(), insert(), insert())
	mustExec(t, c, `DELETE FROM items WHERE id = 3`)
	got = append(got, insert())                              // 4, not 3 again
	got = append(got, one(`SELECT currval('items_id_seq')`)) // 4
	got = append(got, one(`SELECT nextval('items_id_seq')`)) // 5, consumed
	got = append(got, insert())                              // 6
	got = append(got, one(`SELECT setval('public.items_id_seq', 100)`), insert())
	got = append(got, one(`SELECT setval('items_id_seq', 200, false)`), insert())
	got = append(got, one(`SELECT nextval('items_id_seq') + 0`)) // inside an expression
	if want := []int64{1, 2, 3, 4, 4, 5, 6, 100, 101, 200, 200, 201}; !slices.Equal(got, want) {
		t.Fatalf("keys and sequence values: got %v, want %v", got, want)
	}
	// What Django's sequence reset runs.
	mustExec(t, c, `SELECT setval(pg_get_serial_sequence('"items"','id'), coalesce(max("id"), 1), max("id") IS NOT null) FROM "items"`)
	if id := insert(); id != 201 {
		t.Fatalf("key after reset to the largest: %d, want 201", id)
	}
	var seq *string
	if err := c.QueryRow(ctx, `SELECT pg_get_serial_sequence('items', 'id')`).Scan(&seq); err != nil || seq == nil || *seq != "public.items_id_seq" {
		t.Fatalf("pg_get_serial_sequence: %v, %v", seq, err)
	}
	if err := c.QueryRow(ctx, `SELECT pg_get_serial_sequence('items', 'v')`).Scan(&seq); err != nil || seq != nil {
		t.Fatalf("pg_get_serial_sequence of a plain column: %v, %v", seq, err)
	}
	// An integer key that is not serial has no sequence, as in PostgreSQL.
	mustExec(t, c, `CREATE TABLE plain (id integer PRIMARY KEY)`)
	if _, err := c.Exec(ctx, `SELECT nextval('plain_id_seq')`); sqlState(err) != "42P01" {
		t.Fatalf("nextval of a key that is not serial: %v, want 42P01", err)
	}
	// Another database of the tenant, and another tenant, have their own.
	mustExec(t, c, `CREATE DATABASE second`)
	for _, o := range []*pgx.Conn{ts.connect(t, "acme", "second"), ts.connect(t, "other", "other")} {
		if _, err := o.Exec(ctx, `SELECT nextval('items_id_seq')`); sqlState(err) != "42P01" {
			t.Fatalf("sequence seen from another database: %v", err)
		}
	}
}
