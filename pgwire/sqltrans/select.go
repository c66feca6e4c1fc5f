package sqltrans

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// selectStmt translates a SELECT (including VALUES and set operations)
// and returns its SQLite text and result columns.
func (t *tr) selectStmt(s *pg.SelectStmt) (string, []Column) {
	var b strings.Builder
	if s.WithClause != nil {
		t.withClause(&b, s.WithClause)
		defer func() { t.ctes = t.ctes[:len(t.ctes)-1] }()
	}
	if s.Op != pg.SetOperation_SETOP_NONE {
		l, cols := t.selectStmt(s.Larg)
		r, _ := t.selectStmt(s.Rarg)
		op := map[pg.SetOperation]string{
			pg.SetOperation_SETOP_UNION:     " UNION ",
			pg.SetOperation_SETOP_INTERSECT: " INTERSECT ",
			pg.SetOperation_SETOP_EXCEPT:    " EXCEPT ",
		}[s.Op]
		if s.All {
			op += "ALL "
		}
		b.WriteString(compound(l) + op + compound(r))
		t.pushScope()
		t.addRel("", cols)
		t.orderLimit(&b, s, nil)
		t.popScope()
		return b.String(), cols
	}
	if len(s.ValuesLists) > 0 {
		return t.valuesList(&b, s)
	}

	t.pushScope()
	defer t.popScope()
	if len(s.FromClause) == 0 {
		liftSetReturning(s)
	}
	if len(s.FromClause) > 0 && hasSetReturning(s) {
		// json_each's own columns (id, key, value, …) must not capture
		// the query's bare column names.
		t.qualify++
		defer func() { t.qualify-- }()
	}
	from := t.fromClause(s.FromClause)
	var srfFrom, srfCol, srfExpr string
	if len(s.FromClause) > 0 {
		srfFrom, srfCol, srfExpr = t.joinSetReturning(s)
		from += srfFrom
	}

	var distinctOn []string
	if len(s.DistinctClause) > 0 && s.DistinctClause[0] != nil && s.DistinctClause[0].GetNode() != nil {
		for _, d := range s.DistinctClause {
			e, _ := t.expr(d)
			distinctOn = append(distinctOn, e)
		}
	}
	targets, cols := t.targetList(s.TargetList)
	if srfCol != "" {
		for i := range targets {
			targets[i] = strings.ReplaceAll(targets[i], srfCol, srfExpr)
		}
	}

	var core strings.Builder
	core.WriteString("SELECT ")
	if len(s.DistinctClause) > 0 && distinctOn == nil {
		core.WriteString("DISTINCT ")
	}
	if len(targets) == 0 {
		targets = []string{"NULL"} // SELECT FROM t, as in EXISTS (SELECT FROM t)
	}
	core.WriteString(strings.Join(targets, ", "))
	if from != "" {
		core.WriteString(" FROM " + from)
	}
	if s.WhereClause != nil {
		w, _ := t.expr(s.WhereClause)
		core.WriteString(" WHERE " + w)
	}
	if len(s.GroupClause) > 0 {
		var g []string
		for _, n := range s.GroupClause {
			g = append(g, t.groupItem(n, s.TargetList))
		}
		core.WriteString(" GROUP BY " + strings.Join(g, ", "))
	}
	if s.HavingClause != nil {
		h, _ := t.expr(s.HavingClause)
		core.WriteString(" HAVING " + h)
	}
	if len(s.WindowClause) > 0 {
		var ws []string
		for _, w := range s.WindowClause {
			wd := w.GetWindowDef()
			ws = append(ws, qi(wd.Name)+" AS "+t.windowDef(wd))
		}
		core.WriteString(" WINDOW " + strings.Join(ws, ", "))
	}

	if distinctOn != nil {
		// DISTINCT ON: keep the first row of each group in the requested
		// order, using a window function over the plain query.
		order := t.sortList(s.SortClause, s.TargetList)
		inner := strings.Replace(core.String(), "SELECT ", "SELECT row_number() OVER (PARTITION BY "+
			strings.Join(distinctOn, ", ")+orderPart(order)+") AS \"?rw_rn\", ", 1)
		var names []string
		for _, c := range cols {
			names = append(names, qi(c.Name))
		}
		b.WriteString("SELECT " + strings.Join(names, ", ") + " FROM (" + inner + ") WHERE \"?rw_rn\" = 1")
		t.popScope()
		t.pushScope()
		t.addRel("", cols)
		t.orderLimit(&b, s, nil)
		return b.String(), cols
	}
	b.WriteString(core.String())
	t.orderLimit(&b, s, s.TargetList)
	if srfCol != "" {
		// ORDER BY and GROUP BY may name the set's column too.
		return strings.ReplaceAll(b.String(), srfCol, srfExpr), cols
	}
	return b.String(), cols
}

