package storage

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"sync"
	"time"
)

// LogConfig holds a log's retention settings. Zero means unlimited.
type LogConfig struct {
	// RetentionMs drops batches whose newest timestamp is older than this.
	RetentionMs int64 `json:"retention_ms,omitempty"`
	// RetentionBytes drops the oldest batches while the log is larger.
	RetentionBytes int64 `json:"retention_bytes,omitempty"`
	// Compactor names the registered Compactor that keeps only the latest
	// record of each key (see Log.Compact); empty for none.
	Compactor string `json:"compactor,omitempty"`
	// Extra holds settings owned by the protocol that created the log
	// (topic configs, stream configs); the core stores them untouched.
	Extra map[string]string `json:"extra,omitempty"`
}

// Batch is a stored run of consecutive offsets [Base, Last]. Data is the
// caller's encoding, stored and returned as is; the returned slice is the
// caller's to keep.
type Batch struct {
	Base         int64
	Last         int64
	MaxTimestamp int64 // milliseconds since the epoch
	Data         []byte
}

// AppendBatch is one batch to append.
type AppendBatch struct {
	Data []byte
	// Count is how many offsets the batch takes; at least 1.
	Count int64
	// MaxTimestamp is the newest timestamp in the batch, in milliseconds.
	MaxTimestamp int64
	// Check, if set, runs serialised with every other write of the tenant,
	// with the offset the batch would get; an error rejects the batch
	// (for example a producer sequence check). It must not block.
	Check func(tx *Tx, base int64) error
	// Stamp, if set, is called with the assigned base offset before the
	// data is stored, so that an encoding that carries its own offset can
	// be rewritten in place.
	Stamp func(data []byte, base int64)
}

// Logs are a tenant's append-only logs, the primitive under Kafka
// partitions and JetStream streams. Methods are safe for concurrent use.
type Logs struct {
	t      *Tenant
	mu     sync.Mutex // guards byName
	byName map[string]*Log
}

func newLogs(t *Tenant) *Logs {
	return &Logs{t: t, byName: make(map[string]*Log)}
}

// Log is one append-only log: offsets from Start (inclusive) to Next
// (exclusive). Recent batches are rows of the tenant's SQLite; older ones
// are sealed into segments in the warm tier and read back transparently.
type Log struct {
	logs *Logs
	id   int64
	name string

	// pending is the next offset to assign; only the committer goroutine
	// touches it.
	pending int64

	qmu    sync.Mutex // guards queue and queued
	queue  []*appendReq
	queued bool // a write that will take the queue is on its way

	mu      sync.Mutex // guards the fields below
	start   int64
	next    int64
	cfg     LogConfig
	notify  chan struct{}
	deleted bool

	compactedTo int64 // Compact has run over offsets below this

	// segMu serialises writing warm segment objects (sealing,
	// compaction) with each other and with removing segments (truncation,
	// deletion of the log).
	segMu sync.Mutex
}

