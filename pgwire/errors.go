package pgwire

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"rewire/pgwire/sqltrans"
)

var (
	reUDF      = regexp.MustCompile(`pgerr:([0-9A-Z]{5}):(.*?)(?: \(\d+\))?$`)
	reUnique   = regexp.MustCompile(`UNIQUE constraint failed: ([^ ]+)`)
	reNotNull  = regexp.MustCompile(`NOT NULL constraint failed: ([^.]+)\.([^ ]+)`)
	reCheck    = regexp.MustCompile(`CHECK constraint failed: (.+?)(?: \(\d+\))?$`)
	reNoTable  = regexp.MustCompile(`no such (?:table|view): (?:main\.)?([^ ]+)`)
	reNoColumn = regexp.MustCompile(`no such column: ([^ ]+)`)
	reExists   = regexp.MustCompile(`(?:table|view|index) "?([^ "]+)"? already exists`)
	reNoFunc   = regexp.MustCompile(`no such function: ([^ ]+)`)
	reNoIndex  = regexp.MustCompile(`no such index: ([^ ]+)`)
	reCode     = regexp.MustCompile(` \(\d+\)$`)
)

// toPGError maps any error to a PostgreSQL error with a SQLSTATE: the
// one table for this listener.
func toPGError(err error) *sqltrans.Error {
	var pe *sqltrans.Error
	if errors.As(err, &pe) {
		return pe
	}
	if errors.Is(err, context.Canceled) {
		return sqltrans.Errorf(sqltrans.CodeQueryCanceled, "canceling statement due to user request")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return sqltrans.Errorf(sqltrans.CodeQueryCanceled, "canceling statement due to statement timeout")
	}
	msg := err.Error()
	e := func(code, m string) *sqltrans.Error { return &sqltrans.Error{Code: code, Message: m} }
	if m := reUDF.FindStringSubmatch(msg); m != nil {
		return e(m[1], m[2])
	}
	switch {
	case strings.Contains(msg, "interrupted"):
		return e(sqltrans.CodeQueryCanceled, "canceling statement due to user request")
	case reUnique.MatchString(msg):
		cols := reUnique.FindStringSubmatch(msg)[1]
		table, _, _ := strings.Cut(cols, ".")
		name := constraintName(cols)
		return &sqltrans.Error{Code: sqltrans.CodeUniqueViolation,
			Message: "duplicate key value violates unique constraint \"" + name + "\"",
			Detail:  "Key (" + keyCols(cols) + ") already exists.", Table: table, Column: keyCols(cols), Constraint: name}
	case strings.Contains(msg, "PRIMARY KEY must be unique"):
		return e(sqltrans.CodeUniqueViolation, "duplicate key value violates unique constraint")
	case reNotNull.MatchString(msg):
		m := reNotNull.FindStringSubmatch(msg)
		return &sqltrans.Error{Code: sqltrans.CodeNotNullViolation, Table: m[1], Column: m[2],
			Message: "null value in column \"" + m[2] + "\" of relation \"" + m[1] + "\" violates not-null constraint"}
	case strings.Contains(msg, "FOREIGN KEY constraint failed"):
		return e(sqltrans.CodeForeignKey, "insert or update on table violates foreign key constraint")
	case reCheck.MatchString(msg):
		name := reCheck.FindStringSubmatch(msg)[1]
		return &sqltrans.Error{Code: sqltrans.CodeCheckViolation, Constraint: name,
			Message: "new row violates check constraint \"" + name + "\""}
	case reNoTable.MatchString(msg):
		return e(sqltrans.CodeUndefinedTable, "relation \""+reNoTable.FindStringSubmatch(msg)[1]+"\" does not exist")
	case reNoColumn.MatchString(msg):
		return e(sqltrans.CodeUndefinedColumn, "column \""+reNoColumn.FindStringSubmatch(msg)[1]+"\" does not exist")
	case reNoIndex.MatchString(msg):
		return e(sqltrans.CodeUndefinedObject, "index \""+reNoIndex.FindStringSubmatch(msg)[1]+"\" does not exist")
	case reExists.MatchString(msg):
		return e(sqltrans.CodeDuplicateTable, "relation \""+reExists.FindStringSubmatch(msg)[1]+"\" already exists")
	case reNoFunc.MatchString(msg):
		return e(sqltrans.CodeUndefinedFunction, "function "+reNoFunc.FindStringSubmatch(msg)[1]+" does not exist")
	case strings.Contains(msg, "database is locked"), strings.Contains(msg, "SQLITE_BUSY"), strings.Contains(msg, "(5)"), strings.Contains(msg, "(517)"):
		return e(sqltrans.CodeSerialization, "could not serialize access due to concurrent update")
	case strings.Contains(msg, "not authorized"), strings.Contains(msg, "prohibited"):
		return e(sqltrans.CodeInsufficientPriv, "permission denied")
	case strings.Contains(msg, "integer overflow"):
		return e(sqltrans.CodeNumericRange, "integer out of range")
	case strings.Contains(msg, "string or blob too big"):
		return e(sqltrans.CodeProgramLimit, "result value exceeds the maximum size of 256 MB")
	case strings.Contains(msg, "too many terms in compound SELECT"), strings.Contains(msg, "too many columns"):
		return e(sqltrans.CodeProgramLimit, reCode.ReplaceAllString(msg, ""))
	case strings.Contains(msg, "no such savepoint"):
		return e(sqltrans.CodeInvalidSavepoint, "savepoint does not exist")
	case strings.Contains(msg, "out of memory"):
		return e(sqltrans.CodeOutOfMemory, "out of memory")
	case strings.Contains(msg, "syntax error"), strings.Contains(msg, "near \""):
		return e(sqltrans.CodeSyntax, reCode.ReplaceAllString(msg, ""))
	case strings.Contains(msg, "datatype mismatch"):
		return e(sqltrans.CodeDatatypeMismatch, "datatype mismatch")
	}
	return e(sqltrans.CodeInternal, reCode.ReplaceAllString(msg, ""))
}