func orderPart(order []string) string {
	if len(order) == 0 {
		return ""
	}
	return " ORDER BY " + strings.Join(order, ", ")
}

// compound wraps an operand of a set operation when SQLite needs it.
func compound(s string) string {
	if strings.HasPrefix(s, "WITH") || strings.Contains(s, " ORDER BY ") || strings.Contains(s, " LIMIT ") {
		return "SELECT * FROM (" + s + ")"
	}
	return s
}

func (t *tr) orderLimit(b *strings.Builder, s *pg.SelectStmt, targets []*pg.Node) {
	if order := t.sortList(s.SortClause, targets); len(order) > 0 {
		b.WriteString(" ORDER BY " + strings.Join(order, ", "))
	}
	if s.LimitCount != nil || s.LimitOffset != nil {
		lim := "-1"
		if s.LimitCount != nil {
			if c := s.LimitCount.GetAConst(); c == nil || !c.Isnull {
				lim, _ = t.exprTyped(s.LimitCount, OidInt8)
			}
		}
		b.WriteString(" LIMIT " + lim)
		if s.LimitOffset != nil {
			off, _ := t.exprTyped(s.LimitOffset, OidInt8)
			b.WriteString(" OFFSET " + off)
		}
	}
	for _, l := range s.LockingClause {
		_ = l // FOR UPDATE/SHARE: SQLite serialises writers already.
	}
}

func (t *tr) sortList(list []*pg.Node, targets []*pg.Node) []string {
	var out []string
	for _, n := range list {
		sb := n.GetSortBy()
		e := t.groupItem(sb.Node, targets)
		switch sb.SortbyDir {
		case pg.SortByDir_SORTBY_DESC:
			e += " DESC"
		case pg.SortByDir_SORTBY_USING:
			fail(CodeFeature, "ORDER BY USING is not supported")
		}
		switch sb.SortbyNulls {
		case pg.SortByNulls_SORTBY_NULLS_FIRST:
			e += " NULLS FIRST"
		case pg.SortByNulls_SORTBY_NULLS_LAST:
			e += " NULLS LAST"
		default:
			// PostgreSQL sorts NULL as larger than any value.
			if sb.SortbyDir == pg.SortByDir_SORTBY_DESC {
				e += " NULLS FIRST"
			} else {
				e += " NULLS LAST"
			}
		}
		out = append(out, e)
	}
	return out
}

// groupItem translates a GROUP BY or ORDER BY item: an output column
// position, an output column name, or an expression.
func (t *tr) groupItem(n *pg.Node, targets []*pg.Node) string {
	if c := n.GetAConst(); c != nil && c.GetIval() != nil {
		return itoa(int(c.GetIval().Ival))
	}
	if cr := n.GetColumnRef(); cr != nil && len(cr.Fields) == 1 && cr.Fields[0].GetString_() != nil {
		name := cr.Fields[0].GetString_().Sval
		if !t.columnVisible(name) {
			for _, tn := range targets {
				if rt := tn.GetResTarget(); rt != nil && rt.Name == name {
					return qi(name)
				}
			}
		}
	}
	e, _ := t.expr(n)
	return e
}

func (t *tr) columnVisible(name string) bool {
	for _, r := range t.scopes[len(t.scopes)-1] {
		for _, c := range r.cols {
			if c.Name == name {
				return true
			}
		}
	}
	return false
}

