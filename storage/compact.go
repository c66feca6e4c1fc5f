package storage

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// A Compactor knows the record format of a kind of log well enough to
// compact it: to keep, for every record key, only its latest record. The
// core never interprets batch data itself; a protocol registers its
// compactor under a name and names it in LogConfig.Compactor.
type Compactor interface {
	// Keys calls fn with the key and offset of every keyed record of a
	// stored batch.
	Keys(data []byte, fn func(key []byte, off int64)) error
	// Rewrite returns the batch's data keeping only the records keep
	// accepts (records without a key are always kept), or data itself
	// when every record stays. The batch keeps its offsets. cfg is the
	// log's configuration, for settings such as how long deletions stay.
	Rewrite(data []byte, keep func(key []byte, off int64) bool, cfg LogConfig) ([]byte, error)
}

var (
	compactorsMu sync.Mutex
	compactors   = map[string]Compactor{}
)

// RegisterCompactor makes c the compactor of logs whose configuration
// names it.
func RegisterCompactor(name string, c Compactor) {
	compactorsMu.Lock()
	defer compactorsMu.Unlock()
	compactors[name] = c
}

func compactorNamed(name string) Compactor {
	compactorsMu.Lock()
	defer compactorsMu.Unlock()
	return compactors[name]
}

// maxCompactKeyBytes bounds the memory one compaction pass spends on its
// map of keys, as Kafka's log.cleaner.dedupe.buffer.size does.
var maxCompactKeyBytes = 64 << 20

// compactDirty reports whether enough of the log was appended since its
// last compaction to make another worth it: half of what it holds, as
// Kafka's default min.cleanable.dirty.ratio.
func (l *Log) compactDirty() bool {
	start, next := l.Offsets()
	l.mu.Lock()
	done := max(l.compactedTo, start)
	l.mu.Unlock()
	dirty := next - done
	return dirty > 0 && 2*dirty >= next-start
}

// Compact removes, from every batch stored before the log's current end,
// the records whose key has a later record in the log (see below for the
// part a pass covers). Offsets do not
// change; a batch may end up with no records. It does nothing for a log
// without a registered compactor. Warm segments are rewritten in place;
// hot batches are updated in one transaction each.
func (l *Log) Compact(ctx context.Context) error {
	cfg := l.Config()
	c := compactorNamed(cfg.Compactor)
	if c == nil {
		return nil
	}
	start, upTo := l.Offsets()
	// Keys are mapped from the first offset the last pass did not cover,
	// as Kafka's cleaner maps the dirty part of a log: the part before it
	// holds one record per key already, and only newer records of a key
	// can supersede them. The map is bounded: a pass that would exceed
	// it covers the offsets before the batch that did, and the next pass
	// goes on from there.
	l.mu.Lock()
	dirtyFrom := max(l.compactedTo, start)
	l.mu.Unlock()
	latest := map[string]int64{}
	keyBytes := 0
	note := func(key []byte, off int64) {
		if last, ok := latest[string(key)]; off < upTo && (!ok || off > last) {
			if !ok {
				keyBytes += len(key) + 48 // the map's own cost, roughly
			}
			latest[string(key)] = off
		}
	}
	keep := func(key []byte, off int64) bool {
		last, ok := latest[string(key)]
		return off >= upTo || !ok || off >= last
	}
	scan := func(b Batch) (bool, error) {
		if b.Base >= upTo {
			return false, nil
		}
		if b.Last < dirtyFrom {
			return true, nil // compacted by an earlier pass
		}
		if keyBytes > maxCompactKeyBytes {
			upTo = b.Base // this batch and those after wait for the next pass
			return false, nil
		}
		if err := c.Keys(b.Data, note); err != nil {
			return false, fmt.Errorf("compact %s: %w", l.name, err)
		}
		return true, nil
	}

	segs, err := l.allSegments(ctx, upTo)
	if err != nil {
		return err
	}
	hot, err := l.hotBatches(ctx, upTo)
	if err != nil {
		return err
	}
	more := true
	for _, s := range segs {
		all, err := l.segmentBatches(ctx, s)
		if err != nil {
			return err
		}
		for _, b := range all {
			if more, err = scan(b); err != nil {
				return err
			} else if !more {
				break
			}
		}
		if !more {
			break
		}
	}
	for _, b := range hot {
		if !more {
			break
		}
		if more, err = scan(b); err != nil {
			return err
		}
	}

	for _, s := range segs {
		if s.base >= upTo {
			break
		}
		if err := l.compactSegment(ctx, c, s, keep, cfg); err != nil {
			return err
		}
	}
	for _, b := range hot {
		if b.Base >= upTo {
			break
		}
		data, err := c.Rewrite(b.Data, keep, cfg)
		if err != nil {
			return fmt.Errorf("compact %s: %w", l.name, err)
		}
		if len(data) == len(b.Data) {
			continue // unchanged
		}
		err = l.logs.t.Update(ctx, func(tx *Tx) error {
			// A batch sealed or truncated meanwhile is left alone.
			// The rewrite is stored inline; the journal copy becomes garbage.
			_, err := tx.Exec(`UPDATE log_batches SET data = ?, jfile = NULL, jpos = NULL, jlen = NULL, jcrc = NULL
				WHERE log_id = ? AND base = ?`, data, l.id, b.Base)
			return err
		})
		if err != nil {
			return err
		}
	}
	l.mu.Lock()
	l.compactedTo = upTo
	l.mu.Unlock()
	return nil
}

