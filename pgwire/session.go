package pgwire

import (
	"context"
	"errors"

	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"modernc.org/sqlite"

	"rewire/pgwire/sqltrans"
)

// serverVersion is what rewire reports as server_version: the PostgreSQL
// release whose protocol and catalog it follows.
const serverVersion = "15.8"

// reportedParams are sent as ParameterStatus at startup and when changed.
var reportedParams = []string{
	"server_version", "server_encoding", "client_encoding", "application_name",
	"DateStyle", "IntervalStyle", "TimeZone", "integer_datetimes",
	"standard_conforming_strings", "is_superuser", "session_authorization",
	"default_transaction_read_only", "in_hot_standby",
}

var defaultSettings = map[string]string{
	"server_version": serverVersion, "server_version_num": "150008",
	"server_encoding": "UTF8", "client_encoding": "UTF8", "application_name": "",
	"datestyle": "ISO, MDY", "intervalstyle": "postgres", "timezone": "UTC",
	"integer_datetimes": "on", "standard_conforming_strings": "on", "is_superuser": "on",
	"default_transaction_read_only": "off", "in_hot_standby": "off",
	"transaction_isolation": "serializable", "default_transaction_isolation": "serializable",
	"statement_timeout": "0", "search_path": "\"$user\", public", "max_identifier_length": "63",
	"lc_collate": "C", "lc_ctype": "C", "lc_messages": "C", "extra_float_digits": "1",
	"block_size": "8192", "max_connections": "1000", "transaction_read_only": "off",
	"bytea_output": "hex", "lock_timeout": "0", "idle_in_transaction_session_timeout": "0",
}

func (c *conn) setting(name string) string {
	l := strings.ToLower(name)
	if l == "session_authorization" {
		return c.user
	}
	if v, ok := c.settings[l]; ok {
		return v
	}
	return defaultSettings[l]
}

// Session implements sqltrans.Catalog.
func (c *conn) Session(key string) string {
	switch key {
	case "user":
		return c.user
	case "database":
		return c.db.name
	case "version":
		return "PostgreSQL " + serverVersion + " (rewire) on x86_64-pc-linux-gnu, compiled by Go, 64-bit"
	case "pid":
		return strconv.Itoa(int(c.pid))
	case "txid":
		return strconv.FormatInt(time.Now().UnixNano()/1000, 10)
	case "dbkey":
		return c.db.key // the database file: unique across tenants and servers
	}
	if name, ok := strings.CutPrefix(key, "schema:"); ok {
		var n int
		c.sc.QueryRowContext(context.Background(), `SELECT count(*) FROM "?rw_schema" WHERE name = ?`, name).Scan(&n)
		if n > 0 {
			return "1"
		}
		return ""
	}
	if name, ok := strings.CutPrefix(key, "setting:"); ok {
		if name == "transaction isolation level" {
			name = "transaction_isolation"
		}
		if _, known := defaultSettings[name]; !known {
			if _, set := c.settings[name]; !set && name != "session_authorization" {
				return "\x00" // no such setting
			}
		}
		return c.setting(name)
	}
	return ""
}

// Table implements sqltrans.Catalog from SQLite's schema, cached until the
// next DDL.
func (c *conn) Table(name string) ([]sqltrans.Column, bool) {
	if cols, ok := catalogTable(name); ok {
		return cols, true
	}
	if v := c.db.schemaVer.Load(); c.tables == nil || v != c.tabVer {
		c.tables = map[string][]sqltrans.Column{}
		c.tabVer = v
	}
	if cols, ok := c.tables[name]; ok {
		return cols, cols != nil
	}
	rows, err := c.sc.QueryContext(context.Background(), "SELECT name, type, \"notnull\", coalesce(dflt_value, '') FROM pragma_table_info(?)", name)
	if err != nil {
		return nil, false
	}
	defer rows.Close()
	var cols []sqltrans.Column
	for rows.Next() {
		var n, typ, dflt string
		var nn int
		if rows.Scan(&n, &typ, &nn, &dflt) != nil {
			return nil, false
		}
		oid, mod := sqltrans.ParseDeclType(typ)
		cols = append(cols, sqltrans.Column{Name: n, Oid: oid, Typmod: mod, NotNull: nn != 0, Table: name, Default: dflt})
	}
	c.tables[name] = cols
	return cols, cols != nil
}

