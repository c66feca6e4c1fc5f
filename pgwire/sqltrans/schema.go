package sqltrans

import (
	pg "github.com/pganalyze/pg_query_go/v6"
)

// Schemas other than public are a prefix of their tables' SQLite names
// ("s1.t"); the names made by CREATE SCHEMA are rows of "?rw_schema", so
// that an empty schema exists too.

// SchemaTableDDL creates the table of a database's schemas.
const SchemaTableDDL = `CREATE TABLE IF NOT EXISTS "?rw_schema" (name TEXT PRIMARY KEY)`

// builtinSchemas always exist and cannot be made or dropped.
var builtinSchemas = map[string]bool{"public": true, "pg_catalog": true, "information_schema": true}

func (t *tr) createSchemaStmt(s *pg.CreateSchemaStmt) *Stmt {
	if len(s.SchemaElts) > 0 {
		fail(CodeFeature, "CREATE SCHEMA with schema elements is not supported")
	}
	name := s.Schemaname
	if name == "" && s.Authrole != nil {
		name = s.Authrole.Rolename
	}
	st := &Stmt{Kind: KindMulti, Tag: "CREATE SCHEMA", DDL: true}
	if builtinSchemas[name] {
		if s.IfNotExists {
			return &Stmt{Kind: KindNoop, Tag: "CREATE SCHEMA"}
		}
		fail("42P06", "schema \"%s\" already exists", name)
	}
	conflict := " ON CONFLICT (name) DO UPDATE SET name = pgw_raise('42P06', " + qs("schema \""+name+"\" already exists") + ")"
	if s.IfNotExists {
		conflict = " ON CONFLICT (name) DO NOTHING"
	}
	st.Multi = []string{`INSERT INTO "?rw_schema" (name) VALUES (` + qs(name) + `)` + conflict}
	return st
}

func (t *tr) dropSchemaStmt(s *pg.DropStmt) *Stmt {
	var names []string
	for _, o := range s.Objects {
		n := objName(o)
		if builtinSchemas[n] {
			fail(CodeFeature, "dropping schema %s is not supported", n)
		}
		names = append(names, n)
	}
	return &Stmt{Kind: KindDropSchema, Tag: "DROP SCHEMA", DDL: true, Names: names, Exists: s.MissingOk,
		Cascade: s.Behavior == pg.DropBehavior_DROP_CASCADE}
}

// rvName is a relation's name as written, with its schema if given, for
// error messages.
func rvName(rv *pg.RangeVar) string {
	if rv.Schemaname != "" {
		return rv.Schemaname + "." + rv.Relname
	}
	return rv.Relname
}
