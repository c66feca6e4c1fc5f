package kafkawire

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestProduceConsumeRoundTrip(t *testing.T) {
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	adm := ts.admin(t, tenantA, passA)
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}

	for _, codec := range []kgo.CompressionCodec{kgo.NoCompression(), kgo.GzipCompression(),
		kgo.SnappyCompression(), kgo.Lz4Compression(), kgo.ZstdCompression()} {
		prod := ts.client(t, tenantA, passA, kgo.ProducerBatchCompression(codec), kgo.DefaultProduceTopic("orders"))
		var recs []*kgo.Record
		for i := range 100 {
			recs = append(recs, &kgo.Record{
				Key:     fmt.Appendf(nil, "k%d", i),
				Value:   bytes.Repeat([]byte{byte(i)}, i*10),
				Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("v")}},
			})
		}
		if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}

	cons := ts.client(t, tenantA, passA, kgo.ConsumeTopics("orders"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := 0
	for got < 500 {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("fetch: %v", err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			var i int
			fmt.Sscanf(string(r.Key), "k%d", &i)
			if !bytes.Equal(r.Value, bytes.Repeat([]byte{byte(i)}, i*10)) {
				t.Errorf("record %s: wrong value", r.Key)
			}
			if len(r.Headers) != 1 || r.Headers[0].Key != "h" {
				t.Errorf("record %s: headers %v", r.Key, r.Headers)
			}
			got++
		})
	}
	// Offsets are dense per partition.
	ends, err := adm.ListEndOffsets(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	if total != 500 {
		t.Fatalf("end offsets sum to %d, want 500", total)
	}
}

func TestSASL(t *testing.T) {
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	for _, sha512 := range []bool{false, true} {
		cl := ts.scramClient(t, tenantA, passA, sha512)
		if err := cl.Ping(ctx); err != nil {
			t.Fatalf("scram sha512=%v: %v", sha512, err)
		}
		bad := ts.scramClient(t, tenantA, "wrong", sha512)
		if err := bad.Ping(ctx); !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Fatalf("scram with a wrong password: %v", err)
		}
	}
	bad := ts.client(t, tenantA, "wrong")
	if err := bad.Ping(ctx); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("plain with a wrong password: %v", err)
	}
	unknown := ts.client(t, "nobody", "x")
	if err := unknown.Ping(ctx); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("plain with unknown tenant: %v", err)
	}
}
