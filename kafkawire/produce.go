package kafkawire

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"rewire/storage"
)

func (c *conn) handleProduce(ctx context.Context, r *kmsg.ProduceRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ProduceResponse)
	var wg sync.WaitGroup
	for _, rt := range r.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		tp, code := c.b.autoCreate(ctx, rt.Topic)
		for i, rp := range rt.Partitions {
			sp := &st.Partitions[i]
			*sp = kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset = -1
			if code != 0 {
				sp.ErrorCode = code
				continue
			}
			p := tp.partition(rp.Partition)
			if p == nil {
				sp.ErrorCode = errUnknownTopic
				continue
			}
			// Partitions append concurrently so that their writes share
			// one group commit.
			wg.Go(func() {
				c.producePartition(ctx, r, tp, p, rp.Records, sp)
			})
		}
		resp.Topics = append(resp.Topics, st)
	}
	wg.Wait()
	if r.Acks == 0 {
		return nil
	}
	return resp
}

func (c *conn) producePartition(ctx context.Context, r *kmsg.ProduceRequest, tp *topic, p *partition,
	records []byte, sp *kmsg.ProduceResponseTopicPartition) {
	batches, code, err := splitBatches(records)
	if err == nil {
		for _, b := range batches {
			if b.transactional() || b.control() {
				code, err = errInvalidRecord, errors.New("transactional batches are not supported")
				break
			}
			if limit := tp.maxMessageBytes(); len(b.data) > limit {
				code, err = errMessageTooLarge, fmt.Errorf("batch of %d bytes exceeds max.message.bytes %d", len(b.data), limit)
				break
			}
		}
	}
	if err != nil {
		sp.ErrorCode = code
		sp.ErrorMessage = errMsg(err)
		c.log.Debug("kafka produce refused", "topic", tp.name, "partition", p.index, "err", err)
		return
	}
	for i, b := range batches {
		base, err := c.appendBatch(ctx, p, b)
		if err != nil {
			sp.ErrorCode = errCode(err)
			sp.ErrorMessage = errMsg(err)
			if sp.ErrorCode == errUnknownServer {
				c.log.Error("kafka produce failed", "topic", tp.name, "partition", p.index, "err", err)
			}
			return
		}
		if i == 0 {
			sp.BaseOffset = base
		}
	}
	start, _ := p.log.Offsets()
	sp.LogStartOffset = start
}

// appendBatch stores one validated batch and returns its base offset. A
// duplicate of a recent idempotent batch returns the original offset.
func (c *conn) appendBatch(ctx context.Context, p *partition, b batchInfo) (int64, error) {
	ts := b.maxTimestamp
	if ts < 0 {
		ts = time.Now().UnixMilli()
	}
	ab := storage.AppendBatch{
		Data:         b.data,
		Count:        b.count,
		MaxTimestamp: ts,
		Stamp:        stampBatch,
	}
	if b.producerID >= 0 {
		ab.Check = func(tx *storage.Tx, base int64) error {
			return p.checkSequence(tx, b, base)
		}
	}
	base, err := p.log.Append(ctx, ab)
	var dup *duplicateError
	if errors.As(err, &dup) {
		return dup.base, nil
	}
	return base, err
}
