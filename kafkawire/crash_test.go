package kafkawire

import (
	"context"
	"fmt"
	"os"
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
