package storage

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"sync/atomic"
	"time"
)

// Tx is the transaction a write function runs in. It is only valid during
// the call. Hooks registered on it run after the group's COMMIT returned
// (OnCommit) or when this write's changes were undone (OnRollback).
type Tx struct {
	*sql.Tx
	stmts      *stmtCache
	onCommit   []func()
	onRollback []func()
}

// ExecContext runs query in the transaction, through a statement prepared
// once on the writer connection when the query has been seen before.
func (tx *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := tx.stmts.lookup(query); s != nil {
		return tx.Tx.StmtContext(ctx, s).ExecContext(ctx, args...)
	}
	return tx.Tx.ExecContext(ctx, query, args...)
}

// Exec is ExecContext without a context.
func (tx *Tx) Exec(query string, args ...any) (sql.Result, error) {
	return tx.ExecContext(context.Background(), query, args...)
}

// QueryContext runs query in the transaction, prepared once as ExecContext
// does.
func (tx *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s := tx.stmts.lookup(query); s != nil {
		return tx.Tx.StmtContext(ctx, s).QueryContext(ctx, args...)
	}
	return tx.Tx.QueryContext(ctx, query, args...)
}

// Query is QueryContext without a context.
func (tx *Tx) Query(query string, args ...any) (*sql.Rows, error) {
	return tx.QueryContext(context.Background(), query, args...)
}

// QueryRowContext runs a query expected to return at most one row,
// prepared once as ExecContext does.
func (tx *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if s := tx.stmts.lookup(query); s != nil {
		return tx.Tx.StmtContext(ctx, s).QueryRowContext(ctx, args...)
	}
	return tx.Tx.QueryRowContext(ctx, query, args...)
}

// QueryRow is QueryRowContext without a context.
func (tx *Tx) QueryRow(query string, args ...any) *sql.Row {
	return tx.QueryRowContext(context.Background(), query, args...)
}

// stmtCache keeps statements prepared on the writer connection, so that
// the statements every write repeats (the savepoints, a log append's
// insert) are parsed once per tenant open instead of once per write. It is
// only used from the committer goroutine. A query is prepared after it has
// been seen twice, between transactions, when the single writer connection
// is free; queries built at run time therefore rarely take a slot, and
// the cache stops growing at maxStmts.
type stmtCache struct {
	db    *sql.DB
	stmts map[string]*sql.Stmt
	seen  map[string]int
	ready []string // seen twice, to prepare after this transaction
}

const maxStmts = 256

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}, seen: map[string]int{}}
}

func (c *stmtCache) lookup(query string) *sql.Stmt {
	if c == nil {
		return nil
	}
	if s := c.stmts[query]; s != nil {
		return s
	}
	if len(c.stmts)+len(c.ready) < maxStmts && len(c.seen) < 4*maxStmts {
		if c.seen[query]++; c.seen[query] == 2 {
			c.ready = append(c.ready, query)
		}
	}
	return nil
}

// prepare prepares the queries seen twice. It must run while no
// transaction holds the writer connection.
func (c *stmtCache) prepare() {
	for _, q := range c.ready {
		delete(c.seen, q)
		s, err := c.db.Prepare(q)
		if err != nil {
			continue // for example a table created later; it runs unprepared
		}
		c.stmts[q] = s
	}
	c.ready = c.ready[:0]
}

func (c *stmtCache) close() {
	for q, s := range c.stmts {
		s.Close()
		delete(c.stmts, q)
	}
}

// OnCommit registers f to run, in the committer goroutine, once the
// transaction holding this write is durable.
func (tx *Tx) OnCommit(f func()) { tx.onCommit = append(tx.onCommit, f) }

// OnRollback registers f to run when this write is undone, so that state
// cached in memory can be reset.
func (tx *Tx) OnRollback(f func()) { tx.onRollback = append(tx.onRollback, f) }

type writeReq struct {
	fn   func(*Tx) error
	lazy bool // see Tenant.UpdateLazy
	sync bool // a barrier: no fn, make every earlier lazy write durable
	done chan error
	tx   Tx
	err  error
}

