package pgwire

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"rewire/pgwire/sqltrans"
)

// frontendBytes encodes frontend messages as a client would send them.
func frontendBytes(msgs ...pgproto3.FrontendMessage) []byte {
	var b []byte
	for _, m := range msgs {
		b, _ = m.Encode(b)
	}
	return b
}

var fuzzMu sync.Mutex

// FuzzMessages feeds arbitrary bytes to an authenticated session's message
// loop: nothing may panic, whatever the client sends.
func FuzzMessages(f *testing.F) {
	f.Add(frontendBytes(&pgproto3.Query{String: "CREATE TABLE IF NOT EXISTS f (a int, b text); SELECT * FROM f"}))
	f.Add(frontendBytes(&pgproto3.Parse{Name: "s", Query: "SELECT $1::int + 1"},
		&pgproto3.Bind{PreparedStatement: "s", ParameterFormatCodes: []int16{1}, Parameters: [][]byte{{0, 0, 0, 7}}, ResultFormatCodes: []int16{1}},
		&pgproto3.Describe{ObjectType: 'P'}, &pgproto3.Execute{MaxRows: 1}, &pgproto3.Sync{}))
	f.Add(frontendBytes(&pgproto3.Query{String: "COPY f FROM STDIN"}, &pgproto3.CopyData{Data: []byte("1\tx\n2\t\\N\n")}, &pgproto3.CopyDone{}))
	f.Add(frontendBytes(&pgproto3.Parse{Query: "SELECT $1::numeric, $2::int[]"},
		&pgproto3.Bind{ParameterFormatCodes: []int16{1}, Parameters: [][]byte{{0, 1, 0, 0, 0, 0, 0, 2, 0, 42}, {0, 0, 0, 1}}}, &pgproto3.Execute{}, &pgproto3.Sync{}))
	f.Add([]byte{'Q', 0, 0, 0, 4})
	f.Add([]byte{'B', 0xff, 0xff, 0xff, 0xff})

	quietLogs = true
	ts := startServer(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzMu.Lock()
		defer fuzzMu.Unlock()
		var panicked any
		onPanic = func(r any) { panicked = r }
		defer func() { onPanic = nil }()

		client, server := net.Pipe()
		c := ts.srv.newConn(server)
		if err := c.openForTest("acme", "acme"); err != nil {
			t.Fatal(err)
		}
		c.timeout = time.Second // bound runaway queries the fuzzer writes
		server.SetDeadline(time.Now().Add(5 * time.Second))
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.serveMessages()
		}()
		go io.Copy(io.Discard, client)
		client.SetWriteDeadline(time.Now().Add(2 * time.Second))
		client.Write(data)
		client.Close()
		select {
		case <-done:
		case <-time.After(6 * time.Second):
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("session hung on %q:\n%s", data, buf[:n])
		}
		if panicked != nil {
			t.Fatalf("panic: %v", panicked)
		}
	})
}

// FuzzStartup feeds arbitrary bytes to a fresh connection: startup packet
// and authentication must fail cleanly.
func FuzzStartup(f *testing.F) {
	sm := (&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber, Parameters: map[string]string{"user": "acme"}})
	b, _ := sm.Encode(nil)
	f.Add(b)
	f.Add(append(binary.BigEndian.AppendUint32(nil, 8), 0x04, 0xd2, 0x16, 0x2f))
	f.Add(append(binary.BigEndian.AppendUint32(nil, 16), 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 1, 0, 0, 0, 2))
	quietLogs = true
	ts := startServer(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzMu.Lock()
		defer fuzzMu.Unlock()
		var panicked any
		onPanic = func(r any) { panicked = r }
		defer func() { onPanic = nil }()
		client, server := net.Pipe()
		c := ts.srv.newConn(server)
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.serve()
		}()
		go io.Copy(io.Discard, client)
		client.SetWriteDeadline(time.Now().Add(2 * time.Second))
		client.Write(data)
		client.Close()
		<-done
		if panicked != nil {
			t.Fatalf("panic: %v", panicked)
		}
	})
}

// FuzzDecodeParam checks the binary parameter decoders of every type.
func FuzzDecodeParam(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1}, uint16(0))
	f.Add([]byte{0, 1, 0, 0, 0, 0, 0, 2, 0, 42}, uint16(1))
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 23, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 9}, uint16(2))
	oids := make([]uint32, 0, len(sqltrans.Types))
	for o := range sqltrans.Types {
		oids = append(oids, o)
	}
	f.Fuzz(func(t *testing.T, raw []byte, pick uint16) {
		oid := oids[int(pick)%len(oids)]
		for _, format := range []int16{0, 1} {
			// In UTC and in a zone with a half-hour offset.
			zone := fuzzZone
			if pick&0x8000 == 0 {
				zone = nil
			}
			v, err := decodeParam(raw, oid, format, zone)
			if err != nil {
				continue
			}
			// Whatever decodes must encode again.
			encodeValue(v, resCol{oid: oid, typmod: -1}, format, zone)
		}
	})
}

var fuzzZone = time.FixedZone("+05:30", 5*3600+1800)

// FuzzCopyText parses COPY text and CSV streams.
func FuzzCopyText(f *testing.F) {
	f.Add([]byte("1\tx\n2\t\\N\n\\.\n"), false)
	f.Add([]byte("1,\"a,\"\"b\"\n2,\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, csv bool) {
		cp := &sqltrans.Copy{Delimiter: "\t", Null: `\N`, Quote: `"`, Escape: `"`, CSV: csv}
		if csv {
			cp.Delimiter, cp.Null = ",", ""
		}
		buf := data
		for i := 0; i < 10000; i++ {
			_, rest, ok, err := nextRecord(buf, cp, true)
			if err != nil || !ok {
				return
			}
			if len(rest) >= len(buf) {
				t.Fatalf("no progress on %q", buf)
			}
			buf = rest
		}
	})
}

