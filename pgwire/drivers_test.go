package pgwire

import (
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq" // also registers the "postgres" driver

	"rewire/internal/testtool"
)

func TestLibPQ(t *testing.T) {
	ts := startServer(t)
	db, err := sql.Open("postgres", ts.url("acme", "acme"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE lp (id serial PRIMARY KEY, name text, at timestamptz, ok boolean, score float8, tags text[])`); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	var id int
	err = db.QueryRow(`INSERT INTO lp (name, at, ok, score, tags) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		"it's", at, true, 0.25, pq.Array([]string{"a", "b"})).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	var name string
	var got time.Time
	var ok bool
	var score float64
	var tags []string
	err = db.QueryRow(`SELECT name, at, ok, score, tags FROM lp WHERE id = $1`, id).Scan(&name, &got, &ok, &score, pq.Array(&tags))
	if err != nil {
		t.Fatal(err)
	}
	if name != "it's" || !got.Equal(at) || !ok || score != 0.25 || strings.Join(tags, ",") != "a,b" {
		t.Fatalf("lib/pq round trip: %q %v %v %v %v", name, got, ok, score, tags)
	}
	tx, _ := db.Begin()
	tx.Exec(`INSERT INTO lp (name) VALUES ('rolled back')`)
	tx.Rollback()
	var n int
	db.QueryRow(`SELECT count(*) FROM lp`).Scan(&n)
	if n != 1 {
		t.Fatalf("rows after rollback: %d", n)
	}
	_, err = db.Exec(`INSERT INTO lp (id) VALUES ($1)`, id)
	if pe, ok := err.(*pq.Error); !ok || pe.Code != "23505" {
		t.Fatalf("lib/pq duplicate: %v", err)
	}

	// numeric keeps every digit and its scale.
	if _, err := db.Exec(`CREATE TABLE lpnum (n numeric(38,18))`); err != nil {
		t.Fatal(err)
	}
	const bigNum = "12345678901234567890.123456789012345678"
	if _, err := db.Exec(`INSERT INTO lpnum VALUES ($1)`, bigNum); err != nil {
		t.Fatal(err)
	}
	var num, twice string
	if err := db.QueryRow(`SELECT n, n + n FROM lpnum`).Scan(&num, &twice); err != nil || num != bigNum || twice != "24691357802469135780.246913578024691356" {
		t.Fatalf("lib/pq numeric: %s %s %v", num, twice, err)
	}

	// Savepoints inside a transaction.
	tx, err = db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`INSERT INTO lp (name) VALUES ('kept')`, `SAVEPOINT s`, `INSERT INTO lp (name) VALUES ('undone')`, `ROLLBACK TO SAVEPOINT s`} {
		if _, err := tx.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	db.QueryRow(`SELECT count(*) FROM lp WHERE name IN ('kept', 'undone')`).Scan(&n)
	if n != 1 {
		t.Fatalf("rows after savepoint rollback: %d", n)
	}

	// COPY FROM STDIN through pq.CopyIn, then 100,000 rows read back.
	if _, err := db.Exec(`CREATE TABLE lpc (i int, s text)`); err != nil {
		t.Fatal(err)
	}
	tx, err = db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	stmt, err := tx.Prepare(pq.CopyIn("lpc", "i", "s"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100000; i++ {
		if _, err := stmt.Exec(i, fmt.Sprintf("row\t%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := stmt.Exec(); err != nil {
		t.Fatal(err)
	}
	stmt.Close()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(`SELECT i, s FROM lpc ORDER BY i`)
	if err != nil {
		t.Fatal(err)
	}
	count, sum := 0, 0
	for rows.Next() {
		var i int
		var s string
		if err := rows.Scan(&i, &s); err != nil {
			t.Fatal(err)
		}
		if s != fmt.Sprintf("row\t%d", i) {
			t.Fatalf("row %d: %q", i, s)
		}
		count++
		sum += i
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if count != 100000 || sum != 99999*100000/2 {
		t.Fatalf("read back %d rows, sum %d", count, sum)
	}
}

// pythonWithPsycopg2 returns a Python that imports psycopg2, preferring
// Debian's, which python3-psycopg2 installs into; it skips the test (or
// fails it where the client is required) when there is none.
func pythonWithPsycopg2(t *testing.T) string {
	t.Helper()
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		python = testtool.Need(t, "python3")
	}
	if err := exec.Command(python, "-c", "import psycopg2").Run(); err != nil {
		if os.Getenv("REWIRE_E2E_REQUIRED") != "" {
			t.Fatal("psycopg2 is required (apt-get install python3-psycopg2)")
		}
		t.Skip("psycopg2 not installed")
	}
	return python
}

func TestPsycopg2(t *testing.T) {
	python := pythonWithPsycopg2(t)
	ts := startServer(t)
	script := `
import psycopg2, datetime, decimal, json, sys
conn = psycopg2.connect(sys.argv[1])
cur = conn.cursor()
cur.execute("CREATE TABLE py (id serial PRIMARY KEY, name text, n numeric(10,2), at timestamptz, d date, j jsonb, b bytea, ok bool)")
cur.execute("INSERT INTO py (name, n, at, d, j, b, ok) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
    ("o'hara", decimal.Decimal("12.34"), datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
     datetime.date(2020, 2, 29), json.dumps({"k": [1, 2]}), psycopg2.Binary(b"\x00\xff"), True))
rid = cur.fetchone()[0]
conn.commit()
cur.execute("SELECT name, n, at, d, j, b, ok FROM py WHERE id = %s", (rid,))
name, n, at, d, j, b, ok = cur.fetchone()
assert name == "o'hara", name
assert n == decimal.Decimal("12.34"), n
assert at == datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc), at
assert d == datetime.date(2020, 2, 29), d
assert j == {"k": [1, 2]}, j
assert bytes(b) == b"\x00\xff", b
assert ok is True
# numeric keeps every digit and its scale both ways.
cur.execute("CREATE TABLE pynum (n numeric(38,18), free numeric)")
big = decimal.Decimal("12345678901234567890.123456789012345678")
cur.execute("INSERT INTO pynum VALUES (%s, %s)", (big, decimal.Decimal("1.50")))
cur.execute("SELECT n, free, n * 2, free / 3 FROM pynum")
n2, free, dbl, third = cur.fetchone()
assert n2 == big and str(n2) == str(big), n2
assert str(free) == "1.50", free
assert str(dbl) == "24691357802469135780.246913578024691356", dbl
assert str(third) == "0.50000000000000000000", third
conn.commit()
try:
    cur.execute("SELECT * FROM missing")
    raise SystemExit("no error")
except psycopg2.Error as e:
    assert e.pgcode == "42P01", e.pgcode
conn.rollback()
cur.execute("SAVEPOINT a")
cur.execute("INSERT INTO py (name) VALUES ('x')")
cur.execute("ROLLBACK TO SAVEPOINT a")
conn.commit()
cur.execute("SELECT count(*) FROM py")
assert cur.fetchone()[0] == 1
# A named (server-side) cursor streams a large result in batches.
cur.execute("CREATE TABLE big (i int, s text)")
cur.execute("INSERT INTO big SELECT x, 'row ' || x FROM (WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < 100000) SELECT x FROM g) s")
conn.commit()
named = conn.cursor("stream")
named.itersize = 5000
named.execute("SELECT i, s FROM big WHERE i > %s ORDER BY i", (0,))
total = count = 0
for i, s in named:
    total += i
    count += 1
    assert s == "row %d" % i
assert count == 100000 and total == 100000 * 100001 // 2, (count, total)
named.close()
named = conn.cursor("some")
named.execute("SELECT i FROM big ORDER BY i")
assert named.fetchone() == (1,)
assert named.fetchmany(3) == [(2,), (3,), (4,)]
named.scroll(10)
assert named.fetchone() == (15,)
named.close()
conn.commit()
# COPY both ways through copy_expert.
import io
cur.execute("CREATE TABLE pyc (i int, s text, d date)")
cur.copy_expert("COPY pyc FROM STDIN WITH (FORMAT csv)", io.StringIO('1,"a,b",2024-01-02\n2,,\n'))
out = io.StringIO()
cur.copy_expert("COPY (SELECT i, s, d FROM pyc ORDER BY i) TO STDOUT WITH (FORMAT csv, HEADER)", out)
assert out.getvalue() == 'i,s,d\n1,"a,b",2024-01-02\n2,,\n', repr(out.getvalue())
conn.commit()
# psycopg2's error diagnostics name the constraint.
try:
    cur.execute("INSERT INTO py (id, name) VALUES (%s, 'dup')", (rid,))
    raise SystemExit("no error")
except psycopg2.IntegrityError as e:
    assert e.pgcode == "23505" and e.diag.constraint_name == "py_pkey" and e.diag.table_name == "py", (e.pgcode, e.diag.constraint_name)
conn.rollback()
print("ok")
`
	cmd := exec.Command(python, "-c", script, strings.Replace(ts.url("acme", "acme"), "postgres://", "postgresql://", 1))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("psycopg2: %v\n%s", err, out)
	}
}
