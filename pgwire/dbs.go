package pgwire

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"modernc.org/sqlite"

	"rewire/pgwire/sqltrans"
)

// validDBName keeps database names safe as file names.
var validDBName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$`)

// database is one tenant SQL database: a SQLite file shared by every
// session connected to it, with the translation cache of its statements.
type database struct {
	key  string // file path
	name string
	pool *sql.DB
	refs int // guarded by dbRegistry.mu

	schemaVer atomic.Int64 // bumped by every DDL

	mu    sync.Mutex // guards cache
	cache map[string]cached

	// writer holds one token: the session holding it may have a write
	// transaction open. Sessions queue here rather than in SQLite's busy
	// handler, which sleeps between tries (1, 2, 5, 10 ms…) and so leaves
	// the database idle while writers wait.
	writer chan struct{}

	wal *walSync // group fsync of commits

	listen listeners // sessions waiting for NOTIFY
}

type cached struct {
	ver   int64
	stmts []*sqltrans.Stmt
}

const maxCache = 4096

func (d *database) cacheGet(src string) ([]*sqltrans.Stmt, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.cache[src]
	if !ok || c.ver != d.schemaVer.Load() {
		return nil, false
	}
	return c.stmts, true
}

func (d *database) cachePut(src string, stmts []*sqltrans.Stmt) {
	for _, s := range stmts {
		if s.NoCache {
			return
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.cache) >= maxCache {
		clear(d.cache)
	}
	d.cache[src] = cached{ver: d.schemaVer.Load(), stmts: stmts}
}

// dbRegistry holds the open databases of all tenants.
type dbRegistry struct {
	mu  sync.Mutex
	dbs map[string]*database
}

func newDBRegistry() *dbRegistry {
	return &dbRegistry{dbs: map[string]*database{}}
}

// dbPath is where a tenant keeps database name.
func dbPath(tenantDir, name string) string {
	return filepath.Join(tenantDir, "sql", name+".db")
}

// defaultDB reports whether name always exists for tenant.
func defaultDB(tenant, name string) bool {
	return name == "postgres" || name == tenant
}

// open returns the database, creating its file when create is set. The
// caller must release it.
func (r *dbRegistry) open(tenantDir, tenant, name string, create bool) (*database, error) {
	if !validDBName.MatchString(name) {
		return nil, &sqltrans.Error{Code: sqltrans.CodeInvalidCatalog, Message: fmt.Sprintf("database \"%s\" does not exist", name)}
	}
	path := dbPath(tenantDir, name)
	r.mu.Lock()
	defer r.mu.Unlock()
	if d, ok := r.dbs[path]; ok {
		d.refs++
		return d, nil
	}
	if _, err := os.Stat(path); err != nil {
		if !create && !defaultDB(tenant, name) {
			return nil, &sqltrans.Error{Code: sqltrans.CodeInvalidCatalog, Message: fmt.Sprintf("database \"%s\" does not exist", name)}
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
	}
	pool, err := openSQLite(path)
	if err != nil {
		return nil, err
	}
	d := &database{key: path, name: name, pool: pool, refs: 1, cache: map[string]cached{}, writer: make(chan struct{}, 1), wal: newWALSync(path)}
	r.dbs[path] = d
	return d, nil
}

func (r *dbRegistry) release(d *database) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d.refs--
	if d.refs == 0 {
		delete(r.dbs, d.key)
		d.pool.Close()
	}
}

// inUse reports whether any session holds the database at path.
func (r *dbRegistry) inUse(path string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.dbs[path]
	return ok
}

func (r *dbRegistry) closeAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, d := range r.dbs {
		d.pool.Close()
		delete(r.dbs, k)
	}
}

// mmapBytes is how much of a database file a reading session maps.
// Reads then use the mapping instead of copying each page into the
// connection's cache with a system call: pgbench's select-only run went
// from about 25,000 to 40,000 tps here. The mapping is address space, not
// memory; SQLite maps at most the file's size. The price: an I/O error
// reading the file is a SIGBUS rather than an error.
//
// A session that writes drops its mapping (see conn.syncCommit): SQLite
// unmaps the whole file at the start of every read transaction after
// another connection committed, so in a write-heavy mix the mapping is
// rebuilt and faulted in again and again (TPC-B ran about 14% slower).
//
// The size is SQLite's compile-time ceiling (SQLITE_MAX_MMAP_SIZE), just
// under 2 GiB; past it a database is read as before.
const mmapBytes = 0x7fff0000

// openSQLite opens a tenant database file: WAL, commits made durable by
// walSync,
// foreign keys on, case-sensitive LIKE as in PostgreSQL.
func openSQLite(path string) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	// Commits fsync through walSync, several at once; checkpoints sync
	// the WAL before copying it and the database file after.
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "case_sensitive_like(1)")
	q.Add("_pragma", "cache_size(-16000)")
	q.Add("_pragma", fmt.Sprintf("mmap_size(%d)", mmapBytes))
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxIdleConns(8)
	if err := db.PingContext(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := ensureMetaTables(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := newWALSync(path).sync(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// ensureMetaTables makes the tables of the database's sequences and
// schemas, so that the catalog views can always list them, and adds the
// start column that sequence tables made by older versions lack.
func ensureMetaTables(db *sql.DB) error {
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, sqltrans.SeqTableDDL); err != nil {
		return fmt.Errorf("sequence table: %w", err)
	}
	if _, err := db.ExecContext(ctx, sqltrans.SchemaTableDDL); err != nil {
		return fmt.Errorf("schema table: %w", err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info('?rw_seq') WHERE name = 'start'`).Scan(&n); err != nil {
		return fmt.Errorf("sequence table: %w", err)
	}
	if n == 0 {
		if _, err := db.ExecContext(ctx, `ALTER TABLE "?rw_seq" ADD COLUMN start INTEGER NOT NULL DEFAULT 1`); err != nil {
			return fmt.Errorf("sequence table: %w", err)
		}
	}
	return nil
}

