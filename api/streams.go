package api

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kmsg"

	"rewire/api/wire"
	"rewire/kafkawire"
	"rewire/storage"
)

func init() {
	register("streams.list", bind(func(o *Ops, ctx context.Context, _ struct{}) (wire.StreamsList, error) {
		return o.StreamsList(ctx)
	}))
	register("streams.create", bind((*Ops).CreateTopic))
	register("streams.delete", bind((*Ops).DeleteTopic))
	register("streams.produce", bind((*Ops).Produce))
	register("streams.read", bind((*Ops).Consume))
	register("streams.offsets", bind((*Ops).GroupOffsets))
}

// Kafka topics live in kafkawire's kafka_topics table with their
// partitions as core logs kafka/<topic>/<partition>; JetStream streams are
// the logs nats/stream/<name>.
const (
	kafkaLogPrefix  = "kafka/"
	streamLogPrefix = "nats/stream/"
	// defaultRetentionMs is kafkawire's default retention.ms (7 days).
	defaultRetentionMs = 7 * 24 * 3600 * 1000
	maxPartitions      = 1000
	maxProduceRecords  = 10000
	maxProduceBytes    = MaxInline
)

func kafkaLog(topic string, p int32) string {
	return kafkaLogPrefix + topic + "/" + strconv.Itoa(int(p))
}

// checkTopic applies Kafka's topic name rules.
func checkTopic(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > 249 {
		return invalid("invalid topic name %q", name)
	}
	for _, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return invalid("topic name %q holds %q", name, c)
		}
	}
	return nil
}

// topicPartitions returns a topic's partition count.
func (o *Ops) topicPartitions(ctx context.Context, topic string) (int32, error) {
	var n int32
	err := o.t.DB().QueryRowContext(ctx, `SELECT partitions FROM kafka_topics WHERE name = ?`, topic).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%w: topic %q", storage.ErrNotFound, topic)
	}
	if err != nil {
		return 0, fmt.Errorf("topic %q: %w", topic, err)
	}
	return n, nil
}

// StreamsList lists Kafka topics and JetStream streams with offsets.
func (o *Ops) StreamsList(ctx context.Context) (wire.StreamsList, error) {
	out := wire.StreamsList{Topics: []wire.TopicInfo{}, Streams: []wire.StreamInfo{}}
	rows, err := o.t.DB().QueryContext(ctx, `SELECT name, partitions FROM kafka_topics ORDER BY name`)
	if err != nil {
		return out, fmt.Errorf("list topics: %w", err)
	}
	type tp struct {
		name string
		n    int32
	}
	var tps []tp
	for rows.Next() {
		var x tp
		if err := rows.Scan(&x.name, &x.n); err != nil {
			rows.Close()
			return out, err
		}
		tps = append(tps, x)
	}
	rows.Close()
	for _, x := range tps {
		ti := wire.TopicInfo{Name: x.name, Partitions: []wire.PartitionInfo{}}
		for p := range x.n {
			l, err := o.t.Logs().Open(ctx, kafkaLog(x.name, p))
			if err != nil {
				return out, err
			}
			start, next := l.Offsets()
			ti.Partitions = append(ti.Partitions, wire.PartitionInfo{Partition: p, Start: start, Next: next})
		}
		out.Topics = append(out.Topics, ti)
	}
	names, err := o.t.Logs().List(ctx, streamLogPrefix)
	if err != nil {
		return out, err
	}
	for _, n := range names {
		l, err := o.t.Logs().Open(ctx, n)
		if err != nil {
			continue
		}
		start, next := l.Offsets()
		out.Streams = append(out.Streams, wire.StreamInfo{Name: strings.TrimPrefix(n, streamLogPrefix), First: start, Next: next})
	}
	return out, nil
}