// allSegments lists the log's sealed segments that begin before upTo.
func (l *Log) allSegments(ctx context.Context, upTo int64) ([]segment, error) {
	return l.querySegments(ctx, `SELECT base, last FROM log_segments WHERE log_id = ? AND base < ? ORDER BY base`, l.id, upTo)
}

// hotBatches returns the log's hot batches that begin before upTo.
func (l *Log) hotBatches(ctx context.Context, upTo int64) ([]Batch, error) {
	rows, err := l.logs.t.r.QueryContext(ctx,
		`SELECT `+hotCols+` FROM log_batches WHERE log_id = ? AND base < ? ORDER BY base`, l.id, upTo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Batch
	for rows.Next() {
		var b Batch
		var hr hotRow
		if err := rows.Scan(hr.dest(&b, &hr.data)...); err != nil {
			return nil, err
		}
		if b.Data, err = l.hotBatchData(&hr); errors.Is(err, errJournalGone) {
			continue // sealed or truncated meanwhile: not hot any more
		} else if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// compactSegment rewrites one warm segment without the records keep
// refuses. The object is replaced under the same key (readers see the
// old or the new one, both correct), and its row's size follows.
func (l *Log) compactSegment(ctx context.Context, c Compactor, s segment, keep func([]byte, int64) bool, cfg LogConfig) error {
	all, err := l.segmentBatches(ctx, s)
	if err != nil {
		return err
	}
	changed := false
	var buf []byte
	for _, b := range all {
		data, err := c.Rewrite(b.Data, keep, cfg)
		if err != nil {
			return fmt.Errorf("compact %s: %w", l.name, err)
		}
		if len(data) != len(b.Data) {
			changed = true
		}
		b.Data = data
		buf = appendSegmentBatch(buf, b)
	}
	if !changed {
		return nil
	}
	// The segment may have been dropped (truncation, the log deleted)
	// since it was listed: putting the rewrite then would leave an object
	// nothing refers to, or, once a new log reuses the id, overwrite one
	// of its segments. segMu keeps removals out until the row is updated.
	l.segMu.Lock()
	defer l.segMu.Unlock()
	l.mu.Lock()
	deleted := l.deleted
	l.mu.Unlock()
	var n int
	err = l.logs.t.r.QueryRowContext(ctx, `SELECT count(*) FROM log_segments WHERE log_id = ? AND base = ?`, l.id, s.base).Scan(&n)
	if err != nil || deleted || n == 0 {
		return err
	}
	if err := l.logs.t.store.warm.Put(ctx, l.segmentKey(s.base), buf); err != nil {
		return err
	}
	return l.logs.t.Update(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE log_segments SET size = ? WHERE log_id = ? AND base = ?`, len(buf), l.id, s.base)
		return err
	})
}
