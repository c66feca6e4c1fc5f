package kafkawire

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"rewire/storage"
)

// producerState is an idempotent producer's state on one partition.
type producerState struct {
	Epoch   int16      `json:"epoch"`
	Batches []seqBatch `json:"batches"` // the last few, oldest first
	TS      int64      `json:"-"`       // last append, unix ms
}

// seqBatch remembers an appended batch for duplicate detection.
type seqBatch struct {
	First int32 `json:"first"`
	Last  int32 `json:"last"`
	Base  int64 `json:"base"`
}

// keepBatches is how many recent batches per producer are remembered, as
// many as a Kafka producer may have in flight.
const keepBatches = 5

// producerExpiry is how long an idle producer's sequence state is kept
// (Kafka's producer.id.expiration.ms default); it is far longer than any
// transaction may stay open. A variable so that tests can shorten it.
var producerExpiry = 24 * time.Hour

// pruneEvery bounds how often a partition looks for expired producers.
const pruneEvery = time.Minute

// duplicateError reports a batch already stored at base.
type duplicateError struct{ base int64 }

func (e *duplicateError) Error() string { return fmt.Sprintf("duplicate batch stored at %d", e.base) }

// checkSequence enforces idempotent-producer sequences. It runs inside the
// append's write transaction, serialised with every write of the tenant,
// and persists the new state in the same transaction.
func (p *partition) checkSequence(tx *storage.Tx, b batchInfo, base int64) error {
	st, ok := p.seqs[b.producerID]
	if !ok {
		var epoch int16
		var raw string
		var ts int64
		err := tx.QueryRow(`SELECT epoch, batches, ts FROM kafka_producers WHERE log = ? AND pid = ?`,
			p.log.Name(), b.producerID).Scan(&epoch, &raw, &ts)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			st = &producerState{Epoch: epoch, TS: ts}
			json.Unmarshal([]byte(raw), &st.Batches)
		}
	}
	last := b.baseSequence + int32(b.count) - 1
	if b.baseSequence > math.MaxInt32-int32(b.count)+1 {
		last = int32(int64(b.baseSequence) + b.count - 1 - math.MaxInt32 - 1)
	}
	switch {
	case st == nil || b.producerEpoch > st.Epoch:
		if b.baseSequence != 0 {
			return &codedError{errOutOfOrderSequence,
				fmt.Sprintf("producer %d epoch %d starts at sequence %d, not 0", b.producerID, b.producerEpoch, b.baseSequence)}
		}
	case b.producerEpoch < st.Epoch:
		return &codedError{errInvalidProducerEpoch,
			fmt.Sprintf("producer %d epoch %d is older than %d", b.producerID, b.producerEpoch, st.Epoch)}
	default:
		for _, sb := range st.Batches {
			if sb.First == b.baseSequence && sb.Last == last {
				return &duplicateError{base: sb.Base}
			}
		}
		if n := len(st.Batches); n > 0 {
			want := st.Batches[n-1].Last + 1
			if st.Batches[n-1].Last == math.MaxInt32 {
				want = 0
			}
			if b.baseSequence != want {
				return &codedError{errOutOfOrderSequence,
					fmt.Sprintf("producer %d sent sequence %d, expected %d", b.producerID, b.baseSequence, want)}
			}
		}
	}

	now := time.Now().UnixMilli()
	next := &producerState{Epoch: b.producerEpoch, TS: now}
	if st != nil && st.Epoch == b.producerEpoch {
		next.Batches = append(next.Batches, st.Batches...)
	}
	next.Batches = append(next.Batches, seqBatch{First: b.baseSequence, Last: last, Base: base})
	if len(next.Batches) > keepBatches {
		next.Batches = next.Batches[len(next.Batches)-keepBatches:]
	}
	raw, _ := json.Marshal(next.Batches)
	_, err := tx.Exec(`INSERT INTO kafka_producers(log, pid, epoch, batches, ts) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT(log, pid) DO UPDATE SET epoch = excluded.epoch, batches = excluded.batches, ts = excluded.ts`,
		p.log.Name(), b.producerID, next.Epoch, string(raw), now)
	if err != nil {
		return err
	}
	p.seqs[b.producerID] = next
	tx.OnRollback(func() {
		if st == nil {
			delete(p.seqs, b.producerID)
		} else {
			p.seqs[b.producerID] = st
		}
	})
	if now >= p.nextPrune {
		p.nextPrune = now + pruneEvery.Milliseconds()
		return p.pruneProducers(tx, now-producerExpiry.Milliseconds())
	}
	return nil
}

