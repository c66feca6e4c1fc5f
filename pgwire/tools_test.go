package pgwire

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"rewire/internal/testtool"
)

func (ts *testServer) toolEnv(tenant string) []string {
	return append(os.Environ(), "PGPASSWORD=secret-"+tenant, "PGHOST=127.0.0.1",
		fmt.Sprintf("PGPORT=%d", ts.addr.Port), "PGUSER="+tenant, "PGSSLMODE=disable", "PGAPPNAME=rewire-test")
}

func runTool(t *testing.T, ts *testServer, stdin string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(testtool.Need(t, name), args...)
	cmd.Env = ts.toolEnv("acme")
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out.String())
	}
	return out.String()
}

func TestPsqlScript(t *testing.T) {
	ts := startServer(t)
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "in.csv")
	os.WriteFile(csvPath, []byte("1,alpha\n2,\"be,ta\"\n"), 0o600)
	outPath := filepath.Join(dir, "out.txt")
	script := `\set ON_ERROR_STOP 1
CREATE TABLE parent (id int PRIMARY KEY, name text NOT NULL DEFAULT 'x');
CREATE TABLE child (id serial PRIMARY KEY, pid int REFERENCES parent(id), tag varchar(20) UNIQUE, amount numeric(10,2));
CREATE INDEX child_tag_pid_idx ON child (tag, pid);
CREATE VIEW names AS SELECT name FROM parent;
CREATE TABLE ev (at timestamptz DEFAULT now());
CREATE SEQUENCE myseq START 5;
CREATE TABLE ck (a int CHECK (a > 0), c int CONSTRAINT c_big CHECK (c > 1), CHECK (a < c), CHECK (a IS NOT NULL AND c < 100));
ALTER TABLE ck RENAME COLUMN c TO cc;
ALTER TABLE ck ADD COLUMN e int CHECK (e <> 7);
\copy parent FROM '` + csvPath + `' WITH (FORMAT csv)
INSERT INTO child (pid, tag, amount) VALUES (1, 'a', 1.5), (2, 'b', 2) RETURNING id, amount;
BEGIN;
SAVEPOINT s;
UPDATE parent SET name = 'gamma' WHERE id = 1;
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT p.name, sum(c.amount) AS total FROM parent p JOIN child c ON c.pid = p.id GROUP BY p.name ORDER BY 1;
\copy (SELECT id, name FROM parent ORDER BY id) TO '` + outPath + `'
\dt
\d child
\d parent
\d+ parent
\d ev
\ds
\d myseq
\d ck
\di
\dv
\l
\dn
\du
`
	out := runTool(t, ts, script, "psql", "-X", "-d", "acme", "-v", "ON_ERROR_STOP=1")
	for _, want := range []string{
		"COPY 2",
		" id | amount \n----+--------\n  1 |   1.50\n  2 |   2.00",
		" alpha |",
		"public | child  | table | acme",
		"public | parent | table | acme",
		`Table "public.child"`,
		"amount | numeric(10,2)",
		"tag    | character varying(20)",
		`"child_pkey" PRIMARY KEY, btree (id)`,
		`"child_tag_pid_idx" btree (tag, pid)`,
		`"child_tag_key" UNIQUE CONSTRAINT, btree (tag)`,
		`"child_pid_fkey" FOREIGN KEY (pid) REFERENCES parent(id)`,
		"public | names | view | acme",
		"acme     | acme  | UTF8",
		"postgres | acme  | UTF8",
		"public | acme",
		"acme      | Superuser",
		"name   | text    |           | not null | 'x'::text",
		"Referenced by:\n    TABLE \"child\" CONSTRAINT \"child_pid_fkey\" FOREIGN KEY (pid) REFERENCES parent(id)",
		" at     | timestamp with time zone |           |          | now()",
		"public | child_id_seq | sequence | acme",
		"public | myseq        | sequence | acme",
		`Sequence "public.myseq"`,
		" bigint |     5 |       1 | 9223372036854775807 |         1 | no      |     1",
		" id     | integer |           | not null |           | plain    |             |              | \n" +
			" name   | text    |           | not null | 'x'::text | extended |             |              | \n",
		"Check constraints:\n" +
			"    \"c_big\" CHECK (cc > 1)\n" +
			"    \"ck_a_check\" CHECK (a > 0)\n" +
			"    \"ck_check\" CHECK (a < cc)\n" +
			"    \"ck_check1\" CHECK (a IS NOT NULL AND cc < 100)\n" +
			"    \"ck_e_check\" CHECK (e <> 7)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("psql output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
	got, _ := os.ReadFile(outPath)
	if string(got) != "1\talpha\n2\tbe,ta\n" {
		t.Errorf("\\copy to: %q", got)
	}
	// Errors show their SQLSTATE through psql's VERBOSITY.
	cmd := exec.Command(testtool.Need(t, "psql"), "-X", "-d", "acme", "-v", "VERBOSITY=verbose", "-c", "SELECT * FROM nope")
	cmd.Env = ts.toolEnv("acme")
	b, _ := cmd.CombinedOutput()
	if !strings.Contains(string(b), "42P01") {
		t.Errorf("psql error: %s", b)
	}
}

