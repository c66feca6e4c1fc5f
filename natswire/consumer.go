package natswire

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"rewire/storage"
)

// consumerNS is the core kv namespace holding consumer records, keyed by
// "<stream>\x00<consumer>".
const consumerNS = "natswire.consumer"

// consumerRecord is a consumer's persisted configuration and position.
type consumerRecord struct {
	Config  server.ConsumerConfig `json:"config"`
	Created time.Time             `json:"created"`
	SSeq    uint64                `json:"sseq"`   // next stream sequence to consider
	DSeq    uint64                `json:"dseq"`   // last consumer sequence delivered
	LastS   uint64                `json:"last_s"` // last stream sequence delivered
	AckS    uint64                `json:"ack_s"`
	AckC    uint64                `json:"ack_c"`
	Pending map[uint64]savedAck   `json:"pending,omitempty"`
	LPS     []uint64              `json:"lps,omitempty"`     // last-per-subject sequences still to deliver
	LastAt  time.Time             `json:"last_at,omitzero"`  // last delivery
	LastAck time.Time             `json:"last_ack,omitzero"` // last acknowledgement
}

type savedAck struct {
	CSeq uint64 `json:"c"`
	DC   uint64 `json:"dc"`
}

type pendingAck struct {
	cseq     uint64
	dc       uint64
	deadline time.Time
	queued   bool // waiting in the redelivery queue
}

type pullReq struct {
	reply     string
	batch     int
	maxBytes  int       // byte budget left, when byteLimit
	byteLimit bool      // the request set max_bytes
	expires   time.Time // zero: no expiry
	noWait    bool
	hb        time.Duration
	lastSent  time.Time
	delivered int
}

type aheadMsg struct {
	seq  uint64
	subj string
}

// consumer delivers a stream's messages to a pull or push client. One
// goroutine per consumer owns delivery; acks and requests change state
// under mu and kick it.
type consumer struct {
	s    *stream
	name string

	mu       sync.Mutex // guards the fields below
	cfg      server.ConsumerConfig
	filters  []string
	created  time.Time
	sseq     uint64
	dseq     uint64
	lastS    uint64
	ackS     uint64
	ackC     uint64
	lastAt   time.Time
	lastAck  time.Time // last acknowledgement of any kind
	pending  map[uint64]*pendingAck
	rdq      []uint64
	lps      []uint64
	ahead    []aheadMsg
	waiting  []*pullReq
	npending uint64
	npDirty  bool
	npNext   int64 // the log's next offset when npending was counted
	dirty    bool
	saved    time.Time
	active   time.Time // last sign of a client (pull request, ack)
	lastSent time.Time // last push delivery or heartbeat
	fcWait   string    // outstanding flow-control id
	fcBytes  int
	fcSeq    uint64
	deleted  bool
	// pushBound is whether a client subscribes to the deliver subject.
	pushBound bool
	// nextDue is the earliest ack deadline of the pending set, or later.
	nextDue time.Time

	kick chan struct{}
	quit chan struct{}
	done chan struct{}
}

func (c *consumer) isPull() bool { return c.cfg.DeliverSubject == "" }

func consumerKey(stream, name string) string { return stream + "\x00" + name }

// consumer returns the named consumer of a stream, or nil.
func (s *stream) consumer(name string) *consumer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.consumers[name]
}