func (t *tr) valuesList(b *strings.Builder, s *pg.SelectStmt) (string, []Column) {
	var rows []string
	var cols []Column
	for i, l := range s.ValuesLists {
		items := l.GetList().Items
		var vals []string
		for j, it := range items {
			e, oid := t.expr(it)
			vals = append(vals, e)
			if i == 0 {
				cols = append(cols, Column{Name: "column" + itoa(j+1), Oid: oid, Typmod: -1})
			}
		}
		rows = append(rows, "("+strings.Join(vals, ", ")+")")
	}
	var names []string
	for i, c := range cols {
		names = append(names, "column"+itoa(i+1)+" AS "+qi(c.Name))
	}
	// SQLite names VALUES columns column1…; keep PostgreSQL's names.
	b.WriteString("SELECT " + strings.Join(names, ", ") + " FROM (VALUES " + strings.Join(rows, ", ") + ")")
	t.pushScope()
	t.addRel("", cols)
	t.orderLimit(b, s, nil)
	t.popScope()
	return b.String(), cols
}

func (t *tr) withClause(b *strings.Builder, w *pg.WithClause) {
	t.ctes = append(t.ctes, map[string][]Column{})
	var parts []string
	for _, c := range w.Ctes {
		cte := c.GetCommonTableExpr()
		var names []string
		for _, n := range cte.Aliascolnames {
			names = append(names, n.GetString_().Sval)
		}
		var sql string
		var cols []Column
		if w.Recursive && names != nil {
			// Make the CTE visible to its own recursive term.
			pre := make([]Column, len(names))
			for i, n := range names {
				pre[i] = Column{Name: n, Typmod: -1}
			}
			if sel := cte.Ctequery.GetSelectStmt(); sel != nil && sel.Op != pg.SetOperation_SETOP_NONE {
				_, lcols := t.selectStmt(sel.Larg)
				for i := range pre {
					if i < len(lcols) {
						pre[i].Oid = lcols[i].Oid
					}
				}
			}
			t.ctes[len(t.ctes)-1][cte.Ctename] = pre
		}
		if cte.Ctequery.GetSelectStmt() == nil {
			t.dataModifyingCTE(cte, names)
			continue
		}
		sql, cols = t.selectStmt(cte.Ctequery.GetSelectStmt())
		if names != nil {
			for i := range cols {
				if i < len(names) {
					cols[i].Name = names[i]
				}
			}
		}
		t.ctes[len(t.ctes)-1][cte.Ctename] = cols
		var p strings.Builder
		p.WriteString(qi(cte.Ctename))
		if names != nil {
			var q []string
			for _, n := range names {
				q = append(q, qi(n))
			}
			p.WriteString("(" + strings.Join(q, ", ") + ")")
		}
		switch cte.Ctematerialized {
		case pg.CTEMaterialize_CTEMaterializeAlways:
			p.WriteString(" AS MATERIALIZED (")
		case pg.CTEMaterialize_CTEMaterializeNever:
			p.WriteString(" AS NOT MATERIALIZED (")
		default:
			p.WriteString(" AS (")
		}
		p.WriteString(sql + ")")
		parts = append(parts, p.String())
	}
	if len(parts) == 0 {
		return
	}
	b.WriteString("WITH ")
	if w.Recursive {
		b.WriteString("RECURSIVE ")
	}
	b.WriteString(strings.Join(parts, ", ") + " ")
}

// dataModifyingCTE translates an INSERT, UPDATE or DELETE of a WITH
// clause into a PreStmt; the CTE's name then reads its temporary table.
func (t *tr) dataModifyingCTE(cte *pg.CommonTableExpr, names []string) {
	q := cte.Ctequery
	if q.GetInsertStmt() == nil && q.GetUpdateStmt() == nil && q.GetDeleteStmt() == nil {
		fail(CodeFeature, "this statement is not supported in WITH")
	}
	st := t.stmt(q)
	if len(st.Pre) > 0 {
		fail(CodeFeature, "nested data-modifying WITH is not supported")
	}
	pre := PreStmt{SQL: st.SQL, Cols: st.Cols}
	for i := range pre.Cols {
		if i < len(names) {
			pre.Cols[i].Name = names[i]
		}
	}
	if st.Rows {
		pre.Table = "?cte_" + cte.Ctename
		if t.dmlCTEs == nil {
			t.dmlCTEs = map[string]string{}
		}
		t.dmlCTEs[cte.Ctename] = pre.Table
		t.ctes[len(t.ctes)-1][pre.Table] = pre.Cols
	}
	t.pre = append(t.pre, pre)
	t.writes = true
}

