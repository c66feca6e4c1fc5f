package pgwire

import (
	"fmt"
	"os"
	"sync"
)

// walSync makes commits durable in groups, as PostgreSQL's WAL flush
// does. Databases run with synchronous=NORMAL, so a COMMIT writes its WAL
// frames without an fsync; the session then calls sync, which returns
// once an fdatasync of the WAL file that started after the commit has
// finished. One fsync thus covers every commit that reached the WAL while
// the previous one ran, where synchronous=FULL fsyncs each commit in turn
// while holding the database's write lock.
type walSync struct {
	path string // the database's -wal file

	mu      sync.Mutex
	cond    sync.Cond
	started uint64 // fsyncs begun
	done    uint64 // fsyncs finished
	running bool
	err     error // of the last finished fsync
}

func newWALSync(dbPath string) *walSync {
	w := &walSync{path: dbPath + "-wal"}
	w.cond.L = &w.mu
	return w
}

// sync returns once every commit made before the call is on disk.
func (w *walSync) sync() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	// A running fsync may have begun before this session's commit; the
	// next one to begin certainly covers it.
	target := w.started + 1
	for w.done < target {
		if w.running {
			w.cond.Wait()
			continue
		}
		w.running = true
		w.started++
		n := w.started
		w.mu.Unlock()
		err := fsyncFile(w.path)
		w.mu.Lock()
		w.running = false
		w.done, w.err = n, err
		w.cond.Broadcast()
	}
	return w.err
}

// fsyncFile flushes a file's data to disk. A missing file has nothing to
// flush: SQLite removes the WAL only after checkpointing it into the
// database file and syncing that.
func fsyncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sync write-ahead log: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync write-ahead log: %w", err)
	}
	return nil
}
