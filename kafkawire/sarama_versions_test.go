package kafkawire

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// TestSaramaVersions runs sarama's own codec against rewire at several
// protocol generations, up to the newest sarama knows: topic admin,
// produce with keys and headers, partition consume and a group consume.
// sarama encodes and decodes every message itself, so this checks
// rewire's responses against a second implementation of the flexible
// versions.
func TestSaramaVersions(t *testing.T) {
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	for _, v := range []sarama.KafkaVersion{sarama.V0_11_0_0, sarama.V2_1_0_0, sarama.V3_0_0_0, sarama.MaxVersion} {
		t.Run(v.String(), func(t *testing.T) {
			handshake := sarama.SASLHandshakeV1
			if !v.IsAtLeast(sarama.V1_0_0_0) {
				handshake = sarama.SASLHandshakeV0 // SaslAuthenticate came with 1.0
			}
			cfg := saramaConfig(tenantA, passA, handshake)
			cfg.Version = v
			cfg.Producer.Compression = sarama.CompressionZSTD
			if !v.IsAtLeast(sarama.V2_1_0_0) {
				cfg.Producer.Compression = sarama.CompressionSnappy
			}
			topic := "sv-" + strings.ReplaceAll(v.String(), ".", "-")

			adm, err := sarama.NewClusterAdmin([]string{ts.addr}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer adm.Close()
			ret := "86400000"
			if err := adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 2, ReplicationFactor: 1,
				ConfigEntries: map[string]*string{"retention.ms": &ret}}, false); err != nil {
				t.Fatalf("create topic: %v", err)
			}
			topics, err := adm.ListTopics()
			if err != nil || topics[topic].NumPartitions != 2 {
				t.Fatalf("list topics: %v %+v", err, topics[topic])
			}
			entries, err := adm.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
			if err != nil {
				t.Fatalf("describe config: %v", err)
			}
			found := false
			for _, e := range entries {
				found = found || e.Name == "retention.ms" && e.Value == ret
			}
			if !found {
				t.Errorf("retention.ms not described: %+v", entries)
			}

			p, err := sarama.NewSyncProducer([]string{ts.addr}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			var msgs []*sarama.ProducerMessage
			for i := range 20 {
				msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(fmt.Sprint(i)),
					Value:   sarama.StringEncoder(fmt.Sprintf("v%d", i)),
					Headers: []sarama.RecordHeader{{Key: []byte("h"), Value: []byte(fmt.Sprint(i))}}})
			}
			if err := p.SendMessages(msgs); err != nil {
				t.Fatalf("produce: %v", err)
			}
			p.Close()

			// Partition consumers see keys and headers.
			c, err := sarama.NewConsumer([]string{ts.addr}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			n := 0
			for part := range int32(2) {
				pc, err := c.ConsumePartition(topic, part, sarama.OffsetOldest)
				if err != nil {
					t.Fatal(err)
				}
				hwm := pc.HighWaterMarkOffset()
				for off := int64(0); off < hwm; off++ {
					select {
					case m := <-pc.Messages():
						if m.Offset != off || len(m.Headers) != 1 || string(m.Headers[0].Value) != string(m.Key) ||
							string(m.Value) != "v"+string(m.Key) {
							t.Errorf("partition %d offset %d: %+v", part, off, m)
						}
						n++
					case err := <-pc.Errors():
						t.Fatal(err)
					case <-ctx.Done():
						t.Fatalf("partition %d: read %d of %d", part, off, hwm)
					}
				}
				pc.Close()
			}
			if n != 20 {
				t.Fatalf("read %d of 20 records", n)
			}

			// A group reads everything and commits.
			cfg.Consumer.Group.Heartbeat.Interval = 200 * time.Millisecond
			cfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
			h := newClaimHandler()
			stop := runGroupWith(t, ts, cfg, "g-"+topic, topic, h)
			waitFor(t, ctx, "the group reads all 20 records", func() bool {
				_, distinct := h.state()
				return distinct == 20
			})
			stop()
			offs, err := adm.ListConsumerGroupOffsets("g-"+topic, nil)
			if err != nil {
				t.Fatal(err)
			}
			var sum int64
			for _, ps := range offs.Blocks {
				for _, b := range ps {
					sum += b.Offset
				}
			}
			if sum != 20 {
				t.Errorf("committed offsets sum to %d, want 20", sum)
			}
		})
	}
}
