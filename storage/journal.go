package storage

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"rewire/storage/tier"
)

// A journal keeps the data of a tenant's large log batches outside SQLite,
// in append-only files of the tenant directory, while the batch's row
// (offsets, timestamp, where the data lies, its CRC-32C) stays in
// log_batches and SQLite's commit stays the one point where an append
// takes effect.
//
// Why: stored in SQLite, a batch is written twice (the WAL, then the
// database file at the checkpoint) plus page overhead, so a producer of
// large batches is bounded by half the disk's bandwidth. In the journal it
// is written once, with one fdatasync per group commit.
//
// Durability follows from one ordering: the committer syncs the journal
// before the COMMIT that makes rows pointing into it durable (see
// committer.commit), so a committed row never points at data a crash can
// lose. Data of a write that did not commit is garbage in the file and is
// never read. The mover removes a file once no row points into it (the
// batches were sealed into warm segments, truncated or compacted) and it
// is not the file appends go to.
//
// Only DurabilityFsync stores put new batches in the journal: with
// periodic sync a checkpoint could make rows durable ahead of the data
// they point to. Any store reads what an earlier run put there.
type journal struct {
	dir string

	mu       sync.Mutex
	files    map[int64]*os.File // open files by number
	cur      int64              // the file appends go to; 0 before the first
	size     int64              // bytes in cur
	unsynced map[int64]bool     // files written since the last sync
	next     int64              // the number of the next new file, once scanned
}

// journalMinBatch is the smallest batch whose data goes to the journal;
// smaller ones stay inline in their row, where a separate write would
// cost more than it saves.
const journalMinBatch = 8 << 10

// journalFileBytes is the size past which appends start a new file, so
// that space comes back in pieces as batches leave the hot tier. Tests
// lower it.
var journalFileBytes int64 = 64 << 20

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errJournalGone reports that a journal file was removed after a row
// pointing into it was read: the batch has left the hot tier since.
var errJournalGone = errors.New("journal file removed")

func newJournal(dir string) *journal {
	return &journal{dir: dir, files: map[int64]*os.File{}, unsynced: map[int64]bool{}}
}

func (j *journal) path(n int64) string {
	return filepath.Join(j.dir, fmt.Sprintf("%016d.jnl", n))
}

