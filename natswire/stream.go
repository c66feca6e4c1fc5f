package natswire

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"rewire/storage"
)

func init() {
	storage.RegisterSchema("natswire", `
CREATE TABLE IF NOT EXISTS natswire_msgs (
	stream  TEXT NOT NULL,
	seq     INTEGER NOT NULL,
	subject TEXT NOT NULL,
	size    INTEGER NOT NULL,
	ts      INTEGER NOT NULL,
	PRIMARY KEY (stream, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS natswire_msgs_subject ON natswire_msgs(stream, subject, seq);
CREATE TABLE IF NOT EXISTS natswire_dedup (
	stream TEXT NOT NULL,
	id     TEXT NOT NULL,
	seq    INTEGER NOT NULL,
	ts     INTEGER NOT NULL,
	PRIMARY KEY (stream, id)
) WITHOUT ROWID;
`)
}

// logPrefix names the core logs that hold streams.
const logPrefix = "nats/stream/"

// Keys of a stream's settings in storage.LogConfig.Extra.
const (
	extraConfig  = "jetstream.config"
	extraCreated = "jetstream.created"
)

// msgSize is the size nats-server's file store accounts for a message.
func msgSize(subj string, hdr, data []byte) uint64 {
	// record length, sequence, time, subject length and hash: 30 bytes.
	n := uint64(30 + len(subj) + len(hdr) + len(data))
	if len(hdr) > 0 {
		n += 4
	}
	return n
}

type dedupEntry struct {
	seq uint64
	at  time.Time
}

// streamState mirrors the live rows of the subject index.
type streamState struct {
	msgs, bytes         uint64
	first, last         uint64
	firstTime, lastTime time.Time
}

// stream is one JetStream stream backed by a core log.
type stream struct {
	h    *host
	name string
	log  *storage.Log

	wmu sync.Mutex // serialises writes: ingest batches, deletes, purges

	mu        sync.Mutex // guards the fields below
	cfg       server.StreamConfig
	created   time.Time
	st        streamState
	sids      []uint64
	dedup     map[string]dedupEntry
	lastMsgID string
	consumers map[string]*consumer
	cache     map[uint64][]storedMsg // decoded batches by first sequence
	hot       []storedMsg            // the batch read last
	deleted   bool

	// subjCounts caches per-subject counts (plus one) within one ingest
	// batch; only the ingest goroutine uses it.
	subjCounts map[string]int64

	qmu  sync.Mutex // guards q
	q    []*imsg
	kick chan struct{}
	quit chan struct{}
	done chan struct{}
}

// createStream makes the log and starts the stream.
func (h *host) createStream(ctx context.Context, cfg server.StreamConfig) (*stream, error) {
	created := time.Now().UTC()
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("stream %s config: %w", cfg.Name, err)
	}
	lcfg := storage.LogConfig{Extra: map[string]string{
		extraConfig:  string(raw),
		extraCreated: created.Format(time.RFC3339Nano),
	}}
	l, err := h.t.Logs().Create(ctx, logPrefix+cfg.Name, lcfg)
	if err != nil {
		return nil, err
	}
	st, err := h.openStream(ctx, l)
	if err != nil {
		// Leave no log behind that a later start could not open.
		if derr := h.t.Logs().Delete(ctx, l.Name()); derr != nil {
			h.log.Error("drop stream log after failed create", "stream", cfg.Name, "err", derr)
		}
		return nil, err
	}
	return st, nil
}

