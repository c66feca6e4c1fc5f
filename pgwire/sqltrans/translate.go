package sqltrans

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// Kind classifies a translated statement for the executor.
type Kind int

// Statement kinds.
const (
	KindQuery       Kind = iota // runs on SQLite; may return rows
	KindEmpty                   // empty query
	KindNoop                    // accepted and ignored (VACUUM, ANALYZE, …)
	KindBegin                   // BEGIN / START TRANSACTION
	KindCommit                  // COMMIT / END
	KindRollback                // ROLLBACK / ABORT
	KindSavepoint               // SAVEPOINT name
	KindRelease                 // RELEASE SAVEPOINT name
	KindRollbackTo              // ROLLBACK TO SAVEPOINT name
	KindSet                     // SET / RESET
	KindShow                    // SHOW
	KindCopy                    // COPY
	KindCreateDB                // CREATE DATABASE
	KindDropDB                  // DROP DATABASE
	KindDeallocate              // DEALLOCATE
	KindMulti                   // several SQLite statements run in order (DDL)
	KindDropSchema              // DROP SCHEMA: Names, Cascade
	KindDeclare                 // DECLARE Name CURSOR FOR Cursor
	KindFetch                   // FETCH or MOVE Count rows of cursor Name
	KindClosePortal             // CLOSE Name ("" for ALL)
	KindListen                  // LISTEN Name
	KindUnlisten                // UNLISTEN Name ("" for *)
)

// Column describes one column: of a table in the catalog, or of a result.
type Column struct {
	Name    string
	Oid     uint32 // 0 when unknown
	Typmod  int32
	NotNull bool
	Table   string // base table for result columns, if any
	Default string // SQLite text of a stored column's default, if any
}

// Catalog gives the translator the tenant database's tables.
type Catalog interface {
	// Table returns the columns of a table or view; name is already
	// mapped to its SQLite name.
	Table(name string) ([]Column, bool)
	// Session returns a session constant: "user", "database", "version"
	// "pid" or "dbkey" (the database's identity in this process), or
	// "setting:name" for a setting's value ("\x00" when there is no such
	// setting).
	Session(key string) string
}

// Stmt is one translated statement.
type Stmt struct {
	Kind    Kind
	SQL     string   // SQLite text for KindQuery
	Multi   []string // SQLite statements for KindMulti
	Tag     string   // command tag verb: SELECT, INSERT, CREATE TABLE, …
	Rows    bool     // returns rows
	Cols    []Column // result columns (Oid 0: decide from the data)
	Params  []uint32 // inferred parameter types, $1 at index 0 (0: unknown)
	DDL     bool     // changes the schema
	Write   bool     // modifies data
	Name    string   // savepoint, setting or database name
	Value   string   // SET value
	Local   bool     // SET LOCAL
	Reset   bool     // RESET
	Exists  bool     // IF [NOT] EXISTS
	Copy    *Copy
	Source  string   // the statement's PostgreSQL text
	NoCache bool     // depends on the session: do not share the translation
	Seq     bool     // a sequence function on sequence Name: no row means none
	Names   []string // objects of DROP SCHEMA
	Cascade bool     // DROP … CASCADE
	Cursor  *Stmt    // the query of DECLARE CURSOR
	Hold    bool     // DECLARE … WITH HOLD
	Move    bool     // MOVE rather than FETCH
	Count   int64    // rows to FETCH or MOVE; -1 for ALL
	Table   string   // SQLite name of the table INSERT, UPDATE or DELETE changes
	// Pre are the data-modifying statements of the statement's WITH
	// clause, to run first, in order (see PreStmt).
	Pre []PreStmt
	// Rebuild lists table constraints (SQLite text) that ALTER TABLE
	// adds to Table by rebuilding it, after Multi has run.
	Rebuild []string
	// SetConfig marks SELECT set_config(Name, Value, Local), a KindShow
	// that sets the setting before it shows it.
	SetConfig bool
}

