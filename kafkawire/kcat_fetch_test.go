package kafkawire

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"rewire/internal/testtool"
)

// kcatLines runs a kcat consumer and returns its output lines.
func kcatLines(t *testing.T, ts *testServer, args ...string) []string {
	t.Helper()
	out := strings.TrimSpace(runKcat(t, "", append(kcatArgs(ts.addr, "PLAIN", tenantA, passA), args...)...))
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// TestKcatFetchEdges reads with kcat (librdkafka) where a Fetch answers
// with no records or starts inside a batch: empty partitions, a partition
// read at its end, offsets in the middle of a multi-record batch, offsets
// relative to the end and by timestamp; first from the hot tail, then
// with the batch sealed into the warm tier.
func TestKcatFetchEdges(t *testing.T) {
	testtool.Need(t, "kcat")
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	adm := ts.admin(t, tenantA, passA)
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, "edge"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "empty"); err != nil {
		t.Fatal(err)
	}

	// Ten records in one batch on partition 1; partitions 0 and 2 stay
	// empty.
	base := time.UnixMilli(1_700_000_000_000)
	prod := ts.client(t, tenantA, passA, kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(time.Second))
	var recs []*kgo.Record
	for i := range 10 {
		recs = append(recs, &kgo.Record{Topic: "edge", Partition: 1, Value: fmt.Appendf(nil, "r%d", i),
			Timestamp: base.Add(time.Duration(i) * time.Second)})
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if r := recs[9]; r.Offset != 9 {
		t.Fatalf("last record at offset %d", r.Offset)
	}

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"empty topic", []string{"-C", "-t", "empty", "-o", "beginning", "-e"}, ""},
		{"empty partition", []string{"-C", "-t", "edge", "-p", "0", "-o", "beginning", "-e"}, ""},
		{"whole topic, two partitions empty", []string{"-C", "-t", "edge", "-o", "beginning", "-e"},
			"r0 r1 r2 r3 r4 r5 r6 r7 r8 r9"},
		{"at the end", []string{"-C", "-t", "edge", "-p", "1", "-o", "end", "-e"}, ""},
		{"middle of a batch", []string{"-C", "-t", "edge", "-p", "1", "-o", "6", "-e"}, "r6 r7 r8 r9"},
		{"relative to the end", []string{"-C", "-t", "edge", "-p", "1", "-o", "-3", "-e"}, "r7 r8 r9"},
		{"by timestamp", []string{"-C", "-t", "edge", "-p", "1", "-o",
			fmt.Sprintf("s@%d", base.Add(7500*time.Millisecond).UnixMilli()), "-e"}, "r8 r9"},
		{"count limit inside a batch", []string{"-C", "-t", "edge", "-p", "1", "-o", "2", "-c", "3"}, "r2 r3 r4"},
	}
	// The same reads from the hot tail, then from a warm segment.
	for _, tier := range []string{"hot", "warm"} {
		if tier == "warm" {
			l := ts.srv.brokers[tenantA].topic("edge").parts[1].log
			if n, err := l.Seal(ctx, true); err != nil || n != 1 {
				t.Fatalf("seal: %d segments, %v", n, err)
			}
		}
		for _, c := range cases {
			got := strings.Join(kcatLines(t, ts, append(c.args, "-f", "%s\n")...), " ")
			if got != c.want {
				t.Errorf("%s (%s): kcat read %q, want %q", c.name, tier, got, c.want)
			}
		}

		// kcat -Q looks offsets up by time.
		q := kcatLines(t, ts, "-Q", "-t", fmt.Sprintf("edge:1:%d", base.Add(3*time.Second).UnixMilli()))
		if len(q) != 1 || !strings.Contains(q[0], "offset 3") {
			t.Errorf("kcat -Q (%s): %q", tier, q)
		}
	}
}

// TestKcatReadCommitted writes committed and aborted transactions with
// franz-go and reads them with kcat: librdkafka's default read_committed
// skips the aborted records and control batches, stops at the last stable
// offset while a transaction is open, and read_uncommitted sees everything.
func TestKcatReadCommitted(t *testing.T) {
	testtool.Need(t, "kcat")
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	adm := ts.admin(t, tenantA, passA)
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "ktx"); err != nil {
		t.Fatal(err)
	}
	prod := ts.client(t, tenantA, passA, kgo.TransactionalID("kcat-txn"), kgo.DefaultProduceTopic("ktx"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	txn := func(tag string, commit bool) {
		t.Helper()
		if err := prod.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := range 4 {
			r := &kgo.Record{Value: fmt.Appendf(nil, "%s%d", tag, i), Partition: int32(i % 2)}
			if err := prod.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if tag == "open" {
			return // left open
		}
		if err := prod.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	txn("c", true)
	txn("a", false)
	txn("d", true)
	// Plain records from a non-transactional producer interleave.
	plain := ts.client(t, tenantA, passA, kgo.DefaultProduceTopic("ktx"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := plain.ProduceSync(ctx, &kgo.Record{Value: []byte("p0")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	txn("open", false)

	read := func(level string) string {
		lines := kcatLines(t, ts, "-C", "-t", "ktx", "-o", "beginning", "-e", "-X", "isolation.level="+level,
			"-f", "%s\n")
		sort.Strings(lines)
		return strings.Join(lines, " ")
	}
	if got, want := read("read_committed"), "c0 c1 c2 c3 d0 d1 d2 d3 p0"; got != want {
		t.Errorf("read_committed with a transaction open: %q, want %q", got, want)
	}
	if got, want := read("read_uncommitted"), "a0 a1 a2 a3 c0 c1 c2 c3 d0 d1 d2 d3 open0 open1 open2 open3 p0"; got != want {
		t.Errorf("read_uncommitted: %q, want %q", got, want)
	}
	if err := prod.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	if got, want := read("read_committed"), "c0 c1 c2 c3 d0 d1 d2 d3 p0"; got != want {
		t.Errorf("read_committed after the abort: %q, want %q", got, want)
	}
}

// TestKcatIdempotent produces with librdkafka's idempotent producer (its
// own InitProducerId, sequence and epoch handling) across partitions and
// reads everything back exactly once.
func TestKcatIdempotent(t *testing.T) {
	testtool.Need(t, "kcat")
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	adm := ts.admin(t, tenantA, passA)
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, "kidem"); err != nil {
		t.Fatal(err)
	}
	var in strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&in, "k%d:v%d\n", i, i)
	}
	for _, codec := range []string{"none", "lz4"} {
		runKcat(t, in.String(), append(kcatArgs(ts.addr, "SCRAM-SHA-256", tenantA, passA), "-P", "-t", "kidem",
			"-K", ":", "-z", codec, "-X", "enable.idempotence=true", "-X", "linger.ms=2",
			"-X", "max.in.flight.requests.per.connection=5")...)
	}
	lines := kcatLines(t, ts, "-C", "-t", "kidem", "-o", "beginning", "-e", "-f", "%s\n")
	seen := map[string]int{}
	for _, l := range lines {
		seen[l]++
	}
	if len(lines) != 6000 || len(seen) != 3000 {
		t.Fatalf("read %d records, %d distinct; want 6000 and 3000", len(lines), len(seen))
	}
	for v, n := range seen {
		if n != 2 {
			t.Fatalf("%s read %d times, want 2", v, n)
		}
	}
}
