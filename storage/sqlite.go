package storage

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Durability selects when a write is acknowledged.
type Durability string

const (
	// DurabilityFsync fsyncs the write-ahead log before every commit is
	// acknowledged: an acknowledged write survives kill -9 and power loss.
	DurabilityFsync Durability = "fsync"
	// DurabilityPeriodic acknowledges a commit once it is in the operating
	// system's page cache and fsyncs at most every SyncInterval. An
	// acknowledged write survives kill -9 of rewire (the kernel still holds
	// it), but a power loss or kernel crash can lose the commits of the last
	// SyncInterval. The database itself is never corrupted.
	DurabilityPeriodic Durability = "periodic"
)

// dbOptions tunes one SQLite database handle.
type dbOptions struct {
	readOnly   bool
	lazy       bool // connect on first use instead of at open
	cacheKiB   int
	durability Durability
}

// openSQLite opens path in WAL mode. A writer handle has exactly one
// connection, so every write of the database is serialised through it; a
// reader handle is a small pool whose idle connections are closed soon, to
// keep an idle tenant cheap.
func openSQLite(path string, o dbOptions) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", o.cacheKiB))
	q.Add("_pragma", "mmap_size(0)")
	if o.readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
		if o.durability == DurabilityPeriodic {
			q.Add("_pragma", "synchronous(NORMAL)")
		} else {
			q.Add("_pragma", "synchronous(FULL)")
		}
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if o.readOnly {
		db.SetMaxOpenConns(4)
		db.SetMaxIdleConns(1)
		db.SetConnMaxIdleTime(30 * time.Second)
	} else {
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxIdleTime(0)
	}
	if o.lazy {
		return db, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}
