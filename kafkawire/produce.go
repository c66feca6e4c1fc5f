package kafkawire

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleProduce validates a Produce request and queues its batches on
// their partitions' appenders in request order; the returned function
// waits for the appends and builds the response (nil for acks=0). The
// split lets a connection read the next pipelined request while this one's
// appends become durable, without reordering appends.
func (c *conn) handleProduce(ctx context.Context, r *kmsg.ProduceRequest) func() kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ProduceResponse)
	type waiting struct {
		sp      *kmsg.ProduceResponseTopicPartition
		p       *partition
		pending []*pendingAppend
	}
	var waits []waiting
	for _, rt := range r.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		resp.Topics = append(resp.Topics, st)
		var tp *topic
		var code int16
		if r.Version >= 13 {
			// Version 13 on addresses topics by id; ids cannot be
			// auto-created.
			if tp = c.b.topicByID(rt.TopicID); tp == nil {
				code = kerrUnknownTopicID
			}
		} else {
			tp, code = c.b.autoCreate(ctx, rt.Topic)
		}
		for i, rp := range rt.Partitions {
			sp := &resp.Topics[len(resp.Topics)-1].Partitions[i]
			*sp = kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset, sp.LogAppendTime = -1, -1
			if code != 0 {
				sp.ErrorCode = code
				continue
			}
			p := tp.partition(rp.Partition)
			if p == nil {
				sp.ErrorCode = errUnknownTopic
				continue
			}
			batches, err := c.validateProduce(tp, rp.Partition, rp.Records)
			if err != nil {
				sp.ErrorCode, sp.ErrorMessage = errCode(err), errMsg(err)
				c.log.Debug("kafka produce refused", "topic", tp.name, "partition", p.index, "err", err)
				continue
			}
			w := waiting{sp: sp, p: p}
			for _, b := range batches {
				w.pending = append(w.pending, p.enqueue(b))
			}
			waits = append(waits, w)
		}
	}
	return func() kmsg.Response {
		for _, w := range waits {
			for i, pa := range w.pending {
				<-pa.done
				if pa.err != nil {
					if w.sp.ErrorCode == 0 {
						w.sp.ErrorCode, w.sp.ErrorMessage = errCode(pa.err), errMsg(pa.err)
						if w.sp.ErrorCode == errUnknownServer {
							c.log.Error("kafka produce failed", "log", w.p.log.Name(), "err", pa.err)
						}
					}
					continue
				}
				if i == 0 {
					w.sp.BaseOffset = pa.base
				}
			}
			if w.sp.ErrorCode != 0 {
				w.sp.BaseOffset = -1
			}
			w.sp.LogStartOffset, _ = w.p.log.Offsets()
			if w.sp.ErrorCode == 0 && len(w.pending) > 0 && w.pending[0].b.attributes&0x8 != 0 {
				w.sp.LogAppendTime = w.pending[0].b.maxTimestamp
			}
		}
		if r.Acks == 0 {
			return nil
		}
		return resp
	}
}

// validateProduce splits and checks one partition's record set.
func (c *conn) validateProduce(tp *topic, part int32, records []byte) ([]batchInfo, error) {
	batches, code, err := splitBatches(records)
	if err != nil {
		return nil, &codedError{code, err.Error()}
	}
	limit := tp.maxMessageBytes()
	appendTime := tp.configValue("message.timestamp.type") == "LogAppendTime"
	for i := range batches {
		b := &batches[i]
		if b.control() {
			return nil, &codedError{errInvalidRecord, "clients may not write control batches"}
		}
		if b.transactional() {
			if b.producerID < 0 {
				return nil, &codedError{errInvalidRecord, "transactional batch without a producer id"}
			}
			if code := c.b.txnAllows(b.producerID, b.producerEpoch, tp.name, part); code != 0 {
				return nil, &codedError{code, "transactional batch outside an open transaction on this partition"}
			}
		}
		if len(b.data) > limit {
			return nil, &codedError{errMessageTooLarge,
				fmt.Sprintf("batch of %d bytes exceeds max.message.bytes %d", len(b.data), limit)}
		}
		if code, err := checkRecords(*b); err != nil {
			return nil, &codedError{code, err.Error()}
		}
		if compacted(tp.configs) {
			keyless := false
			if err := eachRecord(b.data, func(r kafkaRecord) { keyless = keyless || r.key == nil }); err != nil {
				return nil, &codedError{errCorruptMessage, err.Error()}
			}
			if keyless {
				return nil, &codedError{errInvalidRecord, "compacted topic cannot accept a record without a key"}
			}
		}
		if appendTime {
			setLogAppendTime(b, time.Now().UnixMilli())
		}
	}
	return batches, nil
}

// setLogAppendTime marks a batch's timestamps as the broker's append time,
// as Kafka does for message.timestamp.type=LogAppendTime, and reseals its
// CRC.
func setLogAppendTime(b *batchInfo, now int64) {
	b.attributes |= 0x8
	b.maxTimestamp = now
	binary.BigEndian.PutUint16(b.data[21:], uint16(b.attributes))
	binary.BigEndian.PutUint64(b.data[35:], uint64(now))
	binary.BigEndian.PutUint32(b.data[17:], crc32cOf(b.data[21:]))
}
