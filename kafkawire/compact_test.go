package kafkawire

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCompactedTopic produces several versions of each key to a topic with
// cleanup.policy=compact, in compressed multi-record batches, half of them
// sealed into the warm tier, runs the core's mover, and reads the topic
// back with franz-go and kcat: one record per key, the latest, at its
// original offset. A record without a key is refused.
func TestCompactedTopic(t *testing.T) {
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	adm := ts.admin(t, tenantA, passA)
	policy := "compact"
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": &policy}, "state"); err != nil {
		t.Fatal(err)
	}
	cl := ts.client(t, tenantA, passA, kgo.ProducerBatchCompression(kgo.ZstdCompression()), kgo.ProducerLinger(0))
	produce := func(from, to int) {
		var rs []*kgo.Record
		for i := from; i < to; i++ {
			rs = append(rs, &kgo.Record{Topic: "state", Key: fmt.Appendf(nil, "k%d", i%10), Value: fmt.Appendf(nil, "v%d", i)})
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce(0, 40)
	b := ts.srv.brokers[tenantA]
	l := b.topic("state").parts[0].log
	if n, err := l.Seal(ctx, true); err != nil || n == 0 {
		t.Fatalf("seal: %d segments, %v", n, err)
	}
	produce(40, 65) // keys 0-4 last at 60-64, keys 5-9 at 55-59

	err := cl.ProduceSync(ctx, &kgo.Record{Topic: "state", Value: []byte("no key")}).FirstErr()
	if !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("record without a key: %v", err)
	}

	if _, err := b.t.RunMover(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[int64]string{}
	for k := range 10 {
		off := int64(55 + k%5)
		if k < 5 {
			off = int64(60 + k)
		}
		want[off] = fmt.Sprintf("k%d=v%d", k, off)
	}

	cons := ts.client(t, tenantA, passA, kgo.ConsumeTopics("state"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := map[int64]string{}
	for len(got) < len(want) {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got[r.Offset] = string(r.Key) + "=" + string(r.Value)
		})
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("franz-go read %v\nwant %v", got, want)
	}

	{
		lines := kcatLines(t, ts, "-C", "-t", "state", "-o", "beginning", "-e", "-f", "%o %k=%s\n")
		var wantLines []string
		for off, kv := range want {
			wantLines = append(wantLines, fmt.Sprintf("%d %s", off, kv))
		}
		slices.Sort(lines)
		slices.Sort(wantLines)
		if strings.Join(lines, "|") != strings.Join(wantLines, "|") {
			t.Fatalf("kcat read %q\nwant %q", lines, wantLines)
		}
	}

	// Appending on a compacted log goes on at the next offset.
	produce(65, 66)
	if start, next := l.Offsets(); start != 0 || next != 66 {
		t.Fatalf("offsets after compaction: %d..%d", start, next)
	}

	// A tombstone hides its key's older records and stays for
	// delete.retention.ms; with 0 the next pass removes it too.
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "state", Key: []byte("k9")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	count := func() (n int, tombstones int) {
		t.Helper()
		batches, err := l.Read(ctx, 0, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for _, sb := range batches {
			err := eachBatch(sb.Data, func(kb []byte) error {
				return eachRecord(kb, func(r kafkaRecord) {
					n++
					if r.tombstone {
						tombstones++
					}
				})
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		return n, tombstones
	}
	if err := l.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	// k0..k8 (k5 twice: at 55 and again at 65) fold to one each, k9 to
	// its tombstone.
	if n, ts := count(); n != 10 || ts != 1 {
		t.Fatalf("after the tombstone: %d records, %d tombstones", n, ts)
	}
	zero := "0"
	if _, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "delete.retention.ms", Value: &zero}}, "state"); err != nil {
		t.Fatal(err)
	}
	if err := l.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if n, ts := count(); n != 9 || ts != 0 {
		t.Fatalf("after delete.retention.ms=0: %d records, %d tombstones", n, ts)
	}
}
