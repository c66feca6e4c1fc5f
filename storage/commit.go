package storage

import (
	"context"
	"database/sql"
	"fmt"
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
	if len(c.stmts) < maxStmts && len(c.seen) < 4*maxStmts {
		c.seen[query]++
	}
	return nil
}

// prepare prepares the queries seen at least twice. It must run while no
// transaction holds the writer connection.
func (c *stmtCache) prepare() {
	for q, n := range c.seen {
		if n < 2 || len(c.stmts) >= maxStmts {
			continue
		}
		delete(c.seen, q)
		s, err := c.db.Prepare(q)
		if err != nil {
			continue // for example a table created later; it runs unprepared
		}
		c.stmts[q] = s
	}
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
	db       *sql.DB
	stmts    *stmtCache
	reqs     chan *writeReq
	maxBatch int
	quit     chan struct{}
	stopped  chan struct{}
}

func newCommitter(db *sql.DB) *committer {
	c := &committer{
		db:       db,
		stmts:    newStmtCache(db),
		reqs:     make(chan *writeReq, 1024),
		maxBatch: 512,
		quit:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	go c.run()
	return c
}

// do queues fn and waits until its transaction has committed or failed.
// fn runs in the committer goroutine and must not call do itself.
func (c *committer) do(ctx context.Context, fn func(*Tx) error) error {
	r := &writeReq{fn: fn, done: make(chan error, 1)}
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
		case <-c.quit:
			// Drain what was queued before the close.
			for {
				select {
				case r := <-c.reqs:
					c.commit([]*writeReq{r})
				default:
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
	sqlTx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		c.fail(batch, fmt.Errorf("begin: %w", err))
		return
	}
	ok := 0
	for _, r := range batch {
		r.tx = Tx{Tx: sqlTx, stmts: c.stmts}
		if _, err := r.tx.Exec("SAVEPOINT w"); err != nil {
			r.err = err
			continue
		}
		r.err = runWrite(r)
		if r.err != nil {
			rollbackHooks(&r.tx)
			if _, err := r.tx.Exec("ROLLBACK TO w"); err != nil {
				// The transaction is unusable; fail the whole group.
				sqlTx.Rollback()
				c.fail(batch, fmt.Errorf("rollback to savepoint: %w", err))
				return
			}
		}
		r.tx.Exec("RELEASE w")
		if r.err == nil {
			ok++
		}
	}
	commitStart := time.Now()
	if err := sqlTx.Commit(); err != nil {
		c.fail(batch, fmt.Errorf("commit: %w", err))
		return
	}
	metricCommitSeconds.Observe(time.Since(commitStart).Seconds())
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
