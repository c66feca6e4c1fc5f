package kafkawire

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"rewire/storage"
)

// Transactions: rewire is every transaction's coordinator. A transaction's
// state (producer id and epoch, its partitions, groups and pending offset
// commits) is kept in the tenant's kv table under kvTxnNS. While a
// transaction is open on a partition, a kafka_txn_open row holds its first
// offset, which bounds the last stable offset; EndTxn appends a control
// batch (the marker) to each partition, records aborted ranges in
// kafka_aborted for read_committed fetches, and on commit applies the
// pending offsets.

const kvTxnNS = "kafka-txn"

// maxTxnTimeout is transaction.max.timeout.ms's default.
const maxTxnTimeout = 15 * time.Minute

type txnPart struct {
	Topic string `json:"topic"`
	Part  int32  `json:"part"`
}

type txnOffset struct {
	Group  string  `json:"group"`
	Topic  string  `json:"topic"`
	Part   int32   `json:"part"`
	Offset int64   `json:"offset"`
	Epoch  int32   `json:"epoch"`
	Meta   *string `json:"meta,omitempty"`
}

// txnState is one transactional id's state.
type txnState struct {
	ID        string      `json:"-"`
	PID       int64       `json:"pid"`
	Epoch     int16       `json:"epoch"`
	TimeoutMs int32       `json:"timeout_ms"`
	Ongoing   bool        `json:"ongoing"`
	Started   int64       `json:"started"`
	Parts     []txnPart   `json:"parts,omitempty"`
	Groups    []string    `json:"groups,omitempty"`
	Offsets   []txnOffset `json:"offsets,omitempty"`

	timer *time.Timer
}

// txnCoordinator holds a tenant's transactions.
type txnCoordinator struct {
	mu    sync.Mutex // guards byID and byPID and every state's fields; held across EndTxn
	byID  map[string]*txnState
	byPID map[int64]*txnState
}

func (b *broker) loadTxns(ctx context.Context) error {
	b.txns = &txnCoordinator{byID: map[string]*txnState{}, byPID: map[int64]*txnState{}}
	err := b.t.KVList(ctx, kvTxnNS, "", func(key string, value []byte) error {
		st := &txnState{ID: key}
		if err := json.Unmarshal(value, st); err != nil {
			return fmt.Errorf("transaction %s: %w", key, err)
		}
		b.txns.byID[key] = st
		b.txns.byPID[st.PID] = st
		if st.Ongoing {
			b.armTxnTimer(st)
		}
		return nil
	})
	if err != nil {
		return err
	}
	rows, err := b.t.DB().QueryContext(ctx, `SELECT log, pid, first FROM kafka_txn_open`)
	if err != nil {
		return err
	}
	defer rows.Close()
	byLog := map[string]*partition{}
	for _, tp := range b.topics {
		for _, p := range tp.parts {
			byLog[p.log.Name()] = p
		}
	}
	for rows.Next() {
		var log string
		var pid, first int64
		if err := rows.Scan(&log, &pid, &first); err != nil {
			return err
		}
		if p := byLog[log]; p != nil {
			p.txOpen[pid] = first
		}
	}
	return rows.Err()
}

func (b *broker) saveTxn(ctx context.Context, st *txnState) error {
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return b.t.Update(ctx, func(tx *storage.Tx) error { return storage.KVPut(tx, kvTxnNS, st.ID, raw) })
}

