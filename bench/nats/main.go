// Command nats runs the same NATS workloads against rewire (natswire on a
// fresh store with fsync durability, in-process) and against a standalone
// nats-server with file-backed JetStream (embedded, temp directory), in the
// same run, and prints msgs/s and the rewire/nats-server ratios:
//
//   - core pub/sub: 1 publisher, 1 subscriber, 128-byte messages;
//   - JetStream synchronous publish (one request at a time);
//   - JetStream asynchronous publish (up to 4096 acks outstanding);
//   - JetStream consume: a durable pull consumer reading the stream back
//     with explicit acks;
//   - the same four through the nats CLI's own `nats bench` (pub with a
//     concurrent sub, js pub sync, js pub async, js consume), when the CLI
//     is installed.
//
// The machine is shared in CI and development: compare ratios within one
// run, not numbers across runs.
//
// Goals (issue 4): core >= 0.95x, JetStream publish and consume >= 1.0x.
//
// Run: go run ./bench/nats [-core 500000] [-sync 5000] [-async 200000] [-cli 20000] [-size 128] [-only TARGET]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"rewire/internal/benchtool"
	"rewire/natswire"
	"rewire/storage"
)

type target struct {
	name string
	url  string
	opts []nats.Option
}

type results map[string]float64

func main() {
	coreN := flag.Int("core", 500000, "core messages")
	syncN := flag.Int("sync", 5000, "synchronous JetStream publishes")
	asyncN := flag.Int("async", 200000, "asynchronous JetStream publishes (also consumed)")
	size := flag.Int("size", 128, "message size in bytes")
	only := flag.String("only", "", "run only this target (nats-server, rewire, rewire-periodic)")
	cliN := flag.Int("cli", 20000, "messages for the `nats bench` CLI runs (0 skips them; skipped without the nats CLI)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	ctx := context.Background()
	defer benchtool.StartCPUProfile(*cpuProfile)()

	// rewire, once with fsync per commit (the default) and once with
	// periodic sync, which matches nats-server's default of syncing the
	// file store every two minutes.
	dir, err := os.MkdirTemp("", "rewire-bench-nats-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	rwFsync := startRewire(ctx, dir+"/rewire-fsync", storage.DurabilityFsync)
	defer rwFsync.Shutdown(ctx)
	rwPeriodic := startRewire(ctx, dir+"/rewire-periodic", storage.DurabilityPeriodic)
	defer rwPeriodic.Shutdown(ctx)

	// Reference nats-server with file-store JetStream.
	ref, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: dir + "/nats-server", NoSigs: true, NoLog: true})
	if err != nil {
		log.Fatal(err)
	}
	go ref.Start()
	if !ref.ReadyForConnections(10 * time.Second) {
		log.Fatal("nats-server not ready")
	}
	defer ref.Shutdown()

	auth := []nats.Option{nats.UserInfo("bench", "bench-pw")}
	targets := []target{
		{"nats-server", ref.ClientURL(), nil},
		{"rewire", "nats://" + rwFsync.Addr(), auth},
		{"rewire-periodic", "nats://" + rwPeriodic.Addr(), auth},
	}
	res := map[string]results{}
	payload := make([]byte, *size)
	for _, tg := range targets {
		if *only != "" && tg.name != *only {
			continue
		}
		r := results{}
		r["core pub/sub"] = corePubSub(tg, *coreN, payload)
		r["js sync publish"] = jsSyncPublish(tg, *syncN, payload)
		r["js async publish"] = jsAsyncPublish(tg, *asyncN, payload)
		r["js consume"] = jsConsume(tg, *asyncN)
		if bin := natsBin(); bin != "" && *cliN > 0 {
			cliBench(bin, tg, *cliN, *size, r)
		}
		res[tg.name] = r
	}

	fmt.Printf("\nNATS benchmark, %d-byte messages (msgs/s); rewire = fsync per commit, periodic = sync every second\n", *size)
	fmt.Printf("%-18s %12s %12s %7s %12s %7s %6s\n", "workload", "nats-server", "rewire", "ratio", "periodic", "ratio", "goal")
	for _, w := range []struct {
		name string
		goal float64
	}{{"core pub/sub", 0.95}, {"js sync publish", 1.0}, {"js async publish", 1.0}, {"js consume", 1.0},
		{"cli pub/sub", 0.95}, {"cli js pub sync", 1.0}, {"cli js pub async", 1.0}, {"cli js consume", 1.0}} {
		if _, ok := res["nats-server"][w.name]; !ok {
			continue
		}
		ref := res["nats-server"][w.name]
		ratio := func(v float64) float64 {
			if ref == 0 {
				return 0
			}
			return v / ref
		}
		a, b := res["rewire"][w.name], res["rewire-periodic"][w.name]
		fmt.Printf("%-18s %12.0f %12.0f %6.2fx %12.0f %6.2fx %5.2fx\n", w.name, ref, a, ratio(a), b, ratio(b), w.goal)
	}
}

