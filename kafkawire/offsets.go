package kafkawire

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"rewire/storage"
)

// Special ListOffsets timestamps.
const (
	offsetLatest      = -1
	offsetEarliest    = -2
	offsetMaxTime     = -3
	offsetEarliestLoc = -4
	offsetLatestTier  = -5
)

func (c *conn) handleListOffsets(ctx context.Context, r *kmsg.ListOffsetsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, rt := range r.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		tp := c.b.topic(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, 0
			var p *partition
			if tp != nil {
				p = tp.partition(rp.Partition)
			}
			if p == nil {
				sp.ErrorCode = errUnknownTopic
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			off, ts, err := listOffset(ctx, p, rp.Timestamp, r.IsolationLevel == 1)
			if err != nil {
				sp.ErrorCode = errCode(err)
			} else {
				sp.Offset, sp.Timestamp = off, ts
				if r.Version == 0 {
					sp.OldStyleOffsets = []int64{off}
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// listOffset resolves one ListOffsets query to an offset and timestamp.
func listOffset(ctx context.Context, p *partition, ts int64, committed bool) (int64, int64, error) {
	start, next := p.log.Offsets()
	switch ts {
	case offsetLatest, offsetLatestTier:
		if committed {
			return p.lastStable(next), -1, nil
		}
		return next, -1, nil
	case offsetEarliest, offsetEarliestLoc:
		return start, -1, nil
	case offsetMaxTime:
		b, err := p.log.MaxTimestamp(ctx)
		if errors.Is(err, storage.ErrNotFound) {
			return -1, -1, nil
		}
		if err != nil {
			return 0, 0, err
		}
		off, best := int64(-1), int64(-1)
		err = recordTimestamps(b.Data, func(o, t int64) bool {
			if t > best && o >= start {
				off, best = o, t
			}
			return true
		})
		return off, best, err
	}
	if ts < 0 {
		return 0, 0, &codedError{errInvalidRequest, fmt.Sprintf("invalid timestamp %d", ts)}
	}
	// The first batch whose newest record is at or after ts holds the
	// answer; later batches may not, if timestamps go backwards.
	for from := start; from < next; {
		b, err := p.log.FindTime(ctx, ts)
		if errors.Is(err, storage.ErrNotFound) {
			break
		}
		if err != nil {
			return 0, 0, err
		}
		if b.Data == nil {
			bs, err := p.log.Read(ctx, max(b.Base, start), 1)
			if err != nil || len(bs) == 0 {
				return 0, 0, fmt.Errorf("read batch at %d: %w", b.Base, err)
			}
			b = bs[0]
		}
		off, found := int64(-1), int64(-1)
		err = recordTimestamps(b.Data, func(o, t int64) bool {
			if t >= ts && o >= start {
				off, found = o, t
				return false
			}
			return true
		})
		if err != nil {
			return 0, 0, err
		}
		if off >= 0 {
			return off, found, nil
		}
		from = b.Last + 1
		break
	}
	return -1, -1, nil
}

func (c *conn) handleDeleteRecords(ctx context.Context, r *kmsg.DeleteRecordsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DeleteRecordsResponse)
	for _, rt := range r.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		tp := c.b.topic(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LowWatermark = -1
			var p *partition
			if tp != nil {
				p = tp.partition(rp.Partition)
			}
			if p == nil {
				sp.ErrorCode = errUnknownTopic
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			_, next := p.log.Offsets()
			off := rp.Offset
			if off == -1 {
				off = next
			}
			if off < 0 || off > next {
				sp.ErrorCode = errOffsetOutOfRange
			} else if err := p.log.TruncateBefore(ctx, off); err != nil {
				sp.ErrorCode = errCode(err)
			}
			sp.LowWatermark, _ = p.log.Offsets()
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// handleOffsetForLeaderEpoch answers for the single leader epoch 0 that
// every rewire partition has: its end is the high watermark.
func (c *conn) handleOffsetForLeaderEpoch(ctx context.Context, r *kmsg.OffsetForLeaderEpochRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	for _, rt := range r.Topics {
		st := kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		tp := c.b.topic(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LeaderEpoch, sp.EndOffset = -1, -1
			var p *partition
			if tp != nil {
				p = tp.partition(rp.Partition)
			}
			switch {
			case p == nil:
				sp.ErrorCode = errUnknownTopic
			case rp.CurrentLeaderEpoch > 0:
				sp.ErrorCode = kerrUnknownLeaderEpoch
			case rp.LeaderEpoch < 0:
			default:
				_, next := p.log.Offsets()
				sp.LeaderEpoch, sp.EndOffset = 0, next
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
