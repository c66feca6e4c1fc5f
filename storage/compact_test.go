package storage

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
)

// offsetCompactor reads batches "base|k=v;k=v;…", one offset per record.
type offsetCompactor struct{}

func (offsetCompactor) records(data []byte, fn func(raw string, key []byte, off int64)) error {
	head, body, ok := strings.Cut(string(data), "|")
	if !ok {
		return fmt.Errorf("bad batch %q", data)
	}
	var base int64
	fmt.Sscan(head, &base)
	for i, r := range strings.Split(strings.TrimSuffix(body, ";"), ";") {
		k, _, keyed := strings.Cut(r, "=")
		var key []byte
		if keyed {
			key = []byte(k)
		}
		fn(r, key, base+int64(i))
	}
	return nil
}

func (c offsetCompactor) Keys(data []byte, fn func(key []byte, off int64)) error {
	return c.records(data, func(_ string, key []byte, off int64) {
		if key != nil {
			fn(key, off)
		}
	})
}

func (c offsetCompactor) Rewrite(data []byte, keep func(key []byte, off int64) bool, _ LogConfig) ([]byte, error) {
	head, _, _ := strings.Cut(string(data), "|")
	var kept []string
	dropped := false
	err := c.records(data, func(raw string, key []byte, off int64) {
		if key == nil || keep(key, off) {
			kept = append(kept, raw)
		} else {
			dropped = true
		}
	})
	if err != nil || !dropped {
		return data, err
	}
	return []byte(head + "|" + strings.Join(kept, ";") + ";"), nil
}