// cacheGet looks src up in the database's translation cache, which holds
// translations made with the default search_path and TimeZone only.
func (c *conn) cacheGet(src string) ([]*sqltrans.Stmt, bool) {
	if c.ownTranslations {
		return nil, false
	}
	return c.db.cacheGet(src)
}

// settingsChanged recomputes what follows from the session settings
// rather than on every statement: whether its translations are its own.
func (c *conn) settingsChanged() {
	c.ownTranslations = c.loc != nil || sqltrans.CustomSearchPath(c.settings["search_path"]) != nil
}

// translate parses and translates src through the database's cache.
func (c *conn) translate(src string) ([]*sqltrans.Stmt, error) {
	if st, ok := c.cacheGet(src); ok {
		return st, nil
	}
	st, err := sqltrans.Translate(src, c)
	if err != nil {
		return nil, err
	}
	c.db.cachePut(src, st)
	return st, nil
}

// stmtContext returns the context for one statement: cancelled by
// CancelRequest, Shutdown or statement_timeout.
func (c *conn) stmtContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(c.srv.ctx)
	if c.timeout > 0 {
		var cancel2 context.CancelFunc
		ctx, cancel2 = context.WithTimeout(ctx, c.timeout)
		inner := cancel
		cancel = func() { cancel2(); inner() }
	}
	c.mu.Lock()
	c.stmtCancel = cancel
	c.mu.Unlock()
	return ctx, cancel
}

func (c *conn) endStatement() {
	if c.txStatus == 'I' && !c.implicit {
		sqltrans.ReleaseAdvisory(int64(c.pid), true) // a statement's own transaction ended
	}
	for _, ps := range c.ddlStmts {
		ps.Close()
	}
	c.ddlStmts = nil
	c.mu.Lock()
	c.stmtCancel = nil
	c.mu.Unlock()
}

// allowedWhenFailed reports whether st may run in an aborted transaction.
func allowedWhenFailed(st *sqltrans.Stmt) bool {
	switch st.Kind {
	case sqltrans.KindRollback, sqltrans.KindCommit, sqltrans.KindRollbackTo, sqltrans.KindEmpty:
		return true
	}
	return false
}

var errInFailedTx = &sqltrans.Error{Code: sqltrans.CodeInFailedTx,
	Message: "current transaction is aborted, commands ignored until end of transaction block"}

// beforeStatement checks the transaction state and opens the SQLite
// transaction lazily: immediately for writes (so that a read snapshot
// never has to be upgraded), deferred for reads.
func (c *conn) beforeStatement(ctx context.Context, st *sqltrans.Stmt) error {
	if c.txStatus == 'E' && !allowedWhenFailed(st) {
		return errInFailedTx
	}
	if c.sqliteTx {
		if st.Write || st.DDL {
			// A transaction that began reading now writes.
			return c.acquireWriter(ctx)
		}
		return nil
	}
	switch st.Kind {
	case sqltrans.KindQuery, sqltrans.KindMulti, sqltrans.KindCopy, sqltrans.KindSavepoint, sqltrans.KindDropSchema:
	default:
		return nil
	}
	if c.txStatus == 'I' {
		// Several statements of one Query message, and writes of an
		// extended-protocol pipeline, share an implicit transaction that
		// ends at the end of the message or at Sync.
		// A lone write runs in one too, so that it queues for the
		// writer like every other.
		if !c.multiQuery && !st.Write && !st.DDL {
			return nil
		}
		if st.Kind == sqltrans.KindCopy {
			return nil // COPY runs in its own transaction
		}
		c.implicit = true
	}
	begin := "BEGIN"
	if st.Write || st.DDL {
		begin = "BEGIN IMMEDIATE"
		if err := c.acquireWriter(ctx); err != nil {
			return err
		}
	}
	if _, err := c.sc.ExecContext(ctx, begin); err != nil {
		c.releaseWriter()
		return err
	}
	c.sqliteTx = true
	return nil
}