// fuzzCatalog is a fixed schema for translator fuzzing.
type fuzzCatalog struct{}

func (fuzzCatalog) Table(name string) ([]sqltrans.Column, bool) {
	if name == "t" || name == "u" {
		return []sqltrans.Column{{Name: "a", Oid: sqltrans.OidInt4}, {Name: "b", Oid: sqltrans.OidText},
			{Name: "j", Oid: sqltrans.OidJSONB}, {Name: "ts", Oid: sqltrans.OidTimestamptz}}, true
	}
	return catalogTable(name)
}

func (fuzzCatalog) Session(string) string { return "x" }

// FuzzTranslate: any SQL either translates or fails with a SQLSTATE.
func FuzzTranslate(f *testing.F) {
	for _, s := range []string{
		"SELECT a, b FROM t WHERE a = $1 ORDER BY 1 LIMIT 5",
		"INSERT INTO t (a, b) VALUES (1, 'x') ON CONFLICT (a) DO UPDATE SET b = excluded.b RETURNING *",
		"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r",
		"SELECT j->'k'->>0, j @> '{}' FROM t",
		"UPDATE t SET b = u.b FROM u WHERE t.a = u.a",
		"DELETE FROM t USING u WHERE t.a = u.a",
		"SELECT DISTINCT ON (a) a, b FROM t ORDER BY a, b DESC",
		"CREATE TABLE x (id serial PRIMARY KEY, n numeric(10,2) CHECK (n > 0))",
		"SELECT c.relname FROM pg_catalog.pg_class c WHERE c.relname OPERATOR(pg_catalog.~) '^(t)$'",
		"SELECT date_trunc('day', ts), extract(year from ts), ts + interval '1 day' FROM t",
		"CREATE SCHEMA s1; CREATE TABLE s1.t (a int); DROP SCHEMA s1 CASCADE",
		"DECLARE c CURSOR WITH HOLD FOR SELECT * FROM t; FETCH FORWARD 5 FROM c; MOVE 2 IN c; CLOSE c",
		"CREATE TABLE x AS SELECT a, b FROM t WITH NO DATA; SELECT a INTO y FROM t",
		"SELECT nextval('s'), setval('s', 5, false), currval('s')",
		"SELECT to_char(now(), 'YYYY-MM-DD'), lpad(b, 5, '*'), j #>> '{a,0}', pg_sleep(0)",
		"LISTEN jobs; NOTIFY jobs, 'x'; SELECT pg_notify('jobs', b) FROM t; UNLISTEN *",
		"WITH d AS (DELETE FROM t WHERE a > $1 RETURNING a, b) INSERT INTO u SELECT * FROM d",
		"SET TIME ZONE 'Europe/Paris'; SELECT date_trunc('day', ts), ts::date, extract(hour FROM ts) FROM t",
		"SELECT 1.50 + a, sum(a * 0.1), avg(a) FROM t WHERE a::numeric > 2.5",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		stmts, err := sqltrans.Translate(src, fuzzCatalog{})
		if err != nil {
			pe, ok := err.(*sqltrans.Error)
			if !ok || len(pe.Code) != 5 {
				t.Fatalf("error without SQLSTATE: %T %v", err, err)
			}
			if pe.Code == sqltrans.CodeInternal && strings.Contains(pe.Message, "runtime error") {
				t.Fatalf("translator crashed: %v", pe.Message)
			}
			return
		}
		if len(stmts) == 0 {
			t.Fatal("no statements and no error")
		}
	})
}

// openForTest prepares an authenticated session without the startup
// exchange.
func (c *conn) openForTest(tenant, db string) error {
	ctx := context.Background()
	c.user = tenant
	t, err := c.srv.store.Acquire(ctx, tenant)
	if err != nil {
		return err
	}
	c.tenant = t
	if c.db, err = c.srv.dbs.open(t.Dir(), tenant, db, false); err != nil {
		return err
	}
	if c.sc, err = sessionConn(ctx, c.db); err != nil {
		return err
	}
	return installCatalog(ctx, c.sc, t.Dir(), tenant, db)
}

func TestLiftLiterals(t *testing.T) {
	for _, tc := range []struct{ in, out string }{
		{"SELECT abalance FROM pgbench_accounts WHERE aid = 42;", "SELECT abalance FROM pgbench_accounts WHERE aid = $1"},
		{"UPDATE t SET a = a + -5 WHERE id = 7", "UPDATE t SET a = a + -$1 WHERE id = $2"},
		{"INSERT INTO h (a, b) VALUES (1, 2)", "INSERT INTO h (a, b) VALUES ($1, $2)"},
		{"SELECT 1, a FROM t WHERE b = 'x 5' ORDER BY 1 LIMIT 3", "SELECT 1, a FROM t WHERE b = 'x 5' ORDER BY 1 LIMIT $1"},
		{"SELECT a FROM t1 WHERE c2 = 1.5 AND d = 3::int", ""},
	} {
		got, _, ok := liftLiterals(tc.in)
		if !ok {
			got = ""
		}
		if tc.out != "" && got != tc.out || tc.out == "" && ok && strings.Contains(got, "1.5") == false {
			t.Errorf("%s: got %q", tc.in, got)
		}
	}
}
