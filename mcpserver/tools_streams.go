package mcpserver

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/nats-io/nats.go"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"rewire/api"
	"rewire/api/wire"
	"rewire/storage"
)

// KafkaAdminParams are the arguments of kafka_admin.
type KafkaAdminParams struct {
	Action     string `json:"action" jsonschema:"list, create, delete or offsets (a consumer group's committed offsets)"`
	Topic      string `json:"topic,omitempty"`
	Partitions int32  `json:"partitions,omitempty" jsonschema:"partitions of a new topic (default 1)"`
	Group      string `json:"group,omitempty" jsonschema:"consumer group, for offsets"`
}

// KafkaAdminResult is the result of kafka_admin.
type KafkaAdminResult struct {
	Topics  []wire.TopicInfo   `json:"topics,omitempty"`
	Offsets []wire.GroupOffset `json:"offsets,omitempty"`
	OK      bool               `json:"ok"`
}

func kafkaAdmin(o *api.Ops, ctx context.Context, p KafkaAdminParams) (KafkaAdminResult, error) {
	switch p.Action {
	case "list":
		l, err := o.StreamsList(ctx)
		return KafkaAdminResult{Topics: l.Topics, OK: err == nil}, err
	case "create":
		_, err := o.CreateTopic(ctx, wire.CreateTopicParams{Topic: p.Topic, Partitions: p.Partitions})
		return KafkaAdminResult{OK: err == nil}, err
	case "delete":
		_, err := o.DeleteTopic(ctx, wire.TopicParams{Topic: p.Topic})
		return KafkaAdminResult{OK: err == nil}, err
	case "offsets":
		g, err := o.GroupOffsets(ctx, wire.GroupParams{Group: p.Group})
		return KafkaAdminResult{Offsets: g.Offsets, OK: err == nil}, err
	}
	return KafkaAdminResult{}, wire.Errorf(wire.CodeInvalidParams, "unknown action %q (list, create, delete, offsets)", p.Action)
}

// NATSStreamParams are the arguments of nats_stream.
type NATSStreamParams struct {
	Action string `json:"action" jsonschema:"list, info or read"`
	Stream string `json:"stream,omitempty"`
	Seq    uint64 `json:"seq,omitempty" jsonschema:"first sequence to read (default: the first)"`
	Max    int    `json:"max,omitempty" jsonschema:"at most this many messages (default 100, at most 1000)"`
}

// NATSMessage is one JetStream message.
type NATSMessage struct {
	Seq     uint64    `json:"seq"`
	Subject string    `json:"subject"`
	Time    time.Time `json:"time"`
	Headers string    `json:"headers,omitempty"`
	Data    string    `json:"data"`
	Base64  bool      `json:"base64,omitempty"`
}

// NATSStreamResult is the result of nats_stream.
type NATSStreamResult struct {
	Streams  []wire.StreamInfo `json:"streams,omitempty"`
	Config   map[string]any    `json:"config,omitempty"`
	Messages []NATSMessage     `json:"messages,omitempty"`
}

const natsLogPrefix = "nats/stream/"

func natsStream(o *api.Ops, ctx context.Context, p NATSStreamParams) (NATSStreamResult, error) {
	if p.Action == "list" {
		l, err := o.StreamsList(ctx)
		return NATSStreamResult{Streams: l.Streams}, err
	}
	if p.Stream == "" || strings.ContainsAny(p.Stream, "/\x00 .*>") {
		return NATSStreamResult{}, wire.Errorf(wire.CodeInvalidParams, "invalid stream name %q", p.Stream)
	}
	l, err := o.Tenant().Logs().Open(ctx, natsLogPrefix+p.Stream)
	if err != nil {
		return NATSStreamResult{}, err
	}
	switch p.Action {
	case "info":
		cfg := map[string]any{}
		if raw := l.Config().Extra["jetstream.config"]; raw != "" {
			if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
				return NATSStreamResult{}, fmt.Errorf("stream %s config: %w", p.Stream, err)
			}
		}
		return NATSStreamResult{Config: cfg}, nil
	case "read":
		return readNATS(ctx, o.Tenant(), l, p)
	}
	return NATSStreamResult{}, wire.Errorf(wire.CodeInvalidParams, "unknown action %q (list, info, read)", p.Action)
}

