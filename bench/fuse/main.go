// Command fuse benchmarks the rewire FUSE mount against a go-fuse
// loopback mount of a local directory and against the local directory
// itself, in one run: fio sequential write and read and 4 KiB random
// reads, and a metadata test that creates, stats and deletes many small
// files. It prints MB/s, IOPS and ops/s and the ratios of rewire to the
// other two.
//
//	go run ./bench/fuse [-size 1g] [-files 10000] [-runtime 15]
//
// It needs root (FUSE mounts), fio and fusermount3.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"rewire/fusefs"
	"rewire/internal/benchtool"
	"rewire/storage"
)

var (
	size     = flag.String("size", "1g", "fio file size")
	nfiles   = flag.Int("files", 10000, "files in the metadata test")
	runtime  = flag.Int("runtime", 15, "seconds for the random read test")
	periodic = flag.Bool("periodic", false, "run the store with periodic (not per-commit) fsync")
	keep     = flag.Bool("keep", false, "keep the scratch directory")
	cpuProf  = flag.String("cpuprofile", "", "write a CPU profile of the whole run (the rewire mount runs in-process)")
)

type target struct {
	name string
	dir  string
}

type result struct {
	writeMBs, readMBs, randIOPS float64
	create, stat, remove        float64 // ops/s
}

func main() {
	flag.Parse()
	stop := benchtool.StartCPUProfile(*cpuProf)
	defer stop()
	if err := run(); err != nil {
		stop()
		log.Fatal(err)
	}
}

func run() error {
	if _, err := exec.LookPath("fio"); err != nil {
		return fmt.Errorf("fio is required (apt-get install -y fio): %w", err)
	}
	scratch, err := os.MkdirTemp("", "rewire-bench-fuse-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(scratch)
	}
	mk := func(name string) string {
		p := filepath.Join(scratch, name)
		os.MkdirAll(p, 0o755)
		return p
	}
	local, loopBack, loopMnt, rewireMnt := mk("local"), mk("loop-backing"), mk("loop"), mk("rewire")

	// rewire mount.
	ctx := context.Background()
	cfg := storage.Config{Dir: mk("data"), MoverInterval: -1}
	if *periodic {
		cfg.Durability = storage.DurabilityPeriodic
	}
	st, err := storage.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.CreateTenant(ctx, "bench", "bench"); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	m, err := fusefs.Mount(ctx, st, "bench", rewireMnt, fusefs.Options{}, logger)
	if err != nil {
		return err
	}
	defer m.Unmount()

	// go-fuse loopback mount of a local directory.
	root, err := gofs.NewLoopbackRoot(loopBack)
	if err != nil {
		return err
	}
	srv, err := gofs.Mount(loopMnt, root, &gofs.Options{MountOptions: fuse.MountOptions{
		DirectMount: true, MaxWrite: 1 << 20, FsName: "loopback", Name: "loopback",
	}})
	if err != nil {
		return err
	}
	defer srv.Unmount()

	targets := []target{{"rewire", rewireMnt}, {"loopback", loopMnt}, {"local", local}}
	results := map[string]result{}
	for _, t := range targets {
		fmt.Fprintf(os.Stderr, "== %s (%s)\n", t.name, t.dir)
		r, err := bench(t)
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		results[t.name] = r
	}
	report(targets, results)
	return nil
}

func bench(t target) (result, error) {
	var r result
	file := filepath.Join(t.dir, "fio.dat")
	common := []string{"--name=job", "--filename=" + file, "--size=" + *size, "--output-format=json", "--ioengine=psync"}

	j, err := fio(append(common, "--rw=write", "--bs=1M", "--end_fsync=1")...)
	if err != nil {
		return r, err
	}
	r.writeMBs = j.Jobs[0].Write.BwBytes / 1e6
	dropCaches(file)
	j, err = fio(append(common, "--rw=read", "--bs=1M", "--invalidate=1")...)
	if err != nil {
		return r, err
	}
	r.readMBs = j.Jobs[0].Read.BwBytes / 1e6
	dropCaches(file)
	j, err = fio(append(common, "--rw=randread", "--bs=4k", "--invalidate=1", "--time_based",
		fmt.Sprintf("--runtime=%d", *runtime))...)
	if err != nil {
		return r, err
	}
	r.randIOPS = j.Jobs[0].Read.IOPS
	os.Remove(file)

	r.create, r.stat, r.remove, err = metadata(filepath.Join(t.dir, "meta"), *nfiles)
	return r, err
}

type fioJSON struct {
	Jobs []struct {
		Read  fioStats `json:"read"`
		Write fioStats `json:"write"`
	} `json:"jobs"`
}

type fioStats struct {
	BwBytes float64 `json:"bw_bytes"`
	IOPS    float64 `json:"iops"`
}

func fio(args ...string) (*fioJSON, error) {
	out, err := exec.Command("fio", args...).Output()
	if err != nil {
		return nil, fmt.Errorf("fio %s: %w", strings.Join(args, " "), err)
	}
	// fio may print warnings before the JSON.
	if i := strings.IndexByte(string(out), '{'); i > 0 {
		out = out[i:]
	}
	var j fioJSON
	if err := json.Unmarshal(out, &j); err != nil || len(j.Jobs) == 0 {
		return nil, fmt.Errorf("fio output: %v", err)
	}
	return &j, nil
}

// dropCaches writes back and drops the page cache, so reads measure the
// file system and not memory.
func dropCaches(string) {
	syscall.Sync()
	os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0)
}

// metadata creates, stats and deletes n empty files and returns ops/s of
// each phase.
func metadata(dir string, n int) (create, stat, remove float64, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, 0, 0, err
	}
	names := make([]string, n)
	for i := range names {
		names[i] = filepath.Join(dir, fmt.Sprintf("f%06d", i))
	}
	rate := func(start time.Time) float64 { return float64(n) / time.Since(start).Seconds() }

	start := time.Now()
	for _, p := range names {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return 0, 0, 0, err
		}
		f.Close()
	}
	create = rate(start)
	dropCaches("")
	start = time.Now()
	for _, p := range names {
		if _, err := os.Stat(p); err != nil {
			return 0, 0, 0, err
		}
	}
	stat = rate(start)
	start = time.Now()
	for _, p := range names {
		if err := os.Remove(p); err != nil {
			return 0, 0, 0, err
		}
	}
	remove = rate(start)
	return create, stat, remove, os.Remove(dir)
}

func report(targets []target, res map[string]result) {
	rw, lb, lo := res["rewire"], res["loopback"], res["local"]
	fmt.Printf("\nfio size %s, random reads %ds, metadata %d files\n\n", *size, *runtime, *nfiles)
	fmt.Printf("%-22s %12s %12s %12s %10s %10s\n", "test", "rewire", "loopback", "local", "rw/loop", "rw/local")
	row := func(name, unit string, f func(result) float64) {
		fmt.Printf("%-22s %12.1f %12.1f %12.1f %9.2fx %9.2fx\n", name+" ("+unit+")",
			f(rw), f(lb), f(lo), f(rw)/f(lb), f(rw)/f(lo))
	}
	row("seq write 1M", "MB/s", func(r result) float64 { return r.writeMBs })
	row("seq read 1M", "MB/s", func(r result) float64 { return r.readMBs })
	row("rand read 4K", "IOPS", func(r result) float64 { return r.randIOPS })
	row("create", "ops/s", func(r result) float64 { return r.create })
	row("stat", "ops/s", func(r result) float64 { return r.stat })
	row("delete", "ops/s", func(r result) float64 { return r.remove })
}