// interestDone reports whether an acknowledged message may leave the
// stream: always for a work queue, and for interest retention once no
// consumer whose filter matches still has it pending or undelivered.
func (s *stream) interestDone(seq uint64) bool {
	s.mu.Lock()
	ret := s.cfg.Retention
	cs := make([]*consumer, 0, len(s.consumers))
	for _, c := range s.consumers {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	if ret != server.InterestPolicy {
		return true
	}
	m, err := s.readMsg(s.h.ctx, seq)
	if err != nil {
		return false
	}
	for _, c := range cs {
		if c.needs(seq, m.subj) {
			return false
		}
	}
	return true
}

// needs reports whether the consumer has yet to deliver, or to see
// acknowledged, the message seq on subject subj.
func (c *consumer) needs(seq uint64, subj string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, pending := c.pending[seq]
	return matchesAny(c.filters, subj) && (pending || seq >= c.sseq || slices.Contains(c.lps, seq))
}

// notifyRemoved wakes every consumer after one message was removed; only
// a consumer that had not delivered it yet recounts num_pending (an acked
// message leaving a work queue or interest stream changes nobody's).
func (s *stream) notifyRemoved(seq uint64) {
	s.mu.Lock()
	cs := make([]*consumer, 0, len(s.consumers))
	for _, c := range s.consumers {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	for _, c := range cs {
		c.mu.Lock()
		if seq >= c.sseq || slices.Contains(c.lps, seq) {
			c.npDirty = true
			c.ahead = nil
		}
		c.mu.Unlock()
		c.wake()
	}
}

// notifyConsumers wakes every consumer after messages were removed.
func (s *stream) notifyConsumers() {
	s.mu.Lock()
	cs := make([]*consumer, 0, len(s.consumers))
	for _, c := range s.consumers {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	for _, c := range cs {
		c.mu.Lock()
		c.npDirty = true
		c.ahead = nil
		c.mu.Unlock()
		c.wake()
	}
}

// close stops the stream's consumers (saving them) and its ingest.
func (s *stream) close() {
	s.mu.Lock()
	if s.deleted {
		s.mu.Unlock()
		return
	}
	s.deleted = true
	cs := s.consumers
	s.consumers = map[string]*consumer{}
	s.mu.Unlock()
	for _, c := range cs {
		c.stop(true)
	}
	s.stop()
}

// loadConsumers starts the consumers saved in the core.
func (s *stream) loadConsumers(ctx context.Context) error {
	return s.h.t.KVList(ctx, consumerNS, s.name+"\x00", func(key string, val []byte) error {
		var rec consumerRecord
		if err := json.Unmarshal(val, &rec); err != nil {
			return fmt.Errorf("consumer %s: %w", key, err)
		}
		name := strings.TrimPrefix(key, s.name+"\x00")
		c := s.newConsumer(name, rec)
		s.mu.Lock()
		s.consumers[name] = c
		s.mu.Unlock()
		go c.run()
		return nil
	})
}

func (s *stream) newConsumer(name string, rec consumerRecord) *consumer {
	c := &consumer{
		s: s, name: name,
		cfg: rec.Config, created: rec.Created,
		sseq: rec.SSeq, dseq: rec.DSeq, lastS: rec.LastS, ackS: rec.AckS, ackC: rec.AckC,
		lps:     rec.LPS,
		lastAt:  rec.LastAt,
		lastAck: rec.LastAck,
		pending: make(map[uint64]*pendingAck),
		npDirty: true,
		active:  time.Now(),
		kick:    make(chan struct{}, 1),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	c.filters = consumerFilters(&c.cfg)
	now := time.Now()
	for seq, p := range rec.Pending {
		// Unacked deliveries from before a restart are due now.
		c.pending[seq] = &pendingAck{cseq: p.CSeq, dc: p.DC, deadline: now}
	}
	return c
}

func consumerFilters(cfg *server.ConsumerConfig) []string {
	if cfg.FilterSubject != "" {
		return []string{cfg.FilterSubject}
	}
	return cfg.FilterSubjects
}

func (c *consumer) wake() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// stop ends the delivery goroutine; save writes the final position.
func (c *consumer) stop(save bool) {
	select {
	case <-c.quit:
		return
	default:
		close(c.quit)
	}
	<-c.done
	if save {
		c.mu.Lock()
		rec := c.recordLocked()
		deleted := c.deleted
		c.mu.Unlock()
		if !deleted {
			c.s.h.saveConsumer(context.Background(), c.s.name, c.name, rec)
		}
	}
}

func (c *consumer) recordLocked() consumerRecord {
	rec := consumerRecord{Config: c.cfg, Created: c.created, SSeq: c.sseq, DSeq: c.dseq, LastS: c.lastS,
		AckS: c.ackS, AckC: c.ackC, LPS: c.lps, LastAt: c.lastAt, LastAck: c.lastAck}
	if len(c.pending) > 0 {
		rec.Pending = make(map[uint64]savedAck, len(c.pending))
		for seq, p := range c.pending {
			rec.Pending[seq] = savedAck{CSeq: p.cseq, DC: p.dc}
		}
	}
	return rec
}

func (h *host) saveConsumer(ctx context.Context, stream, name string, rec consumerRecord) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	err = h.t.Update(ctx, func(tx *storage.Tx) error {
		return storage.KVPut(tx, consumerNS, consumerKey(stream, name), raw)
	})
	if err != nil {
		h.log.Error("save consumer", "stream", stream, "consumer", name, "err", err)
	}
	return err
}

// saveInterval bounds how often a busy consumer writes its position; a
// crash may redeliver what was acked in the last interval.
const saveInterval = 200 * time.Millisecond

func (c *consumer) run() {
	defer close(c.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		changed := c.s.log.Changed()
		wait := c.work()
		c.maybeSave()
		timer.Reset(wait)
		select {
		case <-c.quit:
			return
		case <-c.kick:
		case <-changed:
			// Appends are counted incrementally by work.
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

func (c *consumer) maybeSave() {
	c.mu.Lock()
	if !c.dirty || time.Since(c.saved) < saveInterval || c.deleted {
		c.mu.Unlock()
		return
	}
	c.dirty = false
	c.saved = time.Now()
	rec := c.recordLocked()
	c.mu.Unlock()
	c.s.h.saveConsumer(context.Background(), c.s.name, c.name, rec)
}

// work delivers what it can and returns how long to sleep at most.
func (c *consumer) work() time.Duration {
	defer func() {
		if p := recover(); p != nil {
			c.s.h.log.Error("consumer panicked", "stream", c.s.name, "consumer", c.name, "panic", p)
		}
	}()
	ctx := c.s.h.ctx
	now := time.Now()
	next := now.Add(time.Second)
	soon := func(t time.Time) {
		if t.Before(next) {
			next = t
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.s.h.flushDeliveries()
	if c.dirty {
		soon(c.saved.Add(saveInterval))
	}

	// Ack deadlines, scanned only once the earliest one may have passed.
	if c.cfg.AckPolicy != server.AckNone && !now.Before(c.nextDue) {
		c.nextDue = now.Add(time.Hour)
		var due []uint64
		for seq, p := range c.pending {
			if p.queued {
				continue
			}
			if !now.Before(p.deadline) {
				if c.cfg.MaxDeliver > 0 && p.dc >= uint64(c.cfg.MaxDeliver) {
					// Out of deliveries: it leaves the pending set at
					// its last ack deadline, as in nats-server.
					// TODO: nats-server then keeps counting it as
					// redelivered and leaves its ack floor below it.
					delete(c.pending, seq)
					c.dirty = true
					continue
				}
				due = append(due, seq)
			} else if p.deadline.Before(c.nextDue) {
				c.nextDue = p.deadline
			}
		}
		sort.Slice(due, func(i, j int) bool { return due[i] < due[j] })
		for _, seq := range due {
			c.pending[seq].queued = true
			c.rdq = append(c.rdq, seq)
		}
		c.updateAckFloorLocked()
	}
	if c.cfg.AckPolicy != server.AckNone {
		soon(c.nextDue)
	}

	c.countPendingLocked(ctx)

	// Pull requests that ran out of time.
	if c.isPull() {
		kept := c.waiting[:0]
		for _, r := range c.waiting {
			if !r.expires.IsZero() && !now.Before(r.expires) {
				c.sendStatusLocked(r.reply, "408", "Request Timeout", r)
				continue
			}
			if !c.s.h.hasInterest(r.reply) {
				// The requester went away: deliver nothing into the void.
				continue
			}
			if !r.expires.IsZero() {
				soon(r.expires)
			}
			kept = append(kept, r)
		}
		c.waiting = kept
	}

	// Push consumers deliver only while someone listens.
	if !c.isPull() {
		c.pushBound = c.s.h.hasInterest(c.cfg.DeliverSubject)
		if c.pushBound {
			c.active = now
		} else {
			soon(now.Add(100 * time.Millisecond))
		}
	}

	// Deliveries.
	for i := 0; i < 10000; i++ {
		target, r := c.targetLocked()
		if target == "" {
			break
		}
		seq, subj, redel, ok := c.nextLocked(ctx)
		if !ok {
			break
		}
		sm, err := c.s.readMsg(ctx, seq)
		if err != nil {
			// Removed meanwhile.
			if p := c.pending[seq]; redel && p != nil {
				delete(c.pending, seq)
			}
			continue
		}
		if r != nil && r.byteLimit && c.deliverySize(sm, redel) > r.maxBytes {
			// It does not fit the request's byte budget: end the request
			// and keep the message for the next one.
			c.untakeLocked(seq, subj, redel)
			c.sendStatusLocked(r.reply, "409", "Message Size Exceeds MaxBytes", r)
			c.waiting = c.waiting[1:]
			continue
		}
		c.deliverLocked(target, r, sm, redel, now)
	}

	// no_wait requests end once nothing more can be delivered now.
	if c.isPull() {
		kept := c.waiting[:0]
		for _, r := range c.waiting {
			// As nats-server: a no_wait request with expires that got
			// nothing yet waits for one message or its expiry.
			if r.noWait && (r.delivered > 0 || r.expires.IsZero()) {
				c.sendStatusLocked(r.reply, "404", "No Messages", nil)
				continue
			}
			kept = append(kept, r)
		}
		c.waiting = kept
		for _, r := range c.waiting {
			if r.hb > 0 {
				if !now.Before(r.lastSent.Add(r.hb)) {
					c.s.h.ic.Publish(r.reply, "", makeHeader("100", "Idle Heartbeat"), nil)
					r.lastSent = now
				}
				soon(r.lastSent.Add(r.hb))
			}
		}
	} else if hb := c.cfg.Heartbeat; hb > 0 && c.pushBound {
		if !now.Before(c.lastSent.Add(hb)) {
			kv := []string{"Nats-Last-Consumer", strconv.FormatUint(c.dseq, 10),
				"Nats-Last-Stream", strconv.FormatUint(c.lastS, 10)}
			if c.fcWait != "" {
				kv = append(kv, hdrConsumerStalled, c.fcSubject(c.fcWait))
			}
			c.s.h.ic.Publish(c.cfg.DeliverSubject, "", makeHeader("100", "Idle Heartbeat", kv...), nil)
			c.lastSent = now
		}
		soon(c.lastSent.Add(hb))
	}

	// Ephemeral consumers, and durable ones with an inactive threshold,
	// go away when no client shows interest.
	if c.cfg.Durable == "" || c.cfg.InactiveThreshold > 0 {
		thr := c.cfg.InactiveThreshold
		if thr <= 0 {
			thr = ephemeralInactiveThreshold
		}
		// A delivery still within its ack wait counts as activity: the
		// client may be working on it (as in nats-server).
		last := c.active
		for _, p := range c.pending {
			if p.deadline.After(last) && p.deadline.Before(now.Add(24*time.Hour)) {
				last = p.deadline
			}
		}
		if len(c.waiting) == 0 && now.Sub(last) > thr {
			c.deleted = true
			go c.s.h.deleteConsumer(context.Background(), c.s, c.name)
		} else {
			soon(last.Add(thr))
		}
	}
	// Deliveries above may have set an earlier ack deadline.
	if c.cfg.AckPolicy != server.AckNone {
		soon(c.nextDue)
	}
	return max(time.Until(next), time.Millisecond)
}

func (c *consumer) fcSubject(id string) string {
	return "$JS.FC." + c.s.name + "." + c.name + "." + id
}

// targetLocked returns where the next message goes, or "".
func (c *consumer) targetLocked() (string, *pullReq) {
	if c.cfg.AckPolicy != server.AckNone && c.cfg.MaxAckPending > 0 &&
		len(c.pending) >= c.cfg.MaxAckPending && len(c.rdq) == 0 {
		return "", nil
	}
	if c.isPull() {
		if len(c.waiting) == 0 {
			return "", nil
		}
		r := c.waiting[0]
		return r.reply, r
	}
	if c.fcWait != "" || !c.pushBound {
		return "", nil
	}
	return c.cfg.DeliverSubject, nil
}

// nextLocked picks the next message: a due redelivery, a queued
// last-per-subject message, or the next new matching message.
func (c *consumer) nextLocked(ctx context.Context) (uint64, string, bool, bool) {
	for len(c.rdq) > 0 {
		seq := c.rdq[0]
		c.rdq = c.rdq[1:]
		if p := c.pending[seq]; p != nil && p.queued {
			p.queued = false
			return seq, "", true, true
		}
	}
	if c.cfg.AckPolicy != server.AckNone && c.cfg.MaxAckPending > 0 && len(c.pending) >= c.cfg.MaxAckPending {
		return 0, "", false, false
	}
	for len(c.lps) > 0 {
		seq := c.lps[0]
		c.lps = c.lps[1:]
		c.dirty = true
		if c.s.isLive(ctx, seq) {
			return seq, lpsMark, false, true
		}
	}
	// Unfiltered consumers of a stream without interior deletes can walk
	// the sequences without asking the index.
	if len(c.filters) == 0 && len(c.ahead) == 0 {
		c.s.mu.Lock()
		st := c.s.st
		c.s.mu.Unlock()
		if st.msgs > 0 && st.last-st.first+1 == st.msgs && c.sseq >= st.first {
			if c.sseq > st.last {
				return 0, "", false, false
			}
			seq := c.sseq
			c.sseq++
			return seq, "", false, true
		}
	}
	for tries := 0; tries < 64; tries++ {
		if len(c.ahead) == 0 {
			if !c.fillAheadLocked(ctx) {
				return 0, "", false, false
			}
			continue
		}
		m := c.ahead[0]
		c.ahead = c.ahead[1:]
		c.sseq = m.seq + 1
		if matchesAny(c.filters, m.subj) {
			return m.seq, m.subj, false, true
		}
	}
	return 0, "", false, false
}

// lpsMark tags a message taken from the last-per-subject queue.
const lpsMark = "\x00lps"

// untakeLocked puts back a message nextLocked returned but that was not
// delivered.
func (c *consumer) untakeLocked(seq uint64, subj string, redel bool) {
	switch {
	case redel:
		c.pending[seq].queued = true
		c.rdq = append([]uint64{seq}, c.rdq...)
	case subj == lpsMark:
		c.lps = append([]uint64{seq}, c.lps...)
	default:
		c.ahead = append([]aheadMsg{{seq: seq, subj: subj}}, c.ahead...)
		c.sseq = seq
	}
}

// fillAheadLocked reads the next live index rows after sseq.
func (c *consumer) fillAheadLocked(ctx context.Context) bool {
	db := c.s.h.t.DB()
	var rows *sql.Rows
	var err error
	if len(c.filters) == 1 && literal(c.filters[0]) {
		rows, err = db.QueryContext(ctx, `SELECT seq, subject FROM natswire_msgs WHERE stream = ? AND subject = ? AND seq >= ? ORDER BY seq LIMIT 512`,
			c.s.name, c.filters[0], c.sseq)
	} else {
		rows, err = db.QueryContext(ctx, `SELECT seq, subject FROM natswire_msgs WHERE stream = ? AND seq >= ? ORDER BY seq LIMIT 512`,
			c.s.name, c.sseq)
	}
	if err != nil {
		return false
	}
	defer rows.Close()
	for rows.Next() {
		var m aheadMsg
		if rows.Scan(&m.seq, &m.subj) == nil {
			c.ahead = append(c.ahead, m)
		}
	}
	return len(c.ahead) > 0
}

func (s *stream) isLive(ctx context.Context, seq uint64) bool {
	var one int
	return s.h.t.DB().QueryRowContext(ctx, `SELECT 1 FROM natswire_msgs WHERE stream = ? AND seq = ?`, s.name, seq).Scan(&one) == nil
}

// countPendingLocked keeps num_pending (matching live messages not yet
// delivered) current. After a removal (npDirty) it counts everything from
// sseq; after appends it adds only the sequences appended since the last
// count, so a consumer far behind a busy stream does not rescan its
// backlog at every commit. Every sequence up to npNext has been counted.
func (c *consumer) countPendingLocked(ctx context.Context) {
	_, next := c.s.log.Offsets()
	switch {
	case c.npDirty:
		c.npDirty = false
		// Messages already read ahead but not delivered are counted
		// since sseq only moves on delivery.
		c.npending = c.countRangeLocked(ctx, c.sseq, uint64(next)) + uint64(len(c.lps))
	case next != c.npNext:
		c.npending += c.countRangeLocked(ctx, max(uint64(c.npNext)+1, c.sseq), uint64(next))
	default:
		return
	}
	c.npNext = next
}

// countRangeLocked counts live messages with sequences lo..hi matching
// the consumer's filters.
func (c *consumer) countRangeLocked(ctx context.Context, lo, hi uint64) uint64 {
	if lo > hi {
		return 0
	}
	db := c.s.h.t.DB()
	var n uint64
	switch {
	case len(c.filters) == 0:
		db.QueryRowContext(ctx, `SELECT COUNT(*) FROM natswire_msgs WHERE stream = ? AND seq BETWEEN ? AND ?`,
			c.s.name, lo, hi).Scan(&n)
	case len(c.filters) == 1 && literal(c.filters[0]):
		db.QueryRowContext(ctx, `SELECT COUNT(*) FROM natswire_msgs WHERE stream = ? AND subject = ? AND seq BETWEEN ? AND ?`,
			c.s.name, c.filters[0], lo, hi).Scan(&n)
	default:
		rows, err := db.QueryContext(ctx, `SELECT subject FROM natswire_msgs WHERE stream = ? AND seq BETWEEN ? AND ?`,
			c.s.name, lo, hi)
		if err != nil {
			return 0
		}
		defer rows.Close()
		for rows.Next() {
			var subj string
			if rows.Scan(&subj) == nil && matchesAny(c.filters, subj) {
				n++
			}
		}
	}
	return n
}

func (c *consumer) deliverLocked(target string, r *pullReq, sm *storedMsg, redel bool, now time.Time) {
	c.dseq++
	dc := uint64(1)
	if redel {
		p := c.pending[sm.seq]
		p.dc++
		p.cseq = c.dseq
		dc = p.dc
	} else if c.npending > 0 && sm.seq <= uint64(c.npNext) {
		// Only a counted message leaves the count; a newer one was
		// never in it (see countPendingLocked).
		c.npending--
	}
	if c.cfg.AckPolicy != server.AckNone {
		p := c.pending[sm.seq]
		if p == nil {
			p = &pendingAck{cseq: c.dseq, dc: 1}
			c.pending[sm.seq] = p
		}
		p.deadline = now.Add(c.ackWait(p.dc))
		c.dueLocked(p.deadline)
	}
	if sm.seq > c.lastS {
		c.lastS = sm.seq
	}
	c.lastAt = now
	c.dirty = true
	if c.cfg.AckPolicy == server.AckNone {
		c.ackS, c.ackC = c.lastS, c.dseq
	}
	rb := make([]byte, 0, 64+len(c.s.name)+len(c.name))
	rb = append(rb, "$JS.ACK."...)
	rb = append(rb, c.s.name...)
	rb = append(rb, '.')
	rb = append(rb, c.name...)
	for _, v := range [...]uint64{dc, sm.seq, c.dseq, uint64(sm.ts), c.npending} {
		rb = append(rb, '.')
		rb = strconv.AppendUint(rb, v, 10)
	}
	reply := string(rb)
	hdr, data := sm.hdr, sm.data
	if c.cfg.HeadersOnly {
		hdr = addHeaders(hdr, "Nats-Msg-Size", strconv.Itoa(len(data)))
		data = nil
	}
	c.s.h.deliver(target, sm.subj, reply, hdr, data)
	size := len(hdr) + len(data) + len(sm.subj) + len(reply)
	if r != nil {
		r.delivered++
		r.batch--
		r.lastSent = now
		if r.byteLimit {
			r.maxBytes -= size
		}
		if r.batch <= 0 {
			c.waiting = c.waiting[1:]
			if r.byteLimit && r.maxBytes > 0 {
				// As nats-server: the batch is done with bytes to spare.
				c.sendStatusLocked(r.reply, "409", "Batch Completed", r)
			}
		}
	} else {
		c.lastSent = now
		if c.cfg.FlowControl {
			c.fcBytes += size
			if c.fcBytes >= 256<<10 {
				c.fcSeq++
				c.fcWait = strconv.FormatUint(c.fcSeq, 10)
				c.fcBytes = 0
				c.s.h.deliver(c.cfg.DeliverSubject, c.cfg.DeliverSubject, c.fcSubject(c.fcWait), makeHeader("100", "FlowControl Request"), nil)
			}
		}
	}
}

// dueLocked makes the next scan happen no later than t.
func (c *consumer) dueLocked(t time.Time) {
	if t.Before(c.nextDue) {
		c.nextDue = t
	}
}

func (c *consumer) ackWait(dc uint64) time.Duration {
	if n := len(c.cfg.BackOff); n > 0 {
		return c.cfg.BackOff[min(int(dc)-1, n-1)]
	}
	if c.cfg.AckWait > 0 {
		return c.cfg.AckWait
	}
	return 30 * time.Second
}

// deliverySize is what a delivery of sm costs against a pull request's
// byte budget, as nats-server counts it: subject, ack reply, header and
// data. The ack reply is sized for the values it will carry.
func (c *consumer) deliverySize(sm *storedMsg, redel bool) int {
	dc := uint64(1)
	if p := c.pending[sm.seq]; redel && p != nil {
		dc = p.dc + 1
	}
	n := len("$JS.ACK.") + len(c.s.name) + 1 + len(c.name)
	for _, v := range [...]uint64{dc, sm.seq, c.dseq + 1, uint64(sm.ts), c.npending} {
		n += 1 + len(strconv.FormatUint(v, 10))
	}
	size := len(sm.subj) + n + len(sm.hdr) + len(sm.data)
	if c.cfg.HeadersOnly {
		size += len("Nats-Msg-Size: \r\n") + len(strconv.Itoa(len(sm.data))) - len(sm.data)
	}
	return size
}

// sendStatusLocked answers a pull request with a status message; with r
// set, it tells what the request had left: messages and bytes.
func (c *consumer) sendStatusLocked(reply, code, desc string, r *pullReq) {
	var kv []string
	if r != nil {
		kv = []string{"Nats-Pending-Messages", strconv.Itoa(max(r.batch, 0)),
			"Nats-Pending-Bytes", strconv.Itoa(max(r.maxBytes, 0))}
	}
	c.s.h.ic.Publish(reply, "", makeHeader(code, desc, kv...), nil)
}

func (c *consumer) flowControlReply(id string) {
	c.mu.Lock()
	if c.fcWait == id {
		c.fcWait = ""
	}
	c.active = time.Now()
	c.mu.Unlock()
	c.wake()
}

// ackInfo is the parsed reply subject of a delivered message.
type ackInfo struct {
	dc, sseq, cseq uint64
}

// parseAckTokens parses $JS.ACK.<stream>.<consumer>.<dc>.<sseq>.<cseq>.<ts>.<pending>.
func parseAckTokens(toks []string) (ackInfo, error) {
	var a ackInfo
	if len(toks) != 9 {
		return a, errors.New("bad ack subject")
	}
	var err error
	if a.dc, err = strconv.ParseUint(toks[4], 10, 64); err != nil {
		return a, err
	}
	if a.sseq, err = strconv.ParseUint(toks[5], 10, 64); err != nil {
		return a, err
	}
	if a.cseq, err = strconv.ParseUint(toks[6], 10, 64); err != nil {
		return a, err
	}
	return a, nil
}

// ack applies one acknowledgement body: +ACK, -NAK, +WPI, +NXT, +TERM.
func (c *consumer) ack(a ackInfo, m *imsg) {
	body := strings.TrimSpace(string(m.Data))
	kind := body
	rest := ""
	if i := strings.IndexAny(body, " {"); i >= 0 {
		kind, rest = strings.TrimSpace(body[:i]), strings.TrimSpace(body[i:])
	}
	var wqDelete []uint64
	c.mu.Lock()
	c.active = time.Now()
	c.lastAck = c.active
	wasClean := !c.dirty
	switch kind {
	case "", "+ACK", "+NXT":
		wqDelete = c.ackLocked(a.sseq)
	case "-NAK":
		if p := c.pending[a.sseq]; p != nil {
			var d struct {
				Delay time.Duration `json:"delay"`
			}
			if rest != "" {
				json.Unmarshal([]byte(rest), &d)
			}
			// A message already queued for redelivery waits for the
			// delay instead (its queue entry is skipped once unqueued).
			p.queued = false
			p.deadline = time.Now().Add(d.Delay)
			c.dueLocked(p.deadline)
		}
	case "+WPI":
		if p := c.pending[a.sseq]; p != nil {
			p.queued = false
			p.deadline = time.Now().Add(c.ackWait(p.dc))
			c.dueLocked(p.deadline)
		}
	case "+TERM":
		// TODO: nats-server leaves the ack floor's consumer sequence
		// where it was after a term; rewire moves it with the stream's.
		delete(c.pending, a.sseq)
		c.dirty = true
		c.updateAckFloorLocked()
	}
	if kind == "+NXT" && m.Reply != "" && c.isPull() {
		// The body after +NXT is a pull request: a batch size or JSON.
		req, err := parseNextRequest([]byte(rest))
		if err != nil {
			req = server.JSApiConsumerGetNextRequest{Batch: 1}
		}
		c.waiting = append(c.waiting, newPullReq(m.Reply, req))
	}
	c.mu.Unlock()
	for _, seq := range wqDelete {
		if c.s.interestDone(seq) {
			c.s.deleteMsg(context.Background(), seq)
		}
	}
	// A double ack is answered once its effects, removals included, are
	// done.
	if m.Reply != "" && kind != "+NXT" {
		c.s.h.ic.Publish(m.Reply, "", nil, nil)
	}
	// An ack can only unblock deliveries someone is waiting for, but the
	// loop must also learn of a position to save (it then saves within
	// saveInterval).
	c.mu.Lock()
	wake := !c.isPull() || len(c.waiting) > 0 || wasClean
	c.mu.Unlock()
	if wake {
		c.wake()
	}
}

// ackLocked acknowledges seq (and everything before it for ack all) and
// returns messages a work-queue stream must now drop.
func (c *consumer) ackLocked(seq uint64) []uint64 {
	var acked []uint64
	switch c.cfg.AckPolicy {
	case server.AckAll:
		for s := range c.pending {
			if s <= seq {
				delete(c.pending, s)
				acked = append(acked, s)
			}
		}
	case server.AckExplicit:
		if _, ok := c.pending[seq]; ok {
			delete(c.pending, seq)
			acked = append(acked, seq)
		}
	}
	c.dirty = true
	// The floor only moves when the oldest pending message was acked.
	if len(c.pending) == 0 || seq <= c.ackS+1 || c.cfg.AckPolicy == server.AckAll {
		c.updateAckFloorLocked()
	}
	c.s.mu.Lock()
	ret := c.s.cfg.Retention
	c.s.mu.Unlock()
	if ret == server.LimitsPolicy {
		return nil
	}
	return acked
}

func (c *consumer) updateAckFloorLocked() {
	if len(c.pending) == 0 {
		c.ackS, c.ackC = c.lastS, c.dseq
		return
	}
	// Acks mostly arrive in order: walk up from the old floor first.
	for s, n := c.ackS+1, 0; s <= c.lastS && n < 4096; s, n = s+1, n+1 {
		if p, ok := c.pending[s]; ok {
			c.ackS = s - 1
			if p.cseq > 0 {
				c.ackC = p.cseq - 1
			}
			return
		}
	}
	minS := uint64(1<<63 - 1)
	var minC uint64
	for s, p := range c.pending {
		if s < minS {
			minS, minC = s, p.cseq
		}
	}
	c.ackS = minS - 1
	if minC > 0 {
		c.ackC = minC - 1
	}
}

// purgedBelow moves the consumer past a purge that left first as the
// stream's first sequence: purged messages count as delivered and
// acknowledged, and no longer wait for an ack or a redelivery.
func (c *consumer) purgedBelow(first uint64) {
	if first == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sseq = max(c.sseq, first)
	c.lastS = max(c.lastS, first-1)
	if c.ackS < first-1 {
		c.ackS = first - 1
		for seq, p := range c.pending {
			if seq < first {
				c.ackC = max(c.ackC, p.cseq)
				delete(c.pending, seq)
			}
		}
		c.dseq = max(c.dseq, c.ackC)
		rdq := c.rdq[:0]
		for _, seq := range c.rdq {
			if seq >= first {
				rdq = append(rdq, seq)
			}
		}
		c.rdq = rdq
		if len(c.pending) == 0 {
			c.ackC = c.dseq
		}
	}
	c.lps = slices.DeleteFunc(c.lps, func(seq uint64) bool { return seq < first })
	c.ahead = nil
	c.npDirty = true
	c.dirty = true
}

// numWaitingLocked counts pull requests whose requester still listens.
func (c *consumer) numWaitingLocked() int {
	n := 0
	for _, r := range c.waiting {
		if c.s.h.hasInterest(r.reply) {
			n++
		}
	}
	return n
}

// info reports the consumer as nats-server does.
func (c *consumer) info() *server.ConsumerInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	// An append may not have reached the consumer's goroutine yet.
	c.countPendingLocked(c.s.h.ctx)
	cfg := c.cfg
	cfg.Metadata = answerMetadata(cfg.Metadata)
	ci := &server.ConsumerInfo{
		Stream:        c.s.name,
		Name:          c.name,
		Created:       c.created,
		Config:        &cfg,
		Delivered:     server.SequenceInfo{Consumer: c.dseq, Stream: c.lastS},
		AckFloor:      server.SequenceInfo{Consumer: c.ackC, Stream: c.ackS},
		NumAckPending: len(c.pending),
		NumWaiting:    c.numWaitingLocked(),
		NumPending:    c.npending,
		PushBound:     !c.isPull() && c.s.h.hasInterest(c.cfg.DeliverSubject),
		TimeStamp:     time.Now().UTC(),
	}
	if !c.lastAt.IsZero() {
		t := c.lastAt.UTC()
		ci.Delivered.Last = &t
	}
	if !c.lastAck.IsZero() {
		t := c.lastAck.UTC()
		ci.AckFloor.Last = &t
	}
	for _, p := range c.pending {
		if p.dc > 1 {
			ci.NumRedelivered++
		}
	}
	return ci
}

// randomName makes an ephemeral consumer name.
func randomName() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	var b [22]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}
