package storage

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// bigBatch is a batch large enough for the journal, different per seed.
func bigBatch(seed byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

func journalFiles(t *testing.T, tn *Tenant) []int64 {
	t.Helper()
	ns, err := tn.journal.numbers()
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// TestJournalAppendRead stores large batches in the journal and small ones
// inline, reads both back in one Read, by time and by max timestamp, and
// again after the store is closed and reopened.
func TestJournalAppendRead(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Open(ctx, Config{Dir: dir, MoverInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTenant(ctx, "acme", "pw"); err != nil {
		t.Fatal(err)
	}
	tn, err := s.Acquire(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	l := newTestLog(t, tn, "l")
	want := [][]byte{bigBatch(1, 20000), []byte("small"), bigBatch(2, journalMinBatch), bigBatch(3, 100000)}
	for i, d := range want {
		if _, err := l.Append(ctx, AppendBatch{Data: d, Count: 1, MaxTimestamp: int64(100 + i)}); err != nil {
			t.Fatal(err)
		}
	}
	var inJournal int
	tn.r.QueryRowContext(ctx, `SELECT count(*) FROM log_batches WHERE jfile IS NOT NULL AND length(data) = 0`).Scan(&inJournal)
	if inJournal != 3 {
		t.Fatalf("%d batches in the journal, want 3", inJournal)
	}
	check := func(l *Log) {
		t.Helper()
		got, err := l.Read(ctx, 0, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("read %d batches, want %d", len(got), len(want))
		}
		for i, b := range got {
			if b.Base != int64(i) || !bytes.Equal(b.Data, want[i]) {
				t.Fatalf("batch %d: base %d, %d bytes; want %d bytes", i, b.Base, len(b.Data), len(want[i]))
			}
		}
		b, err := l.FindTime(ctx, 102)
		if err != nil || b.Base != 2 || !bytes.Equal(b.Data, want[2]) {
			t.Fatalf("FindTime: base %d, %v", b.Base, err)
		}
		b, err = l.MaxTimestamp(ctx)
		if err != nil || b.Base != 3 || !bytes.Equal(b.Data, want[3]) {
			t.Fatalf("MaxTimestamp: base %d, %v", b.Base, err)
		}
	}
	check(l)
	tn.Release()
	s.Close()

	s, err = Open(ctx, Config{Dir: dir, MoverInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tn, err = s.Acquire(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Release()
	l, err = tn.Logs().Open(ctx, "l")
	if err != nil {
		t.Fatal(err)
	}
	check(l)
	// Appends after a restart go to a new file, past whatever the last
	// run left at the end of its own.
	before := journalFiles(t, tn)
	if _, err := l.Append(ctx, AppendBatch{Data: bigBatch(4, 9000), Count: 1}); err != nil {
		t.Fatal(err)
	}
	if after := journalFiles(t, tn); len(after) != len(before)+1 {
		t.Fatalf("journal files %v after a restart's first append, before %v", after, before)
	}
}

// TestJournalCorruption flips a byte of a journal file: the read fails
// with ErrCorrupt instead of returning the bytes.
func TestJournalCorruption(t *testing.T) {
	s := openTestStore(t, Config{})
	tn := acquire(t, s, "acme")
	ctx := context.Background()
	l := newTestLog(t, tn, "l")
	if _, err := l.Append(ctx, AppendBatch{Data: bigBatch(1, 10000), Count: 1}); err != nil {
		t.Fatal(err)
	}
	ns := journalFiles(t, tn)
	if len(ns) != 1 {
		t.Fatalf("journal files %v", ns)
	}
	f, err := os.OpenFile(tn.journal.path(ns[0]), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0xff}, 5000); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := l.Read(ctx, 0, 1<<20); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read of a damaged journal: %v, want ErrCorrupt", err)
	}
}

// TestJournalCollect fills several journal files, seals and truncates
// the batches away, and checks that the mover removes every file but the
// one appends go to, while what is left stays readable.
func TestJournalCollect(t *testing.T) {
	old := journalFileBytes
	journalFileBytes = 50000
	defer func() { journalFileBytes = old }()
	s := openTestStore(t, Config{Policy: Policy{SegmentBytes: 64 << 10}})
	tn := acquire(t, s, "acme")
	ctx := context.Background()
	sealed := newTestLog(t, tn, "sealed")
	cut := newTestLog(t, tn, "cut")
	for i := range 12 {
		for _, l := range []*Log{sealed, cut} {
			if _, err := l.Append(ctx, AppendBatch{Data: bigBatch(byte(i), 12000), Count: 1}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := len(journalFiles(t, tn)); n < 5 {
		t.Fatalf("%d journal files, want several", n)
	}
	if _, err := sealed.Seal(ctx, true); err != nil {
		t.Fatal(err)
	}
	if err := cut.TruncateBefore(ctx, 12); err != nil {
		t.Fatal(err)
	}
	if _, err := tn.RunMover(ctx); err != nil {
		t.Fatal(err)
	}
	if ns := journalFiles(t, tn); len(ns) != 1 || ns[0] != tn.journal.current() {
		t.Fatalf("journal files left %v, want only the current %d", ns, tn.journal.current())
	}
	got, err := sealed.Read(ctx, 0, 1<<30)
	if err != nil || len(got) != 12 {
		t.Fatalf("sealed log: %d batches, %v", len(got), err)
	}
	for i, b := range got {
		if !bytes.Equal(b.Data, bigBatch(byte(i), 12000)) {
			t.Fatalf("sealed batch %d differs", i)
		}
	}
	// New appends still work and land in the kept file or a new one.
	if _, err := cut.Append(ctx, AppendBatch{Data: bigBatch(99, 12000), Count: 1}); err != nil {
		t.Fatal(err)
	}
	got, err = cut.Read(ctx, 12, 1<<20)
	if err != nil || len(got) != 1 || !bytes.Equal(got[0].Data, bigBatch(99, 12000)) {
		t.Fatalf("append after collection: %v", err)
	}
	if _, err := os.Stat(filepath.Join(tn.Dir(), "journal")); err != nil {
		t.Fatal(err)
	}
}

// newTestLog creates log name in tn.
func newTestLog(t *testing.T, tn *Tenant, name string) *Log {
	t.Helper()
	l, err := tn.Logs().Create(context.Background(), name, LogConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return l
}
