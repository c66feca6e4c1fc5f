package sqltrans

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

func (t *tr) createStmt(s *pg.CreateStmt) *Stmt {
	name := t.resolveRel(s.Relation.Schemaname, s.Relation.Relname, true)
	t.relName, t.relSchema, t.relFull = s.Relation.Relname, s.Relation.Schemaname, name
	if s.Partspec != nil || s.Partbound != nil || len(s.InhRelations) > 0 {
		fail(CodeFeature, "partitioned and inherited tables are not supported")
	}
	// A serial or identity column that is the primary key becomes SQLite's
	// INTEGER PRIMARY KEY, which numbers rows itself.
	var pkCols []string
	for _, e := range s.TableElts {
		if c := e.GetConstraint(); c != nil && c.Contype == pg.ConstrType_CONSTR_PRIMARY {
			for _, k := range c.Keys {
				pkCols = append(pkCols, k.GetString_().Sval)
			}
		}
	}
	var defs []string
	var cols []Column
	t.pushScope()
	defer t.popScope()
	for _, e := range s.TableElts {
		if cd := e.GetColumnDef(); cd != nil {
			oid, mod := typeNameOid(cd.TypeName)
			cols = append(cols, Column{Name: cd.Colname, Oid: oid, Typmod: mod})
		}
	}
	t.addRel(s.Relation.Relname, cols)
	for _, e := range s.TableElts {
		switch {
		case e.GetColumnDef() != nil:
			defs = append(defs, t.columnDef(e.GetColumnDef(), pkCols))
		case e.GetConstraint() != nil:
			c := e.GetConstraint()
			if c.Contype == pg.ConstrType_CONSTR_PRIMARY && len(c.Keys) == 1 && autoKey(s.TableElts, c.Keys[0].GetString_().Sval) {
				continue // declared inline as INTEGER PRIMARY KEY
			}
			defs = append(defs, t.tableConstraint(c, cols))
		case e.GetTableLikeClause() != nil:
			fail(CodeFeature, "CREATE TABLE … LIKE is not supported")
		}
	}
	ine := ""
	if s.IfNotExists {
		ine = "IF NOT EXISTS "
	}
	temp := ""
	if s.Relation.Relpersistence == "t" {
		temp = "TEMP "
	}
	create := "CREATE " + temp + "TABLE " + ine + qi(name) + " (" + strings.Join(defs, ", ") + ")"
	if len(t.serialSeqs) == 0 {
		return &Stmt{Kind: KindQuery, Tag: "CREATE TABLE", DDL: true, Exists: s.IfNotExists, SQL: create}
	}
	// The sequences follow the table: when it already exists, IF NOT
	// EXISTS leaves them as they are; otherwise they start afresh.
	put := "INSERT OR REPLACE INTO"
	if s.IfNotExists {
		put = "INSERT OR IGNORE INTO"
	}
	multi := []string{create, SeqTableDDL}
	for _, seq := range t.serialSeqs {
		multi = append(multi, put+` "?rw_seq"(name, last, incr, called, start) VALUES (`+qs(seq)+`, 1, 1, 0, 1)`)
	}
	return &Stmt{Kind: KindMulti, Tag: "CREATE TABLE", DDL: true, Multi: multi}
}

// autoKey reports whether column name of the table is serial or identity.
func autoKey(elts []*pg.Node, name string) bool {
	for _, e := range elts {
		if cd := e.GetColumnDef(); cd != nil && cd.Colname == name {
			return isSerialDef(cd)
		}
	}
	return false
}

func isSerialDef(cd *pg.ColumnDef) bool {
	tn := strings.ToLower(typeNameString(cd.TypeName))
	if strings.Contains(tn, "serial") {
		return true
	}
	for _, c := range cd.Constraints {
		if c.GetConstraint().Contype == pg.ConstrType_CONSTR_IDENTITY {
			return true
		}
	}
	return false
}