// nameUniqueConstraint replaces the guessed name of a violated unique
// constraint with the name the catalog shows for the index on the same
// columns: a CREATE UNIQUE INDEX keeps its own name.
func (c *conn) nameUniqueConstraint(pe *sqltrans.Error) {
	if c.sc == nil {
		return
	}
	var name string
	err := c.sc.QueryRowContext(context.Background(), `SELECT indexname FROM "pg_catalog.pg_indexes_def"
		WHERE tablename = ? AND isunique AND substr(indexdef, instr(indexdef, ' USING btree (') + 14) = ? || ')'`,
		pe.Table, pe.Column).Scan(&name)
	if err != nil || name == "" || name == pe.Constraint {
		return
	}
	pe.Message = strings.Replace(pe.Message, `"`+pe.Constraint+`"`, `"`+name+`"`, 1)
	pe.Constraint = name
}

// explainForeignKey names the foreign key a failed INSERT, UPDATE or
// DELETE violated, where SQLite only says that one was: the table's only
// foreign key, or the only one referencing it.
func (c *conn) explainForeignKey(err error, st *sqltrans.Stmt) error {
	pe := toPGError(err)
	if pe.Code != sqltrans.CodeForeignKey || c.sc == nil {
		return err
	}
	ctx := context.Background()
	type fk struct{ table, col, ref string }
	query := func(q string) []fk {
		rows, err := c.sc.QueryContext(ctx, q, st.Table)
		if err != nil {
			return nil
		}
		defer rows.Close()
		var out []fk
		for rows.Next() {
			var f fk
			if rows.Scan(&f.table, &f.col, &f.ref) == nil {
				out = append(out, f)
			}
		}
		return out
	}
	// The table's own references (INSERT, UPDATE of the referencing row).
	if st.Tag != "DELETE" {
		if own := query(`SELECT ?1, "from", "table" FROM pragma_foreign_key_list(?1)`); len(own) == 1 {
			f := own[0]
			name := f.table + "_" + f.col + "_fkey"
			return &sqltrans.Error{Code: pe.Code, Table: f.table, Constraint: name,
				Message: "insert or update on table \"" + f.table + "\" violates foreign key constraint \"" + name + "\"",
				Detail:  "Key (" + f.col + ") is not present in table \"" + f.ref + "\"."}
		}
	}
	// References to the table (DELETE, UPDATE of a referenced key).
	if refs := query(`SELECT s.name, f."from", f."table" FROM main.sqlite_schema s, pragma_foreign_key_list(s.name) f
		WHERE s.type = 'table' AND f."table" = ?1`); len(refs) == 1 {
		f := refs[0]
		name := f.table + "_" + f.col + "_fkey"
		return &sqltrans.Error{Code: pe.Code, Table: f.table, Constraint: name,
			Message: "update or delete on table \"" + st.Table + "\" violates foreign key constraint \"" + name + "\" on table \"" + f.table + "\"",
			Detail:  "Key is still referenced from table \"" + f.table + "\"."}
	}
	return err
}

// constraintName guesses PostgreSQL's name for the unique constraint on
// "table.col, table.col2".
func constraintName(cols string) string {
	parts := strings.Split(cols, ", ")
	table, _, _ := strings.Cut(parts[0], ".")
	var names []string
	for _, p := range parts {
		_, col, _ := strings.Cut(p, ".")
		names = append(names, col)
	}
	if len(names) == 1 && (names[0] == "id" || strings.HasSuffix(table, names[0])) {
		return table + "_pkey"
	}
	return table + "_" + strings.Join(names, "_") + "_key"
}

func keyCols(cols string) string {
	var names []string
	for _, p := range strings.Split(cols, ", ") {
		_, col, _ := strings.Cut(p, ".")
		names = append(names, col)
	}
	return strings.Join(names, ", ")
}