// Create makes a new, empty log. It fails with ErrExists if the name is
// taken.
func (ls *Logs) Create(ctx context.Context, name string, cfg LogConfig) (*Log, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: empty log name", ErrInvalidArg)
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	err = ls.t.Update(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO logs(name, start_offset, next_offset, config, created) VALUES (?, 0, 0, ?, ?)`,
			name, string(raw), time.Now().UnixNano())
		if err != nil && strings.Contains(err.Error(), "UNIQUE") {
			return fmt.Errorf("%w: log %s", ErrExists, name)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return ls.Open(ctx, name)
}

// Open returns an existing log, or ErrNotFound.
func (ls *Logs) Open(ctx context.Context, name string) (*Log, error) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if l, ok := ls.byName[name]; ok {
		return l, nil
	}
	l := &Log{logs: ls, name: name, notify: make(chan struct{})}
	var raw string
	err := ls.t.r.QueryRowContext(ctx, `SELECT id, start_offset, next_offset, config FROM logs WHERE name = ?`, name).
		Scan(&l.id, &l.start, &l.next, &raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: log %s", ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("open log %s: %w", name, err)
	}
	if err := json.Unmarshal([]byte(raw), &l.cfg); err != nil {
		return nil, fmt.Errorf("log %s config: %w", name, err)
	}
	l.pending = l.next
	ls.byName[name] = l
	return l, nil
}

// List returns the names of logs starting with prefix, in order.
func (ls *Logs) List(ctx context.Context, prefix string) ([]string, error) {
	rows, err := ls.t.r.QueryContext(ctx,
		`SELECT name FROM logs WHERE name >= ? AND name < ? ORDER BY name`, prefix, prefix+"\U0010FFFF")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Delete removes a log with all its batches and segments.
func (ls *Logs) Delete(ctx context.Context, name string) error {
	l, err := ls.Open(ctx, name)
	if err != nil {
		return err
	}
	l.segMu.Lock()
	defer l.segMu.Unlock()
	var segKeys []string
	err = ls.t.Update(ctx, func(tx *Tx) error {
		rows, err := tx.Query(`SELECT base FROM log_segments WHERE log_id = ?`, l.id)
		if err != nil {
			return err
		}
		for rows.Next() {
			var base int64
			rows.Scan(&base)
			segKeys = append(segKeys, l.segmentKey(base))
		}
		rows.Close()
		for _, q := range []string{
			`DELETE FROM log_batches WHERE log_id = ?`,
			`DELETE FROM log_segments WHERE log_id = ?`,
			`DELETE FROM logs WHERE id = ?`,
		} {
			if _, err := tx.Exec(q, l.id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	ls.mu.Lock()
	delete(ls.byName, name)
	ls.mu.Unlock()
	l.mu.Lock()
	l.deleted = true
	close(l.notify)
	l.notify = make(chan struct{})
	l.mu.Unlock()
	for _, k := range segKeys {
		ls.t.store.warm.Delete(ctx, k)
	}
	return nil
}

// Name is the log's name.
func (l *Log) Name() string { return l.name }

// Config returns the log's configuration.
func (l *Log) Config() LogConfig {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cfg
}

// SetConfig replaces the log's configuration.
func (l *Log) SetConfig(ctx context.Context, cfg LogConfig) error {
	raw, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	err = l.logs.t.Update(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE logs SET config = ? WHERE id = ?`, string(raw), l.id)
		return err
	})
	if err == nil {
		l.mu.Lock()
		l.cfg = cfg
		l.mu.Unlock()
	}
	return err
}

// Offsets returns the first offset still stored and the next offset to be
// assigned (the high watermark: everything below it is durable).
func (l *Log) Offsets() (start, next int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.start, l.next
}

// Changed returns a channel closed at the next durable append (or when the
// log is deleted). Use it to long-poll: read Offsets, then wait.
func (l *Log) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.notify
}

// Append adds one batch and returns its base offset once it is durable.
//
// Appends to one log that arrive while an earlier one waits for the
// committer are stored by a single write: one savepoint, one insert per
// batch and one update of the log's next offset, instead of four
// statements per batch. A batch whose Check fails is undone alone, under a
// savepoint of its own; a failure of the write itself fails every batch in
// it.
func (l *Log) Append(ctx context.Context, b AppendBatch) (int64, error) {
	if b.Count < 1 {
		return 0, fmt.Errorf("%w: batch of %d offsets", ErrInvalidArg, b.Count)
	}
	r := &appendReq{b: b, done: make(chan struct{})}
	l.qmu.Lock()
	l.queue = append(l.queue, r)
	lead := !l.queued
	l.queued = true
	l.qmu.Unlock()
	if lead {
		l.flush(ctx)
	}
	<-r.done
	return r.base, r.err
}

// appendReq is one caller's batch waiting in a log's append queue.
type appendReq struct {
	b    AppendBatch
	base int64
	err  error
	done chan struct{}
}

// flush runs one write that takes every queued append. The caller that
// found the queue idle leads; the others wait on their requests.
func (l *Log) flush(ctx context.Context) {
	var taken []*appendReq
	ran := false
	err := l.logs.t.Update(context.WithoutCancel(ctx), func(tx *Tx) error {
		ran = true
		taken = l.takeQueue()
		for _, r := range taken {
			r.err = nil
		}
		return l.store(tx, taken)
	})
	if !ran {
		// The write never ran (the tenant is closing): nobody else will
		// take the queue, so fail it here.
		taken = l.takeQueue()
	}
	for _, r := range taken {
		if err != nil {
			r.err = err
		}
		close(r.done)
	}
}

