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
	onCommit   []func()
	onRollback []func()
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
	reqs     chan *writeReq
	maxBatch int
	quit     chan struct{}
	stopped  chan struct{}
}

func newCommitter(db *sql.DB) *committer {
	c := &committer{
		db:       db,
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
		r.tx = Tx{Tx: sqlTx}
		if _, err := sqlTx.Exec("SAVEPOINT w"); err != nil {
			r.err = err
			continue
		}
		r.err = runWrite(r)
		if r.err != nil {
			rollbackHooks(&r.tx)
			if _, err := sqlTx.Exec("ROLLBACK TO w"); err != nil {
				// The transaction is unusable; fail the whole group.
				sqlTx.Rollback()
				c.fail(batch, fmt.Errorf("rollback to savepoint: %w", err))
				return
			}
		}
		sqlTx.Exec("RELEASE w")
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