// fromClause translates a FROM list and registers its relations in the
// current scope.
func (t *tr) fromClause(list []*pg.Node) string {
	var parts []string
	for _, n := range list {
		parts = append(parts, t.fromItem(n))
	}
	return strings.Join(parts, ", ")
}

func (t *tr) fromItem(n *pg.Node) string {
	switch {
	case n.GetRangeVar() != nil:
		rv := n.GetRangeVar()
		name := t.resolveRel(rv.Schemaname, rv.Relname, false)
		cols, ok := t.lookupTable(name)
		if !ok {
			panic(&Error{Code: CodeUndefinedTable, Message: "relation \"" + rvName(rv) + "\" does not exist",
				Position: int(rv.Location) + 1})
		}
		alias := rv.Relname
		out := qi(name)
		if rv.Alias != nil {
			alias = rv.Alias.Aliasname
			out += " AS " + qi(alias)
			cols = renameCols(cols, rv.Alias)
		} else if name != rv.Relname {
			out += " AS " + qi(alias)
		}
		t.addRel(alias, cols)
		return out
	case n.GetJoinExpr() != nil:
		j := n.GetJoinExpr()
		l := t.fromItem(j.Larg)
		r := t.fromItem(j.Rarg)
		var op string
		switch j.Jointype {
		case pg.JoinType_JOIN_INNER:
			op = " JOIN "
			if j.Quals == nil && len(j.UsingClause) == 0 && !j.IsNatural {
				op = " CROSS JOIN "
			}
		case pg.JoinType_JOIN_LEFT:
			op = " LEFT JOIN "
		case pg.JoinType_JOIN_RIGHT:
			op = " RIGHT JOIN "
		case pg.JoinType_JOIN_FULL:
			op = " FULL JOIN "
		default:
			fail(CodeFeature, "join type %s is not supported", j.Jointype)
		}
		if j.IsNatural {
			op = " NATURAL" + op
		}
		out := l + op + r
		if len(j.UsingClause) > 0 {
			var u []string
			for _, c := range j.UsingClause {
				u = append(u, qi(c.GetString_().Sval))
			}
			out += " USING (" + strings.Join(u, ", ") + ")"
		}
		if j.Quals != nil {
			q, _ := t.expr(j.Quals)
			out += " ON " + q
		}
		if j.Alias != nil {
			fail(CodeFeature, "aliases on joins are not supported")
		}
		return "(" + out + ")"
	case n.GetRangeSubselect() != nil:
		rs := n.GetRangeSubselect()
		sub := &tr{cat: t.cat, params: t.params, scopes: t.scopes, ctes: t.ctes}
		if !rs.Lateral {
			sub.scopes = nil
		}
		sql, cols := sub.selectStmt(rs.Subquery.GetSelectStmt())
		t.params = sub.params
		alias := ""
		out := "(" + sql + ")"
		if rs.Alias != nil {
			alias = rs.Alias.Aliasname
			cols = renameCols(cols, rs.Alias)
			if len(rs.Alias.Colnames) > 0 {
				// Rename the subquery's columns by wrapping it.
				var sel []string
				for i, c := range cols {
					sel = append(sel, "column"+itoa(i+1)+" AS "+qi(c.Name))
				}
				_ = sel
				out = "(SELECT * FROM (" + sql + "))"
				out = t.renameSub(sql, cols)
			}
			out += " AS " + qi(alias)
		}
		t.addRel(alias, cols)
		return out
	case n.GetRangeFunction() != nil:
		return t.rangeFunction(n.GetRangeFunction())
	}
	fail(CodeFeature, "FROM item %s is not supported", nodeName(n))
	return ""
}

// renameSub wraps a subquery so that its columns carry new names.
func (t *tr) renameSub(sql string, cols []Column) string {
	var names []string
	for _, c := range cols {
		names = append(names, qi(c.Name))
	}
	return "(WITH \"?rw_sub\"(" + strings.Join(names, ", ") + ") AS (" + sql + ") SELECT * FROM \"?rw_sub\")"
}

func renameCols(cols []Column, a *pg.Alias) []Column {
	if a == nil || len(a.Colnames) == 0 {
		return cols
	}
	out := append([]Column(nil), cols...)
	for i, n := range a.Colnames {
		if i < len(out) {
			out[i].Name = n.GetString_().Sval
		}
	}
	return out
}

