package kafkawire

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
)

func saramaConfig(user, pass string, handshake int16) *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.Net.SASL.Enable = true
	cfg.Net.SASL.Mechanism = sarama.SASLTypePlaintext
	cfg.Net.SASL.User, cfg.Net.SASL.Password = user, pass
	cfg.Net.SASL.Handshake = true
	cfg.Net.SASL.Version = handshake
	cfg.ApiVersionsRequest = handshake != sarama.SASLHandshakeV0
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	return cfg
}

// TestSaramaCodecs produces with sarama in every codec (idempotently for
// one of them) and reads back with franz-go; then a sarama consumer group
// reads franz-go's records.
func TestSaramaCodecs(t *testing.T) {
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	codecs := []sarama.CompressionCodec{sarama.CompressionNone, sarama.CompressionGZIP,
		sarama.CompressionSnappy, sarama.CompressionLZ4, sarama.CompressionZSTD}
	for i, codec := range codecs {
		cfg := saramaConfig(tenantA, passA, []int16{sarama.SASLHandshakeV0, sarama.SASLHandshakeV1}[i%2])
		cfg.Producer.Compression = codec
		if i == 1 {
			cfg.Producer.Idempotent = true
			cfg.Net.MaxOpenRequests = 1
		}
		p, err := sarama.NewSyncProducer([]string{ts.addr}, cfg)
		if err != nil {
			t.Fatalf("sarama producer (%v): %v", codec, err)
		}
		var msgs []*sarama.ProducerMessage
		for j := range 30 {
			msgs = append(msgs, &sarama.ProducerMessage{Topic: "sar", Key: sarama.StringEncoder(codec.String()),
				Value:   sarama.StringEncoder(fmt.Sprintf("%s-%d", codec, j)),
				Headers: []sarama.RecordHeader{{Key: []byte("codec"), Value: []byte(codec.String())}}})
		}
		if err := p.SendMessages(msgs); err != nil {
			t.Fatalf("sarama send (%v): %v", codec, err)
		}
		p.Close()
	}

	cons := ts.client(t, tenantA, passA, kgo.ConsumeTopics("sar"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	n := 0
	for n < 150 {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if len(r.Headers) != 1 || string(r.Headers[0].Value) != string(r.Key) {
				t.Errorf("record %s: headers %v", r.Value, r.Headers)
			}
			n++
		})
	}

	// franz-go writes (zstd), a sarama consumer group reads.
	prod := ts.client(t, tenantA, passA, kgo.ProducerBatchCompression(kgo.ZstdCompression()), kgo.AllowAutoTopicCreation())
	for j := range 25 {
		if err := prod.ProduceSync(ctx, &kgo.Record{Topic: "fr", Value: fmt.Appendf(nil, "v%d", j)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cfg := saramaConfig(tenantA, passA, sarama.SASLHandshakeV1)
	cg, err := sarama.NewConsumerGroup([]string{ts.addr}, "sgroup", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Close()
	h := &saramaHandler{want: 25, done: make(chan struct{})}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		for cctx.Err() == nil {
			if err := cg.Consume(cctx, []string{"fr"}, h); err != nil {
				return
			}
		}
	}()
	select {
	case <-h.done:
	case <-ctx.Done():
		t.Fatalf("sarama group read %d of 25", h.count())
	}
}

type saramaHandler struct {
	mu   sync.Mutex
	n    int
	want int
	done chan struct{}
}

func (h *saramaHandler) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

func (h *saramaHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *saramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *saramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		s.MarkMessage(m, "")
		h.mu.Lock()
		h.n++
		if h.n == h.want {
			close(h.done)
		}
		h.mu.Unlock()
	}
	return nil
}