// syncCommit returns once the transaction just committed is on disk. The
// writer is released first by the caller's defer or right after, so the
// next session commits while this one waits for the fsync.
func (c *conn) syncCommit() error {
	c.releaseWriter()
	err := c.db.wal.sync()
	if !c.unmapped {
		// A writing session reads without the mapping (see mmapBytes).
		if _, perr := c.sc.ExecContext(context.Background(), "PRAGMA mmap_size = 0"); perr != nil {
			c.log.Warn("drop database file mapping", "err", perr)
		}
		c.unmapped = true // tried once per session
	}
	return err
}

// writerWait bounds the wait for the writer, as busy_timeout bounds
// SQLite's.
const writerWait = 10 * time.Second

// acquireWriter waits until this session may write: the database's other
// sessions have no write transaction open. It fails as SQLite's busy
// timeout does (40001) after writerWait, or when the statement is
// cancelled.
func (c *conn) acquireWriter(ctx context.Context) error {
	if c.holdsWriter {
		return nil
	}
	select {
	case c.db.writer <- struct{}{}:
		c.holdsWriter = true
		return nil
	default:
	}
	t := time.NewTimer(writerWait)
	defer t.Stop()
	select {
	case c.db.writer <- struct{}{}:
		c.holdsWriter = true
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errors.New("database is locked")
	}
}

// releaseWriter lets the next session write; the SQLite transaction must
// have ended.
func (c *conn) releaseWriter() {
	if c.holdsWriter {
		c.holdsWriter = false
		<-c.db.writer
	}
}

// failTx marks the transaction aborted after an error.
func (c *conn) failTx() {
	if c.txStatus == 'T' {
		c.txStatus = 'E'
	}
	c.pipelineFailed = true
}

// endImplicitTx commits or rolls back an implicit transaction.
func (c *conn) endImplicitTx(commit bool) error {
	if !c.implicit {
		return nil
	}
	c.implicit = false
	sqltrans.ReleaseAdvisory(int64(c.pid), true)
	if !c.sqliteTx {
		c.endNotifies(commit)
		return nil
	}
	c.sqliteTx = false
	wrote := c.holdsWriter
	defer c.releaseWriter()
	if commit {
		if _, err := c.sc.ExecContext(context.Background(), "COMMIT"); err != nil {
			c.sc.ExecContext(context.Background(), "ROLLBACK")
			c.endNotifies(false)
			return err
		}
		if wrote {
			if err := c.syncCommit(); err != nil {
				return err
			}
		}
		c.endNotifies(true)
		return nil
	}
	c.endNotifies(false)
	_, err := c.sc.ExecContext(context.Background(), "ROLLBACK")
	return err
}

// endImplicit runs at Sync: outside a transaction block, portals end.
func (c *conn) endImplicit() {
	if c.txStatus == 'I' {
		for name, p := range c.portals {
			p.close()
			delete(c.portals, name)
		}
	}
}

func (c *conn) finishTx(commit bool) error {
	c.closeCursors(false)
	defer sqltrans.ReleaseAdvisory(int64(c.pid), true)
	var err error
	if c.sqliteTx {
		q := "ROLLBACK"
		if commit {
			q = "COMMIT"
		}
		_, err = c.sc.ExecContext(context.Background(), q)
		if err != nil && commit {
			c.sc.ExecContext(context.Background(), "ROLLBACK")
		}
		if err == nil && commit && c.holdsWriter {
			err = c.syncCommit()
		}
	}
	c.endNotifies(commit && err == nil)
	c.sqliteTx = false
	c.releaseWriter()
	c.txStatus = 'I'
	c.savepoints = nil
	for name, p := range c.portals {
		p.close()
		delete(c.portals, name)
	}
	return err
}

