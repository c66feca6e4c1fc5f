// Command core measures rewire's storage core on this machine and prints
// each figure beside its reference, measured in the same run:
//
//   - log append throughput with group commit under 1, 8 and 64 concurrent
//     writers (1 KiB and 64 KiB batches, fsync durability), beside fio's
//     fsync'd sequential write rate on the same disk;
//   - blob put and get per tier;
//   - cold open of many tenants (p50/p99) and resident memory per open
//     tenant.
//
// Run: go run ./bench/core [-dir DIR] [-tenants 10000] [-seconds 5]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"rewire/storage"
)

func main() {
	dir := flag.String("dir", "", "scratch directory on the disk to measure (default: a temp dir)")
	tenants := flag.Int("tenants", 10000, "tenants for the cold-open and memory test")
	seconds := flag.Float64("seconds", 5, "duration of each append run")
	flag.Parse()
	if *dir == "" {
		d, err := os.MkdirTemp("", "rewire-bench-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	dur := time.Duration(*seconds * float64(time.Second))
	fdLimit, err := storage.RaiseOpenFileLimit(1 << 20)
	if err != nil {
		log.Printf("open-file limit: %v", err)
	}

	fioMBs := fioSeqWrite(*dir)
	fmt.Printf("%-44s %10s\n", "reference: fio sequential write, fsync each 64 KiB", mbs(fioMBs))
	// 1 KiB batches measure the per-append cost; 64 KiB batches are
	// fio's own unit (and a Kafka producer's batch under load), so one
	// writer is fio's workload plus rewire's metadata commit.
	for _, size := range []int{1 << 10, 64 << 10} {
		for _, writers := range []int{1, 8, 64} {
			r := appendRun(filepath.Join(*dir, fmt.Sprintf("append-%d-%d", size, writers)), writers, size, dur)
			ratio := ""
			if fioMBs > 0 {
				ratio = fmt.Sprintf("%.2fx fio", r.mbPerSec/fioMBs)
			}
			fmt.Printf("log append, %2d writers, %2d KiB batches     %10s %9.0f appends/s  group %5.1f  %s\n",
				writers, size>>10, mbs(r.mbPerSec), r.perSec, r.avgGroup, ratio)
		}
	}
	blobRun(filepath.Join(*dir, "blobs"))
	tenantRun(filepath.Join(*dir, "tenants"), *tenants, fdLimit)
}

// fdsPerTenant is a generous count of the descriptors one open tenant
// holds: database, WAL and shared-memory files for the writer and for
// each reader connection opened so far.
const fdsPerTenant = 8

func mbs(v float64) string { return fmt.Sprintf("%.1f MB/s", v) }

// fioSeqWrite returns fio's fsync'd sequential write rate in MB/s, or 0
// when fio is not installed.
func fioSeqWrite(dir string) float64 {
	if _, err := exec.LookPath("fio"); err != nil {
		fmt.Println("reference: fio not installed (apt-get install fio); no ratio")
		return 0
	}
	out, err := exec.Command("fio", "--name=seq", "--rw=write", "--bs=64k", "--size=256m",
		"--fsync=1", "--directory="+dir, "--output-format=json", "--unlink=1").Output()
	if err != nil {
		log.Printf("fio: %v", err)
		return 0
	}
	var res struct {
		Jobs []struct {
			Write struct {
				BwBytes float64 `json:"bw_bytes"`
			} `json:"write"`
		} `json:"jobs"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res.Jobs) == 0 {
		log.Printf("fio output: %v", err)
		return 0
	}
	return res.Jobs[0].Write.BwBytes / 1e6
}

type appendResult struct {
	mbPerSec, perSec, avgGroup float64
}

func openStore(dir string, cfg storage.Config) *storage.Store {
	cfg.Dir = dir
	cfg.MoverInterval = -1
	s, err := storage.Open(context.Background(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	return s
}

func appendRun(dir string, writers, size int, dur time.Duration) appendResult {
	ctx := context.Background()
	s := openStore(dir, storage.Config{})
	defer s.Close()
	if _, err := s.CreateTenant(ctx, "bench", "pw"); err != nil {
		log.Fatal(err)
	}
	t, err := s.Acquire(ctx, "bench")
	if err != nil {
		log.Fatal(err)
	}
	defer t.Release()
	l, err := t.Logs().Create(ctx, "bench", storage.LogConfig{})
	if err != nil {
		log.Fatal(err)
	}
	data := make([]byte, size)
	_, c0 := storage.GroupCommitStats()
	var n atomic.Int64
	deadline := time.Now().Add(dur)
	start := time.Now()
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if _, err := l.Append(ctx, storage.AppendBatch{Data: data, Count: 1}); err != nil {
					log.Fatal(err)
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	_, c1 := storage.GroupCommitStats()
	per := float64(n.Load()) / el
	return appendResult{
		mbPerSec: per * float64(size) / 1e6,
		perSec:   per,
		// Appends to one log that queue together share one write, so
		// count appends, not writes, per commit.
		avgGroup: float64(n.Load()) / float64(max(c1-c0, 1)),
	}
}

func blobRun(dir string) {
	ctx := context.Background()
	s := openStore(dir, storage.Config{})
	defer func() { s.Close() }()
	s.CreateTenant(ctx, "bench", "pw")
	t, _ := s.Acquire(ctx, "bench")
	defer func() { t.Release() }()

	for _, c := range []struct {
		name string
		size int
		n    int
	}{{"hot, 4 KiB", 4 << 10, 2000}, {"warm, 4 MiB", 4 << 20, 40}} {
		hashes := make([]storage.Hash, c.n)
		data := make([]byte, c.size)
		start := time.Now()
		for i := range c.n {
			copy(data, strconv.Itoa(i)+"-"+c.name)
			h, err := t.Blobs().Put(ctx, data)
			if err != nil {
				log.Fatal(err)
			}
			hashes[i] = h
		}
		put := time.Since(start)
		start = time.Now()
		for _, h := range hashes {
			if _, err := t.Blobs().Get(ctx, h); err != nil {
				log.Fatal(err)
			}
		}
		get := time.Since(start)
		mb := float64(c.n*c.size) / 1e6
		fmt.Printf("blob %-12s put %8.0f/s %8.1f MB/s   get %8.0f/s %8.1f MB/s\n", c.name,
			float64(c.n)/put.Seconds(), mb/put.Seconds(), float64(c.n)/get.Seconds(), mb/get.Seconds())
	}
	// Cold: demote a set of 256 KiB blobs, then read them back (each read
	// decompresses and promotes).
	pol := storage.Policy{WarmAfter: time.Nanosecond, ColdAfter: time.Nanosecond}
	if err := s.Control().SetPolicy(ctx, "bench", pol); err != nil {
		log.Fatal(err)
	}
	t.Release()
	s.Close()
	s = openStore(dir, storage.Config{})
	t, _ = s.Acquire(ctx, "bench")
	var cold []storage.Hash
	data := make([]byte, 256<<10)
	for i := range 100 {
		copy(data, "cold-"+strconv.Itoa(i))
		h, _ := t.Blobs().Put(ctx, data)
		cold = append(cold, h)
	}
	time.Sleep(time.Millisecond)
	start := time.Now()
	if _, err := t.RunMover(ctx); err != nil {
		log.Fatal(err)
	}
	move := time.Since(start)
	start = time.Now()
	for _, h := range cold {
		if _, err := t.Blobs().Get(ctx, h); err != nil {
			log.Fatal(err)
		}
	}
	get := time.Since(start)
	fmt.Printf("blob %-12s demote %6.0f/s            get+promote %6.0f/s\n", "cold, 256 KiB",
		float64(len(cold))/move.Seconds(), float64(len(cold))/get.Seconds())
}

func tenantRun(dir string, n int, fdLimit uint64) {
	ctx := context.Background()
	// The tenants held open at once for the memory figure are bounded by
	// the open-file limit; the cold-open figure covers all n, the store
	// closing the least recently used as a server would.
	hold := n
	if fdLimit > 0 && uint64(hold)*fdsPerTenant+1024 > fdLimit {
		hold = int((fdLimit - 1024) / fdsPerTenant)
	}
	s := openStore(dir, storage.Config{MaxOpenTenants: 256, IdleTimeout: time.Hour})
	defer func() { s.Close() }()

	start := time.Now()
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range runtime.NumCPU() * 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				if _, err := s.CreateTenant(ctx, fmt.Sprintf("t%05d", i), "pw"); err != nil {
					log.Fatal(err)
				}
			}
		}()
	}
	wg.Wait()
	fmt.Printf("tenants: created %d in %.1fs\n", n, time.Since(start).Seconds())

	// First use creates each tenant's database; the figure asked for is a
	// later open of a closed tenant, so touch every tenant once, close the
	// store, and measure on a fresh one.
	for i := range n {
		t, err := s.Acquire(ctx, fmt.Sprintf("t%05d", i))
		if err != nil {
			log.Fatal(err)
		}
		t.Release()
	}
	s.Close()
	// MaxOpenTenants bounds the unused tenants kept open, beside those
	// held; past the held ones each tenant is released at once.
	s = openStore(dir, storage.Config{MaxOpenTenants: 16, IdleTimeout: time.Hour})

	runtime.GC()
	debug.FreeOSMemory()
	rss0 := rssBytes()
	var rss1 int64
	opens := make([]time.Duration, 0, n)
	held := make([]*storage.Tenant, 0, hold)
	for i := range n {
		t0 := time.Now()
		t, err := s.Acquire(ctx, fmt.Sprintf("t%05d", i))
		if err != nil {
			log.Fatal(err)
		}
		// Touch: one read through the reader pool.
		if _, err := t.KVGet(ctx, "bench", "x"); err != nil && !strings.Contains(err.Error(), "not found") {
			log.Fatal(err)
		}
		opens = append(opens, time.Since(t0))
		if len(held) < hold {
			held = append(held, t)
			if len(held) == hold {
				runtime.GC()
				debug.FreeOSMemory()
				rss1 = rssBytes()
			}
		} else {
			t.Release()
		}
	}
	slices.Sort(opens)
	fmt.Printf("tenant cold open (acquire + first read): p50 %.2f ms  p99 %.2f ms  (goal p99 < 5 ms)\n",
		ms(opens[len(opens)/2]), ms(opens[len(opens)*99/100]))
	fmt.Printf("resident memory per open tenant: %.0f KiB  (%d held open; goal < 512 KiB)\n",
		float64(rss1-rss0)/float64(hold)/1024, hold)
	for _, t := range held {
		t.Release()
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}
