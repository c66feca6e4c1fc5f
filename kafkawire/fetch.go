package kafkawire

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"rewire/storage"
)

// maxFetchWait caps a long poll, whatever the client asks.
const maxFetchWait = 30 * time.Second

func (c *conn) handleFetch(ctx context.Context, r *kmsg.FetchRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.FetchResponse)
	// Fetch sessions are refused: an existing session id is unknown, and a
	// request for a new one gets session id 0, which clients read as "no
	// session" and answer with full fetches.
	if r.Version >= 7 && r.SessionID != 0 {
		resp.ErrorCode = errFetchSessionNotFound
		return resp
	}

	wait := min(time.Duration(max(r.MaxWaitMillis, 0))*time.Millisecond, maxFetchWait)
	deadline := time.Now().Add(wait)
	maxBytes := int(r.MaxBytes)
	if r.Version < 3 || maxBytes <= 0 {
		maxBytes = 52428800
	}
	committed := r.IsolationLevel == 1
	for {
		var changed []<-chan struct{}
		type job struct {
			p      *partition
			offset int64
			budget int
			sp     *kmsg.FetchResponseTopicPartition
			n      int
		}
		var jobs []*job
		releaseFetchBufs(resp) // a pass that found too little
		resp.Topics = resp.Topics[:0]
		for _, rt := range r.Topics {
			st := kmsg.NewFetchResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			st.Partitions = make([]kmsg.FetchResponseTopicPartition, len(rt.Partitions))
			tp := c.b.topic(rt.Topic)
			missing := errUnknownTopic
			if r.Version >= 13 {
				// Version 13 on addresses topics by id.
				tp, missing = c.b.topicByID(rt.TopicID), kerrUnknownTopicID
			}
			for i, rp := range rt.Partitions {
				sp := &st.Partitions[i]
				*sp = kmsg.NewFetchResponseTopicPartition()
				sp.Partition = rp.Partition
				// Kafka sends an empty record set, never a null one
				// (librdkafka rejects null).
				sp.RecordBatches = []byte{}
				var p *partition
				if tp != nil {
					p = tp.partition(rp.Partition)
				}
				if p == nil {
					sp.ErrorCode = missing
					if tp != nil {
						sp.ErrorCode = errUnknownTopic
					}
					sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
					continue
				}
				changed = append(changed, p.log.Changed())
				// No partition may take more than the whole response.
				budget := min(int(rp.PartitionMaxBytes), maxBytes)
				jobs = append(jobs, &job{p: p, offset: rp.FetchOffset, budget: budget, sp: sp})
			}
			resp.Topics = append(resp.Topics, st)
		}

		// Partitions are read concurrently (the tenant's reader pool has
		// several connections), then trimmed in request order to the
		// response's MaxBytes: the first partition with data is always
		// kept, later ones only while they fit.
		var wg sync.WaitGroup
		sem := make(chan struct{}, fetchParallel)
		for _, j := range jobs {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				j.n = c.fetchPartition(ctx, j.p, j.offset, j.budget, committed, j.sp)
			})
		}
		wg.Wait()
		total := 0
		for _, j := range jobs {
			if total > 0 && total+j.n > maxBytes {
				putFetchBuf(j.sp.RecordBatches)
				j.sp.RecordBatches, j.sp.AbortedTransactions = []byte{}, nil
				continue
			}
			total += j.n
		}
		if total >= int(r.MinBytes) || total > 0 && r.MinBytes <= 0 || !time.Now().Before(deadline) || len(changed) == 0 {
			return resp
		}
		if !waitAny(ctx, changed, time.Until(deadline)) {
			return resp
		}
	}
}

// fetchParallel bounds the partitions one Fetch reads at once.
const fetchParallel = 4