// readNATS decodes natswire's stored messages (offset = sequence - 1):
// varint timestamp, then subject, header and payload each prefixed with
// a uvarint length. Messages deleted through JetStream stay in the log
// until it is truncated; natswire's subject index (natswire_msgs) holds
// the live ones, so only those are returned.
func readNATS(ctx context.Context, t *storage.Tenant, l *storage.Log, p NATSStreamParams) (NATSStreamResult, error) {
	limit := p.Max
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	start, next := l.Offsets()
	from := max64(int64(p.Seq)-1, start)
	out := NATSStreamResult{Messages: []NATSMessage{}}
	live, err := liveSeqs(ctx, t, p.Stream, uint64(from)+1, limit)
	if err != nil {
		return out, err
	}
	if len(live) > 0 {
		// Nothing past the last live sequence is needed.
		var last uint64
		for seq := range live {
			last = max(last, seq)
		}
		next = min(next, int64(last))
	} else {
		next = from
	}
	for from < next && len(out.Messages) < limit {
		batches, err := l.Read(ctx, from, 1<<20)
		if err != nil {
			return out, err
		}
		if len(batches) == 0 {
			break
		}
		for _, b := range batches {
			data := b.Data
			for off := b.Base; off <= b.Last && len(data) > 0; off++ {
				ts, n := binary.Varint(data)
				if n <= 0 {
					return out, errors.New("corrupt stream message")
				}
				data = data[n:]
				var f [3][]byte
				for i := range f {
					ln, n := binary.Uvarint(data)
					if n <= 0 || ln > uint64(len(data)-n) {
						return out, errors.New("corrupt stream message")
					}
					f[i], data = data[n:n+int(ln)], data[n+int(ln):]
				}
				if off < from || len(out.Messages) >= limit || !live[uint64(off)+1] {
					continue
				}
				m := NATSMessage{Seq: uint64(off) + 1, Subject: string(f[0]), Time: time.Unix(0, ts).UTC(),
					Headers: string(f[1]), Data: string(f[2])}
				if !utf8.Valid(f[2]) {
					m.Data, m.Base64 = base64.StdEncoding.EncodeToString(f[2]), true
				}
				out.Messages = append(out.Messages, m)
			}
			from = max64(from, b.Last+1)
		}
	}
	return out, nil
}