// openStream loads a stream from its log and starts capturing.
func (h *host) openStream(ctx context.Context, l *storage.Log) (*stream, error) {
	lcfg := l.Config()
	s := &stream{
		h:         h,
		name:      strings.TrimPrefix(l.Name(), logPrefix),
		log:       l,
		dedup:     make(map[string]dedupEntry),
		consumers: make(map[string]*consumer),
		cache:     make(map[uint64][]storedMsg),
		kick:      make(chan struct{}, 1),
		quit:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	if err := json.Unmarshal([]byte(lcfg.Extra[extraConfig]), &s.cfg); err != nil {
		return nil, fmt.Errorf("stream %s config: %w", s.name, err)
	}
	s.created, _ = time.Parse(time.RFC3339Nano, lcfg.Extra[extraCreated])
	if err := s.loadState(ctx); err != nil {
		return nil, err
	}
	if err := s.loadMsgIDs(ctx); err != nil {
		return nil, fmt.Errorf("stream %s duplicate window: %w", s.name, err)
	}
	if err := s.subscribe(); err != nil {
		return nil, err
	}
	go s.ingestLoop()
	return s, nil
}

func (s *stream) loadState(ctx context.Context) error {
	_, next := s.log.Offsets()
	var first, firstTS, lastTS sql.NullInt64
	var st streamState
	err := s.h.t.DB().QueryRowContext(ctx,
		`SELECT COUNT(*), COALESCE(SUM(size), 0), MIN(seq), MIN(ts), MAX(ts) FROM natswire_msgs WHERE stream = ?`,
		s.name).Scan(&st.msgs, &st.bytes, &first, &firstTS, &lastTS)
	if err != nil {
		return fmt.Errorf("stream %s state: %w", s.name, err)
	}
	st.last = uint64(next)
	st.first = st.last + 1
	if first.Valid {
		st.first = uint64(first.Int64)
		st.firstTime = time.Unix(0, firstTS.Int64).UTC()
	}
	if st.last > 0 {
		var ts sql.NullInt64
		s.h.t.DB().QueryRowContext(ctx, `SELECT ts FROM natswire_msgs WHERE stream = ? AND seq = ?`,
			s.name, st.last).Scan(&ts)
		if ts.Valid {
			st.lastTime = time.Unix(0, ts.Int64).UTC()
		}
	}
	s.st = st
	return nil
}

// subscribe captures the stream's subjects in the tenant's account.
func (s *stream) subscribe() error {
	s.mu.Lock()
	subjects := s.cfg.Subjects
	old := s.sids
	s.sids = nil
	s.mu.Unlock()
	for _, sid := range old {
		s.h.ic.Unsubscribe(sid)
	}
	var sids []uint64
	for _, subj := range subjects {
		sid, err := s.h.ic.Subscribe(subj, "", s.enqueue)
		if err != nil {
			return err
		}
		sids = append(sids, sid)
	}
	s.mu.Lock()
	s.sids = sids
	s.mu.Unlock()
	return s.h.ic.Flush(5 * time.Second)
}

// enqueue runs on the internal client's read loop.
func (s *stream) enqueue(m *imsg) {
	s.qmu.Lock()
	s.q = append(s.q, m)
	s.qmu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// stop ends capturing and the ingest loop.
func (s *stream) stop() {
	s.mu.Lock()
	sids := s.sids
	s.sids = nil
	s.mu.Unlock()
	for _, sid := range sids {
		s.h.ic.Unsubscribe(sid)
	}
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
	<-s.done
}

// maxIngestBatch bounds how many messages share one durable append.
const maxIngestBatch = 4096

func (s *stream) ingestLoop() {
	defer close(s.done)
	// The expiry timer fires at the oldest message's max_age deadline,
	// and at least every second to forget old dedup ids.
	due := time.Now().Add(time.Second)
	exp := time.NewTimer(time.Second)
	defer exp.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-exp.C:
			due = s.expire()
			exp.Reset(time.Until(due))
			continue
		case <-s.kick:
		}
		// Messages about to be stored expire max_age from now.
		s.mu.Lock()
		maxAge := s.cfg.MaxAge
		s.mu.Unlock()
		if maxAge > 0 && time.Now().Add(maxAge).Before(due) {
			due = time.Now().Add(maxAge)
			exp.Reset(maxAge)
		}
		for {
			s.qmu.Lock()
			n := min(len(s.q), maxIngestBatch)
			batch := s.q[:n:n]
			s.q = s.q[n:]
			if len(s.q) == 0 {
				s.q = nil
			}
			s.qmu.Unlock()
			if n == 0 {
				break
			}
			s.storeBatch(batch)
		}
	}
}

// pending is one accepted message waiting for its durable append.
type pending struct {
	m      *imsg
	subj   string
	size   uint64
	ts     int64
	msgID  string
	rollup string
}

// ackResult is how a publish is answered.
type ackResult struct {
	m   *imsg
	seq uint64
	dup bool
	err *server.ApiError
}