func (t *tr) columnDef(cd *pg.ColumnDef, pkCols []string) string {
	oid, typmod := typeNameOid(cd.TypeName)
	if oid == 0 {
		panic(&Error{Code: CodeUndefinedObject, Position: int(cd.TypeName.Location) + 1,
			Message: "type \"" + typeNameString(cd.TypeName) + "\" does not exist"})
	}
	serial := isSerialDef(cd)
	isPK := false
	for _, c := range cd.Constraints {
		if c.GetConstraint().Contype == pg.ConstrType_CONSTR_PRIMARY {
			isPK = true
		}
	}
	if len(pkCols) == 1 && pkCols[0] == cd.Colname {
		isPK = true
	}
	var b strings.Builder
	b.WriteString(qi(cd.Colname) + " ")
	if serial && isPK {
		// Only this exact spelling makes a rowid alias. The PostgreSQL type
		// is kept in the column's name table by the catalog. AUTOINCREMENT
		// never hands a key out twice, as a sequence would not, and lets
		// nextval and setval move the next key (see rowidSeq).
		b.WriteString("INTEGER PRIMARY KEY AUTOINCREMENT")
		for _, c := range cd.Constraints {
			if c.GetConstraint().Contype == pg.ConstrType_CONSTR_NOTNULL {
				b.WriteString(" NOT NULL")
			}
		}
		return b.String()
	}
	b.WriteString(ColumnType(oid, typmod))
	if serial {
		// A serial column that is not the key draws from a sequence of
		// its own, named as PostgreSQL names it and made with the table.
		seq := t.relFull + "_" + cd.Colname + "_seq"
		t.serialSeqs = append(t.serialSeqs, seq)
		b.WriteString(" NOT NULL DEFAULT (pgw_nextval(" + qs(seq) + "))")
	}
	if cd.IsNotNull || isPK {
		// PostgreSQL primary keys are never NULL; SQLite's may be.
		b.WriteString(" NOT NULL")
	}
	col := Column{Name: cd.Colname, Oid: oid, Typmod: typmod}
	for _, cn := range cd.Constraints {
		c := cn.GetConstraint()
		switch c.Contype {
		case pg.ConstrType_CONSTR_NOTNULL:
			if !isPK && !cd.IsNotNull {
				b.WriteString(" NOT NULL")
			}
		case pg.ConstrType_CONSTR_NULL:
		case pg.ConstrType_CONSTR_DEFAULT:
			b.WriteString(" DEFAULT (" + t.defaultExpr(c.RawExpr, col) + ")")
		case pg.ConstrType_CONSTR_PRIMARY:
			b.WriteString(conName(c) + " PRIMARY KEY")
		case pg.ConstrType_CONSTR_UNIQUE:
			b.WriteString(conName(c) + " UNIQUE")
		case pg.ConstrType_CONSTR_CHECK:
			b.WriteString(" " + t.checkDef(c, t.relName, cd.Colname))
		case pg.ConstrType_CONSTR_FOREIGN:
			b.WriteString(conName(c) + " REFERENCES " + t.references(c))
		case pg.ConstrType_CONSTR_IDENTITY:
		case pg.ConstrType_CONSTR_GENERATED:
			e, _ := t.expr(c.RawExpr)
			b.WriteString(" GENERATED ALWAYS AS (" + e + ") STORED")
		default:
			fail(CodeFeature, "column constraint %s is not supported", c.Contype)
		}
	}
	return b.String()
}

func conName(c *pg.Constraint) string {
	if c.Conname == "" {
		return ""
	}
	return " CONSTRAINT " + qi(c.Conname)
}

func (t *tr) defaultExpr(n *pg.Node, c Column) string {
	sub := &tr{cat: t.cat}
	sub.pushScope()
	e := sub.assign(n, c)
	if len(sub.params) > 0 {
		fail(CodeSyntax, "there is no parameter $1")
	}
	return e
}

func (t *tr) references(c *pg.Constraint) string {
	ref := qi(t.resolveRel(c.Pktable.Schemaname, c.Pktable.Relname, false))
	if len(c.PkAttrs) > 0 {
		var a []string
		for _, k := range c.PkAttrs {
			a = append(a, qi(k.GetString_().Sval))
		}
		ref += "(" + strings.Join(a, ", ") + ")"
	}
	act := func(code string) string {
		switch code {
		case "c":
			return "CASCADE"
		case "n":
			return "SET NULL"
		case "d":
			return "SET DEFAULT"
		case "r":
			return "RESTRICT"
		}
		return "NO ACTION"
	}
	if c.FkDelAction != "" && c.FkDelAction != "a" {
		ref += " ON DELETE " + act(c.FkDelAction)
	}
	if c.FkUpdAction != "" && c.FkUpdAction != "a" {
		ref += " ON UPDATE " + act(c.FkUpdAction)
	}
	if c.Deferrable {
		ref += " DEFERRABLE"
		if c.Initdeferred {
			ref += " INITIALLY DEFERRED"
		}
	}
	return ref
}

