package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"time"
)

// A sealed segment is an object in the warm tier holding consecutive
// batches of one log, each framed as
//
//	base   int64 big-endian
//	last   int64 big-endian
//	max_ts int64 big-endian
//	length uint32 big-endian
//	data   [length]byte
//
// Its row in log_segments names the first base and last offset, so a read
// finds the segment by offset without opening it.

const segmentHeader = 8 + 8 + 8 + 4

type segment struct {
	base, last int64
}

func (l *Log) segmentKey(base int64) string {
	return fmt.Sprintf("%s/logs/%d/%020d.seg", l.logs.t.info.ID, l.id, base)
}

func (l *Log) segmentsFrom(ctx context.Context, from int64) ([]segment, error) {
	return l.querySegments(ctx, `SELECT base, last FROM log_segments WHERE log_id = ? AND last >= ? ORDER BY base LIMIT 4`, l.id, from)
}

// querySegments runs a query for segments' base and last offsets.
func (l *Log) querySegments(ctx context.Context, query string, args ...any) ([]segment, error) {
	rows, err := l.logs.t.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []segment
	for rows.Next() {
		var s segment
		if err := rows.Scan(&s.base, &s.last); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// readSegment emits the batches of segment s holding offsets from on
// (the first may begin before it), up to budget bytes of data (and at
// least one batch when first), until *stop; a budget that ends the read
// before the segment does sets *stop. The decoded segment comes from the
// store's segment cache, or is fetched whole and cached; the data emitted
// is the cache's, which callers must not change or keep.
// TODO: ranged reads for segments too large to cache, once segments carry
// an offset index.
func (l *Log) readSegment(ctx context.Context, s segment, from int64, budget int, first bool, emit func(Batch), stop *bool) error {
	all, err := l.segmentBatches(ctx, s)
	if err != nil {
		return err
	}
	i := sort.Search(len(all), func(i int) bool { return all[i].Last >= from })
	size, n := 0, 0
	for _, b := range all[i:] {
		if (n > 0 || !first) && size+len(b.Data) > budget {
			*stop = true
			return nil
		}
		emit(b)
		n++
		size += len(b.Data)
		if *stop {
			return nil
		}
	}
	return nil
}

// segmentBatches returns every batch of segment s, from the segment cache
// or fetched and cached. The result is shared: callers copy what they
// hand out.
func (l *Log) segmentBatches(ctx context.Context, s segment) ([]Batch, error) {
	key := l.segmentKey(s.base)
	cache := l.logs.t.store.segs
	if all := cache.get(key); all != nil {
		return all, nil
	}
	raw, err := l.logs.t.store.warm.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read segment of %s at %d: %w", l.name, s.base, err)
	}
	all, err := decodeSegment(raw)
	if err != nil {
		return nil, err
	}
	cache.put(key, all, int64(len(raw)))
	return all, nil
}

func decodeSegment(raw []byte) ([]Batch, error) {
	var out []Batch
	for len(raw) > 0 {
		if len(raw) < segmentHeader {
			return nil, fmt.Errorf("%w: truncated segment", ErrCorrupt)
		}
		b := Batch{
			Base:         int64(binary.BigEndian.Uint64(raw[0:])),
			Last:         int64(binary.BigEndian.Uint64(raw[8:])),
			MaxTimestamp: int64(binary.BigEndian.Uint64(raw[16:])),
		}
		n := int(binary.BigEndian.Uint32(raw[24:]))
		raw = raw[segmentHeader:]
		if n > len(raw) {
			return nil, fmt.Errorf("%w: truncated segment", ErrCorrupt)
		}
		b.Data = raw[:n:n]
		raw = raw[n:]
		out = append(out, b)
	}
	return out, nil
}

func appendSegmentBatch(dst []byte, b Batch) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(b.Base))
	dst = binary.BigEndian.AppendUint64(dst, uint64(b.Last))
	dst = binary.BigEndian.AppendUint64(dst, uint64(b.MaxTimestamp))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(b.Data)))
	return append(dst, b.Data...)
}

// Seal moves the oldest hot batches into warm segments while the hot tail
// is larger than the policy's LogHotBytes or older than WarmAfter. force
// seals every hot batch. It returns the number of segments written.
func (l *Log) Seal(ctx context.Context, force bool) (int, error) {
	p := l.logs.t.policy
	sealed := 0
	for {
		var hotBytes, oldestAdded int64
		var n int
		err := l.logs.t.r.QueryRowContext(ctx,
			`SELECT COUNT(*), COALESCE(SUM(LENGTH(data) + COALESCE(jlen, 0)), 0), COALESCE(MIN(added), 0) FROM log_batches WHERE log_id = ?`,
			l.id).Scan(&n, &hotBytes, &oldestAdded)
		if err != nil {
			return sealed, err
		}
		if n == 0 {
			return sealed, nil
		}
		tooBig := hotBytes > p.LogHotBytes
		tooOld := time.Since(time.Unix(0, oldestAdded)) > p.WarmAfter
		if !force && !tooBig && !tooOld {
			return sealed, nil
		}
		cutoff := time.Now().Add(-p.WarmAfter).UnixNano()
		if force || tooBig {
			cutoff = time.Now().UnixNano() + 1
		}
		ok, err := l.sealOne(ctx, p.SegmentBytes, cutoff)
		if err != nil || !ok {
			return sealed, err
		}
		sealed++
	}
}

