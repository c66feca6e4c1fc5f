package kafkawire

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"rewire/internal/testserver"
)

// TestCrashDuringProduce kills the real rewire process with SIGKILL while
// a producer writes with acks=all, restarts it, and checks that every
// acknowledged record is readable at its offset with the same bytes.
func TestCrashDuringProduce(t *testing.T) {
	if testing.Short() && os.Getenv("REWIRE_E2E_REQUIRED") == "" {
		t.Skip("builds and runs the rewire binary")
	}
	srv := testserver.Start(t, testserver.Options{})
	srv.CreateTenant(t, tenantA, passA)
	ctx := testCtx(t)
	newClient := func(opts ...kgo.Opt) *kgo.Client {
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(srv.Addrs.Kafka),
			kgo.SASL(plain.Auth{User: tenantA, Pass: passA}.AsMechanism())}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	adm := kadm.NewClient(newClient())
	if _, err := adm.CreateTopic(ctx, 4, 1, nil, "crash"); err != nil {
		t.Fatal(err)
	}
	// A committed group offset survives the crash too.
	if _, err := adm.CommitOffsets(ctx, "survivor", kadm.Offsets{"crash": {2: {Topic: "crash", Partition: 2, At: 0, LeaderEpoch: -1}}}); err != nil {
		t.Fatal(err)
	}
	adm.Close()

	type ack struct {
		part  int32
		off   int64
		value string
	}
	var mu sync.Mutex
	var acked []ack
	prod := newClient(kgo.DefaultProduceTopic("crash"), kgo.RecordDeliveryTimeout(3*time.Second),
		kgo.RecordRetries(2), kgo.ProducerLinger(time.Millisecond))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			v := fmt.Sprintf("value-%d-%s", i, time.Now().Format(time.RFC3339Nano))
			prod.Produce(context.Background(), &kgo.Record{Value: []byte(v)}, func(r *kgo.Record, err error) {
				if err == nil {
					mu.Lock()
					acked = append(acked, ack{r.Partition, r.Offset, string(r.Value)})
					mu.Unlock()
				}
			})
			if i%50 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	waitFor(t, ctx, "2000 acknowledged records", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 2000
	})
	srv.Kill(t)
	close(stop)
	wg.Wait()
	// Let outstanding produces fail, then freeze the acknowledged set.
	go prod.Close()
	time.Sleep(500 * time.Millisecond)
	mu.Lock()
	want := append([]ack(nil), acked...)
	mu.Unlock()

	srv.Restart(t)
	cons := newClient(kgo.ConsumeTopics("crash"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer cons.Close()
	stored := map[[2]int64]string{}
	ends, err := kadm.NewClient(cons).ListEndOffsets(ctx, "crash")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	for int64(len(stored)) < total {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) { stored[[2]int64{int64(r.Partition), r.Offset}] = string(r.Value) })
	}
	for _, a := range want {
		if got, ok := stored[[2]int64{int64(a.part), a.off}]; !ok || got != a.value {
			t.Fatalf("acknowledged record %d/%d: stored %q (present %v), want %q", a.part, a.off, got, ok, a.value)
		}
	}
	offs, err := kadm.NewClient(cons).FetchOffsets(ctx, "survivor")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offs.Lookup("crash", 2); !ok || o.At != 0 {
		t.Fatalf("committed offset after restart: %+v %v", o, ok)
	}
	t.Logf("%d acknowledged records all readable after SIGKILL (%d stored)", len(want), len(stored))
}

// TestCrashOpenTransaction kills the rewire process with SIGKILL while a
// transaction is open: after the restart the transaction still holds the
// last stable offset back, a new producer with the same transactional id
// aborts it, and read_committed consumers never see its records.
func TestCrashOpenTransaction(t *testing.T) {
	if testing.Short() && os.Getenv("REWIRE_E2E_REQUIRED") == "" {
		t.Skip("builds and runs the rewire binary")
	}
	srv := testserver.Start(t, testserver.Options{})
	srv.CreateTenant(t, tenantA, passA)
	ctx := testCtx(t)
	newClient := func(opts ...kgo.Opt) *kgo.Client {
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(srv.Addrs.Kafka),
			kgo.SASL(plain.Auth{User: tenantA, Pass: passA}.AsMechanism())}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	adm := kadm.NewClient(newClient())
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "ctxn"); err != nil {
		t.Fatal(err)
	}
	txnProducer := func() *kgo.Client {
		return newClient(kgo.TransactionalID("crash-txn"), kgo.DefaultProduceTopic("ctxn"),
			kgo.TransactionTimeout(time.Minute))
	}
	produce := func(cl *kgo.Client, tag string, n int) {
		t.Helper()
		for i := range n {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "%s-%d", tag, i)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	prod := txnProducer()
	if err := prod.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce(prod, "committed", 5)
	if err := prod.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	if err := prod.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce(prod, "open", 5) // offsets 6-10, after the commit marker at 5

	srv.Kill(t)
	prod.Close()
	srv.Restart(t)
	adm = kadm.NewClient(newClient()) // the listeners have new ports

	// The open transaction survived: read_committed stops at its start.
	stable := func() (lso, hwm int64) {
		t.Helper()
		ends, err := adm.ListEndOffsets(ctx, "ctxn")
		if err != nil {
			t.Fatal(err)
		}
		committed, err := kadm.NewClient(newClient(kgo.FetchIsolationLevel(kgo.ReadCommitted()))).
			ListCommittedOffsets(ctx, "ctxn")
		if err != nil {
			t.Fatal(err)
		}
		e, _ := ends.Lookup("ctxn", 0)
		c, _ := committed.Lookup("ctxn", 0)
		return c.Offset, e.Offset
	}
	if lso, hwm := stable(); lso != 6 || hwm != 11 {
		t.Fatalf("after the restart: last stable offset %d, high watermark %d; want 6 and 11", lso, hwm)
	}

	// A new incarnation aborts it, then commits something after it.
	next := txnProducer()
	if err := next.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce(next, "after", 1)
	if err := next.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	cons := newClient(kgo.ConsumeTopics("ctxn"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []string
	for !slices.Contains(got, "after-0") {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	want := []string{"committed-0", "committed-1", "committed-2", "committed-3", "committed-4", "after-0"}
	if !slices.Equal(got, want) {
		t.Fatalf("read_committed after the crash read %v, want %v", got, want)
	}
}
