package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"rewire/storage/tier"
)

// TestConcurrentAppendsCoalesce runs many appenders at once, so that
// batches share writes, with every third batch refused by its Check after
// writing a row and registering hooks. Accepted batches must get distinct,
// gapless offsets holding their own data; refused ones must leave no row,
// no offset and no commit hook behind.
func TestConcurrentAppendsCoalesce(t *testing.T) {
	s := openTestStore(t, Config{})
	tn := acquire(t, s, "acme")
	ctx := context.Background()
	if err := tn.Update(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`CREATE TABLE check_side(n INTEGER)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	l, err := tn.Logs().Create(ctx, "c", LogConfig{})
	if err != nil {
		t.Fatal(err)
	}
	errNo := errors.New("refused")
	var committedRefused, rolledBack atomic.Int64
	const writers, each = 16, 30
	bases := make([][]int64, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				n := w*each + i
				refuse := n%3 == 0
				b := AppendBatch{Data: []byte(fmt.Sprintf("w%d-%d", w, i)), Count: 2,
					Check: func(tx *Tx, base int64) error {
						if _, err := tx.Exec(`INSERT INTO check_side(n) VALUES (?)`, n); err != nil {
							return err
						}
						if refuse {
							tx.OnCommit(func() { committedRefused.Add(1) })
							tx.OnRollback(func() { rolledBack.Add(1) })
							return errNo
						}
						return nil
					}}
				base, err := l.Append(ctx, b)
				if refuse {
					if !errors.Is(err, errNo) {
						t.Errorf("refused append = %d, %v", base, err)
					}
					continue
				}
				if err != nil {
					t.Errorf("append: %v", err)
					return
				}
				bases[w] = append(bases[w], base)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	refused := int64(writers * each / 3)
	if committedRefused.Load() != 0 || rolledBack.Load() != refused {
		t.Errorf("hooks of refused checks: %d commit hooks ran, %d rollback hooks ran; want 0 and %d",
			committedRefused.Load(), rolledBack.Load(), refused)
	}
	accepted := int64(writers*each) - refused
	if _, next := l.Offsets(); next != 2*accepted {
		t.Fatalf("next offset %d, want %d", next, 2*accepted)
	}
	var sideRows int64
	if err := tn.DB().QueryRow(`SELECT count(*) FROM check_side`).Scan(&sideRows); err != nil || sideRows != accepted {
		t.Fatalf("rows written by accepted checks: %d (%v), want %d", sideRows, err, accepted)
	}
	got, err := l.Read(ctx, 0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	byBase := map[int64][]byte{}
	for i, b := range got {
		if b.Base != int64(2*i) || b.Last != b.Base+1 {
			t.Fatalf("batch %d spans [%d, %d]", i, b.Base, b.Last)
		}
		byBase[b.Base] = b.Data
	}
	for w, bs := range bases {
		k := 0
		for i := range each {
			if (w*each+i)%3 == 0 {
				continue
			}
			want := []byte(fmt.Sprintf("w%d-%d", w, i))
			if d := byBase[bs[k]]; !bytes.Equal(d, want) {
				t.Errorf("offset %d holds %q, want %q", bs[k], d, want)
			}
			k++
		}
	}
}

// TestLazyWrites checks the bookkeeping behind Tenant.UpdateLazy: a group
// of lazy writes commits without a sync of its own, a synced commit or a
// Sync covers it, Sync after nothing lazy costs nothing, and an unsynced
// lazy write is synced within lazySyncDelay without anyone asking.
func TestLazyWrites(t *testing.T) {
	s := openTestStore(t, Config{})
	tn := acquire(t, s, "acme")
	ctx := context.Background()
	put := func(update func(context.Context, func(*Tx) error) error, key string) {
		t.Helper()
		if err := update(ctx, func(tx *Tx) error {
			_, err := tx.Exec(`INSERT INTO kv(ns, key, value) VALUES ('t', ?, x'01')`, key)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := tn.KVGet(ctx, "t", key); err != nil {
			t.Fatalf("%s not visible after its write returned: %v", key, err)
		}
	}
	mode := func() int {
		t.Helper()
		var m int
		if err := tn.w.QueryRow(`PRAGMA synchronous`).Scan(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	syncs := func() int64 { return tn.commit.walSyncs.Load() }
	const normal, full = 1, 2

	put(tn.UpdateLazy, "a")
	if m := mode(); m != normal {
		t.Fatalf("after a lazy write synchronous = %d, want NORMAL", m)
	}
	if err := tn.Sync(ctx); err != nil || syncs() != 1 {
		t.Fatalf("Sync after a lazy write: %v, %d WAL syncs, want 1", err, syncs())
	}
	if err := tn.Sync(ctx); err != nil || syncs() != 1 {
		t.Fatalf("second Sync: %v, %d WAL syncs, want still 1", err, syncs())
	}
	put(tn.UpdateLazy, "b")
	put(tn.Update, "c")
	if m := mode(); m != full {
		t.Fatalf("after a durable write synchronous = %d, want FULL", m)
	}
	if err := tn.Sync(ctx); err != nil || syncs() != 1 {
		t.Fatalf("Sync after a synced commit: %v, %d WAL syncs, want still 1", err, syncs())
	}
	put(tn.UpdateLazy, "d")
	deadline := time.Now().Add(10 * lazySyncDelay)
	for syncs() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("lazy write not synced on its own after %v", 10*lazySyncDelay)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// countingBucket counts Gets of the warm tier.
type countingBucket struct {
	tier.Bucket
	gets atomic.Int64
}

func (b *countingBucket) Get(ctx context.Context, key string) ([]byte, error) {
	b.gets.Add(1)
	return b.Bucket.Get(ctx, key)
}

// TestSegmentCache reads a sealed log one batch at a time: each segment
// object must be fetched once, not once per read, and the data must be
// right. A segment object rewritten under its key must then be read anew.
func TestSegmentCache(t *testing.T) {
	s := openTestStore(t, Config{Policy: Policy{SegmentBytes: 16 << 10}})
	counter := &countingBucket{Bucket: s.warm.(watchedBucket).Bucket}
	s.warm = watchedBucket{Bucket: counter, segs: s.segs, verified: &s.verified}
	tn := acquire(t, s, "acme")
	ctx := context.Background()
	l, err := tn.Logs().Create(ctx, "c", LogConfig{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	for i := range n {
		data := bytes.Repeat([]byte{byte(i)}, 1000)
		if _, err := l.Append(ctx, AppendBatch{Data: data, Count: 1}); err != nil {
			t.Fatal(err)
		}
	}
	segments, err := l.Seal(ctx, true)
	if err != nil || segments < 3 {
		t.Fatalf("Seal = %d, %v; want several segments", segments, err)
	}
	read := func() {
		t.Helper()
		for off := int64(0); off < n; off++ {
			bs, err := l.Read(ctx, off, 1)
			if err != nil || len(bs) != 1 || bs[0].Base != off {
				t.Fatalf("Read(%d) = %v, %v", off, bs, err)
			}
			if want := bytes.Repeat([]byte{byte(off)}, 1000); !bytes.Equal(bs[0].Data, want) {
				t.Fatalf("offset %d holds the wrong data", off)
			}
			bs[0].Data[0] ^= 0xff // the caller's to keep: must not reach the cache
		}
	}
	read()
	if got := counter.gets.Load(); got != int64(segments) {
		t.Fatalf("%d segment fetches for %d segments", got, segments)
	}
	read()
	if got := counter.gets.Load(); got != int64(segments) {
		t.Fatalf("second pass fetched again: %d fetches for %d segments", got, segments)
	}

	// Rewrite the first segment with other bytes under the same key.
	key := l.segmentKey(0)
	raw, err := counter.Bucket.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	batches, err := decodeSegment(raw)
	if err != nil {
		t.Fatal(err)
	}
	var rewritten []byte
	for _, b := range batches {
		b.Data = bytes.Repeat([]byte{0xee}, len(b.Data))
		rewritten = appendSegmentBatch(rewritten, b)
	}
	if err := s.warm.Put(ctx, key, rewritten); err != nil {
		t.Fatal(err)
	}
	bs, err := l.Read(ctx, 0, 1)
	if err != nil || len(bs) != 1 || bs[0].Data[0] != 0xee {
		t.Fatalf("read after rewrite: %d batches, %v; want the new bytes", len(bs), err)
	}
}

// TestFailedWriteAlone checks that a write alone in its group, which runs
// without a savepoint, leaves nothing behind when it fails and runs its
// rollback hooks, and that the next write commits normally.
func TestFailedWriteAlone(t *testing.T) {
	s := openTestStore(t, Config{})
	tn := acquire(t, s, "acme")
	ctx := context.Background()
	errNo := errors.New("no")
	rolledBack := false
	err := tn.Update(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(`INSERT INTO kv(ns, key, value) VALUES ('t', 'a', x'01')`); err != nil {
			return err
		}
		tx.OnRollback(func() { rolledBack = true })
		return errNo
	})
	if !errors.Is(err, errNo) || !rolledBack {
		t.Fatalf("failed write: %v, rollback hook ran: %v", err, rolledBack)
	}
	if _, err := tn.KVGet(ctx, "t", "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("row of the failed write: %v", err)
	}
	if err := tn.Update(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO kv(ns, key, value) VALUES ('t', 'b', x'01')`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := tn.KVGet(ctx, "t", "b"); err != nil {
		t.Fatalf("write after a failed one: %v", err)
	}
}

// TestReadFuncStops reads with ReadFunc from the warm tier into the hot
// tail and stops where the callback says, with the same batches Read
// returns.
func TestReadFuncStops(t *testing.T) {
	s := openTestStore(t, Config{})
	tn := acquire(t, s, "acme")
	ctx := context.Background()
	l, err := tn.Logs().Create(ctx, "r", LogConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		if _, err := l.Append(ctx, AppendBatch{Data: fmt.Appendf(nil, "batch %d", i), Count: 1}); err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			if _, err := l.Seal(ctx, true); err != nil {
				t.Fatal(err)
			}
		}
	}
	all, err := l.Read(ctx, 0, 1<<20)
	if err != nil || len(all) != 6 {
		t.Fatalf("Read: %d batches, %v", len(all), err)
	}
	for stopAt := 1; stopAt <= 6; stopAt++ {
		var seen []string
		err := l.ReadFunc(ctx, 0, 1<<20, func(b Batch) bool {
			seen = append(seen, string(b.Data))
			return len(seen) < stopAt
		})
		if err != nil || len(seen) != stopAt {
			t.Fatalf("stop at %d: saw %q, %v", stopAt, seen, err)
		}
		for i, s := range seen {
			if s != string(all[i].Data) {
				t.Fatalf("stop at %d: batch %d is %q, Read gave %q", stopAt, i, s, all[i].Data)
			}
		}
	}
}
