package pgwire

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"
)

func TestTypesRoundTrip(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		t.Run(mode.String(), func(t *testing.T) {
			cfg, err := pgx.ParseConfig(ts.url("acme", "acme"))
			if err != nil {
				t.Fatal(err)
			}
			cfg.DefaultQueryExecMode = mode
			c, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(ctx)
			table := "types_" + strings.ReplaceAll(mode.String(), " ", "_")
			mustExec(t, c, `CREATE TABLE `+table+` (
				id bigserial PRIMARY KEY, s smallint, i integer, b bigint, n numeric(12,3), r real, d double precision,
				ok boolean, t text, v varchar(10), ch char(4), by bytea, dt date, tm time, tsp timestamp,
				tz timestamptz, iv interval, j json, jb jsonb, u uuid, ai integer[], at text[])`)
			tz := time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.UTC)
			tsp := time.Date(2023, 12, 31, 23, 59, 59, 0, time.UTC)
			dt := time.Date(2020, 1, 2, 0, 0, 0, 0, time.UTC)
			u := [16]byte{0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11}
			num := pgtype.Numeric{Int: big.NewInt(1234567), Exp: -3, Valid: true}
			var jbArg any = map[string]any{"k": []any{1.0, "x"}}
			if mode == pgx.QueryExecModeSimpleProtocol {
				jbArg = `{"k": [1, "x"]}` // pgx needs the type to encode a map
			}
			_, err = c.Exec(ctx, `INSERT INTO `+table+` (s, i, b, n, r, d, ok, t, v, ch, by, dt, tm, tsp, tz, iv, j, jb, u, ai, at)
				VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21)`,
				int16(-7), int32(123456), int64(1)<<40, num, float32(1.5), 2.25, true, "héllo", "short", "ab",
				[]byte{0, 1, 2, 255}, dt, pgtype.Time{Microseconds: 3723000001, Valid: true}, tsp, tz,
				pgtype.Interval{Months: 14, Days: 3, Microseconds: 3600e6 + 1, Valid: true},
				`{"a": 1}`, jbArg, pgtype.UUID{Bytes: u, Valid: true}, []int32{1, 2, 3}, []string{"a", "b c", ""})
			if err != nil {
				t.Fatal(err)
			}
			var (
				s    int16
				i    int32
				b    int64
				n    pgtype.Numeric
				r    float32
				d    float64
				ok   bool
				tx   string
				v    string
				ch   string
				by   []byte
				gdt  time.Time
				tm   pgtype.Time
				gtsp time.Time
				gtz  time.Time
				iv   pgtype.Interval
				j    string
				jb   map[string]any
				gu   [16]byte
				ai   []int32
				at   []string
			)
			err = c.QueryRow(ctx, `SELECT s, i, b, n, r, d, ok, t, v, ch, by, dt, tm, tsp, tz, iv, j, jb, u, ai, at FROM `+table).
				Scan(&s, &i, &b, &n, &r, &d, &ok, &tx, &v, &ch, &by, &gdt, &tm, &gtsp, &gtz, &iv, &j, &jb, &gu, &ai, &at)
			if err != nil {
				t.Fatal(err)
			}
			nf, _ := n.Float64Value()
			checks := []struct {
				name      string
				got, want any
			}{
				{"smallint", s, int16(-7)}, {"int", i, int32(123456)}, {"bigint", b, int64(1) << 40},
				{"numeric", nf.Float64, 1234.567}, {"real", r, float32(1.5)}, {"double", d, 2.25}, {"bool", ok, true},
				{"text", tx, "héllo"}, {"varchar", v, "short"}, {"char", ch, "ab  "}, {"bytea", by, []byte{0, 1, 2, 255}},
				{"date", gdt, dt}, {"time", tm.Microseconds, int64(3723000001)}, {"timestamp", gtsp, tsp},
				{"timestamptz", gtz.UTC(), tz}, {"interval", iv, pgtype.Interval{Months: 14, Days: 3, Microseconds: 3600e6 + 1, Valid: true}},
				{"json", j, `{"a": 1}`}, {"jsonb", jb, map[string]any{"k": []any{1.0, "x"}}}, {"uuid", gu, u},
				{"int[]", ai, []int32{1, 2, 3}}, {"text[]", at, []string{"a", "b c", ""}},
			}
			for _, ck := range checks {
				if !reflect.DeepEqual(ck.got, ck.want) {
					t.Errorf("%s: got %#v, want %#v", ck.name, ck.got, ck.want)
				}
			}
			// jsonb operators.
			var key string
			var contains bool
			if err := c.QueryRow(ctx, `SELECT jb->'k'->>1, jb @> '{"k":["x"]}' FROM `+table).Scan(&key, &contains); err != nil {
				t.Fatal(err)
			}
			if key != "x" || !contains {
				t.Errorf("jsonb ops: %q %v", key, contains)
			}
		})
	}
}