// control runs a statement that is not plain SQL and returns its tag.
func (c *conn) control(ctx context.Context, st *sqltrans.Stmt) (string, error) {
	switch st.Kind {
	case sqltrans.KindEmpty:
		return "", nil
	case sqltrans.KindNoop:
		return st.Tag, nil
	case sqltrans.KindBegin:
		if c.implicit {
			// BEGIN inside an implicit transaction makes it explicit.
			c.implicit = false
			c.txStatus = 'T'
			return "BEGIN", nil
		}
		if c.txStatus != 'I' {
			c.notice("25001", "there is already a transaction in progress")
			return "BEGIN", nil
		}
		c.txStatus = 'T'
		return "BEGIN", nil
	case sqltrans.KindCommit:
		switch c.txStatus {
		case 'I':
			if c.implicit {
				return "COMMIT", c.endImplicitTx(true)
			}
			c.notice("25P01", "there is no transaction in progress")
			return "COMMIT", nil
		case 'E':
			return "ROLLBACK", c.finishTx(false)
		}
		if err := c.finishTx(true); err != nil {
			return "", err
		}
		return "COMMIT", nil
	case sqltrans.KindRollback:
		if c.implicit {
			return "ROLLBACK", c.endImplicitTx(false)
		}
		if c.txStatus == 'I' {
			c.notice("25P01", "there is no transaction in progress")
		}
		return "ROLLBACK", c.finishTx(false)
	case sqltrans.KindSavepoint:
		if c.txStatus == 'I' {
			return "", sqltrans.Errorf(sqltrans.CodeNoActiveTx, "SAVEPOINT can only be used in transaction blocks")
		}
		if _, err := c.sc.ExecContext(ctx, "SAVEPOINT "+quoteIdent(st.Name)); err != nil {
			return "", err
		}
		c.savepoints = append(c.savepoints, st.Name)
		return "SAVEPOINT", nil
	case sqltrans.KindRelease, sqltrans.KindRollbackTo:
		if c.txStatus == 'I' {
			return "", sqltrans.Errorf(sqltrans.CodeNoActiveTx, "%s can only be used in transaction blocks",
				map[bool]string{true: "RELEASE SAVEPOINT", false: "ROLLBACK TO SAVEPOINT"}[st.Kind == sqltrans.KindRelease])
		}
		i := len(c.savepoints) - 1
		for ; i >= 0 && c.savepoints[i] != st.Name; i-- {
		}
		if i < 0 {
			return "", sqltrans.Errorf(sqltrans.CodeInvalidSavepoint, "savepoint \"%s\" does not exist", st.Name)
		}
		if st.Kind == sqltrans.KindRelease {
			if _, err := c.sc.ExecContext(ctx, "RELEASE SAVEPOINT "+quoteIdent(st.Name)); err != nil {
				return "", err
			}
			c.savepoints = c.savepoints[:i]
			return "RELEASE", nil
		}
		if _, err := c.sc.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+quoteIdent(st.Name)); err != nil {
			return "", err
		}
		c.savepoints = c.savepoints[:i+1]
		c.txStatus = 'T'
		return "ROLLBACK", nil
	case sqltrans.KindSet:
		return st.Tag, c.set(st)
	case sqltrans.KindCreateDB:
		return st.Tag, c.createDatabase(st.Name)
	case sqltrans.KindDropDB:
		return st.Tag, c.dropDatabase(st.Name, st.Exists)
	case sqltrans.KindClosePortal:
		return st.Tag, c.closeCursor(st.Name)
	case sqltrans.KindDropSchema:
		err := c.dropSchemas(ctx, st.Names, st.Exists, st.Cascade)
		c.db.schemaVer.Add(1)
		return st.Tag, err
	case sqltrans.KindListen:
		c.db.listen.add(c, st.Name)
		return st.Tag, nil
	case sqltrans.KindUnlisten:
		c.db.listen.remove(c, st.Name)
		return st.Tag, nil
	case sqltrans.KindDeallocate:
		if st.Name == "" {
			clear(c.stmts)
		} else {
			delete(c.stmts, st.Name)
		}
		return "DEALLOCATE", nil
	case sqltrans.KindMulti:
		var n int64
		for _, q := range st.Multi {
			res, err := c.sc.ExecContext(ctx, q)
			if err != nil {
				if st.Exists && strings.Contains(err.Error(), "no such table: ?rw_seq") {
					continue
				}
				return "", err
			}
			n, _ = res.RowsAffected()
		}
		if len(st.Rebuild) > 0 {
			err := c.rebuildTable(ctx, st.Table, st.Rebuild)
			c.db.schemaVer.Add(1)
			if err != nil {
				return "", err
			}
		}
		if st.DDL {
			c.db.schemaVer.Add(1)
		}
		if st.Tag == "SELECT" {
			// CREATE TABLE AS reports the rows it wrote.
			return "SELECT " + strconv.FormatInt(n, 10), nil
		}
		return st.Tag, nil
	}
	return "", fmt.Errorf("unexpected statement kind %d", st.Kind)
}