// PreStmt is an INSERT, UPDATE or DELETE of a WITH clause. SQLite has no
// data-modifying CTEs, so the server runs it before the statement and
// keeps the rows of its RETURNING in the temporary table Table, which the
// statement reads where it names the CTE.
type PreStmt struct {
	SQL   string
	Table string   // temporary table for the returned rows ("" without RETURNING)
	Cols  []Column // the returned columns
}

// Copy describes a COPY statement.
type Copy struct {
	From      bool
	Table     string
	Columns   []Column
	Query     string // COPY (query) TO: its SQLite text
	CSV       bool
	Binary    bool
	Delimiter string
	Null      string
	Header    bool
	Quote     string
	Escape    string
	// CSV only, one flag per column when the option is given: always
	// quote (TO); an unquoted null string is an empty string, not NULL
	// (FROM); a quoted null string is NULL too (FROM).
	ForceQuote   []bool
	ForceNotNull []bool
	ForceNull    []bool
}

// Translate parses src with the PostgreSQL grammar and translates every
// statement. Errors are *Error with a SQLSTATE.
func Translate(src string, cat Catalog) (out []*Stmt, err error) {
	tree, perr := pg.Parse(src)
	if perr != nil {
		return nil, syntaxError(perr)
	}
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(*Error); ok {
				out, err = nil, e
				return
			}
			out, err = nil, Errorf(CodeInternal, "translate: %v", r)
		}
	}()
	if len(tree.Stmts) == 0 {
		return []*Stmt{{Kind: KindEmpty}}, nil
	}
	for _, raw := range tree.Stmts {
		text := stmtText(src, raw)
		t := &tr{cat: cat}
		s := t.stmt(raw.Stmt)
		s.Source = text
		s.NoCache = t.noCache
		if len(t.pre) > 0 {
			if s.Kind != KindQuery {
				return nil, Errorf(CodeFeature, "WITH with a data-modifying statement is supported only before SELECT, INSERT, UPDATE or DELETE")
			}
			s.Pre, t.writes = t.pre, true
		}
		if t.writes && s.Kind == KindQuery {
			s.Write = true // nextval and setval change the sequence table
		}
		if s.Kind == KindQuery && len(t.params) > len(s.Params) {
			s.Params = t.params
		}
		out = append(out, s)
	}
	return out, nil
}

// stmtText returns the source text of one statement.
func stmtText(src string, raw *pg.RawStmt) string {
	text, _ := stmtSpan(src, raw)
	return text
}

// stmtSpan returns the trimmed source text of one statement and its byte
// offset in src; the parser's locations are byte offsets.
func stmtSpan(src string, raw *pg.RawStmt) (string, int) {
	start := int(raw.StmtLocation)
	end := len(src)
	if raw.StmtLen > 0 {
		end = start + int(raw.StmtLen)
	}
	if start < 0 || start > len(src) || end > len(src) || end < start {
		return src, 0
	}
	text := src[start:end]
	lead := len(text) - len(strings.TrimLeftFunc(text, unicode.IsSpace))
	return strings.TrimSpace(text), start + lead
}

// CatalogRelations maps the short names of emulated pg_catalog relations
// to their SQLite names, so that unqualified pg_class finds the catalog.
var CatalogRelations = map[string]string{}

// tr holds the state of one statement's translation.
type tr struct {
	cat     Catalog
	params  []uint32
	scopes  [][]rel // innermost last
	ctes    []map[string][]Column
	noCache bool

	qualify    int             // > 0: emit bare column names with their relation
	relName    string          // table of CREATE/ALTER TABLE
	relSchema  string          // its schema as written
	checkNames map[string]bool // CHECK constraint names given so far
	writes     bool            // calls a function that changes a sequence
	serialSeqs []string        // sequences CREATE TABLE makes for serial columns
	relFull    string          // SQLite name of the table CREATE TABLE makes
	path       []string        // the session's search_path when it is not the default
	pathRead   bool
	pre        []PreStmt         // data-modifying CTEs met so far
	dmlCTEs    map[string]string // their names → temporary tables
	zoneName   string            // the session's TimeZone when it is not UTC
	zoneLoc    *time.Location
	zoneRead   bool
}

// rel is one relation visible in a FROM clause.
type rel struct {
	alias string
	cols  []Column
}