// rangeFunction supports generate_series and unnest in FROM.
func (t *tr) rangeFunction(rf *pg.RangeFunction) string {
	if len(rf.Functions) != 1 {
		fail(CodeFeature, "ROWS FROM is not supported")
	}
	fc := rf.Functions[0].GetList().Items[0].GetFuncCall()
	if fc == nil {
		fail(CodeFeature, "this FROM function is not supported")
	}
	name := funcName(fc)
	alias := name
	colName := name
	if rf.Alias != nil {
		alias = rf.Alias.Aliasname
		colName = alias
		if len(rf.Alias.Colnames) > 0 {
			colName = rf.Alias.Colnames[0].GetString_().Sval
		}
	}
	var args []string
	var oid uint32 = OidInt4
	for i, a := range fc.Args {
		e, o := t.expr(a)
		if i == 0 && o != 0 {
			oid = o
		}
		args = append(args, e)
	}
	var sql string
	switch name {
	case "generate_series":
		if len(args) < 2 {
			fail(CodeUndefinedFunction, "function generate_series needs two arguments")
		}
		step := "1"
		if len(args) > 2 {
			step = args[2]
		}
		if oid == OidUnknown || oid == OidText {
			oid = OidInt4
		}
		sql = "(WITH RECURSIVE \"?rw_gs\"(v) AS (SELECT " + args[0] + " UNION ALL SELECT v + (" + step +
			") FROM \"?rw_gs\" WHERE (" + step + ") > 0 AND v + (" + step + ") <= " + args[1] +
			" OR (" + step + ") < 0 AND v + (" + step + ") >= " + args[1] + ") SELECT v AS " + qi(colName) + " FROM \"?rw_gs\")"
	case "pg_partition_ancestors":
		if len(args) != 1 {
			fail(CodeUndefinedFunction, "function pg_partition_ancestors needs one argument")
		}
		// A table is its own only ancestor: rewire has no partitions.
		cols := []Column{{Name: "relid", Oid: OidRegclass, Typmod: -1}}
		if rf.Ordinality {
			cols = append(cols, Column{Name: "ordinality", Oid: OidInt8, Typmod: -1})
		}
		cols = renameCols(cols, rf.Alias)
		sel := args[0] + " AS " + qi(cols[0].Name)
		if rf.Ordinality {
			sel += ", 1 AS " + qi(cols[1].Name)
		}
		t.addRel(alias, cols)
		return "(SELECT " + sel + ") AS " + qi(alias)
	case "unnest":
		if len(args) != 1 {
			fail(CodeFeature, "unnest of several arrays is not supported")
		}
		elem := OidText
		if ti := Types[oid]; ti != nil && ti.Elem != 0 {
			elem = ti.Elem
		}
		oid = elem
		ord := ""
		if rf.Ordinality {
			// WITH ORDINALITY: the element's 1-based position.
			ordName := "ordinality"
			if rf.Alias != nil && len(rf.Alias.Colnames) > 1 {
				ordName = rf.Alias.Colnames[1].GetString_().Sval
			}
			ord = ", key + 1 AS " + qi(ordName)
			t.addRel(alias, []Column{{Name: colName, Oid: oid, Typmod: -1}, {Name: ordName, Oid: OidInt8, Typmod: -1}})
			return "(SELECT pgw_elem(value, " + itoa(int(elem)) + ") AS " + qi(colName) + ord +
				" FROM json_each(pgw_array_to_json(" + args[0] + "))) AS " + qi(alias)
		}
		sql = "(SELECT pgw_elem(value, " + itoa(int(elem)) + ") AS " + qi(colName) + " FROM json_each(pgw_array_to_json(" + args[0] + ")))"
	default:
		fail(CodeFeature, "function %s in FROM is not supported", name)
	}
	t.addRel(alias, []Column{{Name: colName, Oid: oid, Typmod: -1}})
	return sql + " AS " + qi(alias)
}