func keyList(keys []*pg.Node) string {
	var a []string
	for _, k := range keys {
		a = append(a, qi(k.GetString_().Sval))
	}
	return "(" + strings.Join(a, ", ") + ")"
}

func (t *tr) tableConstraint(c *pg.Constraint, cols []Column) string {
	switch c.Contype {
	case pg.ConstrType_CONSTR_PRIMARY:
		return strings.TrimSpace(conName(c) + " PRIMARY KEY " + keyList(c.Keys))
	case pg.ConstrType_CONSTR_UNIQUE:
		return strings.TrimSpace(conName(c) + " UNIQUE " + keyList(c.Keys))
	case pg.ConstrType_CONSTR_CHECK:
		return t.checkDef(c, t.relName, "")
	case pg.ConstrType_CONSTR_FOREIGN:
		return strings.TrimSpace(conName(c) + " FOREIGN KEY " + keyList(c.FkAttrs) + " REFERENCES " + t.references(c))
	}
	fail(CodeFeature, "table constraint %s is not supported", c.Contype)
	return ""
}

func (t *tr) dropStmt(s *pg.DropStmt) *Stmt {
	var kind, tag string
	switch s.RemoveType {
	case pg.ObjectType_OBJECT_TABLE:
		kind, tag = "TABLE", "DROP TABLE"
	case pg.ObjectType_OBJECT_VIEW:
		kind, tag = "VIEW", "DROP VIEW"
	case pg.ObjectType_OBJECT_INDEX:
		kind, tag = "INDEX", "DROP INDEX"
	case pg.ObjectType_OBJECT_SCHEMA:
		return t.dropSchemaStmt(s)
	case pg.ObjectType_OBJECT_SEQUENCE:
		var multi []string
		for _, o := range s.Objects {
			multi = append(multi, "DELETE FROM \"?rw_seq\" WHERE name = "+qs(objName(o)))
		}
		return &Stmt{Kind: KindMulti, Multi: multi, Tag: "DROP SEQUENCE", DDL: true, Exists: true}
	case pg.ObjectType_OBJECT_EXTENSION, pg.ObjectType_OBJECT_TYPE, pg.ObjectType_OBJECT_FUNCTION:
		return &Stmt{Kind: KindNoop, Tag: "DROP " + strings.TrimPrefix(s.RemoveType.String(), "OBJECT_")}
	default:
		fail(CodeFeature, "DROP %s is not supported", strings.TrimPrefix(s.RemoveType.String(), "OBJECT_"))
	}
	var multi []string
	for _, o := range s.Objects {
		ie := ""
		if s.MissingOk {
			ie = "IF EXISTS "
		}
		multi = append(multi, "DROP "+kind+" "+ie+qi(objName(o)))
	}
	return &Stmt{Kind: KindMulti, Multi: multi, Tag: tag, DDL: true}
}

// objName maps a qualified object name list to its SQLite name.
func objName(o *pg.Node) string {
	var parts []string
	for _, n := range o.GetList().GetItems() {
		parts = append(parts, n.GetString_().Sval)
	}
	switch len(parts) {
	case 0:
		if s := o.GetString_(); s != nil {
			return s.Sval
		}
		return ""
	case 1:
		return parts[0]
	}
	return tableName(parts[len(parts)-2], parts[len(parts)-1])
}

