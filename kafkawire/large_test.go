package kafkawire

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"

	"rewire/internal/testtool"
)

// TestLargeRecords writes records larger than the clients' default
// per-partition fetch size (1 MiB) to a topic whose max.message.bytes
// allows them, and reads them back with franz-go, kcat, kafka-python and
// sarama: a fetch returns the first batch whole even when it exceeds the
// partition's byte budget.
func TestLargeRecords(t *testing.T) {
	testtool.Need(t, "kcat")
	py := pythonKafka(t)
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	adm := ts.admin(t, tenantA, passA)
	limit := fmt.Sprint(8 << 20)
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"max.message.bytes": &limit}, "big"); err != nil {
		t.Fatal(err)
	}
	sizes := []int{3 << 20, 10, 5 << 20, 1<<20 + 1}
	value := func(i, n int) []byte { return bytes.Repeat([]byte{byte('a' + i)}, n) }
	prod := ts.client(t, tenantA, passA, kgo.ProducerBatchMaxBytes(8<<20), kgo.ProducerLinger(0),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	for i, n := range sizes {
		if err := prod.ProduceSync(ctx, &kgo.Record{Topic: "big", Value: value(i, n)}).FirstErr(); err != nil {
			t.Fatalf("produce %d bytes: %v", n, err)
		}
	}
	want := strings.Trim(fmt.Sprint(sizes), "[]")

	cons := ts.client(t, tenantA, passA, kgo.ConsumeTopics("big"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []string
	for len(got) < len(sizes) {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			i := int(r.Offset)
			if !bytes.Equal(r.Value, value(i, sizes[i])) {
				t.Errorf("franz-go: record %d has the wrong bytes", i)
			}
			got = append(got, fmt.Sprint(len(r.Value)))
		})
	}
	if s := strings.Join(got, " "); s != want {
		t.Errorf("franz-go read sizes %s, want %s", s, want)
	}

	out := runKcat(t, "", append(kcatArgs(ts.addr, "PLAIN", tenantA, passA),
		"-C", "-t", "big", "-o", "beginning", "-e", "-f", "%S\n")...)
	if s := strings.Join(strings.Fields(out), " "); s != want {
		t.Errorf("kcat read sizes %s, want %s", s, want)
	}

	out, err := runPython(t, py, ts.addr, tenantA, passA, "PLAIN", "sizes", "big", fmt.Sprint(len(sizes)))
	if err != nil || strings.TrimSpace(out) != "sizes "+want {
		t.Errorf("kafka-python: %v\n%s", err, out)
	}

	sc, err := sarama.NewConsumer([]string{ts.addr}, saramaConfig(tenantA, passA, sarama.SASLHandshakeV1))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	pc, err := sc.ConsumePartition("big", 0, sarama.OffsetOldest)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	got = got[:0]
	for len(got) < len(sizes) {
		select {
		case m := <-pc.Messages():
			got = append(got, fmt.Sprint(len(m.Value)))
		case err := <-pc.Errors():
			t.Fatal(err)
		case <-ctx.Done():
			t.Fatalf("sarama read sizes %v", got)
		}
	}
	if s := strings.Join(got, " "); s != want {
		t.Errorf("sarama read sizes %s, want %s", s, want)
	}
}