func TestPgbench(t *testing.T) {
	ts := startServer(t)
	out := runTool(t, ts, "", "pgbench", "-i", "-s", "1", "acme")
	if !strings.Contains(out, "done in") {
		t.Fatalf("pgbench -i: %s", out)
	}
	out = runTool(t, ts, "", "pgbench", "-c", "4", "-j", "2", "-T", "3", "acme")
	m := regexp.MustCompile(`number of failed transactions: (\d+)`).FindStringSubmatch(out)
	if m == nil || m[1] != "0" || !strings.Contains(out, "tps = ") {
		t.Fatalf("pgbench run: %s", out)
	}
	// The balances moved by TPC-B still add up.
	check := runTool(t, ts, "", "psql", "-X", "-At", "-d", "acme", "-c",
		"SELECT (SELECT sum(bbalance) FROM pgbench_branches) = (SELECT sum(delta) FROM pgbench_history), (SELECT count(*) FROM pgbench_history)")
	if !strings.HasPrefix(strings.TrimSpace(check), "t|") {
		t.Fatalf("balances inconsistent: %s\n%s", check, out)
	}
	out = runTool(t, ts, "", "pgbench", "-S", "-c", "2", "-T", "2", "-M", "prepared", "acme")
	if m := regexp.MustCompile(`number of failed transactions: (\d+)`).FindStringSubmatch(out); m == nil || m[1] != "0" {
		t.Fatalf("pgbench -S -M prepared: %s", out)
	}
}

