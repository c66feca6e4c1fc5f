package pgwire

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5"
)

// BenchmarkSelectSimple runs pgbench's select-only statement through the
// simple protocol with a different literal each time.
func BenchmarkSelectSimple(b *testing.B) {
	quietLogs = true
	ts := startServer(b)
	ctx := context.Background()
	cfg, _ := pgx.ParseConfig(ts.url("acme", "acme"))
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	mustExec(b, c, `CREATE TABLE acc (aid int NOT NULL, bid int, abalance int, filler char(84))`)
	mustExec(b, c, `INSERT INTO acc SELECT g, 1, 0, '' FROM generate_series(1, 10000) g`)
	mustExec(b, c, `ALTER TABLE acc ADD PRIMARY KEY (aid)`)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var bal int
		if err := c.QueryRow(ctx, fmt.Sprintf("SELECT abalance FROM acc WHERE aid = %d", i%10000+1)).Scan(&bal); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCopyIn loads rows with COPY FROM STDIN in text format.
func BenchmarkCopyIn(b *testing.B) {
	quietLogs = true
	ts := startServer(b)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, ts.url("acme", "acme"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	mustExec(b, c, `CREATE TABLE cpb (id bigint, name text, amount numeric(12,2), at timestamptz)`)
	var data []byte
	for i := 0; i < b.N; i++ {
		data = fmt.Appendf(data, "%d\tname-%d\t%d.%02d\t2024-01-02 03:04:05+00\n", i, i, i%100000, i%100)
	}
	b.ResetTimer()
	if _, err := c.PgConn().CopyFrom(ctx, bytesReader(data), "COPY cpb FROM STDIN"); err != nil {
		b.Fatal(err)
	}
}

func bytesReader(b []byte) *bytesReaderT { return &bytesReaderT{b: b} }

type bytesReaderT struct{ b []byte }

func (r *bytesReaderT) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}