func (t *tr) indexStmt(s *pg.IndexStmt) *Stmt {
	table, _, cols := t.targetTable(s.Relation)
	t.pushScope()
	defer t.popScope()
	t.addRel(s.Relation.Relname, cols)
	var keys, names []string
	for _, p := range s.IndexParams {
		ie := p.GetIndexElem()
		var k string
		if ie.Name != "" {
			if _, ok := findCol(cols, ie.Name); !ok {
				fail(CodeUndefinedColumn, "column \"%s\" does not exist", ie.Name)
			}
			k = qi(ie.Name)
			names = append(names, ie.Name)
		} else {
			k, _ = t.expr(ie.Expr)
			names = append(names, "expr")
		}
		if ie.Ordering == pg.SortByDir_SORTBY_DESC {
			k += " DESC"
		}
		keys = append(keys, k)
	}
	name := s.Idxname
	if name == "" {
		suffix := "idx"
		if s.Unique {
			suffix = "key"
		}
		name = s.Relation.Relname + "_" + strings.Join(names, "_") + "_" + suffix
	}
	u := ""
	if s.Unique {
		u = "UNIQUE "
	}
	ine := ""
	if s.IfNotExists {
		ine = "IF NOT EXISTS "
	}
	sql := "CREATE " + u + "INDEX " + ine + qi(name) + " ON " + qi(table) + " (" + strings.Join(keys, ", ") + ")"
	if s.WhereClause != nil {
		w, _ := t.exprTyped(s.WhereClause, OidBool)
		sql += " WHERE " + w
	}
	return &Stmt{Kind: KindQuery, SQL: sql, Tag: "CREATE INDEX", DDL: true}
}

func (t *tr) alterTableStmt(s *pg.AlterTableStmt) *Stmt {
	if s.Objtype != pg.ObjectType_OBJECT_TABLE {
		return &Stmt{Kind: KindNoop, Tag: "ALTER " + strings.TrimPrefix(s.Objtype.String(), "OBJECT_")}
	}
	name := t.resolveRel(s.Relation.Schemaname, s.Relation.Relname, false)
	t.relName = s.Relation.Relname
	cols, ok := t.lookupTable(name)
	if !ok {
		if s.MissingOk {
			return &Stmt{Kind: KindNoop, Tag: "ALTER TABLE"}
		}
		fail(CodeUndefinedTable, "relation \"%s\" does not exist", s.Relation.Relname)
	}
	var multi, rebuild []string
	for _, cn := range s.Cmds {
		c := cn.GetAlterTableCmd()
		switch c.Subtype {
		case pg.AlterTableType_AT_AddColumn:
			cd := c.Def.GetColumnDef()
			if _, exists := findCol(cols, cd.Colname); exists && c.MissingOk {
				continue
			}
			multi = append(multi, "ALTER TABLE "+qi(name)+" ADD COLUMN "+t.columnDef(cd, nil))
		case pg.AlterTableType_AT_DropColumn:
			if _, exists := findCol(cols, c.Name); !exists {
				if c.MissingOk {
					continue
				}
				fail(CodeUndefinedColumn, "column \"%s\" of relation \"%s\" does not exist", c.Name, s.Relation.Relname)
			}
			multi = append(multi, "ALTER TABLE "+qi(name)+" DROP COLUMN "+qi(c.Name))
		case pg.AlterTableType_AT_AddConstraint:
			con := c.Def.GetConstraint()
			switch con.Contype {
			case pg.ConstrType_CONSTR_PRIMARY, pg.ConstrType_CONSTR_UNIQUE:
				// SQLite cannot add a table constraint; a unique index
				// enforces the same rule. The name follows PostgreSQL's.
				iname := con.Conname
				if iname == "" {
					var ks []string
					for _, k := range con.Keys {
						ks = append(ks, k.GetString_().Sval)
					}
					if con.Contype == pg.ConstrType_CONSTR_PRIMARY {
						iname = s.Relation.Relname + "_pkey"
					} else {
						iname = s.Relation.Relname + "_" + strings.Join(ks, "_") + "_key"
					}
				}
				multi = append(multi, "CREATE UNIQUE INDEX "+qi(iname)+" ON "+qi(name)+" "+keyList(con.Keys))
				if con.Contype == pg.ConstrType_CONSTR_PRIMARY {
					for _, k := range con.Keys {
						multi = append(multi, "SELECT pgw_not_null_check((SELECT count(*) FROM "+qi(name)+" WHERE "+qi(k.GetString_().Sval)+" IS NULL), "+qs(k.GetString_().Sval)+")")
					}
				}
			case pg.ConstrType_CONSTR_FOREIGN, pg.ConstrType_CONSTR_CHECK:
				// SQLite cannot add these to a table: the server
				// rebuilds it with the constraint (see Stmt.Rebuild).
				t.pushScope()
				t.addRel(s.Relation.Relname, cols)
				rebuild = append(rebuild, t.tableConstraint(con, cols))
				t.popScope()
			default:
				fail(CodeFeature, "ALTER TABLE ADD CONSTRAINT of this kind is not supported")
			}
		case pg.AlterTableType_AT_SetNotNull, pg.AlterTableType_AT_DropNotNull,
			pg.AlterTableType_AT_ColumnDefault, pg.AlterTableType_AT_AlterColumnType:
			fail(CodeFeature, "ALTER TABLE %s is not supported", strings.TrimPrefix(c.Subtype.String(), "AT_"))
		case pg.AlterTableType_AT_SetRelOptions, pg.AlterTableType_AT_ChangeOwner, pg.AlterTableType_AT_ClusterOn:
		default:
			fail(CodeFeature, "ALTER TABLE %s is not supported", strings.TrimPrefix(c.Subtype.String(), "AT_"))
		}
	}
	return &Stmt{Kind: KindMulti, Multi: multi, Tag: "ALTER TABLE", DDL: true, Table: name, Rebuild: rebuild}
}

