package pgwire

import (
	"context"
	"testing"
)

// TestAddConstraintRebuild adds FOREIGN KEY and CHECK constraints to
// tables that hold rows, indexes, views and references from other tables.
func TestAddConstraintRebuild(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	c := ts.connect(t, "acme", "acme")
	mustExec(t, c, `CREATE TABLE parent (id int PRIMARY KEY, name text)`)
	mustExec(t, c, `CREATE TABLE child (id serial PRIMARY KEY, pid int, tag text, n int)`)
	mustExec(t, c, `CREATE TABLE grandchild (cid int REFERENCES child(id))`)
	mustExec(t, c, `CREATE UNIQUE INDEX child_tag ON child (tag)`)
	mustExec(t, c, `CREATE VIEW child_names AS SELECT c.tag, p.name FROM child c JOIN parent p ON p.id = c.pid`)
	mustExec(t, c, `INSERT INTO parent VALUES (1, 'one'), (2, 'two')`)
	mustExec(t, c, `INSERT INTO child (pid, tag, n) VALUES (1, 'a', 5), (2, 'b', 7), (9, 'orphan', 1)`)
	mustExec(t, c, `INSERT INTO grandchild VALUES (1)`)

	// Existing rows are checked: the orphan refuses the foreign key and
	// the table stays as it was.
	if _, err := c.Exec(ctx, `ALTER TABLE child ADD CONSTRAINT child_pid_fk FOREIGN KEY (pid) REFERENCES parent (id)`); sqlState(err) != "23503" {
		t.Fatalf("foreign key over an orphan: %v", err)
	}
	var n int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM child`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("child after a failed ALTER: %d, %v", n, err)
	}
	mustExec(t, c, `DELETE FROM child WHERE tag = 'orphan'`)
	mustExec(t, c, `ALTER TABLE child ADD CONSTRAINT child_pid_fk FOREIGN KEY (pid) REFERENCES parent (id)`)
	if _, err := c.Exec(ctx, `INSERT INTO child (pid, tag, n) VALUES (42, 'x', 1)`); sqlState(err) != "23503" {
		t.Fatalf("insert breaking the new foreign key: %v", err)
	}
	if _, err := c.Exec(ctx, `ALTER TABLE child ADD CHECK (n > 6)`); sqlState(err) != "23514" {
		t.Fatalf("check over a breaking row: %v", err)
	}
	mustExec(t, c, `ALTER TABLE child ADD CONSTRAINT n_positive CHECK (n > 0)`)
	if _, err := c.Exec(ctx, `INSERT INTO child (pid, tag, n) VALUES (1, 'y', -1)`); sqlState(err) != "23514" {
		t.Fatalf("insert breaking the new check: %v", err)
	}
	// What the table had survives: rows and serial values, the unique
	// index, the view, and the foreign key another table holds on it.
	if _, err := c.Exec(ctx, `INSERT INTO child (pid, tag, n) VALUES (1, 'a', 3)`); sqlState(err) != "23505" {
		t.Fatalf("unique index after rebuild: %v", err)
	}
	var id int
	if err := c.QueryRow(ctx, `INSERT INTO child (pid, tag, n) VALUES (2, 'c', 3) RETURNING id`).Scan(&id); err != nil || id <= 2 {
		t.Fatalf("serial after rebuild: %d, %v", id, err)
	}
	if err := c.QueryRow(ctx, `SELECT count(*) FROM child_names`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("view after rebuild: %d, %v", n, err)
	}
	if _, err := c.Exec(ctx, `INSERT INTO grandchild VALUES (77)`); sqlState(err) != "23503" {
		t.Fatalf("foreign key onto the rebuilt table: %v", err)
	}
	// A table others reference can be rebuilt too.
	mustExec(t, c, `ALTER TABLE parent ADD CHECK (id > 0)`)
	if _, err := c.Exec(ctx, `DELETE FROM parent WHERE id = 1`); sqlState(err) != "23503" {
		t.Fatalf("parent row still referenced after its rebuild: %v", err)
	}
	// The catalog lists the added constraints.
	rows, err := c.Query(ctx, `SELECT conname, contype::text FROM pg_constraint WHERE conrelid = 'child'::regclass ORDER BY conname`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for rows.Next() {
		var name, typ string
		rows.Scan(&name, &typ)
		got[name] = typ
	}
	if got["child_pid_fkey"] != "f" || got["n_positive"] != "c" {
		t.Fatalf("constraints in pg_constraint: %v", got)
	}
}