// liveSeqs returns up to n sequences of stream's live messages from seq on.
func liveSeqs(ctx context.Context, t *storage.Tenant, stream string, seq uint64, n int) (map[uint64]bool, error) {
	rows, err := t.DB().QueryContext(ctx,
		`SELECT seq FROM natswire_msgs WHERE stream = ? AND seq >= ? ORDER BY seq LIMIT ?`, stream, seq, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	live := make(map[uint64]bool, n)
	for rows.Next() {
		var s uint64
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		live[s] = true
	}
	return live, rows.Err()
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// NATSConsumerParams are the arguments of nats_consumer.
type NATSConsumerParams struct {
	Action string `json:"action" jsonschema:"list or info"`
	Stream string `json:"stream"`
	Name   string `json:"name,omitempty" jsonschema:"consumer name, for info"`
}

// NATSConsumerResult is the result of nats_consumer.
type NATSConsumerResult struct {
	Consumers []string       `json:"consumers,omitempty"`
	Info      map[string]any `json:"info,omitempty"`
}

// natswire keeps consumers in the core kv namespace natswire.consumer,
// keyed by "<stream>\x00<consumer>".
const natsConsumerNS = "natswire.consumer"

func natsConsumer(o *api.Ops, ctx context.Context, p NATSConsumerParams) (NATSConsumerResult, error) {
	if p.Stream == "" || strings.ContainsAny(p.Stream, "\x00") || strings.ContainsAny(p.Name, "\x00") {
		return NATSConsumerResult{}, wire.Errorf(wire.CodeInvalidParams, "give a valid stream name")
	}
	t := o.Tenant()
	switch p.Action {
	case "list":
		out := NATSConsumerResult{Consumers: []string{}}
		err := t.KVList(ctx, natsConsumerNS, p.Stream+"\x00", func(key string, _ []byte) error {
			out.Consumers = append(out.Consumers, strings.TrimPrefix(key, p.Stream+"\x00"))
			return nil
		})
		return out, err
	case "info":
		v, err := t.KVGet(ctx, natsConsumerNS, p.Stream+"\x00"+p.Name)
		if err != nil {
			return NATSConsumerResult{}, fmt.Errorf("consumer %s on %s: %w", p.Name, p.Stream, err)
		}
		info := map[string]any{}
		if err := json.Unmarshal(v, &info); err != nil {
			return NATSConsumerResult{}, fmt.Errorf("consumer %s: %w", p.Name, err)
		}
		return NATSConsumerResult{Info: info}, nil
	}
	return NATSConsumerResult{}, wire.Errorf(wire.CodeInvalidParams, "unknown action %q (list, info)", p.Action)
}

// NATSPublishParams are the arguments of nats_publish.
type NATSPublishParams struct {
	Subject string            `json:"subject" jsonschema:"subject to publish to (no wildcards)"`
	Data    string            `json:"data" jsonschema:"message payload"`
	Headers map[string]string `json:"headers,omitempty" jsonschema:"message headers, such as Nats-Msg-Id"`
}

// NATSPublishResult reports where a published message was stored.
type NATSPublishResult struct {
	Stream    string `json:"stream,omitempty" jsonschema:"the stream that stored the message; empty when none captures the subject"`
	Sequence  uint64 `json:"seq,omitempty"`
	Duplicate bool   `json:"duplicate,omitempty" jsonschema:"the stream had already stored a message with this Nats-Msg-Id"`
}

// maxNATSPayload matches natswire's default max payload.
const maxNATSPayload = 1 << 20

// natsPublish publishes through the NATS server as one of the tenant's
// clients would, so streams capture the message and subscribers get it.
func (s *server) natsPublish(_ *api.Ops, ctx context.Context, p NATSPublishParams) (NATSPublishResult, error) {
	if s.nats == nil {
		return NATSPublishResult{}, wire.Errorf(wire.CodeInvalidOp, "NATS is not served by this process")
	}
	if len(p.Data) > maxNATSPayload {
		return NATSPublishResult{}, wire.Errorf(wire.CodeInvalidParams, "data larger than %d bytes", maxNATSPayload)
	}
	var hdr nats.Header
	for k, v := range p.Headers {
		if hdr == nil {
			hdr = nats.Header{}
		}
		hdr.Set(k, v)
	}
	r, err := s.nats.Publish(ctx, s.tenant, p.Subject, hdr, []byte(p.Data))
	if err != nil {
		return NATSPublishResult{}, wire.Errorf(wire.CodeInvalidOp, "%v", err)
	}
	return NATSPublishResult{Stream: r.Stream, Sequence: r.Sequence, Duplicate: r.Duplicate}, nil
}

func (s *server) addStreamTools(ms *mcp.Server) {
	addTool(s, ms, "kafka_produce", "Append records to a Kafka topic partition (create: make the topic if missing). "+
		"Kafka clients such as kcat consume them.", (*api.Ops).Produce)
	addTool(s, ms, "kafka_consume", "Read records of a Kafka topic partition from an offset.", (*api.Ops).Consume)
	addTool(s, ms, "kafka_admin", "Kafka topics: list, create, delete; offsets of a consumer group.", kafkaAdmin)
	addTool(s, ms, "nats_stream", "JetStream streams: list, info (configuration) or read messages from a sequence.", natsStream)
	addTool(s, ms, "nats_consumer", "JetStream consumers of a stream: list or info.", natsConsumer)
	addTool(s, ms, "nats_publish", "Publish a NATS message; a JetStream stream whose subjects match stores it "+
		"and the result names the stream and sequence.", s.natsPublish)
}