func (t *tr) renameStmt(s *pg.RenameStmt) *Stmt {
	switch s.RenameType {
	case pg.ObjectType_OBJECT_TABLE, pg.ObjectType_OBJECT_VIEW:
		name := t.resolveRel(s.Relation.Schemaname, s.Relation.Relname, false)
		renamed := s.Newname
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			renamed = name[:i+1] + s.Newname // stays in its schema
		}
		return &Stmt{Kind: KindQuery, SQL: "ALTER TABLE " + qi(name) + " RENAME TO " + qi(renamed),
			Tag: "ALTER TABLE", DDL: true}
	case pg.ObjectType_OBJECT_COLUMN:
		name := t.resolveRel(s.Relation.Schemaname, s.Relation.Relname, false)
		return &Stmt{Kind: KindQuery, SQL: "ALTER TABLE " + qi(name) + " RENAME COLUMN " + qi(s.Subname) + " TO " + qi(s.Newname),
			Tag: "ALTER TABLE", DDL: true}
	}
	fail(CodeFeature, "ALTER … RENAME of this object is not supported")
	return nil
}

func (t *tr) viewStmt(s *pg.ViewStmt) *Stmt {
	name := t.resolveRel(s.View.Schemaname, s.View.Relname, true)
	sql, _ := t.selectStmt(s.Query.GetSelectStmt())
	if len(s.Aliases) > 0 {
		fail(CodeFeature, "view column names are not supported")
	}
	var multi []string
	if s.Replace {
		multi = append(multi, "DROP VIEW IF EXISTS "+qi(name))
	}
	multi = append(multi, "CREATE VIEW "+qi(name)+" AS "+sql)
	return &Stmt{Kind: KindMulti, Multi: multi, Tag: "CREATE VIEW", DDL: true}
}

func (t *tr) createSeqStmt(s *pg.CreateSeqStmt) *Stmt {
	name := t.resolveRel(s.Sequence.Schemaname, s.Sequence.Relname, true)
	start, incr := "1", "1"
	for _, o := range s.Options {
		d := o.GetDefElem()
		v := ""
		if iv := d.Arg.GetInteger(); iv != nil {
			v = itoa(int(iv.Ival))
		} else if fv := d.Arg.GetFloat(); fv != nil {
			v = fv.Fval
		}
		switch d.Defname {
		case "start":
			start = v
		case "increment":
			incr = v
		}
	}
	ine := "INSERT INTO"
	if s.IfNotExists {
		ine = "INSERT OR IGNORE INTO"
	}
	return &Stmt{Kind: KindMulti, Tag: "CREATE SEQUENCE", DDL: true, Multi: []string{
		SeqTableDDL,
		ine + " \"?rw_seq\"(name, last, incr, called, start) VALUES (" + qs(name) + ", " + start + ", " + incr + ", 0, " + start + ")",
	}}
}
