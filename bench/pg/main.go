// Command pg benchmarks rewire's PostgreSQL wire protocol (pgwire over the
// tenant's SQLite database, in-process) against a real PostgreSQL 15
// started on a temporary cluster, in one run: pgbench -i, the select-only
// script (-S), the default TPC-B-like script, and COPY FROM STDIN of many
// rows. It prints tps, average latency and the ratio rewire/PostgreSQL.
//
//	go run ./bench/pg [-scale 10] [-clients 8] [-threads 2] [-time 10] [-copy 1000000]
//
// It needs pgbench and PostgreSQL 15's server binaries
// (/usr/lib/postgresql/15/bin) and, when run as root, the postgres user.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"rewire/pgwire"
	"rewire/storage"
)

var (
	scale    = flag.Int("scale", 10, "pgbench scale factor")
	clients  = flag.Int("clients", 8, "pgbench clients")
	threads  = flag.Int("threads", 2, "pgbench threads")
	seconds  = flag.Int("time", 10, "seconds per pgbench run")
	copyRows = flag.Int("copy", 1000000, "rows for the COPY test")
	pgBin    = flag.String("pgbin", "/usr/lib/postgresql/15/bin", "PostgreSQL server binaries")
	keep     = flag.Bool("keep", false, "keep the scratch directory")
	profile  = flag.String("cpuprofile", "", "write a CPU profile of the rewire measurement to this file")
)

// target is one server to measure.
type target struct {
	name string
	env  []string // PG* variables for pgbench
	dsn  string   // for the COPY test
}

type result struct {
	initSec      float64
	selectTPS    float64
	selectLatMS  float64
	tpcbTPS      float64
	tpcbLatMS    float64
	copyRowsPerS float64
}

func main() {
	flag.Parse()
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	if _, err := exec.LookPath("pgbench"); err != nil {
		return fmt.Errorf("pgbench not found (apt-get install postgresql-client): %w", err)
	}
	scratch, err := os.MkdirTemp("", "rewire-bench-pg-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(scratch)
	}
	os.Chmod(scratch, 0o755)

	rw, stopRW, err := startRewire(filepath.Join(scratch, "rewire"))
	if err != nil {
		return fmt.Errorf("start rewire: %w", err)
	}
	defer stopRW()
	pgT, stopPG, err := startPostgres(filepath.Join(scratch, "pg"))
	if err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	defer stopPG()

	results := map[string]*result{}
	for _, t := range []target{rw, pgT} {
		log.Printf("measuring %s", t.name)
		stopProfile := func() {}
		if *profile != "" && t.name == "rewire" {
			f, err := os.Create(*profile)
			if err != nil {
				return err
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				f.Close()
				return err
			}
			stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
		}
		r, err := measure(t)
		stopProfile()
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		results[t.name] = r
	}
	report(results["rewire"], results["postgres"])
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func startRewire(dir string) (target, func(), error) {
	ctx := context.Background()
	st, err := storage.Open(ctx, storage.Config{Dir: dir, MoverInterval: -1})
	if err != nil {
		return target{}, nil, err
	}
	if _, err := st.CreateTenant(ctx, "bench", "bench-pass"); err != nil {
		st.Close()
		return target{}, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		st.Close()
		return target{}, nil, err
	}
	srv := pgwire.NewServer(st, pgwire.Config{}, slog.New(slog.DiscardHandler))
	go srv.Serve(ln)
	port := ln.Addr().(*net.TCPAddr).Port
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		st.Close()
	}
	return target{
		name: "rewire",
		env:  []string{"PGHOST=127.0.0.1", "PGPORT=" + strconv.Itoa(port), "PGUSER=bench", "PGPASSWORD=bench-pass", "PGDATABASE=bench", "PGSSLMODE=disable"},
		dsn:  fmt.Sprintf("postgres://bench:bench-pass@127.0.0.1:%d/bench?sslmode=disable", port),
	}, stop, nil
}

// asPostgres runs a server binary as the postgres user when we are root
// (initdb and postgres refuse to run as root).
func asPostgres(name string, args ...string) *exec.Cmd {
	bin := filepath.Join(*pgBin, name)
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", bin}, args...)...)
	}
	return exec.Command(bin, args...)
}