// sealOne writes one segment from the oldest hot batches added before
// cutoff. The segment is durable in the warm tier before the transaction
// that replaces the batch rows with the segment row; if the rows changed
// meanwhile (truncation), the transaction does nothing and the object is
// removed.
func (l *Log) sealOne(ctx context.Context, target int64, cutoff int64) (bool, error) {
	// One seal at a time, and none while segments are removed or
	// rewritten: a seal that lost a race deletes the object it put, which
	// must never be one another seal or a newer log owns.
	l.segMu.Lock()
	defer l.segMu.Unlock()
	l.mu.Lock()
	deleted := l.deleted
	l.mu.Unlock()
	if deleted {
		return false, nil
	}
	rows, err := l.logs.t.r.QueryContext(ctx,
		`SELECT `+hotCols+` FROM log_batches WHERE log_id = ? AND added < ? ORDER BY base`, l.id, cutoff)
	if err != nil {
		return false, err
	}
	var buf, jbuf []byte
	var first, last, maxTS int64
	count := 0
	for rows.Next() {
		var b Batch
		var hr hotRow
		if err := rows.Scan(hr.dest(&b, &hr.data)...); err != nil {
			rows.Close()
			return false, err
		}
		if b.Data, err = l.hotData(&hr, &jbuf); errors.Is(err, errJournalGone) {
			// Compaction moved the batch inline and the journal file
			// went meanwhile: seal on the next pass.
			rows.Close()
			return false, nil
		} else if err != nil {
			rows.Close()
			return false, err
		}
		if count == 0 {
			first = b.Base
		}
		last, maxTS = b.Last, max(maxTS, b.MaxTimestamp)
		buf = appendSegmentBatch(buf, b)
		count++
		if int64(len(buf)) >= target {
			break
		}
	}
	rows.Close()
	if count == 0 {
		return false, nil
	}
	key := l.segmentKey(first)
	if err := l.logs.t.store.warm.Put(ctx, key, buf); err != nil {
		return false, err
	}
	metricTierBytes.WithLabelValues("warm").Add(float64(len(buf)))
	var applied bool
	err = l.logs.t.Update(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`DELETE FROM log_batches WHERE log_id = ? AND base >= ? AND last <= ?`, l.id, first, last)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != int64(count) {
			return errSealRace
		}
		_, err = tx.Exec(`INSERT INTO log_segments(log_id, base, last, max_ts, size, blob) VALUES (?, ?, ?, ?, ?, ?)`,
			l.id, first, last, maxTS, len(buf), key)
		applied = err == nil
		return err
	})
	if err == errSealRace {
		l.logs.t.store.warm.Delete(ctx, key)
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return applied, nil
}

var errSealRace = fmt.Errorf("log changed while sealing")

// applyRetention drops batches beyond the log's retention settings and
// reports whether anything was dropped.
func (l *Log) applyRetention(ctx context.Context) (bool, error) {
	cfg := l.Config()
	start, next := l.Offsets()
	cut := start
	if cfg.RetentionMs > 0 {
		cutoff := time.Now().UnixMilli() - cfg.RetentionMs
		for _, q := range []string{
			`SELECT COALESCE(MAX(last) + 1, 0) FROM log_segments WHERE log_id = ? AND max_ts < ?`,
			`SELECT COALESCE(MAX(last) + 1, 0) FROM log_batches WHERE log_id = ? AND max_ts < ?`,
		} {
			var off int64
			if err := l.logs.t.r.QueryRowContext(ctx, q, l.id, cutoff).Scan(&off); err != nil {
				return false, err
			}
			cut = max(cut, off)
		}
	}
	if cfg.RetentionBytes > 0 {
		// Keep the newest units (hot batches and segments) whose sizes sum
		// to at most the budget.
		var keepFrom int64
		err := l.logs.t.r.QueryRowContext(ctx, `
			SELECT COALESCE(MIN(base), ?2) FROM (
				SELECT base, SUM(size) OVER (ORDER BY base DESC) AS tail FROM (
					SELECT base, LENGTH(data) + COALESCE(jlen, 0) AS size FROM log_batches WHERE log_id = ?1
					UNION ALL
					SELECT base, size FROM log_segments WHERE log_id = ?1
				)
			) WHERE tail <= ?3`, l.id, next, cfg.RetentionBytes).Scan(&keepFrom)
		if err != nil {
			return false, err
		}
		cut = max(cut, keepFrom)
	}
	if cut <= start {
		return false, nil
	}
	return true, l.TruncateBefore(ctx, min(cut, next))
}
