package kafkawire

import (
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestWarmTierAndRetention seals a partition into warm segments, consumes
// it back through them, then applies retention.bytes through the core's
// mover.
func TestWarmTierAndRetention(t *testing.T) {
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	adm := ts.admin(t, tenantA, passA)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "warm"); err != nil {
		t.Fatal(err)
	}
	cl := ts.client(t, tenantA, passA, kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerLinger(0))
	for i := range 50 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "warm", Value: fmt.Appendf(nil, "%04d%s", i, make([]byte, 1000))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	b := ts.srv.brokers[tenantA]
	l := b.topic("warm").parts[0].log
	if n, err := l.Seal(ctx, true); err != nil || n == 0 {
		t.Fatalf("seal: %d segments, %v", n, err)
	}
	// Read back from the warm tier, including from the middle.
	for _, from := range []int64{0, 17} {
		cons := ts.client(t, tenantA, passA, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"warm": {0: kgo.NewOffset().At(from)}}))
		next := from
		for next < 50 {
			fs := cons.PollFetches(ctx)
			if err := fs.Err0(); err != nil {
				t.Fatal(err)
			}
			fs.EachRecord(func(r *kgo.Record) {
				if r.Offset != next || string(r.Value[:4]) != fmt.Sprintf("%04d", next) {
					t.Fatalf("record at %d: offset %d value %q", next, r.Offset, r.Value[:4])
				}
				next++
			})
		}
	}

	// retention.bytes: the mover drops old data down to the budget.
	v := "5000"
	if _, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.bytes", Value: &v}}, "warm"); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		cl.ProduceSync(ctx, &kgo.Record{Topic: "warm", Value: make([]byte, 1000)})
	}
	if _, err := b.t.RunMover(ctx); err != nil {
		t.Fatal(err)
	}
	starts, err := adm.ListStartOffsets(ctx, "warm")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := starts.Lookup("warm", 0); o.Offset < 50 {
		t.Fatalf("start offset after retention.bytes=5000: %d", o.Offset)
	}
	// Fetching below the start is OFFSET_OUT_OF_RANGE; franz-go resets.
	cons := ts.client(t, tenantA, passA, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"warm": {0: kgo.NewOffset().At(0)}}),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	fs := cons.PollFetches(ctx)
	if recs := fs.Records(); len(recs) == 0 || recs[0].Offset < 50 {
		t.Fatalf("after retention the consumer read %d records", len(recs))
	}
}

func TestAdvertisedAddr(t *testing.T) {
	cfg := defaultConfig()
	ts := startServer(t, cfg)
	ctx := testCtx(t)
	// Point a second server at the same store with an advertised address.
	_, port, _ := net.SplitHostPort(ts.addr)
	srv := NewServer(ts.store, Config{AdvertisedAddr: "localhost:" + port}, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(ctx) })
	adm := kadm.NewClient(ts.client(t, tenantA, passA, kgo.SeedBrokers(ln.Addr().String())))
	md, err := adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b := md.Brokers[0]; b.Host != "localhost" || strconv.Itoa(int(b.Port)) != port {
		t.Fatalf("advertised broker %s:%d, want localhost:%s", b.Host, b.Port, port)
	}
}

// TestManyWarmSegments reads a partition made of more small warm segments
// than one storage read visits, followed by a hot tail: a consumer from
// offset 0 must see every offset, in order, with nothing skipped.
func TestManyWarmSegments(t *testing.T) {
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	adm := ts.admin(t, tenantA, passA)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "segs"); err != nil {
		t.Fatal(err)
	}
	cl := ts.client(t, tenantA, passA, kgo.DefaultProduceTopic("segs"))
	l := ts.srv.brokers[tenantA].topic("segs").parts[0].log
	const segments, perSegment = 7, 3
	n := 0
	produce := func(k int) {
		for range k {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "%04d", n)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	for range segments {
		produce(perSegment)
		if s, err := l.Seal(ctx, true); err != nil || s != 1 {
			t.Fatalf("seal: %d segments, %v", s, err)
		}
	}
	produce(5) // the hot tail

	for _, from := range []int64{0, 4, 13} {
		cons := ts.client(t, tenantA, passA, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
			"segs": {0: kgo.NewOffset().At(from)}}))
		next := from
		for next < int64(n) {
			fs := cons.PollFetches(ctx)
			if err := fs.Err0(); err != nil {
				t.Fatal(err)
			}
			fs.EachRecord(func(r *kgo.Record) {
				if r.Offset != next || string(r.Value) != fmt.Sprintf("%04d", next) {
					t.Fatalf("from %d: record at %d has offset %d, value %q", from, next, r.Offset, r.Value)
				}
				next++
			})
		}
	}
}