func (s *stream) storeBatch(batch []*imsg) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	defer func() {
		if p := recover(); p != nil {
			s.h.log.Error("stream ingest panicked", "stream", s.name, "panic", p)
		}
	}()
	ctx := context.Background()

	s.mu.Lock()
	cfg := s.cfg
	st := s.st
	lastMsgID := s.lastMsgID
	s.mu.Unlock()

	now := time.Now()
	var acc []pending
	results := make([]ackResult, 0, len(batch))
	subjLast := map[string]uint64{}
	batchIDs := map[string]uint64{}
	s.subjCounts = map[string]int64{}
	next := st.last + 1
	count, bytes := st.msgs, st.bytes
	for _, m := range batch {
		r := ackResult{m: m}
		p := pending{m: m, subj: m.Subject, size: msgSize(m.Subject, m.Hdr, m.Data), ts: now.UnixNano()}
		r.err = s.checkMsg(ctx, &cfg, &p, next, lastMsgID, subjLast, batchIDs, now, count, bytes)
		if r.err == nil && p.msgID != "" {
			if seq, ok := batchIDs[p.msgID]; ok {
				r.seq, r.dup = seq, true
			} else if e, ok := s.dedupLookup(p.msgID, now, cfg.Duplicates); ok {
				r.seq, r.dup = e, true
			}
		}
		if r.err == nil && !r.dup {
			r.seq = next
			next++
			count++
			bytes += p.size
			subjLast[p.subj] = r.seq
			if s.subjCounts[p.subj] > 0 {
				s.subjCounts[p.subj]++
			}
			if p.msgID != "" {
				batchIDs[p.msgID] = r.seq
			}
			// A message without an id clears the last one, as in
			// nats-server.
			lastMsgID = p.msgID
			acc = append(acc, p)
		}
		results = append(results, r)
	}

	if len(acc) > 0 {
		if err := s.append(ctx, cfg, acc, st.last+1); err != nil {
			s.h.log.Error("stream append", "stream", s.name, "err", err)
			for i := range results {
				if !results[i].dup && results[i].err == nil {
					results[i].err = server.NewJSStreamStoreFailedError(err)
				}
			}
		} else {
			s.mu.Lock()
			for _, r := range results {
				if r.err == nil && !r.dup {
					if id := getHeader(r.m.Hdr, hdrMsgID); id != "" {
						s.dedup[id] = dedupEntry{seq: r.seq, at: now}
					}
				}
			}
			s.lastMsgID = lastMsgID
			s.mu.Unlock()
			if cfg.Retention == server.InterestPolicy {
				s.dropUninteresting(ctx, acc, st.last+1)
			}
		}
	}
	if cfg.NoAck {
		return
	}
	nameJSON, _ := json.Marshal(s.name)
	var buf []byte
	for _, r := range results {
		if r.m.Reply == "" {
			continue
		}
		if r.err == nil {
			// The common answer, encoded as encoding/json would.
			buf = append(buf[:0], `{"stream":`...)
			buf = append(buf, nameJSON...)
			buf = append(buf, `,"seq":`...)
			buf = strconv.AppendUint(buf, r.seq, 10)
			if r.dup {
				buf = append(buf, `,"duplicate":true`...)
			}
			buf = append(buf, '}')
			s.h.ic.Publish(r.m.Reply, "", nil, buf)
			continue
		}
		var resp server.JSPubAckResponse
		if r.err != nil {
			resp.Error = r.err
			resp.PubAck = &server.PubAck{Stream: s.name}
		} else {
			resp.PubAck = &server.PubAck{Stream: s.name, Sequence: r.seq, Duplicate: r.dup}
		}
		b, _ := json.Marshal(&resp)
		s.h.ic.Publish(r.m.Reply, "", nil, b)
	}
	s.h.ic.FlushNow()
}

func (s *stream) dedupLookup(id string, now time.Time, window time.Duration) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.dedup[id]
	if !ok {
		return 0, false
	}
	if window <= 0 {
		window = 2 * time.Minute
	}
	if now.Sub(e.at) > window {
		delete(s.dedup, id)
		return 0, false
	}
	return e.seq, true
}