func TestTransactionsAndSavepoints(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	a := ts.connect(t, "acme", "acme")
	b := ts.connect(t, "acme", "acme")
	mustExec(t, a, `CREATE TABLE acct (id int PRIMARY KEY, bal int NOT NULL)`)
	mustExec(t, a, `INSERT INTO acct VALUES (1, 100)`)

	tx, err := a.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE acct SET bal = 50 WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	// Another session sees only committed data.
	var bal int
	if err := b.QueryRow(ctx, `SELECT bal FROM acct WHERE id = 1`).Scan(&bal); err != nil || bal != 100 {
		t.Fatalf("uncommitted write visible: %d %v", bal, err)
	}
	if _, err := tx.Exec(ctx, `SAVEPOINT s1`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE acct SET bal = 0 WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO acct VALUES (1, 1)`)
	if sqlState(err) != "23505" {
		t.Fatalf("duplicate: %v", err)
	}
	_, err = tx.Exec(ctx, `SELECT 1`)
	if sqlState(err) != "25P02" {
		t.Fatalf("aborted tx: %v", err)
	}
	if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT s1`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.QueryRow(ctx, `SELECT bal FROM acct WHERE id = 1`).Scan(&bal); err != nil || bal != 50 {
		t.Fatalf("after commit: %d %v", bal, err)
	}

	// Rollback discards.
	tx, _ = a.Begin(ctx)
	tx.Exec(ctx, `DELETE FROM acct`)
	tx.Rollback(ctx)
	var n int
	a.QueryRow(ctx, `SELECT count(*) FROM acct`).Scan(&n)
	if n != 1 {
		t.Fatalf("rollback lost: %d rows", n)
	}
	// A failed statement ends in ROLLBACK on COMMIT.
	if _, err := a.Exec(ctx, `BEGIN`); err != nil {
		t.Fatal(err)
	}
	a.Exec(ctx, `INSERT INTO acct VALUES (2, 2)`)
	a.Exec(ctx, `SELECT * FROM missing_table`)
	res, err := a.PgConn().Exec(ctx, `COMMIT`).ReadAll()
	if err != nil || string(res[0].CommandTag.String()) != "ROLLBACK" {
		t.Fatalf("commit of failed tx: %v %v", res, err)
	}
	a.QueryRow(ctx, `SELECT count(*) FROM acct`).Scan(&n)
	if n != 1 {
		t.Fatalf("failed transaction committed: %d rows", n)
	}
}

func TestErrorsSQLState(t *testing.T) {
	ts := startServer(t)
	c := ts.connect(t, "acme", "acme")
	mustExec(t, c, `CREATE TABLE p (id int PRIMARY KEY, name text NOT NULL, n int CHECK (n > 0))`)
	mustExec(t, c, `CREATE TABLE ch (id int PRIMARY KEY, pid int REFERENCES p(id))`)
	mustExec(t, c, `INSERT INTO p VALUES (1, 'a', 1)`)
	cases := []struct {
		sql, code string
	}{
		{`SELEC 1`, "42601"},
		{`SELECT * FROM nope`, "42P01"},
		{`SELECT nope FROM p`, "42703"},
		{`CREATE TABLE p (x int)`, "42P07"},
		{`INSERT INTO p VALUES (1, 'b', 1)`, "23505"},
		{`INSERT INTO p (id) VALUES (2)`, "23502"},
		{`INSERT INTO p VALUES (3, 'c', -1)`, "23514"},
		{`INSERT INTO ch VALUES (1, 99)`, "23503"},
		{`SELECT 'abc'::int`, "22P02"},
		{`SELECT 1/0`, "22012"},
		{`SELECT nosuchfunc(1)`, "42883"},
		{`ATTACH DATABASE '/tmp/x.db' AS x`, "42601"},
		{`SELECT load_extension('x')`, "42883"},
		{`COPY p FROM '/etc/passwd'`, "42501"},
	}
	for _, tc := range cases {
		_, err := c.Exec(context.Background(), tc.sql)
		if got := sqlState(err); got != tc.code {
			t.Errorf("%s: got %s (%v), want %s", tc.sql, got, err, tc.code)
		}
	}
	var pe *pgconn.PgError
	_, err := c.Exec(context.Background(), `SELECT * FROM p WHERE`)
	if !errors.As(err, &pe) || pe.Position == 0 {
		t.Errorf("syntax error without position: %v", err)
	}

	mustExec(t, c, `INSERT INTO ch VALUES (1, 1)`)
	_, err = c.Exec(context.Background(), `DELETE FROM p WHERE id = 1`)
	if !errors.As(err, &pe) || pe.Code != "23503" ||
		pe.Message != `update or delete on table "p" violates foreign key constraint "ch_pid_fkey" on table "ch"` {
		t.Errorf("delete of a referenced row: %v", err)
	}

	// Integrity errors name their table, column and constraint as
	// PostgreSQL's do; a unique index keeps its own name.
	mustExec(t, c, `CREATE TABLE q (id int PRIMARY KEY, a text UNIQUE, b int, c int CHECK (c < 10))`)
	mustExec(t, c, `CREATE UNIQUE INDEX q_b_named ON q (b)`)
	mustExec(t, c, `INSERT INTO q VALUES (1, 'x', 1, 1)`)
	for _, tc := range []struct{ sql, table, column, constraint string }{
		{`INSERT INTO q VALUES (1, 'y', 2, 2)`, "q", "id", "q_pkey"},
		{`INSERT INTO q VALUES (2, 'x', 2, 2)`, "q", "a", "q_a_key"},
		{`INSERT INTO q VALUES (2, 'y', 1, 2)`, "q", "b", "q_b_named"},
		{`INSERT INTO q VALUES (2, 'y', 2, 20)`, "", "", "q_c_check"},
		{`INSERT INTO p (id) VALUES (2)`, "p", "name", ""},
		{`INSERT INTO ch VALUES (5, 99)`, "ch", "", "ch_pid_fkey"},
	} {
		_, err := c.Exec(context.Background(), tc.sql)
		if !errors.As(err, &pe) || pe.TableName != tc.table || pe.ColumnName != tc.column || pe.ConstraintName != tc.constraint {
			t.Errorf("%s: %v (table %q column %q constraint %q)", tc.sql, err, pe.TableName, pe.ColumnName, pe.ConstraintName)
		}
	}
}

func TestExtendedRowLimitAndBatch(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	c := ts.connect(t, "acme", "acme")
	mustExec(t, c, `CREATE TABLE nums (n int)`)
	mustExec(t, c, `INSERT INTO nums SELECT * FROM generate_series(1, 10)`)

	// Row limits through the raw protocol: Execute with MaxRows 3.
	pc := c.PgConn()
	sd, err := pc.Prepare(ctx, "lim", `SELECT n FROM nums ORDER BY n`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sd.Fields) != 1 || sd.Fields[0].DataTypeOID != 23 {
		t.Fatalf("row description: %+v", sd.Fields)
	}
	fe := pc.Frontend()
	fe.Send(&pgproto3.Bind{PreparedStatement: "lim", ResultFormatCodes: []int16{1}})
	for i := 0; i < 4; i++ {
		fe.Send(&pgproto3.Execute{MaxRows: 3})
	}
	fe.Send(&pgproto3.Sync{})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	var trace []string
	for {
		msg, err := fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		switch m := msg.(type) {
		case *pgproto3.DataRow:
			trace = append(trace, fmt.Sprint(m.Values[0][3]))
		case *pgproto3.PortalSuspended:
			trace = append(trace, "S")
		case *pgproto3.CommandComplete:
			trace = append(trace, string(m.CommandTag))
		case *pgproto3.ErrorResponse:
			t.Fatal(m.Message)
		}
		if _, ok := msg.(*pgproto3.ReadyForQuery); ok {
			break
		}
	}
	if got := strings.Join(trace, ","); got != "1,2,3,S,4,5,6,S,7,8,9,S,10,SELECT 10" {
		t.Fatalf("row limit trace %s", got)
	}

	// Batch of several statements in one round trip.
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO nums VALUES ($1)`, 11)
	b.Queue(`SELECT count(*) FROM nums`)
	b.Queue(`SELECT n FROM nums WHERE n > $1 ORDER BY n`, 8)
	br := c.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		t.Fatal(err)
	}
	var cnt int
	if err := br.QueryRow().Scan(&cnt); err != nil || cnt != 11 {
		t.Fatalf("count %d %v", cnt, err)
	}
	rows, err := br.Query()
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil || fmt.Sprint(got) != "[9 10 11]" {
		t.Fatalf("batch rows %v %v", got, err)
	}
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestCopyFromAndTo(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	c := ts.connect(t, "acme", "acme")
	mustExec(t, c, `CREATE TABLE cp (id int PRIMARY KEY, name text, at timestamptz)`)
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var src [][]any
	for i := 0; i < 1000; i++ {
		var name any = fmt.Sprintf("n\t%d", i)
		if i%10 == 0 {
			name = nil
		}
		src = append(src, []any{int32(i), name, at})
	}
	n, err := c.CopyFrom(ctx, pgx.Identifier{"cp"}, []string{"id", "name", "at"}, pgx.CopyFromRows(src))
	if err != nil || n != 1000 {
		t.Fatalf("copy from: %d %v", n, err)
	}
	var nulls int
	c.QueryRow(ctx, `SELECT count(*) FROM cp WHERE name IS NULL`).Scan(&nulls)
	if nulls != 100 {
		t.Fatalf("nulls %d", nulls)
	}

	var out strings.Builder
	tag, err := c.PgConn().CopyTo(ctx, &out, `COPY (SELECT id, name FROM cp WHERE id < 3 ORDER BY id) TO STDOUT`)
	if err != nil || tag.RowsAffected() != 3 {
		t.Fatalf("copy to: %v %v", tag, err)
	}
	if want := "0\t\\N\n1\tn\\t1\n2\tn\\t2\n"; out.String() != want {
		t.Fatalf("copy text: %q", out.String())
	}
	out.Reset()
	if _, err := c.PgConn().CopyTo(ctx, &out, `COPY cp (id, name) TO STDOUT WITH (FORMAT csv, HEADER true)`); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "id,name\n0,\n1,n\t1\n") {
		t.Fatalf("copy csv: %q", out.String()[:40])
	}
	mustExec(t, c, `CREATE TABLE cp2 (id int, name text)`)
	tag, err = c.PgConn().CopyFrom(ctx, strings.NewReader("1,\"a,b\"\n2,\n3,\"\"\n"), `COPY cp2 FROM STDIN WITH (FORMAT csv)`)
	if err != nil || tag.RowsAffected() != 3 {
		t.Fatalf("csv copy from: %v %v", tag, err)
	}
	var s1 string
	var null2 bool
	var empty3 string
	c.QueryRow(ctx, `SELECT (SELECT name FROM cp2 WHERE id = 1), (SELECT name IS NULL FROM cp2 WHERE id = 2), (SELECT name FROM cp2 WHERE id = 3)`).Scan(&s1, &null2, &empty3)
	if s1 != "a,b" || !null2 || empty3 != "" {
		t.Fatalf("csv values %q %v %q", s1, null2, empty3)
	}

	// Text COPY of more rows than one insert batch, not a multiple of it;
	// a bad row late in the data leaves nothing behind.
	mustExec(t, c, `CREATE TABLE cp3 (id int PRIMARY KEY, at timestamptz)`)
	var data strings.Builder
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&data, "%d\t2024-01-02 03:04:05+00\n", i)
	}
	tag, err = c.PgConn().CopyFrom(ctx, strings.NewReader(data.String()), `COPY cp3 FROM STDIN`)
	if err != nil || tag.RowsAffected() != 1000 {
		t.Fatalf("text copy from: %v %v", tag, err)
	}
	var cnt, sum int
	c.QueryRow(ctx, `SELECT count(*), sum(id) FROM cp3 WHERE at = '2024-01-02 03:04:05+00'`).Scan(&cnt, &sum)
	if cnt != 1000 || sum != 999*1000/2 {
		t.Fatalf("copied rows: %d, sum %d", cnt, sum)
	}
	data.Reset()
	for i := 1000; i < 1100; i++ {
		fmt.Fprintf(&data, "%d\t2024-01-02 03:04:05+00\n", i)
	}
	data.WriteString("5\t2024-01-02 03:04:05+00\n") // duplicate key
	if _, err := c.PgConn().CopyFrom(ctx, strings.NewReader(data.String()), `COPY cp3 FROM STDIN`); sqlState(err) != "23505" {
		t.Fatalf("duplicate in copy: %v", err)
	}
	c.QueryRow(ctx, `SELECT count(*) FROM cp3`).Scan(&cnt)
	if cnt != 1000 {
		t.Fatalf("rows after a failed copy: %d", cnt)
	}
}

func TestLargeResultStreams(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	c := ts.connect(t, "acme", "acme")
	rows, err := c.Query(ctx, `SELECT g, 'row ' || g FROM generate_series(1, 100000) g`)
	if err != nil {
		t.Fatal(err)
	}
	var n, sum int64
	for rows.Next() {
		var g int64
		var s string
		if err := rows.Scan(&g, &s); err != nil {
			t.Fatal(err)
		}
		n++
		sum += g
	}
	if rows.Err() != nil || n != 100000 || sum != 100000*100001/2 {
		t.Fatalf("got %d rows, sum %d, %v", n, sum, rows.Err())
	}
}

func TestCancelRequest(t *testing.T) {
	ts := startServer(t)
	c := ts.connect(t, "acme", "acme")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	// A query that would run for a very long time.
	_, err := c.Exec(ctx, `WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r`)
	if err == nil {
		t.Fatal("runaway query finished")
	}
	// pgx closes the connection after a cancelled query; a new one works
	// and the server is responsive.
	c2 := ts.connect(t, "acme", "acme")
	var one int
	if err := c2.QueryRow(context.Background(), `SELECT 1`).Scan(&one); err != nil {
		t.Fatal(err)
	}
}

// TestCancelRequestStopsStatement sends a CancelRequest for a running
// statement, a long pg_sleep and a runaway recursive query, and expects
// each to end with 57014 while the session stays usable.
func TestCancelRequestStopsStatement(t *testing.T) {
	ts := startServer(t)
	c := ts.connect(t, "acme", "acme")
	ctx := context.Background()
	for _, q := range []string{`SELECT pg_sleep(600)`, `WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r`} {
		done := make(chan error, 1)
		go func() {
			_, err := c.Exec(ctx, q)
			done <- err
		}()
		var err error
	wait:
		for i := 0; ; i++ {
			// Cancel until the statement has started and stopped.
			if cerr := c.PgConn().CancelRequest(ctx); cerr != nil {
				t.Fatal(cerr)
			}
			select {
			case err = <-done:
				break wait
			case <-time.After(20 * time.Millisecond):
			}
			if i == 1000 {
				t.Fatalf("%s: not cancelled", q)
			}
		}
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "57014" || pe.Message != "canceling statement due to user request" {
			t.Fatalf("%s: %v", q, err)
		}
		var one int
		if err := c.QueryRow(ctx, `SELECT 1`).Scan(&one); err != nil || one != 1 {
			t.Fatalf("after cancel: %v", err)
		}
	}
}

func TestStatementTimeout(t *testing.T) {
	ts := startServer(t)
	c := ts.connect(t, "acme", "acme")
	mustExec(t, c, `SET statement_timeout = '100ms'`)
	_, err := c.Exec(context.Background(), `WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r`)
	if sqlState(err) != "57014" {
		t.Fatalf("want 57014, got %v", err)
	}
	// pg_sleep sleeps in steps a timeout or cancel can stop.
	_, err = c.Exec(context.Background(), `SELECT pg_sleep(600)`)
	if sqlState(err) != "57014" {
		t.Fatalf("pg_sleep: want 57014, got %v", err)
	}
	mustExec(t, c, `SET statement_timeout = 0`)
	if _, err := c.Exec(context.Background(), `SELECT pg_sleep(0.01)`); err != nil {
		t.Fatal(err)
	}
}

func TestTenantIsolationAndAuth(t *testing.T) {
	ts := startServer(t, "acme", "other")
	ctx := context.Background()
	a := ts.connect(t, "acme", "acme")
	mustExec(t, a, `CREATE TABLE secrets (s text)`)
	mustExec(t, a, `INSERT INTO secrets VALUES ('acme-only')`)
	mustExec(t, a, `CREATE DATABASE extra`)

	o := ts.connect(t, "other", "other")
	if _, err := o.Exec(ctx, `SELECT * FROM secrets`); sqlState(err) != "42P01" {
		t.Fatalf("other tenant sees acme's table: %v", err)
	}
	// Database names resolve inside the connecting tenant only.
	for _, db := range []string{"acme", "extra", "../acme", "../../other/sql/acme"} {
		c, err := pgx.Connect(ctx, strings.Replace(ts.url("other", "x"), "/x?", "/"+db+"?", 1))
		if err == nil {
			var n int
			qerr := c.QueryRow(ctx, `SELECT count(*) FROM secrets`).Scan(&n)
			c.Close(ctx)
			if qerr == nil {
				t.Fatalf("tenant other read acme's data through database %q", db)
			}
		}
	}
	// Wrong password and unknown tenant are refused alike.
	for _, u := range []string{
		fmt.Sprintf("postgres://acme:wrong@127.0.0.1:%d/acme?sslmode=disable", ts.addr.Port),
		fmt.Sprintf("postgres://nobody:wrong@127.0.0.1:%d/acme?sslmode=disable", ts.addr.Port),
	} {
		_, err := pgx.Connect(ctx, u)
		if sqlState(err) != "28P01" {
			t.Fatalf("%s: want 28P01, got %v", u, err)
		}
	}
	// acme's second database works for acme.
	e, err := pgx.Connect(ctx, ts.url("acme", "extra"))
	if err != nil {
		t.Fatal(err)
	}
	e.Close(ctx)
}

func TestImplicitTransactions(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	c := ts.connect(t, "acme", "acme")
	mustExec(t, c, `CREATE TABLE imp (id int PRIMARY KEY)`)
	// Several statements in one Query are atomic.
	_, err := c.PgConn().Exec(ctx, `INSERT INTO imp VALUES (1); INSERT INTO imp VALUES (1)`).ReadAll()
	if sqlState(err) != "23505" {
		t.Fatalf("want 23505, got %v", err)
	}
	var n int
	c.QueryRow(ctx, `SELECT count(*) FROM imp`).Scan(&n)
	if n != 0 {
		t.Fatalf("first statement of a failed Query committed: %d rows", n)
	}
	// A batch (one pipeline up to Sync) is atomic too.
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO imp VALUES (2)`)
	b.Queue(`INSERT INTO imp VALUES (2)`)
	if err := c.SendBatch(ctx, b).Close(); sqlState(err) != "23505" {
		t.Fatalf("batch: %v", err)
	}
	c.QueryRow(ctx, `SELECT count(*) FROM imp`).Scan(&n)
	if n != 0 {
		t.Fatalf("failed batch left %d rows", n)
	}
	// And a successful one commits.
	mustExec(t, c, `INSERT INTO imp VALUES (3); INSERT INTO imp VALUES (4)`)
	c.QueryRow(ctx, `SELECT count(*) FROM imp`).Scan(&n)
	if n != 2 {
		t.Fatalf("rows %d", n)
	}
}

// TestRunawayValueBounded checks that a query building one huge value
// fails with 54000 and leaves the session usable.
func TestRunawayValueBounded(t *testing.T) {
	ts := startServer(t)
	c := ts.connect(t, "acme", "acme")
	_, err := c.Exec(context.Background(), `SELECT length(string_agg(repeat('x', 1000000), '')) FROM generate_series(1, 400)`)
	if sqlState(err) != "54000" {
		t.Fatalf("want 54000, got %v", err)
	}
	for _, q := range []string{`SELECT repeat('xx', 4611686018427387904)`, `SELECT lpad('x', 2000000000)`} {
		if _, err := c.Exec(context.Background(), q); sqlState(err) != "54000" {
			t.Fatalf("%s: want 54000, got %v", q, err)
		}
	}
	var n int
	if err := c.QueryRow(context.Background(), `SELECT length(string_agg(repeat('x', 1000), '')) FROM generate_series(1, 400)`).Scan(&n); err != nil || n != 400000 {
		t.Fatalf("after the failure: %d %v", n, err)
	}
}