// committer owns a database's single writer connection. Writes queue on a
// channel; the committer takes everything queued, runs each write under its
// own savepoint inside one transaction and commits once, so that N
// concurrent writes cost one fsync. No artificial delay is added: writes
// that arrive while a commit is being synced form the next group.
type committer struct {
	db      *sql.DB
	walPath string // the WAL file, synced by barriers after lazy commits
	// beforeCommit, if set, runs before every COMMIT and before a sync of
	// the WAL: what it makes durable may be pointed to by the rows being
	// committed (the tenant's journal).
	beforeCommit func() error
	fsync        bool // commits are synchronous=FULL unless every write is lazy
	stmts        *stmtCache
	reqs         chan *writeReq
	maxBatch     int
	quit         chan struct{}
	stopped      chan struct{}

	// Only the committer goroutine uses these.
	normal   bool         // the connection is at synchronous=NORMAL
	unsynced bool         // a lazy commit is not yet known to be on disk
	lazyTick *time.Timer  // bounds how long a lazy commit stays unsynced
	walSyncs atomic.Int64 // syncs of the WAL file by syncLazy, for tests
}

// lazySyncDelay bounds how long a write acknowledged by UpdateLazy may
// stay only in the operating system's page cache.
const lazySyncDelay = time.Second

func newCommitter(db *sql.DB, walPath string, fsync bool) *committer {
	c := &committer{
		db:       db,
		walPath:  walPath,
		fsync:    fsync,
		lazyTick: time.NewTimer(time.Hour),
		stmts:    newStmtCache(db),
		reqs:     make(chan *writeReq, 1024),
		maxBatch: 512,
		quit:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	c.lazyTick.Stop()
	go c.run()
	return c
}

// do queues fn and waits until its transaction has committed or failed.
// fn runs in the committer goroutine and must not call do itself.
func (c *committer) do(ctx context.Context, fn func(*Tx) error) error {
	return c.queue(ctx, &writeReq{fn: fn, done: make(chan error, 1)})
}

// doLazy is do for a write that may be acknowledged before it is on disk.
func (c *committer) doLazy(ctx context.Context, fn func(*Tx) error) error {
	return c.queue(ctx, &writeReq{fn: fn, lazy: true, done: make(chan error, 1)})
}

// barrier returns once every write acknowledged before it is durable.
func (c *committer) barrier(ctx context.Context) error {
	return c.queue(ctx, &writeReq{sync: true, done: make(chan error, 1)})
}

func (c *committer) queue(ctx context.Context, r *writeReq) error {
	select {
	case c.reqs <- r:
	case <-c.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, the write may commit: wait for the outcome even if ctx
	// ends, so that a caller never reports failure for a durable write.
	return <-r.done
}

// close stops the committer after the queued writes are committed.
func (c *committer) close() {
	close(c.quit)
	<-c.stopped
}

func (c *committer) run() {
	defer close(c.stopped)
	defer c.stmts.close()
	batch := make([]*writeReq, 0, c.maxBatch)
	for {
		var first *writeReq
		select {
		case first = <-c.reqs:
		case <-c.lazyTick.C:
			c.syncLazy()
			continue
		case <-c.quit:
			// Drain what was queued before the close.
			for {
				select {
				case r := <-c.reqs:
					c.commit([]*writeReq{r})
				default:
					c.syncLazy()
					return
				}
			}
		}
		batch = append(batch[:0], first)
	gather:
		for len(batch) < c.maxBatch {
			select {
			case r := <-c.reqs:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		c.commit(batch)
		c.stmts.prepare()
	}
}

func (c *committer) commit(batch []*writeReq) {
	ctx := context.Background()
	start := time.Now()
	batch = c.barriers(batch)
	if len(batch) == 0 {
		return
	}
	lazy := true
	for _, r := range batch {
		lazy = lazy && r.lazy
	}
	if c.fsync && c.normal != lazy {
		mode := "FULL"
		if lazy {
			mode = "NORMAL"
		}
		if _, err := c.db.Exec("PRAGMA synchronous = " + mode); err != nil {
			c.fail(batch, fmt.Errorf("set synchronous: %w", err))
			return
		}
		c.normal = lazy
	}
	sqlTx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		c.fail(batch, fmt.Errorf("begin: %w", err))
		return
	}
	// A write alone in its group needs no savepoint: if it fails, the
	// whole transaction is rolled back instead.
	alone := len(batch) == 1
	for _, r := range batch {
		r.tx = Tx{Tx: sqlTx, stmts: c.stmts}
		if !alone {
			if _, err := r.tx.Exec("SAVEPOINT w"); err != nil {
				r.err = err
				continue
			}
		}
		r.err = runWrite(r)
		if r.err != nil {
			rollbackHooks(&r.tx)
			if alone {
				sqlTx.Rollback()
				r.done <- r.err
				return
			}
			if _, err := r.tx.Exec("ROLLBACK TO w"); err != nil {
				// The transaction is unusable; fail the whole group.
				sqlTx.Rollback()
				c.fail(batch, fmt.Errorf("rollback to savepoint: %w", err))
				return
			}
		}
		if !alone {
			r.tx.Exec("RELEASE w")
		}
	}
	if c.beforeCommit != nil {
		if err := c.beforeCommit(); err != nil {
			sqlTx.Rollback()
			c.fail(batch, err)
			return
		}
	}
	commitStart := time.Now()
	if err := sqlTx.Commit(); err != nil {
		c.fail(batch, fmt.Errorf("commit: %w", err))
		return
	}
	metricCommitSeconds.Observe(time.Since(commitStart).Seconds())
	if !c.fsync {
		c.unsynced = true // for Sync; the tenant's periodic sync bounds it
	} else {
		if lazy {
			if !c.unsynced {
				c.unsynced = true
				c.lazyTick.Reset(lazySyncDelay)
			}
		} else {
			// A synced commit's fsync covers every frame written before.
			c.unsynced = false
			c.lazyTick.Stop()
		}
	}
	metricGroupSize.Observe(float64(len(batch)))
	groupWrites.add(int64(len(batch)))
	groupCommits.add(1)
	metricWriteSeconds.Observe(time.Since(start).Seconds())
	for _, r := range batch {
		if r.err == nil {
			for _, f := range r.tx.onCommit {
				f()
			}
		}
		r.done <- r.err
	}
}

// barriers answers the barrier requests of a batch and returns the
// writes. A barrier queued behind writes waits for their commit: the
// batch is split there.
func (c *committer) barriers(batch []*writeReq) []*writeReq {
	writes := batch[:0:0]
	for i, r := range batch {
		if !r.sync {
			writes = append(writes, r)
			continue
		}
		if len(writes) > 0 {
			c.commit(writes)
			writes = nil
		}
		r.done <- c.syncLazy()
		if rest := batch[i+1:]; len(rest) > 0 {
			c.commit(rest)
		}
		return nil
	}
	return writes
}

// syncLazy makes lazy commits durable by syncing the WAL file, which holds
// every frame they wrote.
func (c *committer) syncLazy() error {
	if !c.unsynced {
		return nil
	}
	if c.beforeCommit != nil {
		if err := c.beforeCommit(); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(c.walPath, os.O_RDWR, 0)
	if err == nil {
		err = f.Sync()
		f.Close()
	}
	if err != nil {
		return fmt.Errorf("sync write-ahead log: %w", err)
	}
	c.unsynced = false
	c.lazyTick.Stop()
	c.walSyncs.Add(1)
	lazySyncs.add(1)
	metricLazySyncs.Inc()
	return nil
}

// runWrite calls the write function, turning a panic into an error so one
// bad write cannot take the tenant down.
func runWrite(r *writeReq) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("write panicked: %v", p)
		}
	}()
	return r.fn(&r.tx)
}

// hookMark records how many hooks tx holds, for undoHooksSince.
func (tx *Tx) hookMark() [2]int { return [2]int{len(tx.onCommit), len(tx.onRollback)} }

// undoHooksSince runs, newest first, the rollback hooks registered after
// mark and forgets every hook registered after it: the part of the write
// that registered them was rolled back to a savepoint.
func (tx *Tx) undoHooksSince(mark [2]int) {
	for i := len(tx.onRollback) - 1; i >= mark[1]; i-- {
		tx.onRollback[i]()
	}
	tx.onCommit = tx.onCommit[:mark[0]]
	tx.onRollback = tx.onRollback[:mark[1]]
}

func rollbackHooks(tx *Tx) {
	for i := len(tx.onRollback) - 1; i >= 0; i-- {
		tx.onRollback[i]()
	}
	tx.onRollback = nil
	tx.onCommit = nil
}

func (c *committer) fail(batch []*writeReq, err error) {
	for _, r := range batch {
		if r.err == nil {
			rollbackHooks(&r.tx)
		}
		r.done <- err
	}
}