func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// set applies SET and RESET to the session.
func (c *conn) set(st *sqltrans.Stmt) error {
	defer c.settingsChanged()
	name := st.Name
	if st.Reset {
		if name == "all" {
			clear(c.settings)
			c.timeout, c.loc = 0, nil
			return nil
		}
		delete(c.settings, name)
		switch name {
		case "statement_timeout":
			c.timeout = 0
		case "timezone":
			c.loc = nil
		}
		return nil
	}
	val := st.Value
	switch name {
	case "client_encoding":
		u := strings.ToUpper(strings.ReplaceAll(val, "-", ""))
		if u != "UTF8" && u != "UNICODE" {
			return sqltrans.Errorf("0A000", "client encoding \"%s\" is not supported; use UTF8", val)
		}
		val = "UTF8"
	case "statement_timeout":
		d, err := parseDuration(val)
		if err != nil {
			return sqltrans.Errorf(sqltrans.CodeInvalidParameter, "invalid value for parameter \"statement_timeout\": \"%s\"", val)
		}
		c.timeout = d
	case "timezone":
		loc, err := sqltrans.SessionZone(val)
		if err != nil {
			return err
		}
		c.loc = loc
	}
	c.settings[name] = val
	for _, p := range reportedParams {
		if strings.EqualFold(p, name) {
			c.be.Send(&pgproto3.ParameterStatus{Name: p, Value: val})
		}
	}
	return nil
}

func parseDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(strings.ToLower(v))
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(n) * time.Millisecond, nil
	}
	for _, u := range []struct {
		suffix string
		d      time.Duration
	}{{"ms", time.Millisecond}, {"s", time.Second}, {"min", time.Minute}, {"h", time.Hour}} {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
			if err != nil {
				return 0, err
			}
			return time.Duration(f * float64(u.d)), nil
		}
	}
	return 0, fmt.Errorf("bad duration %q", v)
}

func (c *conn) createDatabase(name string) error {
	if c.txStatus != 'I' {
		return sqltrans.Errorf("25001", "CREATE DATABASE cannot run inside a transaction block")
	}
	if !validDBName.MatchString(name) {
		return sqltrans.Errorf(sqltrans.CodeInvalidName, "invalid database name \"%s\"", name)
	}
	path := dbPath(c.tenant.Dir(), name)
	if fileExists(path) || defaultDB(c.user, name) {
		return sqltrans.Errorf(sqltrans.CodeDuplicateDatabase, "database \"%s\" already exists", name)
	}
	d, err := c.srv.dbs.open(c.tenant.Dir(), c.user, name, true)
	if err != nil {
		return err
	}
	c.srv.dbs.release(d)
	return nil
}