// pruneProducers forgets producers idle since before cutoff (unix ms), as
// Kafka expires producer ids, so that every short-lived idempotent client
// does not leave state behind forever. Like checkSequence it runs in a
// batch's write transaction; if that rolls back, the rows stay and a later
// batch reloads them.
func (p *partition) pruneProducers(tx *storage.Tx, cutoff int64) error {
	if _, err := tx.Exec(`DELETE FROM kafka_producers WHERE log = ? AND ts < ?`, p.log.Name(), cutoff); err != nil {
		return err
	}
	for pid, st := range p.seqs {
		if st.TS < cutoff {
			delete(p.seqs, pid)
		}
	}
	return nil
}

// producerIDs allocates producer ids from the tenant's kv table.
type producerIDs struct {
	mu sync.Mutex // serialises allocation
}

const kvNS = "kafka"

func (c *conn) handleInitProducerID(ctx context.Context, r *kmsg.InitProducerIDRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if r.TransactionalID != nil {
		c.initTransactional(ctx, r, resp)
		return resp
	}
	// A known producer asking for an epoch bump (KIP-360) keeps its id.
	if r.ProducerID >= 0 && r.ProducerEpoch >= 0 && r.ProducerEpoch < math.MaxInt16 {
		resp.ProducerID, resp.ProducerEpoch = r.ProducerID, r.ProducerEpoch+1
		return resp
	}
	id, err := c.b.allocateProducerID(ctx)
	if err != nil {
		resp.ErrorCode = errCode(err)
		return resp
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return resp
}

func (b *broker) allocateProducerID(ctx context.Context) (int64, error) {
	b.pids.mu.Lock()
	defer b.pids.mu.Unlock()
	var id int64
	err := b.t.Update(ctx, func(tx *storage.Tx) error {
		var raw []byte
		err := tx.QueryRow(`SELECT value FROM kv WHERE ns = ? AND key = 'next_producer_id'`, kvNS).Scan(&raw)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if len(raw) > 0 {
			fmt.Sscan(string(raw), &id)
		}
		return storage.KVPut(tx, kvNS, "next_producer_id", fmt.Appendf(nil, "%d", id+1))
	})
	return id, err
}

func (c *conn) handleDescribeProducers(ctx context.Context, r *kmsg.DescribeProducersRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DescribeProducersResponse)
	for _, rt := range r.Topics {
		st := kmsg.NewDescribeProducersResponseTopic()
		st.Topic = rt.Topic
		tp := c.b.topic(rt.Topic)
		for _, pi := range rt.Partitions {
			sp := kmsg.NewDescribeProducersResponseTopicPartition()
			sp.Partition = pi
			var p *partition
			if tp != nil {
				p = tp.partition(pi)
			}
			if p == nil {
				sp.ErrorCode = errUnknownTopic
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			if err := c.b.describeProducers(ctx, p, &sp); err != nil {
				sp.ErrorCode = errCode(err)
				sp.ErrorMessage = errMsg(err)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func (b *broker) describeProducers(ctx context.Context, p *partition, sp *kmsg.DescribeProducersResponseTopicPartition) error {
	rows, err := b.t.DB().QueryContext(ctx,
		`SELECT pid, epoch, batches, ts FROM kafka_producers WHERE log = ? ORDER BY pid`, p.log.Name())
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var pid, ts int64
		var epoch int32
		var raw string
		if err := rows.Scan(&pid, &epoch, &raw, &ts); err != nil {
			return err
		}
		var batches []seqBatch
		if err := json.NewDecoder(strings.NewReader(raw)).Decode(&batches); err != nil {
			return err
		}
		ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
		ap.ProducerID, ap.ProducerEpoch = pid, epoch
		ap.LastSequence = -1
		if n := len(batches); n > 0 {
			ap.LastSequence = batches[n-1].Last
		}
		ap.LastTimestamp = ts
		ap.CoordinatorEpoch = -1
		ap.CurrentTxnStartOffset = p.txnStart(pid)
		sp.ActiveProducers = append(sp.ActiveProducers, ap)
	}
	return rows.Err()
}