// dropUninteresting removes just-stored messages of an interest stream
// that no consumer's filter matches, as nats-server does not keep them.
// The caller holds wmu.
func (s *stream) dropUninteresting(ctx context.Context, acc []pending, firstSeq uint64) {
	s.mu.Lock()
	var filters [][]string
	for _, c := range s.consumers {
		c.mu.Lock()
		filters = append(filters, c.filters)
		c.mu.Unlock()
	}
	s.mu.Unlock()
	var drop []uint64
	for i, p := range acc {
		wanted := false
		for _, f := range filters {
			if matchesAny(f, p.subj) {
				wanted = true
				break
			}
		}
		if !wanted {
			drop = append(drop, firstSeq+uint64(i))
		}
	}
	if len(drop) == 0 {
		return
	}
	_, err := s.removeWhere(ctx, func(tx *storage.Tx, rm *removed) error {
		for _, seq := range drop {
			if err := deleteReturning(tx, rm, `DELETE FROM natswire_msgs WHERE stream = ? AND seq = ? RETURNING size`,
				s.name, seq); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.h.log.Warn("interest retention", "stream", s.name, "err", err)
	}
}

// dropUnwanted removes every message that no consumer still has to
// deliver or see acknowledged, as an interest stream does when it gains
// that retention or loses a consumer. The caller holds wmu.
func (s *stream) dropUnwanted(ctx context.Context) error {
	s.mu.Lock()
	cs := make([]*consumer, 0, len(s.consumers))
	for _, c := range s.consumers {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	rows, err := s.h.t.DB().QueryContext(ctx, `SELECT seq, subject FROM natswire_msgs WHERE stream = ? ORDER BY seq`, s.name)
	if err != nil {
		return err
	}
	var drop []uint64
	for rows.Next() {
		var seq uint64
		var subj string
		if err := rows.Scan(&seq, &subj); err != nil {
			rows.Close()
			return err
		}
		needed := false
		for _, c := range cs {
			if c.needs(seq, subj) {
				needed = true
				break
			}
		}
		if !needed {
			drop = append(drop, seq)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(drop) == 0 {
		return nil
	}
	_, err = s.removeWhere(ctx, func(tx *storage.Tx, rm *removed) error {
		for _, seq := range drop {
			if err := deleteReturning(tx, rm, `DELETE FROM natswire_msgs WHERE stream = ? AND seq = ? RETURNING size`,
				s.name, seq); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		s.notifyConsumers()
	}
	return err
}

// checkMsg applies the stream's publish rules to one message.
func (s *stream) checkMsg(ctx context.Context, cfg *server.StreamConfig, p *pending, next uint64,
	lastMsgID string, subjLast map[string]uint64, batchIDs map[string]uint64, now time.Time,
	count, bytes uint64) *server.ApiError {
	m := p.m
	if cfg.Sealed {
		return server.NewJSStreamSealedError()
	}
	if max := int64(s.h.s.cfg.MaxPayload); cfg.MaxMsgSize > 0 && int64(len(m.Hdr)+len(m.Data)) > int64(cfg.MaxMsgSize) ||
		int64(len(m.Hdr)+len(m.Data)) > max {
		return server.NewJSStreamMessageExceedsMaximumError()
	}
	if len(m.Hdr) == 0 {
		return s.checkLimits(cfg, p, count, bytes)
	}
	if v := getHeader(m.Hdr, hdrExpStream); v != "" && v != s.name {
		return server.NewJSStreamNotMatchError()
	}
	// Features a stream must enable (rewire enables none of them yet).
	switch {
	case getHeader(m.Hdr, hdrTTL) != "" && !cfg.AllowMsgTTL:
		return server.NewJSMessageTTLDisabledError()
	case getHeader(m.Hdr, hdrIncr) != "" && !cfg.AllowMsgCounter:
		return server.NewJSMessageIncrDisabledError()
	case getHeader(m.Hdr, hdrBatchID) != "" && !cfg.AllowAtomicPublish:
		return server.NewJSAtomicPublishDisabledError()
	case getHeader(m.Hdr, hdrSchedule) != "" && !cfg.AllowMsgSchedules:
		return server.NewJSMessageSchedulesDisabledError()
	}
	p.msgID = getHeader(m.Hdr, hdrMsgID)
	if v := getHeader(m.Hdr, hdrExpLastSeq); v != "" {
		want, err := strconv.ParseUint(v, 10, 64)
		if err != nil || want != next-1 {
			return server.NewJSStreamWrongLastSequenceError(next - 1)
		}
	}
	if v := getHeader(m.Hdr, hdrExpLastMsgID); v != "" && v != lastMsgID {
		return server.NewJSStreamWrongLastMsgIDError(lastMsgID)
	}
	if v := getHeader(m.Hdr, hdrExpLastSubjSeq); v != "" {
		want, err := strconv.ParseUint(v, 10, 64)
		// The check may name another subject, or a wildcard.
		subj := p.subj
		if other := getHeader(m.Hdr, hdrExpLastSubjSubj); other != "" {
			subj = other
		}
		last := s.lastMatching(ctx, subj, subjLast)
		if err != nil || want != last {
			return server.NewJSStreamWrongLastSequenceError(last)
		}
	}
	if v := getHeader(m.Hdr, hdrRollup); v != "" {
		if !cfg.AllowRollup || cfg.DenyPurge {
			return server.NewJSStreamRollupFailedError(errors.New("rollup not permitted"))
		}
		switch strings.ToLower(v) {
		case "sub", "all":
			p.rollup = strings.ToLower(v)
		default:
			return server.NewJSStreamRollupFailedError(fmt.Errorf("rollup value invalid: %q", v))
		}
	}
	return s.checkLimits(cfg, p, count, bytes)
}

// lastMatching returns the newest sequence stored on a subject matching
// filter, counting messages of the batch being stored (subjLast).
func (s *stream) lastMatching(ctx context.Context, filter string, subjLast map[string]uint64) uint64 {
	if literal(filter) {
		if last, ok := subjLast[filter]; ok {
			return last
		}
		return s.lastForSubject(ctx, filter)
	}
	last, _ := s.scanLast(ctx, []string{filter})
	for subj, seq := range subjLast {
		if seq > last && subjectMatches(filter, subj) {
			last = seq
		}
	}
	return last
}

// checkLimits refuses a message when the stream discards new ones.
func (s *stream) checkLimits(cfg *server.StreamConfig, p *pending, count, bytes uint64) *server.ApiError {
	if cfg.Discard != server.DiscardNew {
		return nil
	}
	if cfg.MaxMsgs > 0 && count+1 > uint64(cfg.MaxMsgs) {
		return server.NewJSStreamStoreFailedError(errors.New("maximum messages exceeded"))
	}
	if cfg.MaxBytes > 0 && bytes+p.size > uint64(cfg.MaxBytes) {
		return server.NewJSStreamStoreFailedError(errors.New("maximum bytes exceeded"))
	}
	if cfg.DiscardNewPer && cfg.MaxMsgsPer > 0 {
		n := s.subjCounts[p.subj]
		if n == 0 {
			s.h.t.DB().QueryRowContext(s.h.ctx, `SELECT COUNT(*) FROM natswire_msgs WHERE stream = ? AND subject = ?`,
				s.name, p.subj).Scan(&n)
			n++ // stored as n+1 so that 0 means unknown
			s.subjCounts[p.subj] = n
		}
		if n-1 >= cfg.MaxMsgsPer {
			return server.NewJSStreamStoreFailedError(errors.New("maximum messages per subject exceeded"))
		}
	}
	return nil
}

// lastForSubject returns the newest live sequence of a literal subject, or 0.
func (s *stream) lastForSubject(ctx context.Context, subj string) uint64 {
	var seq sql.NullInt64
	s.h.t.DB().QueryRowContext(ctx,
		`SELECT MAX(seq) FROM natswire_msgs WHERE stream = ? AND subject = ?`, s.name, subj).Scan(&seq)
	return uint64(seq.Int64)
}

// removed collects index rows deleted inside a write.
type removed struct {
	msgs, bytes uint64
}

// append stores accepted messages durably and applies the stream's limits
// inside the same core transaction.
func (s *stream) append(ctx context.Context, cfg server.StreamConfig, acc []pending, firstSeq uint64) error {
	var data []byte
	var maxTS int64
	for _, p := range acc {
		data = appendMsgRecord(data, p.ts, p.subj, p.m.Hdr, p.m.Data)
		maxTS = max(maxTS, p.ts)
	}
	var rm removed
	var addBytes uint64
	// Without rollups or per-subject limits the index rows go in with
	// multi-row inserts.
	bulk := cfg.MaxMsgsPer <= 0
	for _, p := range acc {
		addBytes += p.size
		if p.rollup != "" {
			bulk = false
		}
	}
	_, err := s.log.Append(ctx, storage.AppendBatch{
		Data:         data,
		Count:        int64(len(acc)),
		MaxTimestamp: maxTS / 1e6,
		Check: func(tx *storage.Tx, base int64) error {
			if uint64(base)+1 != firstSeq {
				return fmt.Errorf("%w: stream %s at %d, expected %d", storage.ErrCorrupt, s.name, base+1, firstSeq)
			}
			rm = removed{}
			if err := saveMsgIDs(tx, s.name, acc, firstSeq); err != nil {
				return err
			}
			if bulk {
				if err := bulkInsert(tx, s.name, acc, firstSeq); err != nil {
					return err
				}
				return s.enforceLimits(tx, cfg, &rm, uint64(len(acc)), addBytes)
			}
			ins, err := tx.Prepare(`INSERT INTO natswire_msgs(stream, seq, subject, size, ts) VALUES (?, ?, ?, ?, ?)`)
			if err != nil {
				return err
			}
			defer ins.Close()
			for i, p := range acc {
				seq := firstSeq + uint64(i)
				if p.rollup != "" {
					q := `DELETE FROM natswire_msgs WHERE stream = ? AND seq < ? AND subject = ? RETURNING size`
					args := []any{s.name, seq, p.subj}
					if p.rollup == "all" {
						q = `DELETE FROM natswire_msgs WHERE stream = ? AND seq < ? RETURNING size`
						args = args[:2]
					}
					if err := deleteReturning(tx, &rm, q, args...); err != nil {
						return err
					}
				}
				if _, err := ins.Exec(s.name, seq, p.subj, p.size, p.ts); err != nil {
					return err
				}
				if cfg.MaxMsgsPer > 0 {
					if err := deleteReturning(tx, &rm,
						`DELETE FROM natswire_msgs WHERE stream = ? AND subject = ? AND seq IN (
						  SELECT seq FROM natswire_msgs WHERE stream = ? AND subject = ? ORDER BY seq DESC LIMIT -1 OFFSET ?)
						 RETURNING size`, s.name, p.subj, s.name, p.subj, cfg.MaxMsgsPer); err != nil {
						return err
					}
				}
			}
			return s.enforceLimits(tx, cfg, &rm, uint64(len(acc)), addBytes)
		},
	})
	if err != nil {
		return err
	}
	last := acc[len(acc)-1]
	s.mu.Lock()
	s.st.msgs += uint64(len(acc))
	s.st.bytes += addBytes
	s.st.last = firstSeq + uint64(len(acc)) - 1
	s.st.lastTime = time.Unix(0, last.ts).UTC()
	s.applyRemovedLocked(rm)
	// Without removals the first message only changes if the stream was
	// empty, and then it is the first one just written.
	if rm.msgs == 0 {
		if s.st.msgs == uint64(len(acc)) {
			s.st.first = firstSeq
			s.st.firstTime = time.Unix(0, acc[0].ts).UTC()
		}
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	return s.refreshFirst(ctx)
}

// saveMsgIDs records the Nats-Msg-Id of the messages in acc, in the
// transaction that stores them, so the duplicate window survives a
// restart.
func saveMsgIDs(tx *storage.Tx, stream string, acc []pending, firstSeq uint64) error {
	for i, p := range acc {
		if p.msgID == "" {
			continue
		}
		if _, err := tx.Exec(`INSERT OR REPLACE INTO natswire_dedup(stream, id, seq, ts) VALUES (?, ?, ?, ?)`,
			stream, p.msgID, firstSeq+uint64(i), p.ts); err != nil {
			return err
		}
	}
	return nil
}

// loadMsgIDs fills the duplicate window from the ids stored within it.
func (s *stream) loadMsgIDs(ctx context.Context) error {
	window := s.cfg.Duplicates
	if window <= 0 {
		window = server.StreamDefaultDuplicatesWindow
	}
	rows, err := s.h.t.DB().QueryContext(ctx, `SELECT id, seq, ts FROM natswire_dedup WHERE stream = ? AND ts >= ?`,
		s.name, time.Now().Add(-window).UnixNano())
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var seq uint64
		var ts int64
		if err := rows.Scan(&id, &seq, &ts); err != nil {
			return err
		}
		s.dedup[id] = dedupEntry{seq: seq, at: time.Unix(0, ts)}
	}
	return rows.Err()
}

// bulkRows is how many index rows one INSERT statement carries.
const bulkRows = 100

var bulkSQL = func() string {
	var b strings.Builder
	b.WriteString(`INSERT INTO natswire_msgs(stream, seq, subject, size, ts) VALUES `)
	for i := 0; i < bulkRows; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?, ?, ?, ?, ?)")
	}
	return b.String()
}()

// bulkInsert writes the index rows of acc, bulkRows per statement.
func bulkInsert(tx *storage.Tx, stream string, acc []pending, firstSeq uint64) error {
	i := 0
	if len(acc) >= bulkRows {
		stmt, err := tx.Prepare(bulkSQL)
		if err != nil {
			return err
		}
		defer stmt.Close()
		args := make([]any, 0, bulkRows*5)
		for ; i+bulkRows <= len(acc); i += bulkRows {
			args = args[:0]
			for j, p := range acc[i : i+bulkRows] {
				args = append(args, stream, firstSeq+uint64(i+j), p.subj, p.size, p.ts)
			}
			if _, err := stmt.Exec(args...); err != nil {
				return err
			}
		}
	}
	if i == len(acc) {
		return nil
	}
	ins, err := tx.Prepare(`INSERT INTO natswire_msgs(stream, seq, subject, size, ts) VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer ins.Close()
	for ; i < len(acc); i++ {
		p := acc[i]
		if _, err := ins.Exec(stream, firstSeq+uint64(i), p.subj, p.size, p.ts); err != nil {
			return err
		}
	}
	return nil
}

func deleteReturning(tx *storage.Tx, rm *removed, q string, args ...any) error {
	rows, err := tx.Query(q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var size uint64
		if err := rows.Scan(&size); err != nil {
			return err
		}
		rm.msgs++
		rm.bytes += size
	}
	return rows.Err()
}

// enforceLimits drops the oldest messages past max_msgs, max_bytes and
// max_age (discard old). adding is what the current write adds.
func (s *stream) enforceLimits(tx *storage.Tx, cfg server.StreamConfig, rm *removed, addMsgs, addBytes uint64) error {
	s.mu.Lock()
	msgs := s.st.msgs + addMsgs - rm.msgs
	bytes := s.st.bytes + addBytes - rm.bytes
	s.mu.Unlock()
	if cfg.MaxAge > 0 {
		cutoff := time.Now().Add(-cfg.MaxAge).UnixNano()
		var r removed
		if err := deleteReturning(tx, &r, `DELETE FROM natswire_msgs WHERE stream = ? AND ts < ? RETURNING size`,
			s.name, cutoff); err != nil {
			return err
		}
		rm.msgs += r.msgs
		rm.bytes += r.bytes
		msgs -= r.msgs
		bytes -= r.bytes
	}
	if cfg.MaxMsgs > 0 && msgs > uint64(cfg.MaxMsgs) {
		var r removed
		if err := deleteReturning(tx, &r, `DELETE FROM natswire_msgs WHERE stream = ? AND seq IN (
			SELECT seq FROM natswire_msgs WHERE stream = ? ORDER BY seq LIMIT ?) RETURNING size`,
			s.name, s.name, msgs-uint64(cfg.MaxMsgs)); err != nil {
			return err
		}
		rm.msgs += r.msgs
		rm.bytes += r.bytes
		bytes -= r.bytes
	}
	for cfg.MaxBytes > 0 && bytes > uint64(cfg.MaxBytes) {
		var r removed
		if err := deleteReturning(tx, &r, `DELETE FROM natswire_msgs WHERE stream = ? AND seq IN (
			SELECT seq FROM natswire_msgs WHERE stream = ? ORDER BY seq LIMIT 1) RETURNING size`,
			s.name, s.name); err != nil {
			return err
		}
		if r.msgs == 0 {
			break
		}
		rm.msgs += r.msgs
		rm.bytes += r.bytes
		bytes -= r.bytes
	}
	return nil
}

func (s *stream) applyRemovedLocked(rm removed) {
	s.st.msgs -= min(rm.msgs, s.st.msgs)
	s.st.bytes -= min(rm.bytes, s.st.bytes)
}

// refreshFirst reloads the first live sequence after removals and drops
// log batches that hold no live message.
func (s *stream) refreshFirst(ctx context.Context) error {
	var first, ts sql.NullInt64
	err := s.h.t.DB().QueryRowContext(ctx,
		`SELECT seq, ts FROM natswire_msgs WHERE stream = ? ORDER BY seq LIMIT 1`, s.name).Scan(&first, &ts)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	s.mu.Lock()
	if first.Valid {
		s.st.first = uint64(first.Int64)
		s.st.firstTime = time.Unix(0, ts.Int64).UTC()
	} else {
		s.st.first = s.st.last + 1
		s.st.firstTime = time.Time{}
	}
	firstSeq := s.st.first
	s.mu.Unlock()
	start, _ := s.log.Offsets()
	if int64(firstSeq)-1 > start+1024 || !first.Valid && int64(firstSeq)-1 > start {
		return s.log.TruncateBefore(ctx, int64(firstSeq)-1)
	}
	return nil
}

// expire applies max_age without new writes and forgets old dedup ids.
// It returns when it should run next.
func (s *stream) expire() time.Time {
	s.mu.Lock()
	cfg := s.cfg
	window := cfg.Duplicates
	if window <= 0 {
		window = 2 * time.Minute
	}
	forgot := false
	for id, e := range s.dedup {
		if time.Since(e.at) > window {
			delete(s.dedup, id)
			forgot = true
		}
	}
	s.mu.Unlock()
	if forgot {
		cutoff := time.Now().Add(-window).UnixNano()
		if err := s.h.t.Update(context.Background(), func(tx *storage.Tx) error {
			_, err := tx.Exec(`DELETE FROM natswire_dedup WHERE stream = ? AND ts < ?`, s.name, cutoff)
			return err
		}); err != nil {
			s.h.log.Warn("duplicate window", "stream", s.name, "err", err)
		}
	}
	next := time.Now().Add(time.Second)
	if cfg.MaxAge <= 0 {
		return next
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	ctx := context.Background()
	if rm, err := s.removeWhere(ctx, func(tx *storage.Tx, rm *removed) error {
		return deleteReturning(tx, rm, `DELETE FROM natswire_msgs WHERE stream = ? AND ts <= ? RETURNING size`,
			s.name, time.Now().Add(-cfg.MaxAge).UnixNano())
	}); err != nil {
		s.h.log.Warn("stream expiry", "stream", s.name, "err", err)
	} else if rm.msgs > 0 {
		s.notifyConsumers()
	}
	// The oldest live message (the first sequence, give or take clock
	// steps) sets the next deadline.
	var ts int64
	err := s.h.t.DB().QueryRowContext(ctx,
		`SELECT ts FROM natswire_msgs WHERE stream = ? ORDER BY seq LIMIT 1`, s.name).Scan(&ts)
	if err == nil {
		if at := time.Unix(0, ts).Add(cfg.MaxAge); at.Before(next) {
			next = at
		}
	}
	return next
}

// removeWhere runs a deleting write on the index and updates the state.
// The caller holds wmu.
func (s *stream) removeWhere(ctx context.Context, fn func(tx *storage.Tx, rm *removed) error) (removed, error) {
	var rm removed
	err := s.h.t.Update(ctx, func(tx *storage.Tx) error {
		rm = removed{}
		return fn(tx, &rm)
	})
	if err != nil {
		return rm, err
	}
	if rm.msgs == 0 {
		return rm, nil
	}
	s.mu.Lock()
	s.applyRemovedLocked(rm)
	s.mu.Unlock()
	return rm, s.refreshFirst(ctx)
}

// info returns the stream's info as nats-server reports it.
func (s *stream) info() *server.StreamInfo {
	var subjects int
	s.h.t.DB().QueryRowContext(s.h.ctx, `SELECT COUNT(DISTINCT subject) FROM natswire_msgs WHERE stream = ?`,
		s.name).Scan(&subjects)
	s.mu.Lock()
	defer s.mu.Unlock()
	st := server.StreamState{
		Msgs:      s.st.msgs,
		Bytes:     s.st.bytes,
		FirstSeq:  s.st.first,
		FirstTime: s.st.firstTime,
		LastSeq:   s.st.last,
		LastTime:  s.st.lastTime,
		Consumers: len(s.consumers),
	}
	st.NumSubjects = subjects
	if s.st.msgs == 0 {
		st.FirstTime = time.Time{}
	}
	if s.st.last == 0 {
		st.FirstSeq = 0
	}
	if span := s.st.last - s.st.first + 1; s.st.last >= s.st.first && span > s.st.msgs {
		st.NumDeleted = int(span - s.st.msgs)
	}
	cfg := s.cfg
	cfg.Metadata = answerMetadata(cfg.Metadata)
	return &server.StreamInfo{
		Config:  cfg,
		Created: s.created,
		State:   st,
		// A single node leads every stream, as nats-server reports
		// outside a cluster.
		Cluster:   &server.ClusterInfo{Leader: s.h.s.ns.Name()},
		TimeStamp: time.Now().UTC(),
	}
}

// loadMsg returns the live message with sequence seq.
func (s *stream) loadMsg(ctx context.Context, seq uint64) (*storedMsg, error) {
	var subj string
	err := s.h.t.DB().QueryRowContext(ctx,
		`SELECT subject FROM natswire_msgs WHERE stream = ? AND seq = ?`, s.name, seq).Scan(&subj)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, storage.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return s.readMsg(ctx, seq)
}

// readMsg reads a message from the log without checking that it is live.
func (s *stream) readMsg(ctx context.Context, seq uint64) (*storedMsg, error) {
	s.mu.Lock()
	if h := s.hot; len(h) > 0 && seq >= h[0].seq && seq < h[0].seq+uint64(len(h)) {
		m := h[seq-h[0].seq]
		s.mu.Unlock()
		return &m, nil
	}
	for base, msgs := range s.cache {
		if seq >= base && seq < base+uint64(len(msgs)) {
			m := msgs[seq-base]
			s.hot = msgs
			s.mu.Unlock()
			return &m, nil
		}
	}
	s.mu.Unlock()
	batches, err := s.log.Read(ctx, int64(seq-1), 256<<10)
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", s.name, err)
	}
	var found *storedMsg
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cache) > 256 {
		clear(s.cache)
	}
	for _, b := range batches {
		msgs, err := decodeMsgRecords(b.Data, uint64(b.Base)+1, int(b.Last-b.Base+1))
		if err != nil {
			return nil, fmt.Errorf("stream %s batch %d: %w", s.name, b.Base, err)
		}
		s.cache[uint64(b.Base)+1] = msgs
		if seq >= uint64(b.Base)+1 && seq <= uint64(b.Last)+1 {
			m := msgs[seq-uint64(b.Base)-1]
			found = &m
			s.hot = msgs
		}
	}
	if found == nil {
		return nil, storage.ErrNotFound
	}
	return found, nil
}
