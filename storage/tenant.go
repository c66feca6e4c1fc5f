package storage

import (
	"container/list"
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// coreSchema is the tenant database's own layout; see doc.go.
const coreSchema = `
CREATE TABLE IF NOT EXISTS blobs (
	hash     BLOB PRIMARY KEY,
	size     INTEGER NOT NULL,
	tier     INTEGER NOT NULL,
	data     BLOB,
	refs     INTEGER NOT NULL,
	created  INTEGER NOT NULL,
	accessed INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS blobs_by_tier_access ON blobs(tier, accessed);
CREATE TABLE IF NOT EXISTS logs (
	id           INTEGER PRIMARY KEY,
	name         TEXT NOT NULL UNIQUE,
	start_offset INTEGER NOT NULL,
	next_offset  INTEGER NOT NULL,
	config       TEXT NOT NULL,
	created      INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS log_batches (
	log_id INTEGER NOT NULL,
	base   INTEGER NOT NULL,
	last   INTEGER NOT NULL,
	max_ts INTEGER NOT NULL,
	added  INTEGER NOT NULL,
	data   BLOB NOT NULL,
	-- When jfile is set the data is in the journal (see journal.go):
	-- jlen bytes at jpos of file jfile, with CRC-32C jcrc; data is empty.
	jfile  INTEGER,
	jpos   INTEGER,
	jlen   INTEGER,
	jcrc   INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS log_batches_key ON log_batches(log_id, base);
CREATE INDEX IF NOT EXISTS log_batches_last ON log_batches(log_id, last);
CREATE TABLE IF NOT EXISTS log_segments (
	log_id INTEGER NOT NULL,
	base   INTEGER NOT NULL,
	last   INTEGER NOT NULL,
	max_ts INTEGER NOT NULL,
	size   INTEGER NOT NULL,
	blob   BLOB NOT NULL,
	PRIMARY KEY (log_id, base)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kv (
	ns    TEXT NOT NULL,
	key   TEXT NOT NULL,
	value BLOB NOT NULL,
	PRIMARY KEY (ns, key)
) WITHOUT ROWID;
`

var (
	schemasMu sync.Mutex
	schemas   = map[string]string{}
)

// RegisterSchema adds DDL that every tenant database runs when it opens, so
// that a protocol package can keep its own object kinds in the tenant core.
// The DDL must be idempotent (CREATE … IF NOT EXISTS). Call it from init.
func RegisterSchema(name, ddl string) {
	schemasMu.Lock()
	defer schemasMu.Unlock()
	schemas[name] = ddl
}

func registeredSchemas() []string {
	schemasMu.Lock()
	defer schemasMu.Unlock()
	names := make([]string, 0, len(schemas))
	for n := range schemas {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = schemas[n]
	}
	return out
}

// ensureSchema runs the core's and the registered DDL unless the database
// already carries this exact schema, recognised by a hash of the DDL kept
// in PRAGMA user_version; reopening a tenant then costs no write.
func ensureSchema(w *sql.DB) error {
	ddl := append([]string{coreSchema}, registeredSchemas()...)
	h := fnv.New32a()
	for _, d := range ddl {
		h.Write([]byte(d))
	}
	want := int64(h.Sum32() & 0x7fffffff)
	var have int64
	if err := w.QueryRow("PRAGMA user_version").Scan(&have); err != nil {
		return err
	}
	if have == want {
		return nil
	}
	for _, d := range ddl {
		if _, err := w.Exec(d); err != nil {
			return err
		}
	}
	if err := addJournalColumns(w); err != nil {
		return err
	}
	_, err := w.Exec(fmt.Sprintf("PRAGMA user_version = %d", want))
	return err
}

// addJournalColumns gives log_batches of a database made before the
// journal its journal columns.
func addJournalColumns(w *sql.DB) error {
	var n int
	if err := w.QueryRow(`SELECT count(*) FROM pragma_table_info('log_batches') WHERE name = 'jfile'`).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	for _, c := range []string{"jfile", "jpos", "jlen", "jcrc"} {
		if _, err := w.Exec(`ALTER TABLE log_batches ADD COLUMN ` + c + ` INTEGER`); err != nil {
			return err
		}
	}
	return nil
}

// Tenant is one open tenant: its core database with one writer connection
// (behind a group committer) and a small reader pool. Obtain one with
// Store.Acquire and give it back with Release.
type Tenant struct {
	store  *Store
	info   TenantInfo
	dir    string
	policy Policy
	w      *sql.DB // the single writer connection
	r      *Reader // reader pool
	commit *committer
	// journal holds the data of large log batches (see journal.go); new
	// batches go there only when spill is set, that is when the store
	// fsyncs every commit.
	journal *journal
	spill   bool
	blobs   *Blobs
	logs    *Logs

	closeOnce sync.Once
	syncQuit  chan struct{}
	syncDone  chan struct{}

	gens sync.Map // string → *atomic.Uint64, see Generation

	// Guarded by store.mu.
	refs     int
	lastUsed time.Time
	elem     *list.Element
	stale    bool
}

func openTenant(s *Store, info TenantInfo) (*Tenant, error) {
	dir := s.tenantDir(info.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tenant %s: %w", info.Name, err)
	}
	path := filepath.Join(dir, "core.db")
	w, err := openSQLite(path, dbOptions{cacheKiB: 256, durability: s.cfg.Durability})
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", info.Name, err)
	}
	if err := ensureSchema(w); err != nil {
		w.Close()
		return nil, fmt.Errorf("tenant %s schema: %w", info.Name, err)
	}
	r, err := openSQLite(path, dbOptions{readOnly: true, lazy: true, cacheKiB: 128})
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("tenant %s: %w", info.Name, err)
	}
	t := &Tenant{
		store:  s,
		info:   info,
		dir:    dir,
		policy: info.Policy.over(s.cfg.Policy),
		w:      w,
		r:      newReader(r),
		commit: newCommitter(w, path+"-wal", s.cfg.Durability == DurabilityFsync),
	}
	t.blobs = &Blobs{t: t}
	t.logs = newLogs(t)
	t.journal = newJournal(filepath.Join(dir, "journal"))
	t.commit.beforeCommit = t.journal.sync
	t.spill = s.cfg.Durability == DurabilityFsync
	if s.cfg.Durability == DurabilityPeriodic {
		t.syncQuit = make(chan struct{})
		t.syncDone = make(chan struct{})
		go t.periodicSync(s.cfg.SyncInterval)
	}
	return t, nil
}

