package kafkawire

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
)

// claimHandler is a sarama group handler that records its claims and the
// values it reads, marking each message consumed.
type claimHandler struct {
	mu     sync.Mutex
	claims map[int32]bool
	values map[string]int
}

func newClaimHandler() *claimHandler {
	return &claimHandler{claims: map[int32]bool{}, values: map[string]int{}}
}

func (h *claimHandler) Setup(s sarama.ConsumerGroupSession) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.claims)
	for _, ps := range s.Claims() {
		for _, p := range ps {
			h.claims[p] = true
		}
	}
	return nil
}

func (h *claimHandler) Cleanup(sarama.ConsumerGroupSession) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.claims)
	return nil
}

func (h *claimHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		h.mu.Lock()
		h.values[string(m.Value)]++
		h.mu.Unlock()
		s.MarkMessage(m, "")
	}
	return nil
}

func (h *claimHandler) state() (claims, distinct int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.claims), len(h.values)
}

// runGroup runs a sarama group member until the returned stop is called.
func runGroup(t *testing.T, ts *testServer, group, topic string, h *claimHandler) (stop func()) {
	t.Helper()
	cfg := saramaConfig(tenantA, passA, sarama.SASLHandshakeV1)
	cfg.Consumer.Group.Heartbeat.Interval = 200 * time.Millisecond
	cfg.Consumer.Group.Rebalance.Timeout = 5 * time.Second
	cfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
	return runGroupWith(t, ts, cfg, group, topic, h)
}