// TestPsqlMultiStatement runs Query messages of several statements where
// a later statement needs what an earlier one made.
func TestPsqlMultiStatement(t *testing.T) {
	ts := startServer(t)
	psql := func(args ...string) (string, error) {
		cmd := exec.Command(testtool.Need(t, "psql"), append([]string{"-X", "-q", "-At", "-d", "acme"}, args...)...)
		cmd.Env = ts.toolEnv("acme")
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	out, err := psql("-c", "create table t(a int); insert into t values (1); select * from t")
	if err != nil || strings.TrimSpace(out) != "1" {
		t.Fatalf("create, insert, select: %v\n%s", err, out)
	}
	// A table dropped and made again with other columns: the later
	// statements see the new ones.
	out, err = psql("-c", "drop table t; create table t(a text, b int); alter table t add column c int; insert into t values ('x', 2, 3); select a, b + c from t")
	if err != nil || strings.TrimSpace(out) != "x|5" {
		t.Fatalf("drop, create, alter, insert, select: %v\n%s", err, out)
	}
	// A syntax error anywhere runs nothing.
	out, err = psql("-c", "insert into t values ('y', 1, 1); selec 2")
	if err == nil || !strings.Contains(out, `syntax error at or near "selec"`) {
		t.Fatalf("syntax error: %v\n%s", err, out)
	}
	// An error in a later statement rolls back the earlier ones, and its
	// position counts from the start of the message.
	out, err = psql("-v", "VERBOSITY=verbose", "-c", "insert into t values ('z', 1, 1); select nope from t")
	if err == nil || !strings.Contains(out, "42703") || !strings.Contains(out, "LINE 1: insert into t values ('z', 1, 1); select nope from t\n"+strings.Repeat(" ", 49)+"^") {
		t.Fatalf("error in second statement: %v\n%s", err, out)
	}
	out, err = psql("-c", "select count(*) from t")
	if err != nil || strings.TrimSpace(out) != "1" {
		t.Fatalf("rows after failed messages: %v\n%s", err, out)
	}
	// In an aborted block, an unknown table is refused as every statement
	// is, with 25P02.
	out, _ = psql("-v", "VERBOSITY=verbose", "-c", "begin", "-c", "select 1/0", "-c", "select * from nope", "-c", "rollback")
	if !strings.Contains(out, "25P02") || strings.Contains(out, "42P01") {
		t.Fatalf("statement in aborted block: %s", out)
	}
}

// TestPsqlCopy runs testdata/copy.sql through psql: COPY FROM STDIN and TO
// STDOUT in text and CSV (header, quoting, NULL strings, delimiters, the
// FORCE options, bad rows) and psql's \copy, and compares the output with
// testdata/copy.out, which is PostgreSQL 15's for the same script.
func TestPsqlCopy(t *testing.T) {
	ts := startServer(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in.csv"), []byte("9,\"from file\"\n10,\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join("testdata", "copy.sql"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "copy.out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testtool.Need(t, "psql"), "-X", "-d", "acme", "-f", "-")
	cmd.Env = ts.toolEnv("acme")
	cmd.Stdin = strings.NewReader(strings.ReplaceAll(string(script), "%DIR%", dir))
	got, _ := cmd.CombinedOutput()
	if string(got) != string(want) {
		t.Errorf("psql output differs from PostgreSQL's:\n%s", lineDiff(string(want), string(got)))
	}
	out, _ := os.ReadFile(filepath.Join(dir, "out.csv"))
	if string(out) != "id,t\n9,from file\n" {
		t.Errorf("\\copy to csv: %q", out)
	}
	out, _ = os.ReadFile(filepath.Join(dir, "out.txt"))
	if !strings.HasSuffix(string(out), "6\tback\\\\slash\\nnl\t\\N\t\\N\t\\N\t\\N\t\\N\n9\tfrom file\t\\N\t\\N\t\\N\t\\N\t\\N\n10\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n") {
		t.Errorf("\\copy to text: %q", out)
	}
}

// TestPsqlFunctions runs testdata/funcs.sql, the common string, math,
// date, JSON and array functions and operators, and compares the output
// with testdata/funcs.out, PostgreSQL 15's for the same script.
func TestPsqlFunctions(t *testing.T) {
	ts := startServer(t)
	script, err := os.ReadFile(filepath.Join("testdata", "funcs.sql"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "funcs.out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testtool.Need(t, "psql"), "-X", "-d", "acme", "-f", "-")
	cmd.Env = append(ts.toolEnv("acme"), "PGAPPNAME=psql")
	cmd.Stdin = bytes.NewReader(script)
	got, _ := cmd.CombinedOutput()
	if string(got) != string(want) {
		t.Errorf("psql output differs from PostgreSQL's:\n%s", lineDiff(string(want), string(got)))
	}
}

// lineDiff lists the lines where two outputs differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d\n  want: %q\n  got:  %q\n", i+1, wl, gl)
		}
	}
	return b.String()
}

// TestPsqlSchemas runs testdata/schema.sql: CREATE SCHEMA, tables, views
// and indexes in it, psql's \dn, \dt and \d on them, information_schema,
// and DROP SCHEMA with and without CASCADE.
func TestPsqlSchemas(t *testing.T) {
	ts := startServer(t)
	script, err := os.ReadFile(filepath.Join("testdata", "schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testtool.Need(t, "psql"), "-X", "-d", "acme", "-f", "-")
	cmd.Env = ts.toolEnv("acme")
	cmd.Stdin = bytes.NewReader(script)
	b, _ := cmd.CombinedOutput()
	out := string(b)
	for _, want := range []string{
		`psql:<stdin>:2: ERROR:  schema "s1" already exists`,
		" empty1 | acme\n public | acme\n s1     | acme\n(3 rows)",
		" public | pt   | table | acme\n(1 row)",
		" s1     | t    | table | acme\n(1 row)",
		`Table "s1.t"`,
		`"t_v_idx" btree (v)`,
		" s1           | t\n s1           | tv\n",
		"psql:<stdin>:17: ERROR:  cannot drop schema s1 because other objects depend on it\n" +
			"DETAIL:  table s1.t depends on schema s1\nview s1.tv depends on schema s1\n" +
			"HINT:  Use DROP ... CASCADE to drop the dependent objects too.",
		`psql:<stdin>:18: ERROR:  schema "nope" does not exist`,
		`psql:<stdin>:19: NOTICE:  schema "nope" does not exist, skipping`,
		"psql:<stdin>:20: NOTICE:  drop cascades to 2 other objects\n" +
			"DETAIL:  drop cascades to table s1.t\ndrop cascades to view s1.tv",
		`psql:<stdin>:22: ERROR:  relation "s1.t" does not exist`,
		" public | acme\n(1 row)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("psql output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
}
