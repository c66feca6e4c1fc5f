package pgwire

import (
	"context"
	"math/big"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// TestNumericExact checks that numeric keeps every digit and its scale
// through storage, arithmetic, aggregates, ordering and both wire
// formats, with PostgreSQL's result scales.
func TestNumericExact(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	c := ts.connect(t, "acme", "acme")
	mustExec(t, c, `CREATE TABLE m (id int PRIMARY KEY, price numeric(12,2), big numeric(40,20), free numeric)`)
	mustExec(t, c, `INSERT INTO m VALUES
		(1, 19.99, '12345678901234567890.12345678901234567890', 1.50),
		(2, 9.5, '-0.00000000000000000001', 100),
		(3, 10, NULL, 'NaN'),
		(4, 0.1, 0.2, 0.30)`)

	text := func(q string, args ...any) []string {
		t.Helper()
		rows, err := c.Query(ctx, q, append([]any{pgx.QueryExecModeSimpleProtocol}, args...)...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s *string
			if err := rows.Scan(&s); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			if s == nil {
				out = append(out, "NULL")
			} else {
				out = append(out, *s)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return out
	}
	expect := func(q string, want ...string) {
		t.Helper()
		if got := text(q); !slices.Equal(got, want) {
			t.Errorf("%s:\n got %q\nwant %q", q, got, want)
		}
	}
	// Storage keeps digits and scale; typmods round.
	expect(`SELECT price::text FROM m ORDER BY id`, "19.99", "9.50", "10.00", "0.10")
	expect(`SELECT big::text FROM m ORDER BY id`, "12345678901234567890.12345678901234567890",
		"-0.00000000000000000001", "NULL", "0.20000000000000000000")
	expect(`SELECT free::text FROM m ORDER BY id`, "1.50", "100", "NaN", "0.30")
	// Ordering and comparisons are by value, not by text.
	expect(`SELECT id::text FROM m ORDER BY price`, "4", "2", "3", "1")
	expect(`SELECT id::text FROM m ORDER BY price * 2 DESC`, "1", "3", "2", "4")
	expect(`SELECT id::text FROM m WHERE price = 10 ORDER BY id`, "3")
	expect(`SELECT id::text FROM m WHERE price > 9.5 ORDER BY id`, "1", "3")
	expect(`SELECT id::text FROM m WHERE free = 1.5`, "1")
	expect(`SELECT count(*)::text FROM (SELECT price * 2 AS p FROM m) s WHERE s.p > 15`, "3")
	expect(`SELECT id::text FROM m WHERE price * 3 >= 29.97 ORDER BY id`, "1", "3")
	expect(`SELECT max(price)::text || ' ' || min(price)::text FROM m`, "19.99 0.10")
	expect(`SELECT max(price * 1)::text FROM m`, "19.99")
	// Arithmetic is exact, with PostgreSQL's scales.
	expect(`SELECT (0.1 + 0.2)::text`, "0.3")
	expect(`SELECT (big * 2)::text FROM m WHERE id = 1`, "24691357802469135780.24691357802469135780")
	expect(`SELECT (price * 3)::text FROM m WHERE id = 1`, "59.97")
	expect(`SELECT (price - big)::text FROM m WHERE id = 2`, "9.50000000000000000001")
	expect(`SELECT (1 / 3.0)::text`, "0.33333333333333333333")
	expect(`SELECT (10 / 3.0)::text`, "3.3333333333333333")
	expect(`SELECT (-price)::text FROM m WHERE id = 2`, "-9.50")
	expect(`SELECT (price % 3)::text FROM m WHERE id = 1`, "1.99")
	expect(`SELECT sum(price)::text FROM m`, "39.59")
	expect(`SELECT avg(price)::text FROM m`, "9.8975000000000000")
	expect(`SELECT avg(id)::text FROM m`, "2.5000000000000000")
	expect(`SELECT sum(price) OVER (ORDER BY id)::text FROM m ORDER BY id`, "19.99", "29.49", "39.49", "39.59")
	expect(`SELECT round(2.5::numeric)::int::text || ' ' || (-2.5)::numeric::int::text`, "3 -3")
	expect(`SELECT jsonb_build_object('p', price)::text FROM m WHERE id = 2`, `{"p": 9.50}`)
	// Equal values collide in a unique index whatever their scale.
	mustExec(t, c, `CREATE TABLE u (n numeric UNIQUE)`)
	mustExec(t, c, `INSERT INTO u VALUES (1.5)`)
	if _, err := c.Exec(ctx, `INSERT INTO u VALUES ('1.50')`); sqlState(err) != "23505" {
		t.Errorf("1.50 after 1.5 in a unique column: %v", err)
	}
	// Precision is enforced.
	if _, err := c.Exec(ctx, `INSERT INTO m (id, price) VALUES (9, 12345678901.00)`); sqlState(err) != "22003" {
		t.Errorf("numeric(12,2) overflow: %v", err)
	}
	if _, err := c.Exec(ctx, `SELECT price / 0 FROM m`); sqlState(err) != "22012" {
		t.Errorf("division by zero: %v", err)
	}
	// Binary format, both ways, with more digits than a float holds.
	in := pgtype.Numeric{Int: new(big.Int).SetBytes([]byte("\x01\x23\x45\x67\x89\xab\xcd\xef\x01\x23")), Exp: -17, Valid: true}
	mustExec(t, c, `INSERT INTO m (id, big) VALUES (5, $1)`, in)
	var out pgtype.Numeric
	if err := c.QueryRow(ctx, `SELECT big FROM m WHERE id = 5`).Scan(&out); err != nil {
		t.Fatal(err)
	}
	iv, _ := in.Value()
	ov, _ := out.Value()
	want := "53730.03642731685151011000"
	if got := text(`SELECT big::text FROM m WHERE id = 5`); len(got) != 1 || got[0] != want {
		t.Errorf("binary input stored as %q, want %s (%v)", got, want, iv)
	}
	if od, _ := new(big.Rat).SetString(ov.(string)); od == nil || od.Cmp(mustRat(t, want)) != 0 {
		t.Errorf("binary output %v, want %s", ov, want)
	}
}

func mustRat(t *testing.T, s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		t.Fatalf("bad rational %q", s)
	}
	return r
}