func startRewire(ctx context.Context, dir string, d storage.Durability) *natswire.Server {
	store, err := storage.Open(ctx, storage.Config{Dir: dir, MoverInterval: -1, Durability: d})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := store.CreateTenant(ctx, "bench", "bench-pw"); err != nil {
		log.Fatal(err)
	}
	rw, err := natswire.NewServer(store, natswire.Config{Addr: "127.0.0.1:0"}, nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := rw.Start(); err != nil {
		log.Fatal(err)
	}
	return rw
}

func connect(tg target) *nats.Conn {
	nc, err := nats.Connect(tg.url, tg.opts...)
	if err != nil {
		log.Fatalf("%s: %v", tg.name, err)
	}
	return nc
}

// corePubSub measures messages received per second by one subscriber
// while one publisher sends n messages.
func corePubSub(tg target, n int, payload []byte) float64 {
	pub, sub := connect(tg), connect(tg)
	defer pub.Close()
	defer sub.Close()
	done := make(chan time.Time, 1)
	got := 0
	s, err := sub.Subscribe("bench.core", func(*nats.Msg) {
		got++
		if got == n {
			done <- time.Now()
		}
	})
	if err != nil {
		log.Fatal(err)
	}
	s.SetPendingLimits(-1, -1)
	sub.Flush()
	start := time.Now()
	for i := 0; i < n; i++ {
		pub.Publish("bench.core", payload)
	}
	pub.Flush()
	select {
	case end := <-done:
		return float64(n) / end.Sub(start).Seconds()
	case <-time.After(60 * time.Second):
		log.Printf("%s core: received %d of %d", tg.name, got, n)
		return float64(got) / 60
	}
}

func setupStream(tg target, nc *nats.Conn) jetstream.JetStream {
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	js.DeleteStream(ctx, "BENCH")
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "BENCH", Subjects: []string{"bench.js"},
		Storage: jetstream.FileStorage}); err != nil {
		log.Fatalf("%s: create stream: %v", tg.name, err)
	}
	return js
}

func jsSyncPublish(tg target, n int, payload []byte) float64 {
	nc := connect(tg)
	defer nc.Close()
	js := setupStream(tg, nc)
	ctx := context.Background()
	start := time.Now()
	for i := 0; i < n; i++ {
		if _, err := js.Publish(ctx, "bench.js", payload); err != nil {
			log.Fatalf("%s sync publish: %v", tg.name, err)
		}
	}
	return float64(n) / time.Since(start).Seconds()
}

func jsAsyncPublish(tg target, n int, payload []byte) float64 {
	nc := connect(tg)
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		log.Fatal(err)
	}
	setupStream(tg, nc)
	start := time.Now()
	for i := 0; i < n; i++ {
		for {
			_, err := js.PublishAsync("bench.js", payload)
			if err == nil {
				break
			}
			if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
				log.Fatalf("%s async publish: %v", tg.name, err)
			}
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(120 * time.Second):
		log.Fatalf("%s async publish: %d acks outstanding", tg.name, js.PublishAsyncPending())
	}
	return float64(n) / time.Since(start).Seconds()
}

// jsConsume reads the n messages left by jsAsyncPublish.
func jsConsume(tg target, n int) float64 {
	nc := connect(tg)
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	s, err := js.Stream(ctx, "BENCH")
	if err != nil {
		log.Fatal(err)
	}
	c, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "reader", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan time.Time, 1)
	got := 0
	start := time.Now()
	cc, err := c.Consume(func(m jetstream.Msg) {
		m.Ack()
		got++
		if got == n {
			done <- time.Now()
		}
	}, jetstream.PullMaxMessages(1000))
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Stop()
	select {
	case end := <-done:
		return float64(n) / end.Sub(start).Seconds()
	case <-time.After(120 * time.Second):
		log.Printf("%s consume: %d of %d", tg.name, got, n)
		return float64(got) / 120
	}
}

// natsBin finds the nats CLI on PATH or in GOPATH/bin.
func natsBin() string {
	if p, err := exec.LookPath("nats"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "nats")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

var rateRE = regexp.MustCompile(`([\d,]+) msgs/sec`)

// cliRun runs `nats bench ...` and returns the first msgs/sec it reports.
func cliRun(bin string, tg target, args ...string) float64 {
	full := []string{"--server", tg.url}
	if len(tg.opts) > 0 {
		full = append(full, "--user", "bench", "--password", "bench-pw")
	}
	full = append(full, args...)
	cmd := exec.Command(bin, full...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		log.Printf("%s: nats %s: %v\n%s", tg.name, strings.Join(args, " "), err, out)
		return 0
	}
	m := rateRE.FindSubmatch(out)
	if m == nil {
		log.Printf("%s: nats %s: no rate in output\n%s", tg.name, strings.Join(args, " "), out)
		return 0
	}
	v, _ := strconv.ParseFloat(strings.ReplaceAll(string(m[1]), ",", ""), 64)
	return v
}

// cliBench runs the nats CLI's own benchmarks: core pub with a concurrent
// sub, JetStream sync and async publish into "benchstream" (file storage)
// and a durable consumer reading it.
func cliBench(bin string, tg target, n, size int, r results) {
	msgs, sz := strconv.Itoa(n), strconv.Itoa(size)
	var wg sync.WaitGroup
	var sub float64
	wg.Add(1)
	go func() {
		defer wg.Done()
		sub = cliRun(bin, tg, "bench", "sub", "bench.cli", "--msgs", msgs, "--size", sz)
	}()
	time.Sleep(500 * time.Millisecond)
	cliRun(bin, tg, "bench", "pub", "bench.cli", "--msgs", msgs, "--size", sz)
	wg.Wait()
	r["cli pub/sub"] = sub
	syncN := strconv.Itoa(max(n/10, 100))
	r["cli js pub sync"] = cliRun(bin, tg, "bench", "js", "pub", "sync", "bench.clijs", "--create", "--purge",
		"--storage", "file", "--msgs", syncN, "--size", sz)
	r["cli js pub async"] = cliRun(bin, tg, "bench", "js", "pub", "async", "bench.clijs", "--create", "--purge",
		"--storage", "file", "--msgs", msgs, "--size", sz)
	r["cli js consume"] = cliRun(bin, tg, "bench", "js", "consume", "--msgs", msgs)
}