// targetList translates the SELECT list, expanding * so that result
// columns have known names and types.
func (t *tr) targetList(list []*pg.Node) ([]string, []Column) {
	var out []string
	var cols []Column
	for _, n := range list {
		rt := n.GetResTarget()
		if cr := rt.Val.GetColumnRef(); cr != nil && isStar(cr) {
			qual := ""
			if len(cr.Fields) == 2 {
				qual = cr.Fields[0].GetString_().Sval
			}
			found := false
			for _, r := range t.scopes[len(t.scopes)-1] {
				if qual != "" && r.alias != qual || qual == "" && r.alias == srfAlias {
					continue
				}
				found = true
				for _, c := range r.cols {
					if r.alias != "" {
						out = append(out, qi(r.alias)+"."+qi(c.Name))
					} else {
						out = append(out, qi(c.Name))
					}
					cols = append(cols, c)
				}
			}
			if !found {
				if qual != "" {
					fail(CodeUndefinedTable, "missing FROM-clause entry for table \"%s\"", qual)
				}
				fail(CodeSyntax, "SELECT * with no tables specified is not valid")
			}
			continue
		}
		e, oid := t.expr(rt.Val)
		name := rt.Name
		if name == "" {
			name = exprName(rt.Val)
		}
		c := Column{Name: name, Oid: oid, Typmod: -1}
		if cr := rt.Val.GetColumnRef(); cr != nil {
			if rc, ok := t.resolveColumn(cr); ok {
				c.Typmod = rc.Typmod
				c.Table = rc.Table
			}
		}
		cols = append(cols, c)
		out = append(out, e+" AS "+qi(name))
	}
	return out, cols
}

func isStar(cr *pg.ColumnRef) bool {
	return cr.Fields[len(cr.Fields)-1].GetAStar() != nil
}

// exprName is the column name PostgreSQL gives an unnamed expression.
func exprName(n *pg.Node) string {
	switch {
	case n.GetColumnRef() != nil:
		f := n.GetColumnRef().Fields
		if s := f[len(f)-1].GetString_(); s != nil {
			return s.Sval
		}
	case n.GetFuncCall() != nil:
		return funcName(n.GetFuncCall())
	case n.GetTypeCast() != nil:
		if inner := exprName(n.GetTypeCast().Arg); inner != "?column?" {
			return inner
		}
		names := n.GetTypeCast().TypeName.Names
		return names[len(names)-1].GetString_().Sval
	case n.GetCaseExpr() != nil:
		return "case"
	case n.GetAExpr() != nil && n.GetAExpr().Kind == pg.A_Expr_Kind_AEXPR_NULLIF:
		return "nullif"
	case n.GetCoalesceExpr() != nil:
		return "coalesce"
	case n.GetMinMaxExpr() != nil:
		if n.GetMinMaxExpr().Op == pg.MinMaxOp_IS_GREATEST {
			return "greatest"
		}
		return "least"
	case n.GetSqlvalueFunction() != nil:
		return sqlValueName(n.GetSqlvalueFunction().Op)
	case n.GetSubLink() != nil:
		sl := n.GetSubLink()
		switch sl.SubLinkType {
		case pg.SubLinkType_EXISTS_SUBLINK:
			return "exists"
		case pg.SubLinkType_ARRAY_SUBLINK:
			return "array"
		case pg.SubLinkType_EXPR_SUBLINK:
			if sel := sl.Subselect.GetSelectStmt(); sel != nil && len(sel.TargetList) == 1 {
				rt := sel.TargetList[0].GetResTarget()
				if rt.Name != "" {
					return rt.Name
				}
				return exprName(rt.Val)
			}
		}
	case n.GetAArrayExpr() != nil:
		return "array"
	case n.GetAIndirection() != nil:
		return exprName(n.GetAIndirection().Arg)
	}
	return "?column?"
}

// srfAlias names the set a select-list set-returning function becomes.
const srfAlias = "?rw_srf"

// hasSetReturning reports whether the select list holds an unnest or
// generate_series call at its top level.
func hasSetReturning(s *pg.SelectStmt) bool {
	for _, n := range s.TargetList {
		if fc := n.GetResTarget().GetVal().GetFuncCall(); fc != nil && fc.Over == nil {
			if name := funcName(fc); name == "generate_series" || name == "unnest" {
				return true
			}
		}
	}
	return false
}