// armTxnTimer aborts a transaction left open past its timeout.
func (b *broker) armTxnTimer(st *txnState) {
	if st.timer != nil {
		st.timer.Stop()
	}
	left := time.Until(time.UnixMilli(st.Started).Add(time.Duration(st.TimeoutMs) * time.Millisecond))
	pid, epoch := st.PID, st.Epoch
	st.timer = time.AfterFunc(max(left, 0), func() {
		b.txns.mu.Lock()
		defer b.txns.mu.Unlock()
		if !st.Ongoing || st.PID != pid || st.Epoch != epoch {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := b.endTxnLocked(ctx, st, false); err != nil {
			b.s.log.Error("kafka transaction timeout abort failed", logTenant, b.name, "txn", st.ID, "err", err)
			return
		}
		// Kafka fences a producer whose transaction timed out.
		st.Epoch++
		b.saveTxn(ctx, st)
	})
}

func (b *broker) stopTxnTimers() {
	b.txns.mu.Lock()
	defer b.txns.mu.Unlock()
	for _, st := range b.txns.byID {
		if st.timer != nil {
			st.timer.Stop()
		}
	}
}

// checkLocked validates a transactional request's producer id and epoch.
func (tc *txnCoordinator) checkLocked(id string, pid int64, epoch int16) (*txnState, int16) {
	st := tc.byID[id]
	switch {
	case st == nil || st.PID != pid:
		return nil, errInvalidProducerIDMapping
	case epoch < st.Epoch:
		return nil, errProducerFenced
	case epoch > st.Epoch:
		return nil, errInvalidProducerEpoch
	}
	return st, 0
}

func (c *conn) initTransactional(ctx context.Context, r *kmsg.InitProducerIDRequest, resp *kmsg.InitProducerIDResponse) {
	id := *r.TransactionalID
	timeout := time.Duration(r.TransactionTimeoutMillis) * time.Millisecond
	if timeout <= 0 || timeout > maxTxnTimeout {
		resp.ErrorCode = errInvalidTxnTimeout
		return
	}
	b := c.b
	b.txns.mu.Lock()
	defer b.txns.mu.Unlock()
	st := b.txns.byID[id]
	if st == nil {
		pid, err := b.allocateProducerID(ctx)
		if err != nil {
			resp.ErrorCode = errCode(err)
			return
		}
		st = &txnState{ID: id, PID: pid}
	} else {
		if r.ProducerID >= 0 && (r.ProducerID != st.PID || r.ProducerEpoch != st.Epoch) {
			resp.ErrorCode = errProducerFenced
			return
		}
		// A new incarnation fences the old one and aborts what it left.
		if st.Ongoing {
			if err := b.endTxnLocked(ctx, st, false); err != nil {
				resp.ErrorCode = errCode(err)
				return
			}
		}
		if st.Epoch >= math.MaxInt16-1 {
			pid, err := b.allocateProducerID(ctx)
			if err != nil {
				resp.ErrorCode = errCode(err)
				return
			}
			delete(b.txns.byPID, st.PID)
			st.PID, st.Epoch = pid, 0
		} else {
			st.Epoch++
		}
	}
	st.TimeoutMs = r.TransactionTimeoutMillis
	if err := b.saveTxn(ctx, st); err != nil {
		resp.ErrorCode = errCode(err)
		return
	}
	b.txns.byID[id] = st
	b.txns.byPID[st.PID] = st
	resp.ProducerID, resp.ProducerEpoch = st.PID, st.Epoch
}

// beginLocked marks a transaction ongoing at its first operation.
func (b *broker) beginLocked(st *txnState) {
	if !st.Ongoing {
		st.Ongoing = true
		st.Started = time.Now().UnixMilli()
		st.Parts, st.Groups, st.Offsets = nil, nil, nil
		b.armTxnTimer(st)
	}
}

func (c *conn) handleAddPartitionsToTxn(ctx context.Context, r *kmsg.AddPartitionsToTxnRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	b := c.b
	b.txns.mu.Lock()
	defer b.txns.mu.Unlock()
	st, code := b.txns.checkLocked(r.TransactionalID, r.ProducerID, r.ProducerEpoch)
	// Unknown partitions fail the request; the others are answered with
	// OPERATION_NOT_ATTEMPTED, as Kafka does.
	bad := false
	for _, rt := range r.Topics {
		tp := b.topic(rt.Topic)
		for _, p := range rt.Partitions {
			if tp == nil || tp.partition(p) == nil {
				bad = true
			}
		}
	}
	var err error
	if code == 0 && !bad {
		b.beginLocked(st)
		for _, rt := range r.Topics {
			for _, p := range rt.Partitions {
				tp := txnPart{rt.Topic, p}
				if !slices.Contains(st.Parts, tp) {
					st.Parts = append(st.Parts, tp)
				}
			}
		}
		err = b.saveTxn(ctx, st)
	}
	for _, rt := range r.Topics {
		rst := kmsg.NewAddPartitionsToTxnResponseTopic()
		rst.Topic = rt.Topic
		tp := b.topic(rt.Topic)
		for _, p := range rt.Partitions {
			rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
			rp.Partition = p
			switch {
			case code != 0:
				rp.ErrorCode = code
			case tp == nil || tp.partition(p) == nil:
				rp.ErrorCode = errUnknownTopic
			case bad:
				rp.ErrorCode = errOperationNotAttempted
			default:
				rp.ErrorCode = errCode(err)
			}
			rst.Partitions = append(rst.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rst)
	}
	return resp
}

func (c *conn) handleAddOffsetsToTxn(ctx context.Context, r *kmsg.AddOffsetsToTxnRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	b := c.b
	b.txns.mu.Lock()
	defer b.txns.mu.Unlock()
	st, code := b.txns.checkLocked(r.TransactionalID, r.ProducerID, r.ProducerEpoch)
	if code != 0 {
		resp.ErrorCode = code
		return resp
	}
	b.beginLocked(st)
	if !slices.Contains(st.Groups, r.Group) {
		st.Groups = append(st.Groups, r.Group)
	}
	resp.ErrorCode = errCode(b.saveTxn(ctx, st))
	return resp
}

func (c *conn) handleTxnOffsetCommit(ctx context.Context, r *kmsg.TxnOffsetCommitRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	b := c.b
	code := int16(0)
	if r.MemberID != "" {
		code = b.groups.commitCheck(r.Group, r.MemberID, r.Generation)
	}
	b.txns.mu.Lock()
	defer b.txns.mu.Unlock()
	st, c2 := b.txns.checkLocked(r.TransactionalID, r.ProducerID, r.ProducerEpoch)
	if code == 0 {
		code = c2
	}
	if code == 0 && (!st.Ongoing || !slices.Contains(st.Groups, r.Group)) {
		code = errInvalidTxnState
	}
	for _, rt := range r.Topics {
		rst := kmsg.NewTxnOffsetCommitResponseTopic()
		rst.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = code
			if code == 0 {
				st.Offsets = append(st.Offsets, txnOffset{r.Group, rt.Topic, rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata})
			}
			rst.Partitions = append(rst.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, rst)
	}
	if code == 0 {
		if err := b.saveTxn(ctx, st); err != nil {
			for i := range resp.Topics {
				for j := range resp.Topics[i].Partitions {
					resp.Topics[i].Partitions[j].ErrorCode = errCode(err)
				}
			}
		}
	}
	return resp
}

func (c *conn) handleEndTxn(ctx context.Context, r *kmsg.EndTxnRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.EndTxnResponse)
	b := c.b
	b.txns.mu.Lock()
	defer b.txns.mu.Unlock()
	st, code := b.txns.checkLocked(r.TransactionalID, r.ProducerID, r.ProducerEpoch)
	if code == 0 && !st.Ongoing {
		code = errInvalidTxnState
	}
	if code != 0 {
		resp.ErrorCode = code
		return resp
	}
	if err := b.endTxnLocked(ctx, st, r.Commit); err != nil {
		resp.ErrorCode, resp.ProducerID, resp.ProducerEpoch = errCode(err), -1, -1
		c.log.Error("kafka end transaction failed", "txn", st.ID, "err", err)
		return resp
	}
	resp.ProducerID, resp.ProducerEpoch = st.PID, st.Epoch
	return resp
}

// endTxnLocked writes the commit or abort markers, applies or drops the
// pending offsets and closes the transaction.
func (b *broker) endTxnLocked(ctx context.Context, st *txnState, commit bool) error {
	var pending []*pendingAppend
	for _, tp := range st.Parts {
		t := b.topic(tp.Topic)
		if t == nil || t.partition(tp.Part) == nil {
			continue // deleted meanwhile
		}
		p := t.partition(tp.Part)
		pending = append(pending, p.enqueue(markerBatch(st.PID, st.Epoch, commit)))
	}
	var errs []error
	for _, pa := range pending {
		<-pa.done
		errs = append(errs, pa.err)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if commit && len(st.Offsets) > 0 {
		err := b.t.Update(ctx, func(tx *storage.Tx) error {
			for _, o := range st.Offsets {
				if _, err := tx.Exec(`INSERT INTO kafka_offsets(grp, topic, part, offset, epoch, metadata) VALUES (?, ?, ?, ?, ?, ?)
					ON CONFLICT(grp, topic, part) DO UPDATE SET offset = excluded.offset, epoch = excluded.epoch,
					metadata = excluded.metadata`, o.Group, o.Topic, o.Part, o.Offset, o.Epoch, o.Meta); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if st.timer != nil {
		st.timer.Stop()
	}
	st.Ongoing = false
	st.Parts, st.Groups, st.Offsets = nil, nil, nil
	return b.saveTxn(ctx, st)
}

// markerBatch builds a control batch ending a transaction.
func markerBatch(pid int64, epoch int16, commit bool) batchInfo {
	now := time.Now().UnixMilli()
	typ := int16(0)
	if commit {
		typ = 1
	}
	key := binary.BigEndian.AppendUint16(nil, 0)
	key = binary.BigEndian.AppendUint16(key, uint16(typ))
	val := binary.BigEndian.AppendUint16(nil, 0)
	val = binary.BigEndian.AppendUint32(val, 0)
	rb := kmsg.RecordBatch{Magic: 2, Attributes: 0x30, ProducerID: pid, ProducerEpoch: epoch,
		FirstSequence: -1, NumRecords: 1, FirstTimestamp: now, MaxTimestamp: now}
	rb.Records = encodeRecord(kmsg.Record{Key: key, Value: val})
	raw := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32cOf(raw[21:]))
	return batchInfo{data: raw, count: 1, records: 1, attributes: 0x30, maxTimestamp: now,
		producerID: pid, producerEpoch: epoch, baseSequence: -1, marker: true, commit: commit}
}

// checkTransactional runs inside an append's write transaction for
// transactional batches and markers: it opens the partition's transaction
// at its first batch, and at the marker closes it and records an aborted
// range.
func (p *partition) checkTransactional(tx *storage.Tx, b batchInfo, base int64) error {
	p.txMu.Lock()
	first, open := p.txOpen[b.producerID]
	p.txMu.Unlock()
	if !b.marker {
		if open {
			return nil
		}
		if _, err := tx.Exec(`INSERT OR REPLACE INTO kafka_txn_open(log, pid, first) VALUES (?, ?, ?)`,
			p.log.Name(), b.producerID, base); err != nil {
			return err
		}
		p.txMu.Lock()
		p.txOpen[b.producerID] = base
		p.txMu.Unlock()
		tx.OnRollback(func() {
			p.txMu.Lock()
			delete(p.txOpen, b.producerID)
			p.txMu.Unlock()
		})
		return nil
	}
	if !open {
		return nil // nothing was written to this partition
	}
	if _, err := tx.Exec(`DELETE FROM kafka_txn_open WHERE log = ? AND pid = ?`, p.log.Name(), b.producerID); err != nil {
		return err
	}
	if !b.commit {
		if _, err := tx.Exec(`INSERT INTO kafka_aborted(log, pid, first, last) VALUES (?, ?, ?, ?)`,
			p.log.Name(), b.producerID, first, base); err != nil {
			return err
		}
	}
	// The stable offset moves only once the marker is durable.
	tx.OnCommit(func() {
		p.txMu.Lock()
		if p.txOpen[b.producerID] == first {
			delete(p.txOpen, b.producerID)
		}
		p.txMu.Unlock()
	})
	return nil
}

// lastStable returns the partition's last stable offset.
func (p *partition) lastStable(next int64) int64 {
	p.txMu.Lock()
	defer p.txMu.Unlock()
	lso := next
	for _, first := range p.txOpen {
		lso = min(lso, first)
	}
	return lso
}

// txnStart returns the first offset of pid's open transaction, or -1.
func (p *partition) txnStart(pid int64) int64 {
	p.txMu.Lock()
	defer p.txMu.Unlock()
	if first, ok := p.txOpen[pid]; ok {
		return first
	}
	return -1
}

// abortedIn lists aborted transactions overlapping [from, to).
func (b *broker) abortedIn(ctx context.Context, p *partition, from, to int64) ([]kmsg.FetchResponseTopicPartitionAbortedTransaction, error) {
	rows, err := b.t.DB().QueryContext(ctx,
		`SELECT pid, first FROM kafka_aborted WHERE log = ? AND last >= ? AND first < ? ORDER BY first`,
		p.log.Name(), from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []kmsg.FetchResponseTopicPartitionAbortedTransaction
	for rows.Next() {
		at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
		if err := rows.Scan(&at.ProducerID, &at.FirstOffset); err != nil {
			return nil, err
		}
		out = append(out, at)
	}
	return out, rows.Err()
}

// txnAllows reports whether a transactional batch may be written: its
// producer's transaction must be open on the partition.
func (b *broker) txnAllows(pid int64, epoch int16, topic string, part int32) int16 {
	b.txns.mu.Lock()
	defer b.txns.mu.Unlock()
	st := b.txns.byPID[pid]
	switch {
	case st == nil:
		return errInvalidProducerIDMapping
	case epoch < st.Epoch:
		return errProducerFenced
	case !st.Ongoing || !slices.Contains(st.Parts, txnPart{topic, part}):
		return errInvalidTxnState
	}
	return 0
}
