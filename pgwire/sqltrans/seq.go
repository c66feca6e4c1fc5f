package sqltrans

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// Sequences live in the table "?rw_seq" of each database, one row each:
// last is the last value handed out (or the start before the first),
// called whether nextval has run since CREATE or setval(…, false).

// SeqTableDDL creates the table that holds sequences.
const SeqTableDDL = `CREATE TABLE IF NOT EXISTS "?rw_seq" (name TEXT PRIMARY KEY, last INTEGER NOT NULL, incr INTEGER NOT NULL, called INTEGER NOT NULL, start INTEGER NOT NULL DEFAULT 1)`

// seqCall translates a SELECT that is one call of nextval, currval or
// setval, with no FROM clause, into a statement on the sequence table;
// it returns nil for any other SELECT. Calls inside larger expressions
// go through seqExpr.
func (t *tr) seqCall(s *pg.SelectStmt) *Stmt {
	if s.Op != pg.SetOperation_SETOP_NONE || len(s.FromClause) > 0 || s.WhereClause != nil || s.WithClause != nil ||
		len(s.TargetList) != 1 || len(s.ValuesLists) > 0 || len(s.GroupClause) > 0 || s.HavingClause != nil {
		return nil
	}
	rt := s.TargetList[0].GetResTarget()
	f := rt.GetVal().GetFuncCall()
	if f == nil || len(f.Args) == 0 {
		return nil
	}
	name := funcName(f)
	col := rt.Name
	if col == "" {
		col = name
	}
	st := &Stmt{Kind: KindQuery, Tag: "SELECT", Rows: true, Write: true,
		Cols: []Column{{Name: col, Oid: OidInt8, Typmod: -1}}}
	seq := t.seqArg(f.Args[0])
	if strings.HasPrefix(seq, "'") {
		st.Name = strings.ReplaceAll(seq[1:len(seq)-1], "''", "'")
	}
	// The functions of seq_udf.go run the call, so that a sequence that
	// stands for a table's rowid (see rowidSeq) works here too.
	as := " AS " + qi(col)
	switch {
	case name == "nextval" && len(f.Args) == 1:
		st.SQL = `SELECT pgw_nextval(` + seq + `)` + as
	case name == "setval" && (len(f.Args) == 2 || len(f.Args) == 3):
		v, _ := t.exprTyped(f.Args[1], OidInt8)
		called := "1"
		if len(f.Args) == 3 {
			called, _ = t.exprTyped(f.Args[2], OidBool)
		}
		st.SQL = `SELECT pgw_setval(` + seq + `, ` + v + `, ` + called + `)` + as
	case name == "currval" && len(f.Args) == 1:
		// TODO: currval is the database's last value, not the session's.
		st.SQL = `SELECT pgw_currval(` + seq + `)` + as
		st.Write = false
	default:
		return nil
	}
	st.Seq = true
	return st
}

// seqExpr translates a call of nextval, currval or setval inside an
// expression to the SQLite function that runs it (see seq_udf.go).
func (t *tr) seqExpr(name string, f *pg.FuncCall) string {
	switch {
	case name == "nextval" && len(f.Args) == 1:
		t.writes = true
		return "pgw_nextval(" + t.seqArg(f.Args[0]) + ")"
	case name == "currval" && len(f.Args) == 1:
		return "pgw_currval(" + t.seqArg(f.Args[0]) + ")"
	case name == "setval" && (len(f.Args) == 2 || len(f.Args) == 3):
		t.writes = true
		v, _ := t.exprTyped(f.Args[1], OidInt8)
		called := "1"
		if len(f.Args) == 3 {
			called, _ = t.exprTyped(f.Args[2], OidBool)
		}
		return "pgw_setval(" + t.seqArg(f.Args[0]) + ", " + v + ", " + called + ")"
	}
	fail(CodeUndefinedFunction, "function %s with %d arguments does not exist", name, len(f.Args))
	return ""
}

// seqArg translates a sequence argument: 'name', 'name'::regclass or a
// parameter, to the SQLite expression of the sequence's row name.
func (t *tr) seqArg(n *pg.Node) string {
	if tc := n.GetTypeCast(); tc != nil {
		n = tc.Arg
	}
	if c := n.GetAConst(); c != nil && c.GetSval() != nil {
		return qs(SeqName(c.GetSval().Sval))
	}
	e, _ := t.exprTyped(n, OidText)
	return "pgw_seqname(" + e + ")"
}

// SeqName maps a sequence name as written in a regclass string to its row
// in the sequence table: unquoted names fold to lower case, public. is
// dropped and other schemas stay a prefix.
func SeqName(s string) string {
	var parts []string
	for s != "" {
		var part string
		if s[0] == '"' {
			end := strings.Index(s[1:], `"`)
			if end < 0 {
				part, s = s[1:], ""
			} else {
				part, s = s[1:end+1], s[end+2:]
			}
		} else {
			dot := strings.IndexByte(s, '.')
			if dot < 0 {
				dot = len(s)
			}
			part, s = strings.ToLower(strings.TrimSpace(s[:dot])), s[dot:]
		}
		parts = append(parts, part)
		s = strings.TrimPrefix(s, ".")
	}
	if len(parts) >= 2 {
		return tableName(parts[len(parts)-2], parts[len(parts)-1])
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return ""
}
