package storage

import (
	"context"
	"database/sql"
	"sync"
)

// Reader is a tenant's reader pool. Its query methods keep the statements
// they run often prepared, so that a lookup repeated by a protocol (a file
// lookup, a log read, a consumer's next message) is parsed once per pooled
// connection rather than on every call; everything else is the embedded
// *sql.DB's. A query is prepared once it has been seen twice, and at most
// maxReaderStmts are kept, so queries built at run time do not fill it and
// an idle tenant stays small.
type Reader struct {
	*sql.DB
	mu    sync.RWMutex
	stmts map[string]*sql.Stmt
	seen  map[string]int
}

const maxReaderStmts = 64

func newReader(db *sql.DB) *Reader {
	return &Reader{DB: db, stmts: map[string]*sql.Stmt{}, seen: map[string]int{}}
}

// stmt returns the prepared statement for query, or nil to run it as is.
func (r *Reader) stmt(ctx context.Context, query string) *sql.Stmt {
	r.mu.RLock()
	s := r.stmts[query]
	r.mu.RUnlock()
	if s != nil {
		return s
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.stmts[query]; s != nil {
		return s
	}
	if len(r.stmts) >= maxReaderStmts || len(r.seen) >= 4*maxReaderStmts {
		return nil
	}
	if r.seen[query]++; r.seen[query] < 2 {
		return nil
	}
	delete(r.seen, query)
	s, err := r.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil // it runs unprepared and reports its own error
	}
	r.stmts[query] = s
	return s
}

// QueryContext runs a query through the pool.
func (r *Reader) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s := r.stmt(ctx, query); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return r.DB.QueryContext(ctx, query, args...)
}

// Query is QueryContext without a context.
func (r *Reader) Query(query string, args ...any) (*sql.Rows, error) {
	return r.QueryContext(context.Background(), query, args...)
}

// QueryRowContext runs a query expected to return at most one row.
func (r *Reader) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if s := r.stmt(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return r.DB.QueryRowContext(ctx, query, args...)
}

// QueryRow is QueryRowContext without a context.
func (r *Reader) QueryRow(query string, args ...any) *sql.Row {
	return r.QueryRowContext(context.Background(), query, args...)
}

// Close closes the prepared statements and the pool.
func (r *Reader) Close() error {
	r.mu.Lock()
	for q, s := range r.stmts {
		s.Close()
		delete(r.stmts, q)
	}
	r.mu.Unlock()
	return r.DB.Close()
}