// joinSetReturning handles the one unnest or generate_series in the
// select list of a query with FROM (SELECT id, unnest(tags) FROM posts):
// it joins each row with the function's elements through SQLite's
// json_each, which may read the row's columns, and makes the select-list
// item a column of that join. It returns the FROM addition, and the
// column reference the select list will hold with the expression that
// replaces it; empty strings when there is no such function.
func (t *tr) joinSetReturning(s *pg.SelectStmt) (from, ref, expr string) {
	var target *pg.ResTarget
	for _, n := range s.TargetList {
		rt := n.GetResTarget()
		if fc := rt.GetVal().GetFuncCall(); fc != nil && fc.Over == nil {
			if name := funcName(fc); name == "generate_series" || name == "unnest" {
				if target != nil {
					return "", "", "" // several: refused later
				}
				target = rt
			}
		}
	}
	if target == nil {
		return "", "", ""
	}
	fc := target.Val.GetFuncCall()
	name := funcName(fc)
	col := target.Name
	if col == "" {
		col = name
	}
	var src string
	var oid uint32
	switch name {
	case "unnest":
		if len(fc.Args) != 1 {
			fail(CodeFeature, "unnest of several arrays is not supported")
		}
		e, o := t.expr(fc.Args[0])
		oid = OidText
		if ti := Types[o]; ti != nil && ti.Elem != 0 {
			oid = ti.Elem
		}
		src = "json_each(pgw_array_to_json(" + e + "))"
		expr = "pgw_elem(" + qi(srfAlias) + ".value, " + itoa(int(oid)) + ")"
	case "generate_series":
		if len(fc.Args) < 2 || len(fc.Args) > 3 {
			fail(CodeUndefinedFunction, "function generate_series needs two or three arguments")
		}
		var args []string
		for i, a := range fc.Args {
			e, o := t.exprTyped(a, OidInt4)
			if i == 0 {
				oid = o
			}
			args = append(args, e)
		}
		if oid != OidInt8 && oid != OidNumeric {
			oid = OidInt4
		}
		if len(args) == 2 {
			args = append(args, "1")
		}
		src = "json_each(pgw_series_json(" + strings.Join(args, ", ") + "))"
		expr = qi(srfAlias) + ".value"
	}
	t.addRel(srfAlias, []Column{{Name: col, Oid: oid, Typmod: -1}})
	str := func(v string) *pg.Node { return &pg.Node{Node: &pg.Node_String_{String_: &pg.String{Sval: v}}} }
	target.Val = &pg.Node{Node: &pg.Node_ColumnRef{ColumnRef: &pg.ColumnRef{Fields: []*pg.Node{str(srfAlias), str(col)}}}}
	target.Name = col
	return ", " + src + " AS " + qi(srfAlias), qi(srfAlias) + "." + qi(col), expr
}

// liftSetReturning moves the one set-returning function of a SELECT
// without FROM (SELECT generate_series(1, 3), SELECT unnest(a)) into its
// FROM clause, where rangeFunction translates it.
//
// TODO: set-returning functions in the select list of a query with FROM.
func liftSetReturning(s *pg.SelectStmt) {
	var target *pg.ResTarget
	for _, n := range s.TargetList {
		rt := n.GetResTarget()
		if fc := rt.GetVal().GetFuncCall(); fc != nil {
			if name := funcName(fc); name == "generate_series" || name == "unnest" {
				if target != nil {
					return // several: refused later
				}
				target = rt
			}
		}
	}
	if target == nil {
		return
	}
	fc := target.Val.GetFuncCall()
	col := target.Name
	if col == "" {
		col = funcName(fc)
	}
	const alias = "?rw_srf"
	str := func(v string) *pg.Node { return &pg.Node{Node: &pg.Node_String_{String_: &pg.String{Sval: v}}} }
	s.FromClause = []*pg.Node{{Node: &pg.Node_RangeFunction{RangeFunction: &pg.RangeFunction{
		Functions: []*pg.Node{{Node: &pg.Node_List{List: &pg.List{Items: []*pg.Node{target.Val}}}}},
		Alias:     &pg.Alias{Aliasname: alias, Colnames: []*pg.Node{str(col)}},
	}}}}
	target.Val = &pg.Node{Node: &pg.Node_ColumnRef{ColumnRef: &pg.ColumnRef{Fields: []*pg.Node{str(alias), str(col)}}}}
	target.Name = col
}
