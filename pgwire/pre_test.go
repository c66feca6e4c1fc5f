package pgwire

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestDataModifyingWith runs INSERT, UPDATE and DELETE … RETURNING inside
// WITH, read by SELECT and by INSERT, with parameters, in both protocols.
func TestDataModifyingWith(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	c := ts.connect(t, "acme", "acme")
	mustExec(t, c, `CREATE TABLE queue (id serial PRIMARY KEY, job text, done bool DEFAULT false)`)
	mustExec(t, c, `CREATE TABLE archive (id int, job text)`)
	mustExec(t, c, `INSERT INTO queue (job) VALUES ('a'), ('b'), ('c')`)
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		var n int
		// Move finished jobs to the archive in one statement.
		mustExec(t, c, `UPDATE queue SET done = true WHERE job <> 'b'`)
		tag, err := c.Exec(ctx, `WITH moved AS (DELETE FROM queue WHERE done RETURNING id, job)
			INSERT INTO archive SELECT id, job FROM moved`, mode)
		if err != nil || tag.RowsAffected() != 2 {
			t.Fatalf("%s: move: %v %v", mode, tag, err)
		}
		if err := c.QueryRow(ctx, `SELECT count(*) FROM archive`, mode).Scan(&n); err != nil || n != 2 {
			t.Fatalf("%s: archive holds %d, %v", mode, n, err)
		}
		// A SELECT over an INSERT's returned rows, with a parameter.
		var job string
		err = c.QueryRow(ctx, `WITH ins AS (INSERT INTO queue (job) VALUES ($1) RETURNING id, job)
			SELECT upper(job) FROM ins`, mode, "d").Scan(&job)
		if err != nil || job != "D" {
			t.Fatalf("%s: insert in WITH: %q %v", mode, job, err)
		}
		// Several, one without RETURNING.
		err = c.QueryRow(ctx, `WITH u AS (UPDATE queue SET job = job || '!' WHERE job = 'b' RETURNING id),
			x AS (DELETE FROM archive WHERE job = 'nothing')
			SELECT count(*) FROM u`, mode).Scan(&n)
		if err != nil || n != 1 {
			t.Fatalf("%s: update in WITH: %d %v", mode, n, err)
		}
		mustExec(t, c, `DELETE FROM archive`)
		mustExec(t, c, `UPDATE queue SET job = 'b', done = false WHERE job = 'b!'`)
		mustExec(t, c, `DELETE FROM queue WHERE job = 'd'`)
		mustExec(t, c, `INSERT INTO queue (job) VALUES ('a'), ('c')`)
	}
	// A failing main statement rolls the CTE's change back.
	if _, err := c.Exec(ctx, `WITH d AS (DELETE FROM queue RETURNING id) SELECT 1 / (count(*) - count(*)) FROM d`); sqlState(err) != "22012" {
		t.Fatalf("division by zero: %v", err)
	}
	var n int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM queue`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("queue after a failed statement: %d, %v", n, err)
	}
}
