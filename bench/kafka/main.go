// Command kafka runs one Kafka workload against rewire (kafkawire on a
// fresh store with fsync durability, in-process) and against franz-go's
// in-memory kfake cluster, in the same run, and prints records/s, MB/s,
// produce latency percentiles and the rewire/kfake ratios:
//
//   - franz-go producer, 1 KiB incompressible records, no compression,
//     acks=all, 8 partitions;
//   - a franz-go consumer group reading everything back;
//   - kcat producing and consuming small records (skipped without kcat).
//
// Run: go run ./bench/kafka [-records 100000] [-kcat-records 1000000] [-dir DIR]
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"rewire/internal/benchtool"
	"rewire/kafkawire"
	"rewire/storage"
)

const (
	topic      = "bench"
	partitions = 8
	recordSize = 1024
)

type result struct {
	produceRecs, produceMBs float64
	p50, p99                time.Duration
	consumeRecs, consumeMBs float64
	kcatProduce, kcatRead   float64 // records/s, 0 if skipped
}

func main() {
	records := flag.Int("records", 300000, "1 KiB records for the franz-go runs")
	kcatRecords := flag.Int("kcat-records", 1000000, "small records for the kcat runs (0 skips)")
	dir := flag.String("dir", "", "data directory for rewire (default: a temp dir)")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the rewire run to this file")
	verbose := flag.Bool("v", false, "log franz-go client messages to stderr")
	flag.Parse()
	if *verbose {
		clientOpts = append(clientOpts, kgo.WithLogger(kgo.BasicLogger(os.Stderr, kgo.LogLevelInfo, nil)))
	}
	ctx := context.Background()

	if *dir == "" {
		d, err := os.MkdirTemp("", "rewire-bench-kafka-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}

	// kfake, in memory.
	fake, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic), kfake.SeedTopics(1, "small"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("kfake: %d × 1 KiB records, %d partitions...\n", *records, partitions)
	kf := run(ctx, fake.ListenAddrs()[0], *records, *kcatRecords)
	fake.Close()

	// rewire, durable.
	st, err := storage.Open(ctx, storage.Config{Dir: *dir, Durability: storage.DurabilityFsync, MoverInterval: -1})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := st.CreateTenant(ctx, "bench", "bench-password"); err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := kafkawire.NewServer(st, kafkawire.Config{AutoCreateTopics: true, DefaultPartitions: 1,
		AnonymousTenant: "bench"}, slog.New(slog.DiscardHandler))
	go srv.Serve(ln)
	admin := client(ln.Addr().String())
	for _, t := range []struct {
		name string
		n    int32
	}{{topic, partitions}, {"small", 1}} {
		if err := createTopic(ctx, admin, t.name, t.n); err != nil {
			log.Fatal(err)
		}
	}
	admin.Close()
	fmt.Printf("rewire (fsync): %d × 1 KiB records, %d partitions...\n", *records, partitions)
	stopProfile := benchtool.StartCPUProfile(*profile)
	rw := run(ctx, ln.Addr().String(), *records, *kcatRecords)
	stopProfile()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	srv.Shutdown(sctx)
	cancel()
	st.Close()

	fmt.Println()
	fmt.Printf("%-28s %14s %14s %8s\n", "", "rewire", "kfake", "ratio")
	row := func(name string, r, k float64, unit string) {
		ratio := "-"
		if k > 0 {
			ratio = fmt.Sprintf("%.2f", r/k)
		}
		fmt.Printf("%-28s %14s %14s %8s\n", name, fmt.Sprintf("%.0f %s", r, unit), fmt.Sprintf("%.0f %s", k, unit), ratio)
	}
	row("produce records/s", rw.produceRecs, kf.produceRecs, "")
	row("produce MB/s", rw.produceMBs, kf.produceMBs, "")
	fmt.Printf("%-28s %14s %14s %8.2f\n", "produce p50 latency", rw.p50.Round(time.Microsecond), kf.p50.Round(time.Microsecond),
		float64(rw.p50)/float64(kf.p50))
	fmt.Printf("%-28s %14s %14s %8.2f\n", "produce p99 latency", rw.p99.Round(time.Microsecond), kf.p99.Round(time.Microsecond),
		float64(rw.p99)/float64(kf.p99))
	row("group consume records/s", rw.consumeRecs, kf.consumeRecs, "")
	row("group consume MB/s", rw.consumeMBs, kf.consumeMBs, "")
	if rw.kcatProduce > 0 {
		row("kcat produce records/s", rw.kcatProduce, kf.kcatProduce, "")
		row("kcat consume records/s", rw.kcatRead, kf.kcatRead, "")
	}
	fmt.Println("(ratio = rewire / kfake; above 1 is better for rates, below 1 for latency)")
}

// clientOpts apply to every client.
var clientOpts []kgo.Opt

func client(addr string, opts ...kgo.Opt) *kgo.Client {
	cl, err := kgo.NewClient(append(append([]kgo.Opt{kgo.SeedBrokers(addr)}, clientOpts...), opts...)...)
	if err != nil {
		log.Fatal(err)
	}
	return cl
}

func createTopic(ctx context.Context, cl *kgo.Client, name string, n int32) error {
	req := kmsgCreateTopics(name, n)
	_, err := req.RequestWith(ctx, cl)
	return err
}

func run(ctx context.Context, addr string, n, kcatN int) result {
	var res result
	// Incompressible values, each a different slice of a random pool.
	pool := make([]byte, 8<<20)
	rand.Read(pool)

	// Produce.
	prod := client(addr, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0), kgo.MaxBufferedRecords(10000), kgo.ProducerBatchCompression(kgo.NoCompression()))
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	wg.Add(n)
	start := time.Now()
	for i := range n {
		t0 := time.Now()
		off := (i * 4099) % (len(pool) - recordSize)
		prod.Produce(ctx, &kgo.Record{Value: pool[off : off+recordSize]}, func(_ *kgo.Record, err error) {
			if err != nil {
				log.Fatalf("produce: %v", err)
			}
			lat[i] = time.Since(t0)
			wg.Done()
		})
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	prod.Close()
	res.produceRecs = float64(n) / el
	res.produceMBs = float64(n) * recordSize / el / 1e6
	slices.Sort(lat)
	res.p50, res.p99 = lat[n/2], lat[n*99/100]

	// Consume with a group.
	cons := client(addr, kgo.ConsumerGroup(fmt.Sprintf("bench-%d", time.Now().UnixNano())), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(64<<20))
	got := 0
	start = time.Now()
	for got < n {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			log.Fatalf("consume: %v", err)
		}
		got += fs.NumRecords()
	}
	el = time.Since(start).Seconds()
	cons.Close()
	res.consumeRecs = float64(got) / el
	res.consumeMBs = float64(got) * recordSize / el / 1e6

	if kcatN > 0 {
		if _, err := exec.LookPath("kcat"); err == nil {
			res.kcatProduce, res.kcatRead = runKcat(addr, kcatN)
		} else {
			fmt.Println("kcat not installed; skipping the kcat runs")
		}
	}
	return res
}

func runKcat(addr string, n int) (produce, consume float64) {
	var in strings.Builder
	for i := range n {
		fmt.Fprintf(&in, "record-%d\n", i)
	}
	cmd := exec.Command("kcat", "-b", addr, "-P", "-t", "small", "-X", "linger.ms=5")
	cmd.Stdin = strings.NewReader(in.String())
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		log.Fatalf("kcat produce: %v\n%s", err, out)
	}
	produce = float64(n) / time.Since(start).Seconds()

	// librdkafka stops fetching once queued.min.messages (100,000 by
	// default) are queued and looks again a second later, which paces a
	// fast reader by the client's timer rather than the broker; a queue
	// as large as the run measures the broker.
	cmd = exec.Command("kcat", "-b", addr, "-C", "-t", "small", "-o", "beginning", "-e", "-q",
		"-X", "queued.min.messages="+strconv.Itoa(max(n, 100000)))
	out, err := cmd.StdoutPipe()
	if err != nil {
		log.Fatal(err)
	}
	start = time.Now()
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	lines := 0
	for sc.Scan() {
		lines++
	}
	if err := cmd.Wait(); err != nil {
		log.Fatalf("kcat consume: %v", err)
	}
	consume = float64(lines) / time.Since(start).Seconds()
	if lines != n {
		log.Printf("kcat consumed %d of %d records", lines, n)
	}
	return produce, consume
}