func fail(code, format string, args ...any) {
	panic(Errorf(code, format, args...))
}

func (t *tr) pushScope() { t.scopes = append(t.scopes, nil) }
func (t *tr) popScope()  { t.scopes = t.scopes[:len(t.scopes)-1] }

func (t *tr) addRel(alias string, cols []Column) {
	t.scopes[len(t.scopes)-1] = append(t.scopes[len(t.scopes)-1], rel{alias: alias, cols: cols})
}

// setParam records the type of parameter n (1-based) if not yet known.
func (t *tr) setParam(n int, oid uint32) {
	if n <= 0 || n > 65535 {
		fail(CodeSyntax, "there is no parameter $%d", n)
	}
	for len(t.params) < n {
		t.params = append(t.params, 0)
	}
	if t.params[n-1] == 0 {
		t.params[n-1] = oid
	}
}

// qi quotes an identifier for SQLite.
func qi(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// qs quotes a string literal for SQLite.
func qs(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// tableName maps a PostgreSQL relation name to its SQLite table name:
// public and unqualified names are plain, other schemas become a prefix.
func tableName(schema, name string) string {
	switch schema {
	case "":
		if full, ok := CatalogRelations[name]; ok {
			return full
		}
		return name
	case "public":
		return name
	case "pg_catalog", "information_schema":
		return schema + "." + name
	}
	return schema + "." + name
}

// zone returns the session's TimeZone, as an SQL string literal for the
// functions that take it, and its location; both are empty for UTC. A
// translation that depends on it is not shared between sessions.
func (t *tr) zone() (string, *time.Location) {
	if !t.zoneRead {
		t.zoneRead = true
		if t.cat != nil {
			if name := t.cat.Session("setting:timezone"); name != "\x00" {
				if loc, err := SessionZone(name); err == nil && loc != nil {
					t.zoneName, t.zoneLoc = qs(name), loc
				}
			}
		}
	}
	if t.zoneLoc != nil {
		t.noCache = true
	}
	return t.zoneName, t.zoneLoc
}

// setConfigCall translates SELECT set_config('name', 'value', is_local)
// with constant arguments and nothing else (as pg_dump writes it) into a
// statement that sets the setting and returns its new value; it returns
// nil for any other SELECT.
func setConfigCall(s *pg.SelectStmt) *Stmt {
	if s.Op != pg.SetOperation_SETOP_NONE || len(s.FromClause) > 0 || s.WhereClause != nil || len(s.TargetList) != 1 {
		return nil
	}
	f := s.TargetList[0].GetResTarget().GetVal().GetFuncCall()
	if f == nil || funcName(f) != "set_config" || len(f.Args) != 3 {
		return nil
	}
	var vals [3]string
	for i, a := range f.Args {
		c := a.GetAConst()
		switch {
		case c == nil:
			return nil
		case c.GetSval() != nil:
			vals[i] = c.GetSval().Sval
		case c.GetBoolval() != nil:
			vals[i] = map[bool]string{true: "t", false: "f"}[c.GetBoolval().Boolval]
		default:
			return nil
		}
	}
	col := s.TargetList[0].GetResTarget().Name
	if col == "" {
		col = "set_config"
	}
	return &Stmt{Kind: KindShow, Tag: "SELECT", Rows: true, SetConfig: true, Name: strings.ToLower(vals[0]),
		Value: vals[1], Local: vals[2] == "t", Cols: []Column{{Name: col, Oid: OidText, Typmod: -1}}}
}

// searchPath returns the schemas of the session's search_path when it
// names a schema other than public and pg_catalog, and nil for the
// default (an empty search_path reads as the default too). A translation
// that depends on it is not shared between sessions.
func (t *tr) searchPath() []string {
	if t.pathRead {
		return t.path
	}
	t.pathRead = true
	if t.cat == nil {
		return nil
	}
	v := t.cat.Session("setting:search_path")
	if v == "\x00" {
		return nil
	}
	if path := CustomSearchPath(v); path != nil {
		t.noCache = true
		t.path = path
	}
	return t.path
}

// CustomSearchPath returns the schemas of a search_path setting when it
// names one other than public and pg_catalog, and nil for the default
// (an empty path reads as the default too; "$user" is ignored).
func CustomSearchPath(v string) []string {
	var path []string
	custom := false
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		if len(p) >= 2 && p[0] == '"' && p[len(p)-1] == '"' {
			p = strings.ReplaceAll(p[1:len(p)-1], `""`, `"`)
		} else {
			p = strings.ToLower(p)
		}
		if p == "" || p == "$user" {
			continue
		}
		path = append(path, p)
		if p != "public" && p != "pg_catalog" {
			custom = true
		}
	}
	if !custom {
		return nil
	}
	return path
}

// existingSchemas returns the schemas of path that exist, in order.
func (t *tr) existingSchemas(path []string) []string {
	var out []string
	for _, s := range path {
		if s == "public" || s != "pg_catalog" && t.cat.Session("schema:"+s) != "" {
			out = append(out, s)
		}
	}
	return out
}

// resolveRel maps a relation name as written to its SQLite name. An
// unqualified name resolves through the search_path: to the first schema
// holding such a relation, or, for a relation being created, to the first
// schema that exists. A name no schema holds maps to public, where it is
// reported missing.
func (t *tr) resolveRel(schema, name string, create bool) string {
	if tmp, ok := t.dmlCTEs[name]; ok && schema == "" && !create {
		return tmp
	}
	path := t.searchPath()
	if schema != "" || path == nil {
		return tableName(schema, name)
	}
	if _, ok := CatalogRelations[name]; ok {
		return tableName("", name)
	}
	for i := len(t.ctes) - 1; i >= 0; i-- {
		if _, ok := t.ctes[i][name]; ok {
			return name
		}
	}
	for _, s := range path {
		if s == "pg_catalog" {
			continue
		}
		full := tableName(s, name)
		if create {
			if s == "public" || t.cat.Session("schema:"+s) != "" {
				return full
			}
			continue
		}
		if _, ok := t.cat.Table(full); ok {
			return full
		}
	}
	return tableName("", name)
}

func (t *tr) lookupTable(name string) ([]Column, bool) {
	for i := len(t.ctes) - 1; i >= 0; i-- {
		if cols, ok := t.ctes[i][name]; ok {
			return cols, true
		}
	}
	if t.cat == nil {
		return nil, false
	}
	return t.cat.Table(name)
}

func (t *tr) stmt(n *pg.Node) *Stmt {
	switch {
	case n.GetSelectStmt() != nil:
		if into := n.GetSelectStmt().IntoClause; into != nil {
			sel := n.GetSelectStmt()
			sel.IntoClause = nil
			return t.createTableAs(into, sel, false)
		}
		if st := t.seqCall(n.GetSelectStmt()); st != nil {
			return st
		}
		if st := setConfigCall(n.GetSelectStmt()); st != nil {
			return st
		}
		sql, cols := t.selectStmt(n.GetSelectStmt())
		return &Stmt{Kind: KindQuery, SQL: sql, Tag: "SELECT", Rows: true, Cols: cols}
	case n.GetInsertStmt() != nil:
		return t.insertStmt(n.GetInsertStmt())
	case n.GetUpdateStmt() != nil:
		return t.updateStmt(n.GetUpdateStmt())
	case n.GetDeleteStmt() != nil:
		return t.deleteStmt(n.GetDeleteStmt())
	case n.GetTransactionStmt() != nil:
		return t.transactionStmt(n.GetTransactionStmt())
	case n.GetVariableSetStmt() != nil:
		return t.setStmt(n.GetVariableSetStmt())
	case n.GetVariableShowStmt() != nil:
		return &Stmt{Kind: KindShow, Name: strings.ToLower(n.GetVariableShowStmt().Name), Rows: true, Tag: "SHOW"}
	case n.GetCreateStmt() != nil:
		return t.createStmt(n.GetCreateStmt())
	case n.GetDropStmt() != nil:
		return t.dropStmt(n.GetDropStmt())
	case n.GetIndexStmt() != nil:
		return t.indexStmt(n.GetIndexStmt())
	case n.GetAlterTableStmt() != nil:
		return t.alterTableStmt(n.GetAlterTableStmt())
	case n.GetRenameStmt() != nil:
		return t.renameStmt(n.GetRenameStmt())
	case n.GetTruncateStmt() != nil:
		var multi []string
		for _, r := range n.GetTruncateStmt().Relations {
			rv := r.GetRangeVar()
			multi = append(multi, "DELETE FROM "+qi(t.resolveRel(rv.Schemaname, rv.Relname, false)))
		}
		return &Stmt{Kind: KindMulti, Multi: multi, Tag: "TRUNCATE TABLE", Write: true}
	case n.GetViewStmt() != nil:
		return t.viewStmt(n.GetViewStmt())
	case n.GetCreateSchemaStmt() != nil:
		return t.createSchemaStmt(n.GetCreateSchemaStmt())
	case n.GetCreatedbStmt() != nil:
		return &Stmt{Kind: KindCreateDB, Name: n.GetCreatedbStmt().Dbname, Tag: "CREATE DATABASE"}
	case n.GetDropdbStmt() != nil:
		d := n.GetDropdbStmt()
		return &Stmt{Kind: KindDropDB, Name: d.Dbname, Exists: d.MissingOk, Tag: "DROP DATABASE"}
	case n.GetVacuumStmt() != nil:
		tag := "VACUUM"
		if !n.GetVacuumStmt().IsVacuumcmd {
			tag = "ANALYZE"
		}
		return &Stmt{Kind: KindNoop, Tag: tag}
	case n.GetCopyStmt() != nil:
		return t.copyStmt(n.GetCopyStmt())
	case n.GetExplainStmt() != nil:
		inner := t.stmt(n.GetExplainStmt().Query)
		if inner.Kind != KindQuery {
			fail(CodeFeature, "EXPLAIN of this statement is not supported")
		}
		return &Stmt{Kind: KindQuery, SQL: "EXPLAIN QUERY PLAN " + inner.SQL, Params: inner.Params,
			Tag: "EXPLAIN", Rows: true, Cols: []Column{{Name: "QUERY PLAN", Oid: OidText, Typmod: -1}}}
	case n.GetCreateTableAsStmt() != nil:
		s := n.GetCreateTableAsStmt()
		if s.Objtype != pg.ObjectType_OBJECT_TABLE {
			fail(CodeFeature, "CREATE MATERIALIZED VIEW is not supported")
		}
		return t.createTableAs(s.Into, s.Query.GetSelectStmt(), s.IfNotExists)
	case n.GetDeclareCursorStmt() != nil:
		return t.declareCursorStmt(n.GetDeclareCursorStmt())
	case n.GetFetchStmt() != nil:
		return t.fetchStmt(n.GetFetchStmt())
	case n.GetClosePortalStmt() != nil:
		return &Stmt{Kind: KindClosePortal, Tag: "CLOSE CURSOR", Name: n.GetClosePortalStmt().Portalname}
	case n.GetDeallocateStmt() != nil:
		return &Stmt{Kind: KindDeallocate, Name: n.GetDeallocateStmt().Name, Tag: "DEALLOCATE"}
	case n.GetListenStmt() != nil:
		return &Stmt{Kind: KindListen, Name: n.GetListenStmt().Conditionname, Tag: "LISTEN"}
	case n.GetUnlistenStmt() != nil:
		return &Stmt{Kind: KindUnlisten, Name: n.GetUnlistenStmt().Conditionname, Tag: "UNLISTEN"}
	case n.GetNotifyStmt() != nil:
		ns := n.GetNotifyStmt()
		return &Stmt{Kind: KindQuery, Tag: "NOTIFY", SQL: "SELECT pgw_notify(" + qs(ns.Conditionname) + ", " + qs(ns.Payload) + ")"}
	case n.GetDiscardStmt() != nil:
		return &Stmt{Kind: KindNoop, Tag: "DISCARD ALL"}
	case n.GetCommentStmt() != nil:
		return &Stmt{Kind: KindNoop, Tag: "COMMENT"}
	case n.GetCreateExtensionStmt() != nil:
		return &Stmt{Kind: KindNoop, Tag: "CREATE EXTENSION"}
	case n.GetLockStmt() != nil:
		return &Stmt{Kind: KindNoop, Tag: "LOCK TABLE"}
	case n.GetCheckPointStmt() != nil:
		return &Stmt{Kind: KindNoop, Tag: "CHECKPOINT"}
	case n.GetCreateSeqStmt() != nil:
		return t.createSeqStmt(n.GetCreateSeqStmt())
	case n.GetGrantStmt() != nil:
		return &Stmt{Kind: KindNoop, Tag: "GRANT"}
	}
	fail(CodeFeature, "statement %s is not supported", nodeName(n))
	return nil
}

func nodeName(n *pg.Node) string {
	s := fmt.Sprintf("%T", n.GetNode())
	s = strings.TrimPrefix(s, "*pg_query.Node_")
	return s
}

func (t *tr) transactionStmt(s *pg.TransactionStmt) *Stmt {
	switch s.Kind {
	case pg.TransactionStmtKind_TRANS_STMT_BEGIN, pg.TransactionStmtKind_TRANS_STMT_START:
		return &Stmt{Kind: KindBegin, Tag: "BEGIN"}
	case pg.TransactionStmtKind_TRANS_STMT_COMMIT:
		return &Stmt{Kind: KindCommit, Tag: "COMMIT"}
	case pg.TransactionStmtKind_TRANS_STMT_ROLLBACK:
		return &Stmt{Kind: KindRollback, Tag: "ROLLBACK"}
	case pg.TransactionStmtKind_TRANS_STMT_SAVEPOINT:
		return &Stmt{Kind: KindSavepoint, Name: s.SavepointName, Tag: "SAVEPOINT"}
	case pg.TransactionStmtKind_TRANS_STMT_RELEASE:
		return &Stmt{Kind: KindRelease, Name: s.SavepointName, Tag: "RELEASE"}
	case pg.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO:
		return &Stmt{Kind: KindRollbackTo, Name: s.SavepointName, Tag: "ROLLBACK"}
	}
	fail(CodeFeature, "two-phase commit is not supported")
	return nil
}

func (t *tr) setStmt(s *pg.VariableSetStmt) *Stmt {
	st := &Stmt{Kind: KindSet, Name: strings.ToLower(s.Name), Local: s.IsLocal, Tag: "SET"}
	switch s.Kind {
	case pg.VariableSetKind_VAR_SET_VALUE:
		var vals []string
		for _, a := range s.Args {
			c := a.GetAConst()
			switch {
			case c == nil:
				fail(CodeSyntax, "unsupported SET value")
			case c.GetSval() != nil:
				vals = append(vals, c.GetSval().Sval)
			case c.GetIval() != nil:
				vals = append(vals, itoa(int(c.GetIval().Ival)))
			case c.GetFval() != nil:
				vals = append(vals, c.GetFval().Fval)
			case c.GetBoolval() != nil:
				if c.GetBoolval().Boolval {
					vals = append(vals, "on")
				} else {
					vals = append(vals, "off")
				}
			}
		}
		st.Value = strings.Join(vals, ", ")
	case pg.VariableSetKind_VAR_SET_DEFAULT, pg.VariableSetKind_VAR_RESET:
		st.Reset = true
		st.Tag = "RESET"
		if s.Kind == pg.VariableSetKind_VAR_SET_DEFAULT {
			st.Tag = "SET"
		}
	case pg.VariableSetKind_VAR_RESET_ALL:
		st.Reset = true
		st.Name = "all"
		st.Tag = "RESET"
	case pg.VariableSetKind_VAR_SET_MULTI:
		// SET TRANSACTION …, SET SESSION CHARACTERISTICS: accepted.
		st.Kind = KindNoop
	default:
		st.Kind = KindNoop
	}
	if st.Name == "" && st.Kind == KindSet {
		st.Kind = KindNoop
	}
	return st
}

// validUTF8 guards string literals handed to SQLite.
func validUTF8(s string) {
	if !utf8.ValidString(s) {
		fail("22021", "invalid byte sequence for encoding \"UTF8\"")
	}
}