// allowedPragmas are the read-only pragmas the catalog uses.
var allowedPragmas = map[string]bool{
	"table_info": true, "table_xinfo": true, "index_list": true, "index_info": true,
	"index_xinfo": true, "foreign_key_list": true, "foreign_key_check": true,
	// Transaction-scoped: a table rebuild defers foreign keys while the
	// table is away (rebuildTable); tenant SQL has no PRAGMA statement.
	"defer_foreign_keys": true,
	// SQLite checks the new column's CHECK constraints through it on
	// ALTER TABLE ADD COLUMN.
	"quick_check": true,
	// A session that writes drops its file mapping (see mmapBytes).
	"mmap_size": true,
}

// sandbox is the authorizer of every tenant connection: no ATTACH, no
// pragmas that change files or settings, no extension loading.
func sandbox(action sqlite.AuthorizerActionCode, arg1, arg2, dbName, _ string) sqlite.AuthorizerReturnCode {
	switch action {
	case sqlite.AuthAttach, sqlite.AuthDetach:
		return sqlite.AuthorizerDeny
	case sqlite.AuthPragma:
		if allowedPragmas[strings.ToLower(arg1)] {
			return sqlite.AuthorizerOK
		}
		return sqlite.AuthorizerDeny
	case sqlite.AuthFunction:
		switch arg2 {
		case "load_extension", "readfile", "writefile", "edit", "fts3_tokenizer":
			return sqlite.AuthorizerDeny
		}
	case sqlite.AuthCreateVTable, sqlite.AuthDropVTable:
		return sqlite.AuthorizerDeny
	case sqlite.AuthAlterTable:
		// arg1 is the database here; the last argument is the column of
		// DROP COLUMN.
		if arg1 != "main" && arg1 != "temp" {
			return sqlite.AuthorizerDeny
		}
		return sqlite.AuthorizerOK
	}
	if dbName != "" && dbName != "main" && dbName != "temp" {
		return sqlite.AuthorizerDeny
	}
	return sqlite.AuthorizerOK
}

// sessionConn takes a dedicated connection from the pool and installs the
// sandbox on it.
func sessionConn(ctx context.Context, d *database) (*sql.Conn, error) {
	c, err := d.pool.Conn(ctx)
	if err != nil {
		return nil, err
	}
	err = c.Raw(func(dc any) error {
		r, ok := dc.(sqlite.AuthorizerRegisterer)
		if !ok {
			return fmt.Errorf("sqlite driver has no authorizer")
		}
		return r.RegisterAuthorizer(sandbox)
	})
	if err == nil {
		_, err = sqlite.Limit(c, sqliteLimitLength, maxValueBytes)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// sqliteLimitLength is SQLite's SQLITE_LIMIT_LENGTH.
const sqliteLimitLength = 0

// maxValueBytes bounds one string or blob a tenant's query may build
// (string_agg, repeat, …): a runaway query fails with 54000 instead of
// holding gigabytes.
const maxValueBytes = 256 << 20
