package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"rewire/internal/s3test"
)

func openTestStore(t *testing.T, cfg Config) *Store {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.MoverInterval == 0 {
		cfg.MoverInterval = -1
	}
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func acquire(t *testing.T, s *Store, name string) *Tenant {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Control().Tenant(ctx, name); errors.Is(err, ErrNoTenant) {
		if _, err := s.CreateTenant(ctx, name, "pw-"+name); err != nil {
			t.Fatal(err)
		}
	}
	tn, err := s.Acquire(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tn.Release)
	return tn
}

func TestTenantNames(t *testing.T) {
	s := openTestStore(t, Config{})
	ctx := context.Background()
	for _, bad := range []string{"", "A", "1abc", "../x", "a/b", "a.b", "admin", "metrics", "rpc",
		"x234567890123456789012345678901234567890123456789012345678901234"} {
		if _, err := s.CreateTenant(ctx, bad, "pw"); !errors.Is(err, ErrInvalidName) {
			t.Errorf("CreateTenant(%q) = %v, want ErrInvalidName", bad, err)
		}
	}
	if _, err := s.CreateTenant(ctx, "acme", "pw"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTenant(ctx, "acme", "pw"); !errors.Is(err, ErrTenantExists) {
		t.Errorf("duplicate tenant: %v", err)
	}
	if _, err := s.Acquire(ctx, "nobody"); !errors.Is(err, ErrNoTenant) {
		t.Errorf("unknown tenant: %v", err)
	}
}

func TestAuthenticate(t *testing.T) {
	s := openTestStore(t, Config{})
	ctx := context.Background()
	if _, err := s.CreateTenant(ctx, "acme", "s3cret"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Control().Authenticate(ctx, "acme", "s3cret"); err != nil {
		t.Errorf("right password: %v", err)
	}
	for _, c := range []struct{ user, pw string }{{"acme", "wrong"}, {"acme", ""}, {"other", "s3cret"}} {
		if _, err := s.Control().Authenticate(ctx, c.user, c.pw); !errors.Is(err, ErrAuthFailed) {
			t.Errorf("Authenticate(%q, %q) = %v, want ErrAuthFailed", c.user, c.pw, err)
		}
	}
	// No password is stored in the clear anywhere in the control database.
	raw, err := os.ReadFile(filepath.Join(s.Dir(), "control.db"))
	if err != nil {
		t.Fatal(err)
	}
	wal, _ := os.ReadFile(filepath.Join(s.Dir(), "control.db-wal"))
	if bytes.Contains(raw, []byte("s3cret")) || bytes.Contains(wal, []byte("s3cret")) {
		t.Error("password stored in clear text")
	}
}

func TestBlobTiers(t *testing.T) {
	s := openTestStore(t, Config{Policy: Policy{HotMaxBytes: 1024}})
	tn := acquire(t, s, "acme")
	ctx := context.Background()
	small := []byte("small blob")
	large := bytes.Repeat([]byte("L"), 5000)

	hs, err := tn.Blobs().Put(ctx, small)
	if err != nil {
		t.Fatal(err)
	}
	hl, err := tn.Blobs().Put(ctx, large)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		h    Hash
		want Tier
		data []byte
	}{{hs, TierHot, small}, {hl, TierWarm, large}} {
		info, err := tn.Blobs().Stat(ctx, c.h)
		if err != nil || info.Tier != c.want {
			t.Fatalf("Stat = %+v, %v; want tier %v", info, err, c.want)
		}
		got, err := tn.Blobs().Get(ctx, c.h)
		if err != nil || !bytes.Equal(got, c.data) {
			t.Fatalf("Get = %d bytes, %v", len(got), err)
		}
	}

	// Dedup: a second put adds a reference, a release removes one.
	if _, err := tn.Blobs().Put(ctx, large); err != nil {
		t.Fatal(err)
	}
	if info, _ := tn.Blobs().Stat(ctx, hl); info.Refs != 2 {
		t.Fatalf("refs = %d, want 2", info.Refs)
	}

	// Demote everything: hot→warm→cold in one pass with zero ages.
	tn.policy.WarmAfter = time.Nanosecond
	tn.policy.ColdAfter = time.Nanosecond
	time.Sleep(time.Millisecond)
	st, err := tn.RunMover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Demoted < 3 {
		t.Errorf("demoted %d, want at least 3", st.Demoted)
	}
	for _, h := range []Hash{hs, hl} {
		if info, _ := tn.Blobs().Stat(ctx, h); info.Tier != TierCold {
			t.Errorf("blob %s in %v, want cold", h, info.Tier)
		}
	}
	// Reading promotes: small back to hot, large to warm.
	if got, err := tn.Blobs().Get(ctx, hs); err != nil || !bytes.Equal(got, small) {
		t.Fatalf("cold Get: %v", err)
	}
	if got, err := tn.Blobs().Get(ctx, hl); err != nil || !bytes.Equal(got, large) {
		t.Fatalf("cold Get: %v", err)
	}
	if info, _ := tn.Blobs().Stat(ctx, hs); info.Tier != TierHot {
		t.Errorf("small blob promoted to %v, want hot", info.Tier)
	}
	if info, _ := tn.Blobs().Stat(ctx, hl); info.Tier != TierWarm {
		t.Errorf("large blob promoted to %v, want warm", info.Tier)
	}

	// Release both references: the warm object is gone.
	for range 2 {
		if err := tn.Blobs().Release(ctx, hl); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tn.Blobs().Get(ctx, hl); !errors.Is(err, ErrNotFound) {
		t.Errorf("released blob: %v", err)
	}
	if _, err := s.warm.Get(ctx, tn.Blobs().warmKey(hl)); err == nil {
		t.Error("warm copy left behind")
	}
}

func TestBlobCorruptionDetected(t *testing.T) {
	s, tn, _, h := newWarmBlob(t)
	ctx := context.Background()
	if err := s.warm.Put(ctx, tn.Blobs().warmKey(h), bytes.Repeat([]byte("y"), 100)); err != nil {
		t.Fatal(err)
	}
	if _, err := tn.Blobs().Get(ctx, h); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Get of corrupted blob = %v, want ErrCorrupt", err)
	}
}

// A warm blob read and verified once is not rehashed while its file is
// unchanged, but bytes rewritten in place afterwards are still caught.
func TestBlobCorruptionAfterVerifiedRead(t *testing.T) {
	s, tn, data, h := newWarmBlob(t)
	ctx := context.Background()
	for range 2 {
		if got, err := tn.Blobs().Get(ctx, h); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Get = %q, %v", got, err)
		}
	}
	key := tn.Blobs().warmKey(h)
	if _, ok := s.verified.m[key]; !ok {
		t.Fatal("verified read not remembered")
	}
	// Same inode, same size, new bytes; after a pause, so that a file
	// clock coarser than a nanosecond has ticked.
	time.Sleep(20 * time.Millisecond)
	path := filepath.Join(s.cfg.WarmURL, filepath.FromSlash(key))
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("y"), 50); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := tn.Blobs().Get(ctx, h); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Get of blob rewritten in place = %v, want ErrCorrupt", err)
	}
}

