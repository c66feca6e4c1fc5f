package pgwire

import (
	"context"
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