// numbers lists the journal files present, in order.
func (j *journal) numbers() ([]int64, error) {
	ents, err := os.ReadDir(j.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, e := range ents {
		if n, err := strconv.ParseInt(strings.TrimSuffix(e.Name(), ".jnl"), 10, 64); err == nil && strings.HasSuffix(e.Name(), ".jnl") {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	return out, nil
}

// append writes data at the end of the current file and returns where.
// It runs on the committer goroutine; the data is durable after sync.
func (j *journal) append(data []byte) (file, pos int64, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.cur == 0 || (j.size > 0 && j.size+int64(len(data)) > journalFileBytes) {
		if err := j.rotate(); err != nil {
			return 0, 0, err
		}
	}
	f := j.files[j.cur]
	if _, err := f.WriteAt(data, j.size); err != nil {
		return 0, 0, fmt.Errorf("journal: %w", err)
	}
	file, pos = j.cur, j.size
	j.size += int64(len(data))
	j.unsynced[j.cur] = true
	return file, pos, nil
}

// scan sets next past every file present, once. The caller holds mu.
func (j *journal) scan() error {
	if j.next > 0 {
		return nil
	}
	ns, err := j.numbers()
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	j.next = 1
	if len(ns) > 0 {
		j.next = ns[len(ns)-1] + 1
	}
	return nil
}

// rotate starts a new file. A file is never appended to after a restart:
// what a crash left at its end is garbage that rows do not point to, and
// a new file keeps it out of the way. Numbers are not reused while the
// process runs, so a reader holding an old row never reads another file.
func (j *journal) rotate() error {
	if err := j.scan(); err != nil {
		return err
	}
	if err := os.MkdirAll(j.dir, 0o700); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	n := j.next
	f, err := os.OpenFile(j.path(n), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	// The new name must be durable before a row can point into it.
	if err := tier.SyncDir(j.dir); err != nil {
		f.Close()
		os.Remove(j.path(n))
		return err
	}
	j.files[n] = f
	j.cur, j.size, j.next = n, 0, n+1
	return nil
}

// sync makes every append so far durable; the committer calls it before
// every commit. The files are synced outside mu, so that readers are not
// held up behind the disk. That is safe because appends and syncs both
// run on the committer goroutine, so no file joins the set meanwhile, and
// collection never removes a file waiting for a sync: it removes only
// files that were not current when it looked, and those get no appends
// again (see Tenant.collectJournal).
func (j *journal) sync() error {
	j.mu.Lock()
	type pending struct {
		n int64
		f *os.File
	}
	var todo []pending
	for n := range j.unsynced {
		todo = append(todo, pending{n, j.files[n]})
		delete(j.unsynced, n)
	}
	j.mu.Unlock()
	for i, p := range todo {
		if err := syscall.Fdatasync(int(p.f.Fd())); err != nil {
			// Try again at the next commit.
			j.mu.Lock()
			for _, q := range todo[i:] {
				j.unsynced[q.n] = true
			}
			j.mu.Unlock()
			return fmt.Errorf("journal: sync %d: %w", p.n, err)
		}
	}
	return nil
}

// read fills dst with the data at pos of file and checks it against crc.
func (j *journal) read(file, pos int64, dst []byte, crc uint32) error {
	f, err := j.open(file)
	if err != nil {
		return err
	}
	if _, err := f.ReadAt(dst, pos); errors.Is(err, os.ErrClosed) {
		return errJournalGone
	} else if err != nil {
		return fmt.Errorf("%w: journal %d at %d: %v", ErrCorrupt, file, pos, err)
	}
	if crc32.Checksum(dst, crcTable) != crc {
		return fmt.Errorf("%w: journal %d at %d: checksum mismatch", ErrCorrupt, file, pos)
	}
	return nil
}

func (j *journal) open(file int64) (*os.File, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if f := j.files[file]; f != nil {
		return f, nil
	}
	f, err := os.Open(j.path(file))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errJournalGone
	} else if err != nil {
		return nil, fmt.Errorf("%w: journal %d: %v", ErrCorrupt, file, err)
	}
	j.files[file] = f
	return f, nil
}

// remove deletes the given files, which no row points into any more;
// the current file is never among them (see Tenant.collectJournal).
func (j *journal) remove(dead []int64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	// Number the next file past every file seen, removed ones included,
	// so that a reader holding a row of a removed file never reads a new
	// file by that number.
	if err := j.scan(); err != nil {
		return err
	}
	for _, n := range dead {
		if n == j.cur {
			continue
		}
		if f := j.files[n]; f != nil {
			f.Close()
			delete(j.files, n)
		}
		delete(j.unsynced, n)
		if err := os.Remove(j.path(n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("journal: %w", err)
		}
	}
	return nil
}

// close closes the open files.
func (j *journal) close() {
	j.mu.Lock()
	defer j.mu.Unlock()
	for n, f := range j.files {
		f.Close()
		delete(j.files, n)
	}
}

// collectJournal removes the tenant's journal files that no row points
// into any more. It reads the rows in the committer, where no append is
// in flight, and removes the files only once the commits that dropped
// their rows are durable: with periodic durability a commit may still
// be undone by a power loss, and its rows would then point at nothing.
func (t *Tenant) collectJournal(ctx context.Context) error {
	ns, err := t.journal.numbers()
	if err != nil || len(ns) == 0 || len(ns) == 1 && t.journal.current() == ns[0] {
		return err
	}
	var dead []int64
	err = t.Update(ctx, func(tx *Tx) error {
		rows, err := tx.Query(`SELECT DISTINCT jfile FROM log_batches WHERE jfile IS NOT NULL`)
		if err != nil {
			return err
		}
		live := map[int64]bool{}
		for rows.Next() {
			var n int64
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return err
			}
			live[n] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		// A file that is not current never gains rows again: appends go
		// to the current file, and files are numbered upwards.
		cur := t.journal.current()
		dead = dead[:0]
		for _, n := range ns {
			if !live[n] && n != cur {
				dead = append(dead, n)
			}
		}
		return nil
	})
	if err != nil || len(dead) == 0 {
		return err
	}
	if err := t.Sync(ctx); err != nil {
		return err
	}
	return t.journal.remove(dead)
}

// current is the file appends go to, 0 before the first append.
func (j *journal) current() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.cur
}