// Name is the tenant's name.
func (t *Tenant) Name() string { return t.info.Name }

// ID is the tenant's random id.
func (t *Tenant) ID() string { return t.info.ID }

// Dir is the tenant's private directory, where protocol packages may keep
// files of their own (for example one SQLite file per SQL database).
func (t *Tenant) Dir() string { return t.dir }

// Blobs returns the tenant's content-addressed blob store.
func (t *Tenant) Blobs() *Blobs { return t.blobs }

// Logs returns the tenant's append-only logs.
func (t *Tenant) Logs() *Logs { return t.logs }

// Release gives the tenant back to the store.
func (t *Tenant) Release() { t.store.release(t) }

// Update runs fn in a write transaction through the group committer and
// returns once the transaction is durable (or failed). fn runs on the
// committer goroutine, serialised with every other write of the tenant: it
// must be short and must not call Update.
func (t *Tenant) Update(ctx context.Context, fn func(tx *Tx) error) error {
	return t.commit.do(ctx, fn)
}

// UpdateLazy is Update for writes that need not wait for the disk, such
// as a file system's metadata changes before anyone asks for fsync. When
// it returns, the write is committed and visible, and it survives a kill
// of the process (the kernel holds it); it reaches the disk with the next
// synced commit, at Sync, or within a second, whichever comes first, so a
// power loss can lose at most that second. With DurabilityPeriodic it is
// the same as Update.
func (t *Tenant) UpdateLazy(ctx context.Context, fn func(tx *Tx) error) error {
	return t.commit.doLazy(ctx, fn)
}

// Sync returns once every write acknowledged so far, lazy ones included,
// is durable.
func (t *Tenant) Sync(ctx context.Context) error {
	return t.commit.barrier(ctx)
}

// DB returns the reader pool. It sees every committed write; it cannot
// write.
func (t *Tenant) DB() *Reader { return t.r }

// periodicSync bounds the loss window in DurabilityPeriodic mode: with
// synchronous=NORMAL the WAL is only fsynced at checkpoints.
func (t *Tenant) periodicSync(every time.Duration) {
	defer close(t.syncDone)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-t.syncQuit:
			return
		case <-tick.C:
			t.Update(context.Background(), func(*Tx) error { return nil })
			t.w.Exec("PRAGMA wal_checkpoint(PASSIVE)")
		}
	}
}

// close commits queued writes and closes the databases.
func (t *Tenant) close() {
	t.closeOnce.Do(func() {
		if t.syncQuit != nil {
			close(t.syncQuit)
			<-t.syncDone
		}
		t.commit.close()
		t.journal.close()
		t.r.Close()
		t.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
		t.w.Close()
	})
}

// KVGet reads a value from the tenant's small key-value table, which
// protocols use for state such as committed consumer offsets.
func (t *Tenant) KVGet(ctx context.Context, ns, key string) ([]byte, error) {
	var v []byte
	err := t.r.QueryRowContext(ctx, `SELECT value FROM kv WHERE ns = ? AND key = ?`, ns, key).Scan(&v)
	if err == sql.ErrNoRows {
		return nil, fmt.Errorf("%w: %s/%s", ErrNotFound, ns, key)
	}
	return v, err
}

// KVList calls fn for every key in ns with the given prefix, in key order.
func (t *Tenant) KVList(ctx context.Context, ns, prefix string, fn func(key string, value []byte) error) error {
	rows, err := t.r.QueryContext(ctx,
		`SELECT key, value FROM kv WHERE ns = ? AND key >= ? AND key < ? ORDER BY key`,
		ns, prefix, prefix+"\U0010FFFF")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return rows.Err()
}

// KVPut sets a key inside a write transaction.
func KVPut(tx *Tx, ns, key string, value []byte) error {
	_, err := tx.Exec(`INSERT INTO kv(ns, key, value) VALUES (?, ?, ?)
		ON CONFLICT(ns, key) DO UPDATE SET value = excluded.value`, ns, key, value)
	return err
}

// KVDelete removes a key inside a write transaction.
func KVDelete(tx *Tx, ns, key string) error {
	_, err := tx.Exec(`DELETE FROM kv WHERE ns = ? AND key = ?`, ns, key)
	return err
}

// Generation returns the counter named key, which Bump advances. Protocol
// packages that cache a tenant's metadata in memory (Kafka's topics, say)
// compare it with the value they loaded at, so that a change another
// interface of the same process made is noticed with one atomic load. The
// counters live as long as the open tenant; a reopened tenant starts
// again at zero, and so does every cache loaded from it.
func (t *Tenant) Generation(key string) uint64 {
	if v, ok := t.gens.Load(key); ok {
		return v.(*atomic.Uint64).Load()
	}
	return 0
}

// Bump advances the counter named key; see Generation.
func (t *Tenant) Bump(key string) {
	v, _ := t.gens.LoadOrStore(key, new(atomic.Uint64))
	v.(*atomic.Uint64).Add(1)
}