// CreateTopic makes a Kafka topic the way kafkawire does: partition logs
// first, then the kafka_topics row that makes the topic visible; Kafka
// connections already open see it through the tenant's topics generation.
func (o *Ops) CreateTopic(ctx context.Context, p wire.CreateTopicParams) (wire.OK, error) {
	if err := checkTopic(p.Topic); err != nil {
		return wire.OK{}, err
	}
	n := p.Partitions
	if n == 0 {
		n = 1
	}
	if n < 0 || n > maxPartitions {
		return wire.OK{}, invalid("partitions must be 1 to %d", maxPartitions)
	}
	if _, err := o.topicPartitions(ctx, p.Topic); err == nil {
		return wire.OK{}, fmt.Errorf("%w: topic %q", storage.ErrExists, p.Topic)
	}
	cfg := storage.LogConfig{RetentionMs: defaultRetentionMs, Extra: map[string]string{}}
	for i := range n {
		name := kafkaLog(p.Topic, i)
		_, err := o.t.Logs().Create(ctx, name, cfg)
		if errors.Is(err, storage.ErrExists) {
			// Left over by a creation that crashed before its row.
			if err = o.t.Logs().Delete(ctx, name); err == nil {
				_, err = o.t.Logs().Create(ctx, name, cfg)
			}
		}
		if err != nil {
			return wire.OK{}, fmt.Errorf("create topic %q: %w", p.Topic, err)
		}
	}
	id := randomID()
	err := o.t.Update(ctx, func(tx *storage.Tx) error {
		_, err := tx.Exec(`INSERT INTO kafka_topics(name, id, partitions, configs) VALUES (?, ?, ?, '{}')`,
			p.Topic, id[:], n)
		if err != nil && strings.Contains(err.Error(), "UNIQUE") {
			return fmt.Errorf("%w: topic %q", storage.ErrExists, p.Topic)
		}
		return err
	})
	if err != nil {
		return wire.OK{}, err
	}
	o.t.Bump(kafkawire.TopicsGeneration) // live Kafka connections see it
	return wire.OK{OK: true}, nil
}

// DeleteTopic removes a topic, its committed offsets and its logs.
func (o *Ops) DeleteTopic(ctx context.Context, p wire.TopicParams) (wire.OK, error) {
	if err := checkTopic(p.Topic); err != nil {
		return wire.OK{}, err
	}
	n, err := o.topicPartitions(ctx, p.Topic)
	if err != nil {
		return wire.OK{}, err
	}
	err = o.t.Update(ctx, func(tx *storage.Tx) error {
		for _, q := range []string{`DELETE FROM kafka_topics WHERE name = ?`, `DELETE FROM kafka_offsets WHERE topic = ?`} {
			if _, err := tx.Exec(q, p.Topic); err != nil {
				return err
			}
		}
		_, err := tx.Exec(`DELETE FROM kafka_producers WHERE log >= ? AND log < ?`,
			kafkaLogPrefix+p.Topic+"/", kafkaLogPrefix+p.Topic+"/\U0010FFFF")
		return err
	})
	if err != nil {
		return wire.OK{}, fmt.Errorf("delete topic %q: %w", p.Topic, err)
	}
	for i := range n {
		if err := o.t.Logs().Delete(ctx, kafkaLog(p.Topic, i)); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return wire.OK{}, err
		}
	}
	o.t.Bump(kafkawire.TopicsGeneration)
	return wire.OK{OK: true}, nil
}

// partitionLog opens a topic partition's log after checking the topic.
func (o *Ops) partitionLog(ctx context.Context, topic string, part int32) (*storage.Log, error) {
	if err := checkTopic(topic); err != nil {
		return nil, err
	}
	n, err := o.topicPartitions(ctx, topic)
	if err != nil {
		return nil, err
	}
	if part < 0 || part >= n {
		return nil, invalid("topic %q has partitions 0 to %d", topic, n-1)
	}
	return o.t.Logs().Open(ctx, kafkaLog(topic, part))
}

// Produce appends records to a topic partition as one Kafka batch,
// durable on return.
func (o *Ops) Produce(ctx context.Context, p wire.ProduceParams) (wire.ProduceResult, error) {
	if len(p.Records) == 0 || len(p.Records) > maxProduceRecords {
		return wire.ProduceResult{}, invalid("give 1 to %d records", maxProduceRecords)
	}
	recs := make([]KafkaRecord, len(p.Records))
	size := 0
	for i, r := range p.Records {
		var err error
		if recs[i].Key, err = decodeOpt(r.Key, p.Encoding); err != nil {
			return wire.ProduceResult{}, err
		}
		if recs[i].Value, err = decodeOpt(r.Value, p.Encoding); err != nil {
			return wire.ProduceResult{}, err
		}
		for _, h := range r.Headers {
			v, err := decode(h.Value, p.Encoding)
			if err != nil {
				return wire.ProduceResult{}, err
			}
			recs[i].Headers = append(recs[i].Headers, kmsg.Header{Key: h.Key, Value: v})
			size += len(h.Key) + len(v)
		}
		size += len(recs[i].Key) + len(recs[i].Value)
	}
	if size > maxProduceBytes {
		return wire.ProduceResult{}, &wire.Error{Code: wire.CodeTooLarge, Message: "records larger than the inline limit"}
	}
	if p.Create {
		if err := checkTopic(p.Topic); err != nil {
			return wire.ProduceResult{}, err
		}
		if _, err := o.topicPartitions(ctx, p.Topic); errors.Is(err, storage.ErrNotFound) {
			if _, err := o.CreateTopic(ctx, wire.CreateTopicParams{Topic: p.Topic, Partitions: 1}); err != nil &&
				!errors.Is(err, storage.ErrExists) {
				return wire.ProduceResult{}, err
			}
		}
	}
	l, err := o.partitionLog(ctx, p.Topic, p.Partition)
	if err != nil {
		return wire.ProduceResult{}, err
	}
	ts := nowMillis()
	data := EncodeBatch(recs, ts)
	base, err := l.Append(ctx, storage.AppendBatch{Data: data, Count: int64(len(recs)), MaxTimestamp: ts, Stamp: StampBatch})
	if err != nil {
		return wire.ProduceResult{}, fmt.Errorf("produce to %s/%d: %w", p.Topic, p.Partition, err)
	}
	return wire.ProduceResult{Partition: p.Partition, BaseOffset: base}, nil
}

