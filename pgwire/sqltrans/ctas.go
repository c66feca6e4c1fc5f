package sqltrans

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// createTableAs translates CREATE TABLE … AS query and SELECT … INTO: a
// table with the query's column names and PostgreSQL types, then an
// INSERT of its rows (none WITH NO DATA).
func (t *tr) createTableAs(into *pg.IntoClause, query *pg.SelectStmt, ifNotExists bool) *Stmt {
	if into == nil || into.Rel == nil || query == nil {
		fail(CodeFeature, "this form of CREATE TABLE AS is not supported")
	}
	name := t.resolveRel(into.Rel.Schemaname, into.Rel.Relname, true)
	if _, exists := t.lookupTable(name); exists {
		if ifNotExists {
			return &Stmt{Kind: KindNoop, Tag: "CREATE TABLE AS"}
		}
		fail(CodeDuplicateTable, "relation \"%s\" already exists", rvName(into.Rel))
	}
	sel, cols := t.selectStmt(query)
	if len(into.ColNames) > len(cols) {
		fail(CodeSyntax, "CREATE TABLE AS specifies too many column names")
	}
	defs := make([]string, len(cols))
	names := make([]string, len(cols))
	for i, c := range cols {
		n := c.Name
		if i < len(into.ColNames) {
			n = into.ColNames[i].GetString_().Sval
		}
		names[i] = qi(n)
		defs[i] = qi(n)
		if c.Oid != 0 && c.Oid != OidUnknown {
			defs[i] += " " + ColumnType(c.Oid, c.Typmod)
		}
	}
	temp := ""
	if into.Rel.Relpersistence == "t" {
		temp = "TEMP "
	}
	multi := []string{"CREATE " + temp + "TABLE " + qi(name) + " (" + strings.Join(defs, ", ") + ")"}
	if into.SkipData {
		return &Stmt{Kind: KindMulti, Multi: multi, Tag: "CREATE TABLE AS", DDL: true}
	}
	multi = append(multi, "INSERT INTO "+qi(name)+" ("+strings.Join(names, ", ")+") SELECT * FROM ("+sel+")")
	return &Stmt{Kind: KindMulti, Multi: multi, Tag: "SELECT", DDL: true, Write: true}
}