// takeQueue empties the append queue; the next append leads a new write.
func (l *Log) takeQueue() []*appendReq {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	q := l.queue
	l.queue = nil
	l.queued = false
	return q
}

// store inserts the taken batches in one write.
func (l *Log) store(tx *Tx, reqs []*appendReq) error {
	l.mu.Lock()
	deleted := l.deleted
	l.mu.Unlock()
	if deleted {
		return fmt.Errorf("%w: log %s", ErrNotFound, l.name)
	}
	first := l.pending
	now := time.Now().UnixNano()
	for _, r := range reqs {
		b := &r.b
		base := l.pending
		if b.Check != nil && len(reqs) == 1 {
			// Alone in the write: a refusal fails the write, whose own
			// savepoint (or transaction) undoes what the check did.
			if err := b.Check(tx, base); err != nil {
				return err
			}
		} else if b.Check != nil {
			refused, err := l.checked(tx, b, base)
			if err != nil {
				return err
			}
			if refused != nil {
				r.err = refused
				continue
			}
		}
		if b.Stamp != nil {
			b.Stamp(b.Data, base)
		}
		next := base + b.Count
		data := b.Data
		var jfile, jpos, jlen, jcrc any // NULL: the data is inline
		if j := l.logs.t.journal; l.logs.t.spill && len(data) >= journalMinBatch {
			f, pos, err := j.append(data)
			if err != nil {
				return err
			}
			jfile, jpos, jlen, jcrc = f, pos, len(data), int64(crc32.Checksum(data, crcTable))
			data = []byte{}
		}
		if _, err := tx.Exec(`INSERT INTO log_batches(log_id, base, last, max_ts, added, data, jfile, jpos, jlen, jcrc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			l.id, base, next-1, b.MaxTimestamp, now, data, jfile, jpos, jlen, jcrc); err != nil {
			return err
		}
		r.base = base
		l.pending = next
	}
	if l.pending == first {
		return nil // every batch was refused
	}
	if _, err := tx.Exec(`UPDATE logs SET next_offset = ? WHERE id = ?`, l.pending, l.id); err != nil {
		l.pending = first
		return err
	}
	next := l.pending
	tx.OnRollback(func() { l.pending = first })
	tx.OnCommit(func() { l.advance(next) })
	return nil
}

// checked runs b's Check under a savepoint of its own, so that whatever a
// refused check wrote is undone without touching the other batches. It
// returns the check's refusal, or an error that fails the whole write.
func (l *Log) checked(tx *Tx, b *AppendBatch, base int64) (refused, err error) {
	if _, err := tx.Exec("SAVEPOINT chk"); err != nil {
		return nil, err
	}
	mark := tx.hookMark()
	if refused = b.Check(tx, base); refused != nil {
		if _, err := tx.Exec("ROLLBACK TO chk"); err != nil {
			return nil, err
		}
		tx.undoHooksSince(mark)
	}
	if _, err := tx.Exec("RELEASE chk"); err != nil {
		return nil, err
	}
	return refused, nil
}

func (l *Log) advance(next int64) {
	l.mu.Lock()
	if next > l.next {
		l.next = next
	}
	close(l.notify)
	l.notify = make(chan struct{})
	l.mu.Unlock()
}

// Read returns the batches holding offsets from `from` on, oldest first,
// stopping once maxBytes of data are collected; the first batch is always
// returned whole even if it alone exceeds maxBytes. The first batch may
// begin before `from`. Reading at Next returns nothing; outside [Start,
// Next] returns ErrOutOfRange. The batches' data are the caller's.
func (l *Log) Read(ctx context.Context, from int64, maxBytes int) ([]Batch, error) {
	var out []Batch
	err := l.ReadFunc(ctx, from, maxBytes, func(b Batch) bool {
		b.Data = bytes.Clone(b.Data)
		out = append(out, b)
		return true
	})
	return out, err
}

// ReadFunc is Read without copies: it calls fn with each batch in turn,
// whose Data is valid only during the call, until fn returns false or
// maxBytes of data have gone by.
func (l *Log) ReadFunc(ctx context.Context, from int64, maxBytes int, fn func(Batch) bool) error {
	start, next := l.Offsets()
	if from < start || from > next {
		return fmt.Errorf("%w: %d not in [%d, %d]", ErrOutOfRange, from, start, next)
	}
	if from == next {
		return nil
	}
	n, size := 0, 0
	stop := false
	emit := func(b Batch) {
		n++
		size += len(b.Data)
		from = b.Last + 1
		stop = !fn(b) || size >= maxBytes
	}
	// The offsets from on lie in sealed segments and then in the hot tail.
	// A batch may be sealed between the two lookups, so a hot tail that
	// does not continue at from sends the read back to the segments; a
	// second attempt can only find the gap if sealing raced again.
	for attempt := 0; attempt < 3; attempt++ {
		// Sealed segments first, a few per lookup, until from reaches the
		// hot tail.
		for !stop {
			segs, err := l.segmentsFrom(ctx, from)
			if err != nil {
				return err
			}
			if len(segs) == 0 {
				break
			}
			before := from
			for _, s := range segs {
				if err := l.readSegment(ctx, s, from, maxBytes-size, n == 0, emit, &stop); err != nil {
					return err
				}
				if stop {
					return nil
				}
			}
			if from == before {
				// The segment rows promise offsets their objects lack.
				return fmt.Errorf("%w: segments of %s hold nothing at %d", ErrCorrupt, l.name, from)
			}
		}
		if stop {
			return nil
		}
		gap, err := l.readHot(ctx, from, maxBytes-size, n == 0, emit, &stop)
		if err != nil || !gap {
			return err
		}
	}
	return nil
}

// readHot emits hot batches from offset from, up to budget bytes (at least
// one batch when first), until *stop. gap reports that the first hot
// batch starts past from: the batches in between were sealed meanwhile.
// The data emitted (SQLite's, or a buffer journal reads reuse) is valid
// until the next batch.
func (l *Log) readHot(ctx context.Context, from int64, budget int, first bool, emit func(Batch), stop *bool) (bool, error) {
	rows, err := l.logs.t.r.QueryContext(ctx,
		`SELECT `+hotCols+` FROM log_batches WHERE log_id = ? AND last >= ? ORDER BY last LIMIT 1000`,
		l.id, from)
	if err != nil {
		return false, fmt.Errorf("read log %s: %w", l.name, err)
	}
	defer rows.Close()
	size, n := 0, 0
	buf := getReadBuf()
	defer putReadBuf(buf)
	for rows.Next() {
		var b Batch
		var hr hotRow
		var raw sql.RawBytes // SQLite's, valid until the next row
		if err := rows.Scan(hr.dest(&b, &raw)...); err != nil {
			return false, err
		}
		hr.data = raw
		if n == 0 && b.Base > from {
			return true, rows.Err()
		}
		if (n > 0 || !first) && size+hr.size() > budget {
			break
		}
		data, err := l.hotData(&hr, buf)
		if errors.Is(err, errJournalGone) {
			// The batch left the hot tier after the row was read (look
			// again, as for a batch sealed between the two lookups),
			// unless its row still points there.
			var still int
			l.logs.t.r.QueryRowContext(ctx, `SELECT count(*) FROM log_batches WHERE log_id = ? AND base = ? AND jfile = ?`,
				l.id, b.Base, hr.jfile.Int64).Scan(&still)
			if still > 0 {
				return false, fmt.Errorf("%w: log %s at %d: journal file %d is missing", ErrCorrupt, l.name, b.Base, hr.jfile.Int64)
			}
			return true, nil
		}
		if err != nil {
			return false, err
		}
		b.Data = data
		emit(b)
		n++
		size += len(data)
		if size >= budget || *stop {
			break
		}
	}
	return false, rows.Err()
}

// hotRow is a log_batches row's data columns: the data inline, or where
// it lies in the journal.
type hotRow struct {
	data                    []byte
	jfile, jpos, jlen, jcrc sql.NullInt64
}

// hotCols are the log_batches columns hotRow.dest scans, in order.
const hotCols = `base, last, max_ts, data, jfile, jpos, jlen, jcrc`

// dest returns the scan destinations for hotCols: b's offsets and
// timestamp, then the row's data columns into hr. data is the inline
// data's destination (&hr.data, or a sql.RawBytes for a caller that does
// not keep it).
func (hr *hotRow) dest(b *Batch, data any) []any {
	return []any{&b.Base, &b.Last, &b.MaxTimestamp, data, &hr.jfile, &hr.jpos, &hr.jlen, &hr.jcrc}
}

func (hr *hotRow) size() int {
	if hr.jfile.Valid {
		return int(hr.jlen.Int64)
	}
	return len(hr.data)
}

// hotData returns the row's data: inline, or read from the journal into
// *buf (grown as needed), valid until the next call with the same buf.
func (l *Log) hotData(hr *hotRow, buf *[]byte) ([]byte, error) {
	if !hr.jfile.Valid {
		return hr.data, nil
	}
	j := l.logs.t.journal
	n := int(hr.jlen.Int64)
	if cap(*buf) < n {
		*buf = make([]byte, n)
	}
	dst := (*buf)[:n]
	if err := j.read(hr.jfile.Int64, hr.jpos.Int64, dst, uint32(hr.jcrc.Int64)); err != nil {
		return nil, err
	}
	return dst, nil
}

// readBufs recycles the buffers readHot reads journal data into: a
// consumer's reads would otherwise allocate and zero one per call.
var readBufs sync.Pool // of *[]byte

func getReadBuf() *[]byte {
	if p, ok := readBufs.Get().(*[]byte); ok {
		return p
	}
	return new([]byte)
}

func putReadBuf(p *[]byte) {
	if cap(*p) <= 16<<20 {
		readBufs.Put(p)
	}
}

// hotBatchData returns a copy of a row's data for callers that keep it.
func (l *Log) hotBatchData(hr *hotRow) ([]byte, error) {
	if !hr.jfile.Valid {
		return bytes.Clone(hr.data), nil
	}
	var buf []byte
	return l.hotData(hr, &buf)
}

// FindTime returns the first batch whose MaxTimestamp is at least ts, so
// that a caller can find the first record at or after ts inside it. It
// returns ErrNotFound if no batch is that new.
func (l *Log) FindTime(ctx context.Context, ts int64) (Batch, error) {
	return retryJournalGone(func() (Batch, error) { return l.findTime(ctx, ts) })
}

// retryJournalGone runs a lookup again when a hot batch it found left the
// hot tier before its data was read.
func retryJournalGone(f func() (Batch, error)) (Batch, error) {
	for range 3 {
		b, err := f()
		if !errors.Is(err, errJournalGone) {
			return b, err
		}
	}
	return Batch{}, fmt.Errorf("%w: log changing too fast to read", ErrCorrupt)
}

func (l *Log) findTime(ctx context.Context, ts int64) (Batch, error) {
	start, _ := l.Offsets()
	var b Batch
	err := l.logs.t.r.QueryRowContext(ctx,
		`SELECT base, last, max_ts FROM log_segments WHERE log_id = ? AND max_ts >= ? AND last >= ? ORDER BY base LIMIT 1`,
		l.id, ts, start).Scan(&b.Base, &b.Last, &b.MaxTimestamp)
	if err == nil {
		// Find the batch inside the segment.
		batches, err := l.segmentBatches(ctx, segment{base: b.Base, last: b.Last})
		if err != nil {
			return Batch{}, err
		}
		for _, sb := range batches {
			if sb.MaxTimestamp >= ts && sb.Last >= start {
				sb.Data = bytes.Clone(sb.Data)
				return sb, nil
			}
		}
	} else if !errors.Is(err, sql.ErrNoRows) {
		return Batch{}, err
	}
	var hr hotRow
	err = l.logs.t.r.QueryRowContext(ctx,
		`SELECT `+hotCols+` FROM log_batches WHERE log_id = ? AND max_ts >= ? AND last >= ? ORDER BY base LIMIT 1`,
		l.id, ts, start).Scan(hr.dest(&b, &hr.data)...)
	if errors.Is(err, sql.ErrNoRows) {
		return Batch{}, fmt.Errorf("%w: no batch at or after %d", ErrNotFound, ts)
	}
	if err != nil {
		return Batch{}, err
	}
	b.Data, err = l.hotBatchData(&hr)
	return b, err
}

// MaxTimestamp returns the batch with the largest timestamp, for Kafka's
// "max timestamp" offset lookup.
func (l *Log) MaxTimestamp(ctx context.Context) (Batch, error) {
	return retryJournalGone(func() (Batch, error) { return l.maxTimestamp(ctx) })
}

func (l *Log) maxTimestamp(ctx context.Context) (Batch, error) {
	start, _ := l.Offsets()
	var b Batch
	var hr hotRow
	err := l.logs.t.r.QueryRowContext(ctx,
		`SELECT `+hotCols+` FROM log_batches WHERE log_id = ? AND last >= ?
		 ORDER BY max_ts DESC, base ASC LIMIT 1`, l.id, start).Scan(hr.dest(&b, &hr.data)...)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Batch{}, err
	}
	hot := err == nil
	if hot {
		if b.Data, err = l.hotBatchData(&hr); err != nil {
			return Batch{}, err
		}
	}
	// A sealed segment may hold a larger timestamp than any hot batch
	// (timestamps are the producers' and need not grow with offsets).
	var seg segment
	var segTS int64
	serr := l.logs.t.r.QueryRowContext(ctx,
		`SELECT base, last, max_ts FROM log_segments WHERE log_id = ? AND last >= ?
		 ORDER BY max_ts DESC, base ASC LIMIT 1`, l.id, start).Scan(&seg.base, &seg.last, &segTS)
	if serr != nil && !errors.Is(serr, sql.ErrNoRows) {
		return Batch{}, serr
	}
	if serr == nil && (!hot || segTS > b.MaxTimestamp) {
		batches, err := l.segmentBatches(ctx, seg)
		if err != nil {
			return Batch{}, err
		}
		best, found := Batch{}, false
		for _, sb := range batches {
			if sb.Last >= start && (!found || sb.MaxTimestamp > best.MaxTimestamp) {
				best, found = sb, true
			}
		}
		if found {
			best.Data = bytes.Clone(best.Data)
			return best, nil
		}
	}
	if !hot {
		return Batch{}, fmt.Errorf("%w: empty log", ErrNotFound)
	}
	return b, nil
}

// TruncateBefore drops every offset below off (Kafka DeleteRecords,
// retention, JetStream purge). Batches that straddle off are kept whole;
// Start moves to off.
func (l *Log) TruncateBefore(ctx context.Context, off int64) error {
	l.segMu.Lock()
	defer l.segMu.Unlock()
	var segKeys []string
	var newStart int64
	err := l.logs.t.Update(ctx, func(tx *Tx) error {
		if off > l.pending {
			return fmt.Errorf("%w: %d beyond end %d", ErrOutOfRange, off, l.pending)
		}
		l.mu.Lock()
		newStart = max(l.start, off)
		l.mu.Unlock()
		rows, err := tx.Query(`SELECT base FROM log_segments WHERE log_id = ? AND last < ?`, l.id, newStart)
		if err != nil {
			return err
		}
		for rows.Next() {
			var base int64
			rows.Scan(&base)
			segKeys = append(segKeys, l.segmentKey(base))
		}
		rows.Close()
		if _, err := tx.Exec(`DELETE FROM log_segments WHERE log_id = ? AND last < ?`, l.id, newStart); err != nil {
			return err
		}
		if _, err := tx.Exec(`DELETE FROM log_batches WHERE log_id = ? AND last < ?`, l.id, newStart); err != nil {
			return err
		}
		_, err = tx.Exec(`UPDATE logs SET start_offset = ? WHERE id = ?`, newStart, l.id)
		return err
	})
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.start = newStart
	l.mu.Unlock()
	for _, k := range segKeys {
		l.logs.t.store.warm.Delete(ctx, k)
	}
	return nil
}
