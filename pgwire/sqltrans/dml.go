package sqltrans

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

func (t *tr) targetTable(rv *pg.RangeVar) (string, string, []Column) {
	name := t.resolveRel(rv.Schemaname, rv.Relname, false)
	cols, ok := t.lookupTable(name)
	if !ok {
		panic(&Error{Code: CodeUndefinedTable, Message: "relation \"" + rvName(rv) + "\" does not exist",
			Position: int(rv.Location) + 1})
	}
	alias := rv.Relname
	if rv.Alias != nil {
		alias = rv.Alias.Aliasname
	}
	return name, alias, cols
}

func findCol(cols []Column, name string) (Column, bool) {
	for _, c := range cols {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

func (t *tr) insertStmt(s *pg.InsertStmt) *Stmt {
	var b strings.Builder
	if s.WithClause != nil {
		t.withClause(&b, s.WithClause)
	}
	name, alias, cols := t.targetTable(s.Relation)
	var target []Column
	if len(s.Cols) > 0 {
		for _, c := range s.Cols {
			rt := c.GetResTarget()
			col, ok := findCol(cols, rt.Name)
			if !ok {
				panic(&Error{Code: CodeUndefinedColumn, Position: int(rt.Location) + 1,
					Message: "column \"" + rt.Name + "\" of relation \"" + s.Relation.Relname + "\" does not exist"})
			}
			target = append(target, col)
		}
	} else {
		target = cols
	}

	b.WriteString("INSERT INTO " + qi(name))
	if alias != name {
		b.WriteString(" AS " + qi(alias))
	}
	sel := s.SelectStmt.GetSelectStmt()
	switch {
	case sel == nil:
		b.WriteString(" DEFAULT VALUES")
	case len(sel.ValuesLists) > 0 && sel.Op == pg.SetOperation_SETOP_NONE:
		// Drop columns that every row sets to DEFAULT; SQLite has no
		// DEFAULT inside VALUES.
		keep := make([]bool, len(target))
		for _, l := range sel.ValuesLists {
			items := l.GetList().Items
			if len(items) > len(target) {
				fail(CodeSyntax, "INSERT has more expressions than target columns")
			}
			for i, it := range items {
				if it.GetSetToDefault() == nil {
					keep[i] = true
				}
			}
		}
		var names []string
		for i, c := range target {
			if i < len(keep) && keep[i] {
				names = append(names, qi(c.Name))
			}
		}
		if len(names) == 0 {
			b.WriteString(" DEFAULT VALUES")
			break
		}
		b.WriteString("(" + strings.Join(names, ", ") + ") VALUES ")
		t.pushScope()
		for r, l := range sel.ValuesLists {
			items := l.GetList().Items
			if r > 0 {
				b.WriteString(", ")
			}
			var vals []string
			for i, it := range items {
				if !keep[i] {
					continue
				}
				if it.GetSetToDefault() != nil {
					fail(CodeFeature, "DEFAULT mixed with values in a multi-row VALUES is not supported")
				}
				vals = append(vals, t.assign(it, target[i]))
			}
			if len(vals) < len(names) {
				fail(CodeSyntax, "INSERT has more target columns than expressions")
			}
			b.WriteString("(" + strings.Join(vals, ", ") + ")")
		}
		t.popScope()
	default:
		var names []string
		for _, c := range target {
			names = append(names, qi(c.Name))
		}
		q, qcols := t.selectStmt(sel)
		if len(qcols) > len(target) {
			fail(CodeSyntax, "INSERT has more expressions than target columns")
		}
		b.WriteString("(" + strings.Join(names[:len(qcols)], ", ") + ") SELECT * FROM (" + q + ") WHERE true")
	}

	t.pushScope()
	defer t.popScope()
	t.addRel(alias, cols)
	if oc := s.OnConflictClause; oc != nil {
		b.WriteString(" ON CONFLICT")
		if oc.Infer != nil && len(oc.Infer.IndexElems) > 0 {
			var keys []string
			for _, e := range oc.Infer.IndexElems {
				ie := e.GetIndexElem()
				if ie.Name != "" {
					keys = append(keys, qi(ie.Name))
				} else {
					x, _ := t.expr(ie.Expr)
					keys = append(keys, x)
				}
			}
			b.WriteString(" (" + strings.Join(keys, ", ") + ")")
			if oc.Infer.WhereClause != nil {
				w, _ := t.expr(oc.Infer.WhereClause)
				b.WriteString(" WHERE " + w)
			}
		}
		if oc.Action == pg.OnConflictAction_ONCONFLICT_NOTHING {
			b.WriteString(" DO NOTHING")
		} else {
			t.addRel("excluded", cols)
			b.WriteString(" DO UPDATE SET " + t.setList(oc.TargetList, cols))
			if oc.WhereClause != nil {
				w, _ := t.exprTyped(oc.WhereClause, OidBool)
				b.WriteString(" WHERE " + w)
			}
		}
	}
	// RETURNING sees the target table only, not excluded.
	t.scopes[len(t.scopes)-1] = []rel{{alias: alias, cols: cols}}
	st := &Stmt{Kind: KindQuery, Tag: "INSERT", Write: true, Table: name}
	t.returning(&b, st, s.ReturningList)
	st.SQL = b.String()
	return st
}

// assign translates a value stored into column c, converting literals
// and typing parameters by the column's type.
func (t *tr) assign(n *pg.Node, c Column) string {
	e, oid := t.exprTyped(n, c.Oid)
	if n.GetParamRef() != nil || n.GetAConst() != nil {
		if c.Typmod >= 0 && (c.Oid == OidVarchar || c.Oid == OidBpchar || c.Oid == OidNumeric) {
			return "pgw_cast(" + e + ", " + itoa(int(c.Oid)) + ", " + itoa(int(c.Oid)) + ", " + itoa(int(c.Typmod)) + ")"
		}
		return e
	}
	if oid != c.Oid && oid != 0 && oid != OidUnknown && c.Oid != 0 && !(isNumeric(oid) && isNumeric(c.Oid) && c.Oid != OidNumeric) {
		return "pgw_cast(" + e + ", " + itoa(int(oid)) + ", " + itoa(int(c.Oid)) + ", " + itoa(int(c.Typmod)) + ")"
	}
	return e
}

func (t *tr) setList(list []*pg.Node, cols []Column) string {
	var sets []string
	for _, n := range list {
		rt := n.GetResTarget()
		if len(rt.Indirection) > 0 {
			fail(CodeFeature, "assignment to a subfield or array element is not supported")
		}
		if mr := rt.Val.GetMultiAssignRef(); mr != nil {
			fail(CodeFeature, "multiple-column assignment is not supported")
		}
		col, ok := findCol(cols, rt.Name)
		if !ok {
			panic(&Error{Code: CodeUndefinedColumn, Position: int(rt.Location) + 1,
				Message: "column \"" + rt.Name + "\" does not exist"})
		}
		if rt.Val.GetSetToDefault() != nil {
			// The column's stored default, evaluated for each row.
			d := "NULL"
			if col.Default != "" {
				d = "(" + col.Default + ")"
			}
			sets = append(sets, qi(rt.Name)+" = "+d)
			continue
		}
		sets = append(sets, qi(rt.Name)+" = "+t.assign(rt.Val, col))
	}
	return strings.Join(sets, ", ")
}

func (t *tr) returning(b *strings.Builder, st *Stmt, list []*pg.Node) {
	if len(list) == 0 {
		return
	}
	targets, cols := t.targetList(list)
	// SQLite's RETURNING does not accept table-qualified names.
	for i, s := range targets {
		for _, r := range t.scopes[len(t.scopes)-1] {
			s = strings.ReplaceAll(s, qi(r.alias)+".", "")
		}
		targets[i] = s
	}
	b.WriteString(" RETURNING " + strings.Join(targets, ", "))
	st.Rows = true
	st.Cols = cols
}

func (t *tr) updateStmt(s *pg.UpdateStmt) *Stmt {
	var b strings.Builder
	if s.WithClause != nil {
		t.withClause(&b, s.WithClause)
	}
	name, alias, cols := t.targetTable(s.Relation)
	t.pushScope()
	defer t.popScope()
	t.addRel(alias, cols)
	b.WriteString("UPDATE " + qi(name))
	if alias != name {
		b.WriteString(" AS " + qi(alias))
	}
	from := ""
	if len(s.FromClause) > 0 {
		from = t.fromClause(s.FromClause)
	}
	b.WriteString(" SET " + t.setList(s.TargetList, cols))
	if from != "" {
		b.WriteString(" FROM " + from)
	}
	if s.WhereClause != nil {
		w, _ := t.exprTyped(s.WhereClause, OidBool)
		b.WriteString(" WHERE " + w)
	}
	st := &Stmt{Kind: KindQuery, Tag: "UPDATE", Write: true, Table: name}
	t.returning(&b, st, s.ReturningList)
	st.SQL = b.String()
	return st
}

func (t *tr) deleteStmt(s *pg.DeleteStmt) *Stmt {
	var b strings.Builder
	if s.WithClause != nil {
		t.withClause(&b, s.WithClause)
	}
	name, alias, cols := t.targetTable(s.Relation)
	t.pushScope()
	defer t.popScope()
	t.addRel(alias, cols)
	b.WriteString("DELETE FROM " + qi(name))
	if alias != name {
		b.WriteString(" AS " + qi(alias))
	}
	switch {
	case len(s.UsingClause) > 0:
		// DELETE … USING becomes a rowid subquery.
		using := t.fromClause(s.UsingClause)
		cond := "true"
		if s.WhereClause != nil {
			cond, _ = t.exprTyped(s.WhereClause, OidBool)
		}
		b.WriteString(" WHERE rowid IN (SELECT " + qi(alias) + ".rowid FROM " + qi(name) + " AS " + qi(alias) +
			", " + using + " WHERE " + cond + ")")
	case s.WhereClause != nil:
		w, _ := t.exprTyped(s.WhereClause, OidBool)
		b.WriteString(" WHERE " + w)
	}
	st := &Stmt{Kind: KindQuery, Tag: "DELETE", Write: true, Table: name}
	t.returning(&b, st, s.ReturningList)
	st.SQL = b.String()
	return st
}

// setForce resolves the FORCE_QUOTE, FORCE_NOT_NULL and FORCE_NULL column
// lists of a CSV COPY against its columns.
func (c *Copy) setForce(force map[string][]string) {
	for opt, names := range force {
		what := strings.ReplaceAll(opt, "_", " ")
		if !c.CSV {
			fail(CodeFeature, "COPY %s available only in CSV mode", what)
		}
		if opt == "force_quote" && c.From {
			fail(CodeFeature, "COPY %s only available using COPY TO", what)
		}
		if opt != "force_quote" && !c.From {
			fail(CodeFeature, "COPY %s only available using COPY FROM", what)
		}
		set := make([]bool, len(c.Columns))
		for _, n := range names {
			if n == "*" {
				for i := range set {
					set[i] = true
				}
				continue
			}
			found := false
			for i, col := range c.Columns {
				if col.Name == n {
					set[i], found = true, true
				}
			}
			if !found && c.Table == "" {
				fail("42P10", "%s column \"%s\" not referenced by COPY", strings.ToUpper(opt), n)
			}
			if !found {
				fail(CodeUndefinedColumn, "column \"%s\" of relation \"%s\" does not exist", n, c.Table)
			}
		}
		switch opt {
		case "force_quote":
			c.ForceQuote = set
		case "force_not_null":
			c.ForceNotNull = set
		case "force_null":
			c.ForceNull = set
		}
	}
}

func (t *tr) copyStmt(s *pg.CopyStmt) *Stmt {
	if s.Filename != "" || s.IsProgram {
		fail(CodeInsufficientPriv, "COPY to or from a file is not allowed; use STDIN/STDOUT or psql's \\copy")
	}
	c := &Copy{From: s.IsFrom, Delimiter: "\t", Null: `\N`, Quote: `"`}
	force := map[string][]string{}
	for _, o := range s.Options {
		d := o.GetDefElem()
		val := ""
		if d.Arg != nil {
			if sv := d.Arg.GetString_(); sv != nil {
				val = sv.Sval
			} else if iv := d.Arg.GetInteger(); iv != nil {
				val = itoa(int(iv.Ival))
			} else if bv := d.Arg.GetBoolean(); bv != nil {
				if bv.Boolval {
					val = "true"
				} else {
					val = "false"
				}
			}
		}
		switch d.Defname {
		case "format":
			switch strings.ToLower(val) {
			case "csv":
				c.CSV = true
			case "binary":
				c.Binary = true
			case "text":
			default:
				fail(CodeSyntax, "COPY format \"%s\" not recognized", val)
			}
		case "delimiter":
			c.Delimiter = val
		case "null":
			c.Null = val
		case "header":
			c.Header = val == "" || val == "true" || val == "on" || val == "1" || val == "match"
		case "quote":
			c.Quote = val
		case "escape":
			c.Escape = val
		case "force_quote", "force_not_null", "force_null":
			var names []string
			if d.Arg.GetAStar() != nil {
				names = []string{"*"}
			}
			for _, it := range d.Arg.GetList().GetItems() {
				if sv := it.GetString_(); sv != nil {
					names = append(names, sv.Sval)
				}
			}
			force[d.Defname] = names
		case "freeze", "encoding":
		default:
			fail(CodeSyntax, "option \"%s\" not recognized", d.Defname)
		}
	}
	if c.CSV {
		if c.Delimiter == "\t" {
			c.Delimiter = ","
		}
		if c.Null == `\N` {
			c.Null = ""
		}
		if c.Escape == "" {
			c.Escape = c.Quote
		}
	}
	if c.Binary && !s.IsFrom {
		fail(CodeFeature, "COPY TO in binary format is not supported")
	}
	st := &Stmt{Kind: KindCopy, Copy: c, Tag: "COPY", Write: s.IsFrom}
	if s.Query != nil {
		inner := t.stmt(s.Query)
		if !inner.Rows {
			fail(CodeFeature, "COPY query must return rows")
		}
		c.Query = inner.SQL
		c.Columns = inner.Cols
		c.setForce(force)
		return st
	}
	name, _, cols := t.targetTable(s.Relation)
	c.Table = name
	if len(s.Attlist) > 0 {
		for _, a := range s.Attlist {
			n := a.GetString_().Sval
			col, ok := findCol(cols, n)
			if !ok {
				fail(CodeUndefinedColumn, "column \"%s\" of relation \"%s\" does not exist", n, s.Relation.Relname)
			}
			c.Columns = append(c.Columns, col)
		}
	} else {
		c.Columns = cols
	}
	if !s.IsFrom {
		var names []string
		for _, col := range c.Columns {
			names = append(names, qi(col.Name))
		}
		c.Query = "SELECT " + strings.Join(names, ", ") + " FROM " + qi(name)
	}
	c.setForce(force)
	return st
}
