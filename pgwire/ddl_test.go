package pgwire

import (
	"context"
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
