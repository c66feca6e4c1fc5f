package kafkawire

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestFetchLimits sends raw Fetch requests: the response's MaxBytes and
// each partition's PartitionMaxBytes bound the data except that the first
// batch of the response always comes whole; MinBytes holds the answer
// until MaxWaitMillis; a fetch session is refused with session id 0 and
// an unknown session with FETCH_SESSION_ID_NOT_FOUND; an offset past the
// end is OFFSET_OUT_OF_RANGE.
func TestFetchLimits(t *testing.T) {
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	adm := ts.admin(t, tenantA, passA)
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, "lim"); err != nil {
		t.Fatal(err)
	}
	// Each partition: four batches of one 10 000-byte record.
	cl := ts.client(t, tenantA, passA, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	for p := range int32(3) {
		for range 4 {
			r := &kgo.Record{Topic: "lim", Partition: p, Value: bytes.Repeat([]byte{'x'}, 10000)}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	fetch := func(maxBytes, partMax, minBytes int32, wait time.Duration, offset int64, session int32) *kmsg.FetchResponse {
		t.Helper()
		req := kmsg.NewPtrFetchRequest()
		req.MaxWaitMillis, req.MaxBytes, req.MinBytes = int32(wait.Milliseconds()), maxBytes, minBytes
		req.SessionID, req.SessionEpoch = session, -1
		if session != 0 {
			req.SessionEpoch = 1
		}
		md, _ := adm.Metadata(ctx, "lim")
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = "lim", md.Topics["lim"].ID
		for p := range int32(3) {
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, offset, partMax
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	batches := func(raw []byte) int {
		n := 0
		for len(raw) >= 12 {
			raw = raw[12+int(binary.BigEndian.Uint32(raw[8:])):]
			n++
		}
		return n
	}
	counts := func(resp *kmsg.FetchResponse) []int {
		var out []int
		for _, p := range resp.Topics[0].Partitions {
			if p.ErrorCode != 0 {
				t.Fatalf("partition %d: %v", p.Partition, kerr.ErrorForCode(p.ErrorCode))
			}
			if p.RecordBatches == nil {
				t.Fatalf("partition %d: null record set", p.Partition)
			}
			out = append(out, batches(p.RecordBatches))
		}
		return out
	}

	cases := []struct {
		name              string
		maxBytes, partMax int32
		want              []int
	}{
		{"everything fits", 1 << 20, 1 << 20, []int{4, 4, 4}},
		{"partition budget of two batches", 1 << 20, 25000, []int{2, 2, 2}},
		// rewire returns each partition's first batch whole; the
		// response's budget still bounds the total.
		{"partition budget below one batch", 1 << 20, 100, []int{1, 1, 1}},
		{"response budget of four and a half batches", 45000, 1 << 20, []int{4, 0, 0}},
		{"response budget below one batch", 100, 1 << 20, []int{1, 0, 0}},
	}
	for _, c := range cases {
		if got := counts(fetch(c.maxBytes, c.partMax, 0, 0, 0, 0)); !slices.Equal(got, c.want) {
			t.Errorf("%s: batches per partition %v, want %v", c.name, got, c.want)
		}
	}

	// MinBytes above what exists: the answer waits for MaxWaitMillis and
	// then returns what there is.
	start := time.Now()
	resp := fetch(1<<20, 1<<20, 1<<20, 300*time.Millisecond, 0, 0)
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Errorf("MinBytes above the data answered after %v, before MaxWaitMillis", waited)
	}
	if got := counts(resp); !slices.Equal(got, []int{4, 4, 4}) {
		t.Errorf("after the wait: %v", got)
	}

	// Fetch sessions: a new one is refused (session id 0), an unknown one
	// is an error.
	if resp := fetch(1<<20, 1<<20, 0, 0, 0, 0); resp.SessionID != 0 || resp.ErrorCode != 0 {
		t.Errorf("new session: id %d, %v", resp.SessionID, kerr.ErrorForCode(resp.ErrorCode))
	}
	if resp := fetch(1<<20, 1<<20, 0, 0, 0, 77); resp.ErrorCode != kerr.FetchSessionIDNotFound.Code {
		t.Errorf("unknown session: %v", kerr.ErrorForCode(resp.ErrorCode))
	}

	// Past the end.
	resp = fetch(1<<20, 1<<20, 0, 0, 5, 0)
	for _, p := range resp.Topics[0].Partitions {
		if p.ErrorCode != kerr.OffsetOutOfRange.Code || p.RecordBatches == nil || len(p.RecordBatches) != 0 {
			t.Errorf("partition %d at offset 5 of 4: %v, %d bytes", p.Partition, kerr.ErrorForCode(p.ErrorCode),
				len(p.RecordBatches))
		}
	}
}