func decodeOpt(s *string, enc string) ([]byte, error) {
	if s == nil {
		return nil, nil
	}
	b, err := decode(*s, enc)
	if b == nil && err == nil {
		b = []byte{}
	}
	return b, err
}

func encodeOpt(b []byte, enc string) *string {
	if b == nil {
		return nil
	}
	var s string
	if enc == wire.EncodingBase64 || !utf8.Valid(b) {
		s = base64.StdEncoding.EncodeToString(b)
	} else {
		s = string(b)
	}
	return &s
}

// Consume reads records of a topic partition from an offset.
func (o *Ops) Consume(ctx context.Context, p wire.ConsumeParams) (wire.ConsumeResult, error) {
	if p.Encoding != "" && p.Encoding != wire.EncodingUTF8 && p.Encoding != wire.EncodingBase64 {
		return wire.ConsumeResult{}, invalid("unknown encoding %q (utf8 or base64)", p.Encoding)
	}
	max := p.MaxRecords
	if max <= 0 {
		max = 100
	}
	max = min(max, maxProduceRecords)
	l, err := o.partitionLog(ctx, p.Topic, p.Partition)
	if err != nil {
		return wire.ConsumeResult{}, err
	}
	start, next := l.Offsets()
	if p.Offset < start || p.Offset > next {
		return wire.ConsumeResult{}, &wire.Error{Code: wire.CodeOutOfRange,
			Message: fmt.Sprintf("offset %d outside %d to %d", p.Offset, start, next)}
	}
	out := wire.ConsumeResult{Records: []wire.Record{}, Next: p.Offset, HighWatermark: next}
	from, budget := p.Offset, MaxInline
	for from < next && len(out.Records) < max && budget > 0 {
		batches, err := l.Read(ctx, from, 1<<20)
		if err != nil {
			return wire.ConsumeResult{}, err
		}
		if len(batches) == 0 {
			break
		}
		for _, b := range batches {
			err := DecodeBatches(b.Data, func(r DecodedRecord) bool {
				if r.Offset < from || len(out.Records) >= max || budget <= 0 {
					return r.Offset < from
				}
				rec := wire.Record{Offset: r.Offset, Partition: p.Partition,
					Timestamp: time.UnixMilli(r.Timestamp).UTC(),
					Key:       encodeOpt(r.Key, p.Encoding), Value: encodeOpt(r.Value, p.Encoding)}
				for _, h := range r.Headers {
					rec.Headers = append(rec.Headers, wire.Header{Key: h.Key, Value: *encodeOpt(append([]byte{}, h.Value...), p.Encoding)})
				}
				budget -= len(r.Key) + len(r.Value) + 64
				out.Records = append(out.Records, rec)
				out.Next = r.Offset + 1
				return true
			})
			if err != nil {
				return wire.ConsumeResult{}, fmt.Errorf("read %s/%d: %w", p.Topic, p.Partition, err)
			}
			if b.Last+1 > from {
				from = b.Last + 1
			}
		}
		if len(out.Records) >= max || budget <= 0 {
			break
		}
		out.Next = from
	}
	return out, nil
}

// GroupOffsets returns a consumer group's committed offsets.
func (o *Ops) GroupOffsets(ctx context.Context, p wire.GroupParams) (wire.GroupOffsets, error) {
	if p.Group == "" {
		return wire.GroupOffsets{}, invalid("group is required")
	}
	rows, err := o.t.DB().QueryContext(ctx, `SELECT topic, part, offset, COALESCE(metadata, '')
		FROM kafka_offsets WHERE grp = ? ORDER BY topic, part`, p.Group)
	if err != nil {
		return wire.GroupOffsets{}, fmt.Errorf("group offsets: %w", err)
	}
	defer rows.Close()
	out := wire.GroupOffsets{Group: p.Group, Offsets: []wire.GroupOffset{}}
	for rows.Next() {
		var g wire.GroupOffset
		if err := rows.Scan(&g.Topic, &g.Partition, &g.Offset, &g.Metadata); err != nil {
			return wire.GroupOffsets{}, err
		}
		out.Offsets = append(out.Offsets, g)
	}
	return out, rows.Err()
}
