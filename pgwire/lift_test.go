package pgwire

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// simpleResult runs q as a simple Query and renders what a client sees:
// the SQLSTATE of an error, or each result's columns with their type
// OIDs, rows and command tag.
func simpleResult(ctx context.Context, pc *pgconn.PgConn, q string) string {
	res, err := pc.Exec(ctx, q).ReadAll()
	if err != nil {
		return "error " + sqlState(err)
	}
	var b strings.Builder
	for _, r := range res {
		for _, f := range r.FieldDescriptions {
			fmt.Fprintf(&b, "%s:%d ", f.Name, f.DataTypeOID)
		}
		b.WriteString("|")
		for _, row := range r.Rows {
			for _, v := range row {
				if v == nil {
					b.WriteString("NULL,")
				} else {
					fmt.Fprintf(&b, "%q,", v)
				}
			}
			b.WriteString(";")
		}
		fmt.Fprintf(&b, "|%s\n", r.CommandTag)
	}
	return b.String()
}

// TestLiftedLiteralsMatch checks the simple-query literal lifter against
// the full translation: every query must give a client the same columns,
// types, rows, tags and errors with its integer literals lifted into
// parameters as without. The unlifted run starts with a comment, which
// the lifter never touches. Writes run in a transaction rolled back after
// the table is read back.
func TestLiftedLiteralsMatch(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	c := ts.connect(t, "acme", "acme")
	pc := c.PgConn()
	mustExec(t, c, `CREATE TABLE lt (id int PRIMARY KEY, sm smallint, big bigint, n numeric(10,2), r real,
		b boolean, txt text, d date, ts timestamp, j jsonb, arr int[])`)
	mustExec(t, c, `INSERT INTO lt VALUES
		(1, 1, 5000000000, 2, 1.5, true, 'a1', '2020-01-02', '2020-01-02 03:04:05', '{"k": 1, "arr": [1, 2]}', '{1,2}'),
		(2, 2, 7, 2.5, 0.5, false, 'bb', '2020-01-01', '2021-01-01 00:00:00', '{"k": 2, "0": "zero", "arr": [3]}', '{3}'),
		(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`)
	reads := []string{
		"SELECT id, n FROM lt WHERE id = 1",
		"SELECT id FROM lt WHERE id > 1 ORDER BY 1 LIMIT 2 OFFSET 1",
		"SELECT id FROM lt WHERE id = 1 FETCH FIRST 1 ROWS ONLY",
		"SELECT id FROM lt WHERE n = 2",
		"SELECT id FROM lt WHERE n > 1 AND n < 3 ORDER BY id",
		"SELECT id FROM lt WHERE r > 1",
		"SELECT id FROM lt WHERE b = 1",
		"SELECT id FROM lt WHERE txt = 1",
		"SELECT id FROM lt WHERE id / 2 = 1 ORDER BY id",
		"SELECT id FROM lt WHERE 7 / 2 = id",
		"SELECT id FROM lt WHERE id % 2 = 0",
		"SELECT id FROM lt WHERE n / 2 > 1",
		"SELECT id FROM lt WHERE arr[1] = 1",
		"SELECT id FROM lt WHERE j->'arr'->0 = '1'",
		"SELECT id FROM lt WHERE j->>'k' = '2'",
		"SELECT id FROM lt WHERE (j->>'k')::int = 2",
		"SELECT id FROM lt WHERE j->'arr'->>0 = '3'",
		"SELECT * FROM (VALUES (1, 'a'), (2, 'b')) v(x, y) WHERE x = 1",
		"SELECT id FROM lt WHERE d = date '2020-01-01' + 1",
		"SELECT id FROM lt WHERE d > '2020-01-02'::date - 1",
		"SELECT id FROM lt WHERE ts < timestamp '2020-01-01' + interval '1 day' * 2",
		"SELECT id FROM lt WHERE id IN (1, 2, 3) ORDER BY id",
		"SELECT id FROM lt WHERE id BETWEEN 1 AND 2 ORDER BY id",
		"SELECT id FROM lt WHERE id = ANY(ARRAY[1, 2]) ORDER BY id",
		"SELECT count(*) FROM lt HAVING count(*) > 1",
		"SELECT id FROM lt WHERE 1 = 1 ORDER BY id",
		"SELECT id FROM lt WHERE substr(txt, 1, 1) = 'a'",
		"SELECT id FROM lt WHERE round(n, 1) > 2",
		"SELECT id FROM lt WHERE id = -1",
		"SELECT id FROM lt WHERE n > 1.5",
		"SELECT id FROM lt WHERE big = 5000000000",
		"SELECT id FROM lt WHERE big = 99999999999999999999",
		"SELECT id FROM lt WHERE sm = 70000",
		"SELECT id FROM lt WHERE id::text = '1'",
		"SELECT id FROM lt WHERE length(txt) > 1",
		"SELECT id FROM lt WHERE n + 1 > 3",
		"SELECT id FROM lt WHERE r * 2 > 2",
		"SELECT id FROM lt WHERE date_part('year', d) = 2020 ORDER BY id",
		"SELECT id FROM lt WHERE coalesce(sm, 0) = 0",
		"SELECT id FROM lt WHERE CASE WHEN id = 1 THEN 2 ELSE 3 END = 2",
		"SELECT id FROM lt WHERE id = 1 UNION SELECT 2 ORDER BY 1",
		"SELECT a.id FROM lt a JOIN lt b ON b.id = a.id + 1 WHERE a.id = 1",
		"SELECT id FROM lt WHERE id = (SELECT max(id) - 1 FROM lt WHERE id < 3)",
		"SELECT id FROM lt WHERE txt LIKE 'a%' AND id = 1",
		"SELECT id FROM lt WHERE ts::date = '2020-01-02' AND id < 10",
		"SELECT id FROM lt WHERE 2 > 1.5",
		"SELECT id FROM lt WHERE id = 007",
		"SELECT id FROM lt WHERE id = 1 AND txt = 'it''s 2'",
	}
	writes := []string{
		"UPDATE lt SET n = n + 1, r = 2 WHERE id = 1",
		"UPDATE lt SET big = 6000000000 WHERE id = 2",
		"UPDATE lt SET b = 1 WHERE id = 1",
		"UPDATE lt SET sm = 70000 WHERE id = 1",
		"UPDATE lt SET txt = 5 WHERE id = 2",
		"UPDATE lt SET n = 3 WHERE id = 3",
		"INSERT INTO lt (id, n, r, b, txt) VALUES (10, 1, 2, true, 'x')",
		"INSERT INTO lt (id, txt) VALUES (11, 12)",
		"INSERT INTO lt (id, sm) VALUES (12, 70000)",
		"INSERT INTO lt (id, r, d) VALUES (13, 3, '2020-01-01')",
		"INSERT INTO lt (id, n) VALUES (1, 5) ON CONFLICT (id) DO UPDATE SET n = 7",
		"INSERT INTO lt (id, n) VALUES (1, 5) ON CONFLICT (id) DO NOTHING",
		"INSERT INTO lt (id, arr) VALUES (14, ARRAY[1, 2])",
		"INSERT INTO lt (id, j) VALUES (15, '{\"a\": 1}')",
		"DELETE FROM lt WHERE id = 2 RETURNING id, n",
		"DELETE FROM lt WHERE id > 100",
		"UPDATE lt SET big = big + 1 WHERE id = 1",
		"INSERT INTO lt (id, big, txt) VALUES (10, 1, 'x')",
	}
	lifted := 0
	check := func(q string, run func(string) string) {
		if _, _, ok := liftLiterals(q); ok {
			lifted++
		}
		got, want := run(q), run("/* unlifted */ "+q)
		if got != want {
			t.Errorf("%s\n lifted:   %s\n unlifted: %s", q, got, want)
		}
	}
	for _, q := range reads {
		check(q, func(q string) string { return simpleResult(ctx, pc, q) })
	}
	for _, q := range writes {
		check(q, func(q string) string {
			mustExec(t, c, "BEGIN")
			out := simpleResult(ctx, pc, q)
			out += simpleResult(ctx, pc, "SELECT * FROM lt ORDER BY id")
			mustExec(t, c, "ROLLBACK")
			return out
		})
	}
	if lifted < len(reads)+len(writes)-10 {
		t.Errorf("only %d queries were liftable", lifted)
	}

	// The comparison above means something only if the lifted form is
	// really taken: pgbench's statements must be.
	client, server := net.Pipe()
	defer client.Close()
	cn := ts.srv.newConn(server)
	if err := cn.openForTest("acme", "acme"); err != nil {
		t.Fatal(err)
	}
	defer cn.close()
	for _, q := range []string{"SELECT id, n FROM lt WHERE id = 1", "UPDATE lt SET big = big + 1 WHERE id = 1",
		"INSERT INTO lt (id, big, txt) VALUES (10, 1, 'x')", "SELECT id FROM lt WHERE id > 1 ORDER BY 1 LIMIT 2 OFFSET 1"} {
		if _, args, ok := cn.translateLifted(q); !ok || len(args) == 0 {
			t.Errorf("%s: not lifted", q)
		}
	}
}