func TestLogAppendRead(t *testing.T) {
	s := openTestStore(t, Config{Policy: Policy{SegmentBytes: 300}})
	tn := acquire(t, s, "acme")
	ctx := context.Background()
	l, err := tn.Logs().Create(ctx, "orders/0", LogConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tn.Logs().Create(ctx, "orders/0", LogConfig{}); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate log: %v", err)
	}

	// Concurrent appends of 3-offset batches: offsets never overlap.
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				data := []byte(fmt.Sprintf("w%d-%02d-padding-padding", w, i))
				if _, err := l.Append(ctx, AppendBatch{Data: data, Count: 3, MaxTimestamp: int64(1000 + i)}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	start, next := l.Offsets()
	if start != 0 || next != 480 {
		t.Fatalf("offsets = %d, %d; want 0, 480", start, next)
	}
	checkLog := func() {
		t.Helper()
		var off int64
		for off < next {
			bs, err := l.Read(ctx, off, 100)
			if err != nil {
				t.Fatalf("Read(%d): %v", off, err)
			}
			if len(bs) == 0 {
				t.Fatalf("Read(%d) returned nothing", off)
			}
			for _, b := range bs {
				if b.Base != off || b.Last != off+2 {
					t.Fatalf("batch [%d,%d] at %d", b.Base, b.Last, off)
				}
				off = b.Last + 1
			}
		}
		// Reading from the middle of a batch returns that batch.
		bs, err := l.Read(ctx, 4, 1)
		if err != nil || len(bs) != 1 || bs[0].Base != 3 {
			t.Fatalf("Read(4) = %+v, %v", bs, err)
		}
	}
	checkLog()

	// Seal everything into warm segments: reads are unchanged.
	n, err := l.Seal(ctx, true)
	if err != nil || n < 2 {
		t.Fatalf("Seal = %d, %v", n, err)
	}
	checkLog()
	// With no hot batch left, the newest timestamp is in a segment.
	if b, err := l.MaxTimestamp(ctx); err != nil || b.MaxTimestamp != 1019 {
		t.Fatalf("MaxTimestamp over segments = %+v, %v", b, err)
	}
	if _, err := l.Append(ctx, AppendBatch{Data: []byte("after seal"), Count: 1, MaxTimestamp: 5000}); err != nil {
		t.Fatal(err)
	}
	next++
	b, err := l.FindTime(ctx, 5000)
	if err != nil || b.Base != 480 {
		t.Fatalf("FindTime = %+v, %v", b, err)
	}
	if b, err := l.MaxTimestamp(ctx); err != nil || b.Base != 480 {
		t.Fatalf("MaxTimestamp = %+v, %v", b, err)
	}
	// A hot batch older than the segments' newest does not hide it.
	if _, err := l.Append(ctx, AppendBatch{Data: []byte("late"), Count: 1, MaxTimestamp: 1}); err != nil {
		t.Fatal(err)
	}
	next++
	if _, err := l.Seal(ctx, true); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, AppendBatch{Data: []byte("old clock"), Count: 1, MaxTimestamp: 2}); err != nil {
		t.Fatal(err)
	}
	next++
	if b, err := l.MaxTimestamp(ctx); err != nil || b.Base != 480 || b.MaxTimestamp != 5000 {
		t.Fatalf("MaxTimestamp with a sealed newest batch = %+v, %v", b, err)
	}

	// Truncation moves the start; older reads are out of range.
	if err := l.TruncateBefore(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Read(ctx, 10, 100); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("Read below start: %v", err)
	}
	if bs, err := l.Read(ctx, 100, 1); err != nil || bs[0].Base != 99 {
		t.Errorf("Read(100) = %+v, %v", bs, err)
	}
}