func startPostgres(dir string) (target, func(), error) {
	if _, err := os.Stat(filepath.Join(*pgBin, "initdb")); err != nil {
		return target{}, nil, fmt.Errorf("PostgreSQL 15 not found in %s (apt-get install postgresql): %w", *pgBin, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return target{}, nil, err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return target{}, nil, fmt.Errorf("need the postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return target{}, nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := asPostgres("initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync").CombinedOutput(); err != nil {
		return target{}, nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return target{}, nil, err
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=100", port, dir)
	if out, err := asPostgres("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "start").CombinedOutput(); err != nil {
		return target{}, nil, fmt.Errorf("pg_ctl start: %v\n%s", err, out)
	}
	stop := func() {
		asPostgres("pg_ctl", "-D", data, "-m", "fast", "-w", "stop").Run()
	}
	env := []string{"PGHOST=127.0.0.1", "PGPORT=" + strconv.Itoa(port), "PGUSER=postgres", "PGDATABASE=postgres", "PGSSLMODE=disable"}
	return target{name: "postgres", env: env,
		dsn: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)}, stop, nil
}

func pgbench(t target, args ...string) (string, error) {
	cmd := exec.Command("pgbench", args...)
	cmd.Env = append(os.Environ(), t.env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("pgbench %v: %v\n%s", args, err, out)
	}
	return string(out), nil
}

var (
	reTPS     = regexp.MustCompile(`tps = ([0-9.]+)`)
	reLatency = regexp.MustCompile(`latency average = ([0-9.]+) ms`)
	reFailed  = regexp.MustCompile(`number of failed transactions: (\d+)`)
)

func parseRun(out string) (tps, lat float64, err error) {
	m := reTPS.FindStringSubmatch(out)
	l := reLatency.FindStringSubmatch(out)
	if m == nil || l == nil {
		return 0, 0, fmt.Errorf("unexpected pgbench output:\n%s", out)
	}
	if f := reFailed.FindStringSubmatch(out); f != nil && f[1] != "0" {
		log.Printf("warning: %s failed transactions", f[1])
	}
	tps, _ = strconv.ParseFloat(m[1], 64)
	lat, _ = strconv.ParseFloat(l[1], 64)
	return tps, lat, nil
}

func measure(t target) (*result, error) {
	r := &result{}
	start := time.Now()
	if _, err := pgbench(t, "-i", "-s", strconv.Itoa(*scale), "-q"); err != nil {
		return nil, err
	}
	r.initSec = time.Since(start).Seconds()
	common := []string{"-c", strconv.Itoa(*clients), "-j", strconv.Itoa(*threads), "-T", strconv.Itoa(*seconds)}
	out, err := pgbench(t, append([]string{"-S"}, common...)...)
	if err != nil {
		return nil, err
	}
	if r.selectTPS, r.selectLatMS, err = parseRun(out); err != nil {
		return nil, err
	}
	out, err = pgbench(t, common...)
	if err != nil {
		return nil, err
	}
	if r.tpcbTPS, r.tpcbLatMS, err = parseRun(out); err != nil {
		return nil, err
	}
	if r.copyRowsPerS, err = copyTest(t); err != nil {
		return nil, err
	}
	return r, nil
}

// copyTest loads *copyRows rows with COPY FROM STDIN in text format.
func copyTest(t target) (float64, error) {
	ctx := context.Background()
	c, err := pgconn.Connect(ctx, t.dsn)
	if err != nil {
		return 0, err
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "DROP TABLE IF EXISTS bench_copy; CREATE TABLE bench_copy (id bigint, name text, amount numeric(12,2), at timestamptz)").ReadAll(); err != nil {
		return 0, err
	}
	var sb strings.Builder
	for i := 0; i < *copyRows; i++ {
		fmt.Fprintf(&sb, "%d\tname-%d\t%d.%02d\t2024-01-02 03:04:05+00\n", i, i, i%100000, i%100)
	}
	data := sb.String()
	start := time.Now()
	tag, err := c.CopyFrom(ctx, strings.NewReader(data), "COPY bench_copy FROM STDIN")
	if err != nil {
		return 0, err
	}
	if tag.RowsAffected() != int64(*copyRows) {
		return 0, fmt.Errorf("copied %d rows", tag.RowsAffected())
	}
	return float64(*copyRows) / time.Since(start).Seconds(), nil
}

func report(rw, pg *result) {
	fmt.Printf("\npgbench scale %d, %d clients, %d threads, %d s per run; COPY %d rows\n\n", *scale, *clients, *threads, *seconds, *copyRows)
	fmt.Printf("%-28s %14s %14s %8s\n", "test", "rewire", "postgres", "ratio")
	row := func(name string, a, b float64, unit string, higherBetter bool) {
		ratio := a / b
		if !higherBetter {
			ratio = b / a
		}
		fmt.Printf("%-28s %11.1f %-2s %11.1f %-2s %7.2fx\n", name, a, unit, b, unit, ratio)
	}
	row("pgbench -i (seconds)", rw.initSec, pg.initSec, "s", false)
	row("select-only (-S) tps", rw.selectTPS, pg.selectTPS, "", true)
	row("select-only latency", rw.selectLatMS, pg.selectLatMS, "ms", false)
	row("TPC-B tps", rw.tpcbTPS, pg.tpcbTPS, "", true)
	row("TPC-B latency", rw.tpcbLatMS, pg.tpcbLatMS, "ms", false)
	row("COPY rows/s", rw.copyRowsPerS, pg.copyRowsPerS, "", true)
	fmt.Println("\nratio: rewire relative to PostgreSQL (above 1 means rewire is faster).")
}