// TestRetentionMs drops batches whose newest record is older than the
// topic's retention.ms when the core's mover runs, in the hot tail and in
// warm segments alike, and keeps the rest readable.
func TestRetentionMs(t *testing.T) {
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	adm := ts.admin(t, tenantA, passA)
	ret := "3600000" // one hour
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"retention.ms": &ret}, "ret"); err != nil {
		t.Fatal(err)
	}
	cl := ts.client(t, tenantA, passA, kgo.DefaultProduceTopic("ret"), kgo.ProducerLinger(0))
	l := ts.srv.brokers[tenantA].topic("ret").parts[0].log
	produce := func(age time.Duration, n int) {
		for range n {
			r := &kgo.Record{Value: []byte("x"), Timestamp: time.Now().Add(-age)}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce(3*time.Hour, 4) // sealed into a warm segment
	if _, err := l.Seal(ctx, true); err != nil {
		t.Fatal(err)
	}
	produce(2*time.Hour, 3) // hot, expired
	produce(time.Minute, 5) // hot, kept
	if _, err := ts.srv.brokers[tenantA].t.RunMover(ctx); err != nil {
		t.Fatal(err)
	}
	starts, err := adm.ListStartOffsets(ctx, "ret")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := starts.Lookup("ret", 0); o.Offset != 7 {
		t.Fatalf("start offset after retention.ms: %d, want 7", o.Offset)
	}
	cons := ts.client(t, tenantA, passA, kgo.ConsumeTopics("ret"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	n := 0
	for n < 5 {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < 7 {
				t.Fatalf("expired record %d read", r.Offset)
			}
			n++
		})
	}
}

// TestMaxTimestampWarm asks for the record with the largest timestamp
// (ListOffsets -3) when it lies in a warm segment: with the hot tail empty,
// and with a hot tail of older timestamps.
func TestMaxTimestampWarm(t *testing.T) {
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	adm := ts.admin(t, tenantA, passA)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "maxts"); err != nil {
		t.Fatal(err)
	}
	cl := ts.client(t, tenantA, passA, kgo.DefaultProduceTopic("maxts"), kgo.ProducerLinger(0))
	base := time.UnixMilli(1_700_000_000_000)
	produce := func(secs ...int) {
		for _, s := range secs {
			r := &kgo.Record{Value: []byte("x"), Timestamp: base.Add(time.Duration(s) * time.Second)}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	maxOffset := func() (int64, int64) {
		t.Helper()
		req := kmsg.NewPtrListOffsetsRequest()
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "maxts"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp = -3
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 {
			t.Fatal(kerr.ErrorForCode(p.ErrorCode))
		}
		return p.Offset, p.Timestamp
	}
	l := ts.srv.brokers[tenantA].topic("maxts").parts[0].log

	produce(5, 9, 30, 2, 30, 7) // offsets 0-5; the maximum first at 2
	for range 2 {
		if _, err := l.Seal(ctx, true); err != nil {
			t.Fatal(err)
		}
		if off, at := maxOffset(); off != 2 || at != base.Add(30*time.Second).UnixMilli() {
			t.Fatalf("max timestamp in warm segments: offset %d at %d", off, at)
		}
		produce(1, 3) // a hot tail of older timestamps
	}
	produce(31)
	if off, _ := maxOffset(); off != 10 {
		t.Fatalf("max timestamp in the hot tail: offset %d, want 10", off)
	}
}
