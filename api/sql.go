package api

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"modernc.org/sqlite"

	"rewire/api/wire"
	"rewire/storage"
	// kafkawire registers the kafka_* tables the streams methods use.
	_ "rewire/kafkawire"
)

func init() {
	register("sql.query", bind((*Ops).SQLQuery))
	register("usage", bind(func(o *Ops, ctx context.Context, _ struct{}) (wire.Usage, error) {
		return o.Usage(ctx)
	}))
}

// SQL databases are the SQLite files pgwire serves: <tenant dir>/sql/<db>.db.
var validDB = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$`)

const maxSQLRows = 10000

// SQLQuery runs one statement with parameters on a tenant database and
// returns its columns and rows. The statement is SQLite's dialect unless
// p.Dialect is "postgres", which translates it exactly as pgwire does, so
// the result matches what psql would show.
func (o *Ops) SQLQuery(ctx context.Context, p wire.SQLParams) (wire.SQLResult, error) {
	db := p.Database
	if db == "" {
		db = o.t.Name()
	}
	if !validDB.MatchString(db) {
		return wire.SQLResult{}, invalid("invalid database name %q", db)
	}
	if strings.TrimSpace(p.SQL) == "" || len(p.SQL) > 1<<20 {
		return wire.SQLResult{}, invalid("sql must hold one statement of at most 1 MiB")
	}
	max := p.MaxRows
	if max <= 0 {
		max = 1000
	}
	max = min(max, maxSQLRows)
	path := filepath.Join(o.t.Dir(), "sql", db+".db")
	if _, err := os.Stat(path); err != nil {
		if db != o.t.Name() && db != "postgres" {
			return wire.SQLResult{}, fmt.Errorf("%w: database %q", storage.ErrNotFound, db)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return wire.SQLResult{}, err
		}
	}
	pool, err := openSQL(path)
	if err != nil {
		return wire.SQLResult{}, err
	}
	defer pool.Close()
	conn, err := pool.Conn(ctx)
	if err != nil {
		return wire.SQLResult{}, err
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		r, ok := dc.(sqlite.AuthorizerRegisterer)
		if !ok {
			return errors.New("sqlite driver has no authorizer")
		}
		return r.RegisterAuthorizer(sandbox)
	})
	if err != nil {
		return wire.SQLResult{}, err
	}
	switch p.Dialect {
	case "", "sqlite":
	case "postgres", "postgresql":
		return runPostgres(ctx, conn, o.t.Name(), db, p, max)
	default:
		return wire.SQLResult{}, invalid("dialect must be sqlite or postgres")
	}
	args := make([]any, len(p.Params))
	for i, v := range p.Params {
		if f, ok := v.(float64); ok && f == float64(int64(f)) {
			v = int64(f)
		}
		args[i] = v
	}
	src := dollarParams.ReplaceAllString(p.SQL, "?$1")
	rows, err := conn.QueryContext(ctx, src, args...)
	if err != nil {
		return wire.SQLResult{}, sqlErr(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return wire.SQLResult{}, sqlErr(err)
	}
	out := wire.SQLResult{Columns: cols, Rows: [][]any{}}
	for rows.Next() {
		if len(out.Rows) >= max {
			out.Truncated = true
			break
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return wire.SQLResult{}, sqlErr(err)
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				vals[i] = string(b)
			}
		}
		out.Rows = append(out.Rows, vals)
	}
	if err := rows.Err(); err != nil {
		return wire.SQLResult{}, sqlErr(err)
	}
	rows.Close()
	if len(cols) == 0 {
		var n int64
		if err := conn.QueryRowContext(ctx, `SELECT changes()`).Scan(&n); err == nil {
			out.RowsAffected = n
		}
	}
	return out, nil
}

// dollarParams are PostgreSQL-style placeholders, turned into SQLite's ?N.
var dollarParams = regexp.MustCompile(`\$([0-9]+)`)

func sqlErr(err error) error {
	return &wire.Error{Code: wire.CodeInvalidOp, Message: "sql: " + err.Error()}
}

func openSQL(path string) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// sandbox keeps a statement inside its database: no ATTACH, no pragmas
// beyond table introspection, no extension loading or file functions.
func sandbox(action sqlite.AuthorizerActionCode, arg1, arg2, dbName, _ string) sqlite.AuthorizerReturnCode {
	switch action {
	case sqlite.AuthAttach, sqlite.AuthDetach, sqlite.AuthCreateVTable, sqlite.AuthDropVTable:
		return sqlite.AuthorizerDeny
	case sqlite.AuthPragma:
		switch strings.ToLower(arg1) {
		case "table_info", "table_xinfo", "index_list", "index_info", "foreign_key_list":
			return sqlite.AuthorizerOK
		}
		return sqlite.AuthorizerDeny
	case sqlite.AuthFunction:
		switch arg2 {
		case "load_extension", "readfile", "writefile", "edit", "fts3_tokenizer":
			return sqlite.AuthorizerDeny
		}
	}
	if dbName != "" && dbName != "main" && dbName != "temp" {
		return sqlite.AuthorizerDeny
	}
	return sqlite.AuthorizerOK
}

// Usage reports the bytes the tenant keeps in each tier.
func (o *Ops) Usage(ctx context.Context) (wire.Usage, error) {
	var u wire.Usage
	rows, err := o.t.DB().QueryContext(ctx, `SELECT tier, COALESCE(SUM(size), 0) FROM blobs GROUP BY tier`)
	if err != nil {
		return u, fmt.Errorf("usage: %w", err)
	}
	for rows.Next() {
		var tier storage.Tier
		var n int64
		if err := rows.Scan(&tier, &n); err != nil {
			rows.Close()
			return u, err
		}
		switch tier {
		case storage.TierHot:
			u.HotBytes = n
		case storage.TierWarm:
			u.WarmBytes = n
		case storage.TierCold:
			u.ColdBytes = n
		}
	}
	rows.Close()
	o.t.DB().QueryRowContext(ctx, `SELECT COALESCE(SUM(length(data) + COALESCE(jlen, 0)), 0) FROM log_batches`).Scan(&u.LogHotBytes)
	if fu, err := o.fs.Usage(ctx); err == nil {
		u.FileBytes, u.Files = fu.Bytes, fu.Inodes
	}
	ents, _ := os.ReadDir(filepath.Join(o.t.Dir(), "sql"))
	for _, e := range ents {
		if info, err := e.Info(); err == nil && !e.IsDir() {
			u.SQLBytes += info.Size()
		}
	}
	return u, nil
}