// fetchPartition fills sp with stored batches from offset on, at most
// budget bytes except that the first batch is always returned whole, so
// that a large batch cannot block a consumer. A read_committed fetch stops
// at the last stable offset and lists the aborted transactions it covers.
// It returns the bytes added.
func (c *conn) fetchPartition(ctx context.Context, p *partition, offset int64, budget int, committed bool,
	sp *kmsg.FetchResponseTopicPartition) int {
	start, next := p.log.Offsets()
	lso := p.lastStable(next)
	sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = next, lso, start
	sp.PreferredReadReplica = -1
	if offset < start || offset > next {
		sp.ErrorCode = errOffsetOutOfRange
		return 0
	}
	limit := next
	if committed {
		limit = lso
	}
	if offset >= limit {
		return 0
	}
	// The stored bytes go straight into the response: ReadFunc lends
	// them without a copy.
	n, i := 0, 0
	end := offset
	sp.RecordBatches = getFetchBuf()
	err := p.log.ReadFunc(ctx, offset, max(budget, 1), func(b storage.Batch) bool {
		if i > 0 && n+len(b.Data) > budget || b.Base >= limit {
			return false
		}
		if i > 0 && b.Base != end {
			// A log's offsets are dense, so a gap means the read skipped
			// stored batches: return what is contiguous and let the
			// client fetch the rest from end.
			return false
		}
		i++
		before := len(sp.RecordBatches)
		if b.Last >= limit {
			// Keep only the Kafka batches below the stable offset.
			eachBatch(b.Data, func(kb []byte) error {
				if int64(binary.BigEndian.Uint64(kb)) < limit {
					sp.RecordBatches = append(sp.RecordBatches, kb...)
				}
				return nil
			})
		} else {
			sp.RecordBatches = append(sp.RecordBatches, b.Data...)
		}
		n += len(sp.RecordBatches) - before
		end = min(b.Last+1, limit)
		return true
	})
	if err != nil || n == 0 {
		putFetchBuf(sp.RecordBatches)
		sp.RecordBatches = []byte{}
	}
	if err != nil {
		sp.ErrorCode = errCode(err)
		if !errors.Is(err, storage.ErrOutOfRange) {
			c.log.Error("kafka fetch failed", "log", p.log.Name(), "err", err)
		}
		return 0
	}
	if committed && n > 0 {
		aborted, err := c.b.abortedIn(ctx, p, offset, end)
		if err != nil {
			sp.ErrorCode = errCode(err)
			putFetchBuf(sp.RecordBatches)
			sp.RecordBatches = []byte{}
			return 0
		}
		sp.AbortedTransactions = aborted
	}
	return n
}

// waitAny blocks until one of chans is closed, d passes or ctx ends; it
// reports whether a channel fired.
func waitAny(ctx context.Context, chans []<-chan struct{}, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	if len(chans) == 1 {
		select {
		case <-chans[0]:
			return true
		case <-timer.C:
		case <-ctx.Done():
		}
		return false
	}
	fired := make(chan struct{}, 1)
	stop := make(chan struct{})
	defer close(stop)
	for _, ch := range chans {
		go func() {
			select {
			case <-ch:
				select {
				case fired <- struct{}{}:
				default:
				}
			case <-stop:
			}
		}()
	}
	select {
	case <-fired:
		return true
	case <-timer.C:
	case <-ctx.Done():
	}
	return false
}

// fetchBufs recycles the buffers that carry record batches into a Fetch
// response and the encoded response itself: a consumer's fetches would
// otherwise allocate, zero and collect a partition's worth of memory per
// partition per request. Buffers go back once the response is written
// (conn.writeSlot) or dropped (a pass that waits, a partition trimmed).
var fetchBufs sync.Pool // of *[]byte

// maxPooledBuf bounds what the pool keeps; larger buffers are left to
// the collector.
const maxPooledBuf = 16 << 20

// getFetchBuf returns an empty, non-nil buffer (Kafka sends an empty
// record set, never a null one).
func getFetchBuf() []byte {
	if p, ok := fetchBufs.Get().(*[]byte); ok {
		return (*p)[:0]
	}
	return []byte{}
}

func putFetchBuf(b []byte) {
	if cap(b) == 0 || cap(b) > maxPooledBuf {
		return
	}
	b = b[:0]
	fetchBufs.Put(&b)
}

// releaseFetchBufs gives the record-batch buffers of resp back to the
// pool; resp must not be encoded afterwards.
func releaseFetchBufs(resp *kmsg.FetchResponse) {
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			sp := &resp.Topics[i].Partitions[j]
			putFetchBuf(sp.RecordBatches)
			sp.RecordBatches = nil
		}
	}
}