func TestLogLongPoll(t *testing.T) {
	s := openTestStore(t, Config{})
	tn := acquire(t, s, "acme")
	ctx := context.Background()
	l, _ := tn.Logs().Create(ctx, "events", LogConfig{})
	ch := l.Changed()
	go l.Append(ctx, AppendBatch{Data: []byte("x"), Count: 1})
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("no wake-up after append")
	}
	if _, next := l.Offsets(); next != 1 {
		t.Errorf("next = %d after wake-up", next)
	}
}

func TestLogRetention(t *testing.T) {
	s := openTestStore(t, Config{})
	tn := acquire(t, s, "acme")
	ctx := context.Background()
	l, _ := tn.Logs().Create(ctx, "r", LogConfig{RetentionBytes: 250})
	for i := range 10 {
		l.Append(ctx, AppendBatch{Data: bytes.Repeat([]byte{byte(i)}, 100), Count: 1, MaxTimestamp: 1})
	}
	if _, err := tn.RunMover(ctx); err != nil {
		t.Fatal(err)
	}
	if start, _ := l.Offsets(); start != 8 {
		t.Errorf("start after byte retention = %d, want 8", start)
	}
	l.SetConfig(ctx, LogConfig{RetentionMs: 1000})
	if _, err := tn.RunMover(ctx); err != nil {
		t.Fatal(err)
	}
	if start, next := l.Offsets(); start != next {
		t.Errorf("time retention left [%d, %d)", start, next)
	}
}

func TestCheckRejectsAtomically(t *testing.T) {
	s := openTestStore(t, Config{})
	tn := acquire(t, s, "acme")
	ctx := context.Background()
	l, _ := tn.Logs().Create(ctx, "c", LogConfig{})
	errNo := errors.New("rejected")
	if _, err := l.Append(ctx, AppendBatch{Data: []byte("a"), Count: 1, Check: func(*Tx, int64) error { return errNo }}); !errors.Is(err, errNo) {
		t.Fatalf("Append = %v", err)
	}
	base, err := l.Append(ctx, AppendBatch{Data: []byte("b"), Count: 1})
	if err != nil || base != 0 {
		t.Fatalf("Append after rejected = %d, %v; want offset 0", base, err)
	}
}

func TestTenantIsolation(t *testing.T) {
	s := openTestStore(t, Config{Policy: Policy{HotMaxBytes: 8}})
	ctx := context.Background()
	a := acquire(t, s, "alpha")
	b := acquire(t, s, "beta")
	la, _ := a.Logs().Create(ctx, "same", LogConfig{})
	lb, _ := b.Logs().Create(ctx, "same", LogConfig{})
	la.Append(ctx, AppendBatch{Data: []byte("alpha data"), Count: 1})
	if _, next := lb.Offsets(); next != 0 {
		t.Errorf("beta's log sees alpha's append")
	}
	h, _ := a.Blobs().Put(ctx, []byte("alpha's large blob"))
	if _, err := b.Blobs().Get(ctx, h); !errors.Is(err, ErrNotFound) {
		t.Errorf("beta reads alpha's blob: %v", err)
	}
	if err := b.Update(ctx, func(tx *Tx) error { return KVPut(tx, "ns", "k", []byte("beta")) }); err != nil {
		t.Fatal(err)
	}
	if _, err := a.KVGet(ctx, "ns", "k"); !errors.Is(err, ErrNotFound) {
		t.Errorf("alpha sees beta's key: %v", err)
	}
}