func (c *conn) dropDatabase(name string, ifExists bool) error {
	if c.txStatus != 'I' {
		return sqltrans.Errorf("25001", "DROP DATABASE cannot run inside a transaction block")
	}
	path := dbPath(c.tenant.Dir(), name)
	if !validDBName.MatchString(name) || !fileExists(path) {
		if ifExists {
			c.notice("00000", fmt.Sprintf("database \"%s\" does not exist, skipping", name))
			return nil
		}
		return sqltrans.Errorf(sqltrans.CodeInvalidCatalog, "database \"%s\" does not exist", name)
	}
	if name == c.db.name {
		return sqltrans.Errorf(sqltrans.CodeObjectInUse, "cannot drop the currently open database")
	}
	if c.srv.dbs.inUse(path) {
		return &sqltrans.Error{Code: sqltrans.CodeObjectInUse, Message: fmt.Sprintf("database \"%s\" is being accessed by other users", name)}
	}
	return removeDBFiles(path)
}

// columnInfo asks SQLite for a statement's result columns without running
// it.
func (c *conn) columnInfo(q string) ([]sqlite.ColumnInfo, error) {
	var info []sqlite.ColumnInfo
	err := c.sc.Raw(func(dc any) error {
		ci, ok := dc.(interface {
			ColumnInfo(string) ([]sqlite.ColumnInfo, error)
		})
		if !ok {
			return fmt.Errorf("sqlite driver has no ColumnInfo")
		}
		var err error
		info, err = ci.ColumnInfo(q)
		return err
	})
	return info, err
}

// resCol is one column of a RowDescription.
type resCol struct {
	name   string
	oid    uint32
	typmod int32
	format int16
}

// resolveCols combines the translator's types with SQLite's declared
// types; decl holds SQLite's declared type per column ("" if none).
func resolveCols(st *sqltrans.Stmt, names, decl []string) []resCol {
	out := make([]resCol, len(names))
	for i := range names {
		rc := resCol{name: names[i], typmod: -1}
		if i < len(st.Cols) {
			h := st.Cols[i]
			rc.name = h.Name
			if h.Oid != 0 && h.Oid != sqltrans.OidUnknown {
				rc.oid, rc.typmod = h.Oid, h.Typmod
			}
			if h.Oid == sqltrans.OidUnknown {
				rc.oid = sqltrans.OidText
			}
		}
		if rc.oid == 0 && i < len(decl) && decl[i] != "" {
			rc.oid, rc.typmod = sqltrans.ParseDeclType(decl[i])
		} else if i < len(decl) && decl[i] != "" && rc.typmod < 0 {
			if o, m := sqltrans.ParseDeclType(decl[i]); o == rc.oid {
				rc.typmod = m
			}
		}
		out[i] = rc
	}
	return out
}

// guessOid picks a type for a column the translator could not type, from
// the first value SQLite returned.
func guessOid(v any) uint32 {
	switch v.(type) {
	case int64:
		return sqltrans.OidInt8
	case float64:
		return sqltrans.OidFloat8
	case []byte:
		return sqltrans.OidBytea
	}
	return sqltrans.OidText
}

func fieldDescs(cols []resCol) []pgproto3.FieldDescription {
	f := make([]pgproto3.FieldDescription, len(cols))
	for i, c := range cols {
		size := int16(-1)
		if t := sqltrans.Types[c.oid]; t != nil {
			size = t.Len
		}
		f[i] = pgproto3.FieldDescription{Name: []byte(c.name), DataTypeOID: c.oid, DataTypeSize: size,
			TypeModifier: c.typmod, Format: c.format}
	}
	return f
}

// commandTag builds the CommandComplete tag.
func commandTag(st *sqltrans.Stmt, n int64) string {
	switch st.Tag {
	case "INSERT":
		return "INSERT 0 " + strconv.FormatInt(n, 10)
	case "SELECT", "UPDATE", "DELETE", "COPY", "MERGE", "FETCH", "MOVE":
		return st.Tag + " " + strconv.FormatInt(n, 10)
	}
	return st.Tag
}