// runGroupWith runs a sarama group member with cfg until the returned stop
// is called.
func runGroupWith(t *testing.T, ts *testServer, cfg *sarama.Config, group, topic string, h *claimHandler) (stop func()) {
	t.Helper()
	cg, err := sarama.NewConsumerGroup([]string{ts.addr}, group, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{topic}, h); err != nil && ctx.Err() == nil {
				t.Logf("sarama group %s: %v", group, err)
				time.Sleep(100 * time.Millisecond)
			}
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
			if err := cg.Close(); err != nil {
				t.Errorf("close sarama group member: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// TestSaramaGroupRebalance runs two sarama members in one group: they split
// four partitions, the survivor takes all four when the other leaves, and
// a member started after everyone left resumes from the committed offsets.
func TestSaramaGroupRebalance(t *testing.T) {
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	adm := ts.admin(t, tenantA, passA)
	if _, err := adm.CreateTopic(ctx, 4, 1, nil, "sg"); err != nil {
		t.Fatal(err)
	}
	prod := ts.client(t, tenantA, passA, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produce := func(tag string, n int) {
		t.Helper()
		for i := range n {
			r := &kgo.Record{Topic: "sg", Partition: int32(i % 4), Value: fmt.Appendf(nil, "%s-%d", tag, i)}
			if err := prod.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce("first", 40)

	h1, h2 := newClaimHandler(), newClaimHandler()
	stop1 := runGroup(t, ts, "sgroup2", "sg", h1)
	stop2 := runGroup(t, ts, "sgroup2", "sg", h2)
	waitFor(t, ctx, "two sarama members hold two partitions each and read all 40 records", func() bool {
		c1, n1 := h1.state()
		c2, n2 := h2.state()
		return c1 == 2 && c2 == 2 && n1+n2 == 40
	})
	d, err := adm.DescribeGroups(ctx, "sgroup2")
	if err != nil {
		t.Fatal(err)
	}
	if g := d["sgroup2"]; g.State != "Stable" || len(g.Members) != 2 {
		t.Fatalf("described group: state %s, %d members", g.State, len(g.Members))
	}

	stop2()
	produce("second", 20)
	waitFor(t, ctx, "the remaining sarama member takes all four partitions and reads on", func() bool {
		c1, _ := h1.state()
		return c1 == 4 && len(valuesWith(h1, "second-"))+len(valuesWith(h2, "second-")) == 20
	})
	stop1()

	// A new member resumes where the group committed: only new records.
	produce("third", 8)
	h3 := newClaimHandler()
	runGroup(t, ts, "sgroup2", "sg", h3)
	waitFor(t, ctx, "a restarted member reads the 8 new records", func() bool {
		return len(valuesWith(h3, "third-")) == 8
	})
	if old := len(valuesWith(h3, "first-")) + len(valuesWith(h3, "second-")); old != 0 {
		t.Fatalf("restarted member re-read %d committed records", old)
	}
}

// valuesWith returns the values h read that start with prefix.
func valuesWith(h *claimHandler, prefix string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for v := range h.values {
		if strings.HasPrefix(v, prefix) {
			out = append(out, v)
		}
	}
	return out
}

// TestSaramaTransactions writes a committed and an aborted transaction
// with sarama's transactional producer and reads them with sarama's
// read_committed and read_uncommitted consumers, starting in the middle of
// a batch, and with franz-go.
func TestSaramaTransactions(t *testing.T) {
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	adm := ts.admin(t, tenantA, passA)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "stx"); err != nil {
		t.Fatal(err)
	}
	cfg := saramaConfig(tenantA, passA, sarama.SASLHandshakeV1)
	cfg.Producer.Idempotent = true
	cfg.Producer.Transaction.ID = "sarama-txn"
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Flush.Messages = 100
	cfg.Producer.Flush.Frequency = 50 * time.Millisecond
	p, err := sarama.NewSyncProducer([]string{ts.addr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	txn := func(tag string, commit bool) {
		t.Helper()
		if err := p.BeginTxn(); err != nil {
			t.Fatal(err)
		}
		var msgs []*sarama.ProducerMessage
		for i := range 5 {
			msgs = append(msgs, &sarama.ProducerMessage{Topic: "stx", Value: sarama.StringEncoder(fmt.Sprintf("%s%d", tag, i))})
		}
		if err := p.SendMessages(msgs); err != nil {
			t.Fatalf("send %s: %v", tag, err)
		}
		end := p.CommitTxn
		if !commit {
			end = p.AbortTxn
		}
		if err := end(); err != nil {
			t.Fatalf("end %s: %v", tag, err)
		}
	}
	txn("c", true)
	txn("a", false)
	txn("d", true)

	read := func(level sarama.IsolationLevel, from int64, want int) string {
		t.Helper()
		ccfg := saramaConfig(tenantA, passA, sarama.SASLHandshakeV1)
		ccfg.Consumer.IsolationLevel = level
		c, err := sarama.NewConsumer([]string{ts.addr}, ccfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		pc, err := c.ConsumePartition("stx", 0, from)
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		var got []string
		for len(got) < want {
			select {
			case m := <-pc.Messages():
				got = append(got, string(m.Value))
			case err := <-pc.Errors():
				t.Fatal(err)
			case <-ctx.Done():
				t.Fatalf("sarama read %v of %d", got, want)
			}
		}
		// Nothing more arrives.
		select {
		case m := <-pc.Messages():
			got = append(got, string(m.Value))
		case <-time.After(300 * time.Millisecond):
		}
		sort.Strings(got)
		return strings.Join(got, " ")
	}
	if got, want := read(sarama.ReadCommitted, 0, 10), "c0 c1 c2 c3 c4 d0 d1 d2 d3 d4"; got != want {
		t.Errorf("sarama read_committed: %q, want %q", got, want)
	}
	// Offset 2 is inside the first transaction's batch.
	if got, want := read(sarama.ReadCommitted, 2, 8), "c2 c3 c4 d0 d1 d2 d3 d4"; got != want {
		t.Errorf("sarama read_committed from offset 2: %q, want %q", got, want)
	}
	if got, want := read(sarama.ReadUncommitted, 0, 15), "a0 a1 a2 a3 a4 c0 c1 c2 c3 c4 d0 d1 d2 d3 d4"; got != want {
		t.Errorf("sarama read_uncommitted: %q, want %q", got, want)
	}

	cons := ts.client(t, tenantA, passA, kgo.ConsumeTopics("stx"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []string
	for len(got) < 10 {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	sort.Strings(got)
	if s := strings.Join(got, " "); s != "c0 c1 c2 c3 c4 d0 d1 d2 d3 d4" {
		t.Errorf("franz-go read_committed of sarama's transactions: %q", s)
	}
}