func TestIdleTenantsClose(t *testing.T) {
	s := openTestStore(t, Config{MaxOpenTenants: 2})
	ctx := context.Background()
	for i := range 5 {
		name := fmt.Sprintf("t%d", i)
		s.CreateTenant(ctx, name, "pw")
		tn, err := s.Acquire(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		tn.Release()
	}
	if n := s.OpenTenants(); n != 2 {
		t.Errorf("open tenants = %d, want 2", n)
	}
}

func TestDeleteTenant(t *testing.T) {
	s := openTestStore(t, Config{})
	ctx := context.Background()
	s.CreateTenant(ctx, "gone", "pw")
	tn, _ := s.Acquire(ctx, "gone")
	l, _ := tn.Logs().Create(ctx, "x", LogConfig{})
	l.Append(ctx, AppendBatch{Data: []byte("x"), Count: 1})
	tn.Release()
	if err := s.DeleteTenant(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Acquire(ctx, "gone"); !errors.Is(err, ErrNoTenant) {
		t.Fatalf("acquire deleted: %v", err)
	}
	// Re-created under the same name, it starts empty.
	s.CreateTenant(ctx, "gone", "pw2")
	tn = acquire(t, s, "gone")
	if _, err := tn.Logs().Open(ctx, "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("recreated tenant sees old log: %v", err)
	}
}

func TestTiersOnS3(t *testing.T) {
	url := s3test.Start(t)
	s := openTestStore(t, Config{WarmURL: url, ColdURL: url, Policy: Policy{HotMaxBytes: 64}})
	tn := acquire(t, s, "acme")
	ctx := context.Background()
	data := bytes.Repeat([]byte("s3"), 5000)
	h, err := tn.Blobs().Put(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := tn.Logs().Create(ctx, "l", LogConfig{})
	for i := range 10 {
		l.Append(ctx, AppendBatch{Data: []byte(fmt.Sprintf("record %d", i)), Count: 1})
	}
	if _, err := l.Seal(ctx, true); err != nil {
		t.Fatal(err)
	}
	tn.policy.WarmAfter, tn.policy.ColdAfter = time.Nanosecond, time.Nanosecond
	time.Sleep(time.Millisecond)
	if _, err := tn.RunMover(ctx); err != nil {
		t.Fatal(err)
	}
	if info, _ := tn.Blobs().Stat(ctx, h); info.Tier != TierCold {
		t.Fatalf("blob in %v, want cold", info.Tier)
	}
	got, err := tn.Blobs().Get(ctx, h)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get from S3 cold tier: %v", err)
	}
	bs, err := l.Read(ctx, 3, 1)
	if err != nil || string(bs[0].Data) != "record 3" {
		t.Fatalf("read sealed segment from S3: %+v, %v", bs, err)
	}
}

// TestLogReadAcrossManySegments reads a log whose older part lies in more
// small segments than one segment lookup returns: no offset is skipped.
func TestLogReadAcrossManySegments(t *testing.T) {
	s := openTestStore(t, Config{Policy: Policy{SegmentBytes: 100}})
	tn := acquire(t, s, "acme")
	ctx := context.Background()
	l, err := tn.Logs().Create(ctx, "many", LogConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		if _, err := l.Append(ctx, AppendBatch{Data: bytes.Repeat([]byte{byte(i)}, 60), Count: 1, MaxTimestamp: int64(i)}); err != nil {
			t.Fatal(err)
		}
		if i == 29 {
			if n, err := l.Seal(ctx, true); err != nil || n < 10 {
				t.Fatalf("Seal = %d, %v; want many small segments", n, err)
			}
		}
	}
	for _, budget := range []int{1, 500, 1 << 20} {
		var off int64
		for off < 40 {
			bs, err := l.Read(ctx, off, budget)
			if err != nil || len(bs) == 0 {
				t.Fatalf("budget %d: Read(%d) = %d batches, %v", budget, off, len(bs), err)
			}
			for _, b := range bs {
				if b.Base != off || b.Data[0] != byte(off) {
					t.Fatalf("budget %d: batch at %d where %d was due", budget, b.Base, off)
				}
				off = b.Last + 1
			}
		}
	}
}

// newWarmBlob opens a store whose tenant holds one 100-byte blob in the
// warm tier.
func newWarmBlob(t *testing.T) (*Store, *Tenant, []byte, Hash) {
	t.Helper()
	s := openTestStore(t, Config{Policy: Policy{HotMaxBytes: 16}})
	tn := acquire(t, s, "acme")
	data := bytes.Repeat([]byte("x"), 100)
	h, err := tn.Blobs().Put(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	return s, tn, data, h
}