// TestCompact compacts a log whose batches lie in a warm segment and in
// the hot tail, checks that only the latest record of each key remains
// with every batch at its offsets, and that the mover compacts again only
// once the log has grown by half.
func TestCompact(t *testing.T) {
	_, _, l := newCompactedLog(t)
	ctx := context.Background()
	var base int64
	add := func(recs ...string) {
		data := fmt.Appendf(nil, "%d|%s;", base, strings.Join(recs, ";"))
		b, err := l.Append(ctx, AppendBatch{Data: data, Count: int64(len(recs)),
			Stamp: func(d []byte, at int64) {
				if at != base {
					t.Fatalf("batch stamped at %d, expected %d", at, base)
				}
			}})
		if err != nil || b != base {
			t.Fatalf("append at %d: %d, %v", base, b, err)
		}
		base += int64(len(recs))
	}
	add("a=1", "b=1", "nokey")
	add("a=2", "c=1")
	if _, err := l.Seal(ctx, true); err != nil {
		t.Fatal(err)
	}
	add("b=2", "c=2")
	add("a=3")
	if !l.compactDirty() {
		t.Fatal("a never compacted log is not dirty")
	}
	if err := l.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	batches, err := l.Read(ctx, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range batches {
		got = append(got, fmt.Sprintf("%d-%d %s", b.Base, b.Last, b.Data))
	}
	// The emptied middle batch stays, with no records.
	want := []string{"0-2 0|nokey;", "3-4 3|;", "5-6 5|b=2;c=2;", "7-7 7|a=3;"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Fatalf("after compaction: %q\nwant %q", got, want)
	}
	if l.compactDirty() {
		t.Fatal("dirty right after compaction")
	}
	add("d=1")
	if l.compactDirty() {
		t.Fatal("dirty after growing by one record of eight")
	}
	for range 8 {
		add("d=2")
	}
	if !l.compactDirty() {
		t.Fatal("not dirty after doubling")
	}
	if !bytes.Contains(batches[2].Data, []byte("b=2")) {
		t.Fatal("hot batch lost its latest records")
	}
}

// TestCompactBounded runs passes whose key map is too small for the whole
// log: each covers a prefix, and together they reach the full result.
func TestCompactBounded(t *testing.T) {
	RegisterCompactor("test-offsets", offsetCompactor{})
	defer func(n int) { maxCompactKeyBytes = n }(maxCompactKeyBytes)
	maxCompactKeyBytes = 100 // about two keys
	s := openTestStore(t, Config{})
	tn := acquire(t, s, "acme")
	ctx := context.Background()
	l, err := tn.Logs().Create(ctx, "b", LogConfig{Compactor: "test-offsets"})
	if err != nil {
		t.Fatal(err)
	}
	var base int64
	for _, recs := range [][]string{{"a=1", "b=1"}, {"c=1", "a=2"}, {"d=1", "b=2"}, {"a=3", "e=1"}} {
		data := fmt.Appendf(nil, "%d|%s;", base, strings.Join(recs, ";"))
		if _, err := l.Append(ctx, AppendBatch{Data: data, Count: int64(len(recs))}); err != nil {
			t.Fatal(err)
		}
		base += int64(len(recs))
	}
	passes := 0
	for {
		if err := l.Compact(ctx); err != nil {
			t.Fatal(err)
		}
		passes++
		l.mu.Lock()
		done := l.compactedTo
		l.mu.Unlock()
		if done == base || passes > 10 {
			break
		}
	}
	if passes < 2 || passes > 10 {
		t.Fatalf("%d passes to cover the log with a two-key map", passes)
	}
	batches, err := l.Read(ctx, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range batches {
		got = append(got, string(b.Data))
	}
	// Together the passes leave one record per key, the latest.
	want := []string{"0|;", "2|c=1;", "4|d=1;b=2;", "6|a=3;e=1;"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("after bounded passes: %q\nwant %q", got, want)
	}
}

// TestCompactAfterTruncate rewrites a segment whose row truncation
// removed after compaction read it: the rewrite must not be put, since
// the object it would replace is about to go (or, once a new log reuses
// the id, belongs to that log).
func TestCompactAfterTruncate(t *testing.T) {
	s, tn, l := newCompactedLog(t)
	ctx := context.Background()
	for i, recs := range []string{"a=1;b=1;", "a=2;"} {
		data := fmt.Appendf(nil, "%d|%s", 2*i, recs)
		if _, err := l.Append(ctx, AppendBatch{Data: data, Count: 2 - int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Seal(ctx, true); err != nil {
		t.Fatal(err)
	}
	segs, err := l.allSegments(ctx, 100)
	if err != nil || len(segs) == 0 {
		t.Fatalf("segments: %v, %v", segs, err)
	}
	key := l.segmentKey(segs[0].base)
	orig, err := s.warm.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	// While the row is there, a rewrite is put.
	dropB := func(key []byte, off int64) bool { return string(key) != "b" }
	if err := l.compactSegment(ctx, offsetCompactor{}, segs[0], dropB, l.Config()); err != nil {
		t.Fatal(err)
	}
	before, err := s.warm.Get(ctx, key)
	if err != nil || bytes.Equal(before, orig) {
		t.Fatalf("rewrite of a listed segment not put (%v)", err)
	}
	// Truncation's transaction has run; its removal of the object has not.
	err = tn.Update(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`DELETE FROM log_segments WHERE log_id = ?`, l.id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	keep := func(key []byte, off int64) bool { return string(key) != "a" || off >= 2 }
	if err := l.compactSegment(ctx, offsetCompactor{}, segs[0], keep, l.Config()); err != nil {
		t.Fatal(err)
	}
	after, err := s.warm.Get(ctx, key)
	if err != nil || !bytes.Equal(after, before) {
		t.Fatalf("compaction rewrote a segment truncation removed (%v)", err)
	}
}

// newCompactedLog opens a store with a tenant holding log "c", compacted
// by offsetCompactor.
func newCompactedLog(t *testing.T) (*Store, *Tenant, *Log) {
	t.Helper()
	RegisterCompactor("test-offsets", offsetCompactor{})
	s := openTestStore(t, Config{})
	tn := acquire(t, s, "acme")
	l, err := tn.Logs().Create(context.Background(), "c", LogConfig{Compactor: "test-offsets"})
	if err != nil {
		t.Fatal(err)
	}
	return s, tn, l
}
