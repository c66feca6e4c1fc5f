package api

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"

	"rewire/api/wire"
	"rewire/pgwire/sqltrans"
)

// pgCatalog gives pgwire's translator the database's tables.
type pgCatalog struct {
	ctx        context.Context
	conn       *sql.Conn
	tenant, db string
}

func (c pgCatalog) Table(name string) ([]sqltrans.Column, bool) {
	rows, err := c.conn.QueryContext(c.ctx, `SELECT name, type, "notnull" FROM pragma_table_info(?)`, name)
	if err != nil {
		return nil, false
	}
	defer rows.Close()
	var cols []sqltrans.Column
	for rows.Next() {
		var n, typ string
		var nn int
		if rows.Scan(&n, &typ, &nn) != nil {
			return nil, false
		}
		oid, mod := sqltrans.ParseDeclType(typ)
		cols = append(cols, sqltrans.Column{Name: n, Oid: oid, Typmod: mod, NotNull: nn != 0, Table: name})
	}
	return cols, cols != nil
}

func (c pgCatalog) Session(key string) string {
	switch key {
	case "user":
		return c.tenant
	case "database":
		return c.db
	case "version":
		return "PostgreSQL 16 (rewire API)"
	case "pid":
		return "0"
	}
	return ""
}

// runPostgres translates PostgreSQL text with pgwire's translator and runs
// it: plain statements and DDL, not transaction control, SET, COPY or
// database commands (each call is its own transaction). Parameters given
// as strings are converted like pgwire's text parameters; result values
// are PostgreSQL's text form, except integers and floats, which stay
// numbers.
func runPostgres(ctx context.Context, conn *sql.Conn, tenant, db string, p wire.SQLParams, max int) (wire.SQLResult, error) {
	stmts, err := sqltrans.Translate(p.SQL, pgCatalog{ctx: ctx, conn: conn, tenant: tenant, db: db})
	if err != nil {
		return wire.SQLResult{}, sqlErr(err)
	}
	out := wire.SQLResult{Columns: []string{}, Rows: [][]any{}}
	for _, st := range stmts {
		switch st.Kind {
		case sqltrans.KindEmpty, sqltrans.KindNoop:
			continue
		case sqltrans.KindMulti:
			for _, q := range st.Multi {
				if _, err := conn.ExecContext(ctx, q); err != nil {
					return wire.SQLResult{}, sqlErr(err)
				}
			}
			continue
		case sqltrans.KindQuery:
		default:
			return wire.SQLResult{}, wire.Errorf(wire.CodeInvalidOp,
				"%s is not supported over the API (each call is one statement in its own transaction)", st.Tag)
		}
		args := make([]any, len(p.Params))
		for i, v := range p.Params {
			if s, ok := v.(string); ok && i < len(st.Params) && st.Params[i] != 0 {
				cv, err := sqltrans.Coerce(s, st.Params[i], -1)
				if err != nil {
					return wire.SQLResult{}, sqlErr(err)
				}
				v = cv
			} else if f, ok := v.(float64); ok && f == float64(int64(f)) {
				v = int64(f)
			}
			args[i] = v
		}
		res, err := queryPG(ctx, conn, st, args, max)
		if err != nil {
			return wire.SQLResult{}, err
		}
		out = res
	}
	return out, nil
}

func queryPG(ctx context.Context, conn *sql.Conn, st *sqltrans.Stmt, args []any, max int) (wire.SQLResult, error) {
	out := wire.SQLResult{Columns: []string{}, Rows: [][]any{}}
	if !st.Rows {
		res, err := conn.ExecContext(ctx, st.SQL, args...)
		if err != nil {
			return out, sqlErr(err)
		}
		out.RowsAffected, _ = res.RowsAffected()
		return out, nil
	}
	rows, err := conn.QueryContext(ctx, st.SQL, args...)
	if err != nil {
		return out, sqlErr(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return out, sqlErr(err)
	}
	out.Columns = cols
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
			return out, sqlErr(err)
		}
		for i, v := range vals {
			var oid uint32
			var mod int32 = -1
			if i < len(st.Cols) {
				oid, mod = st.Cols[i].Oid, st.Cols[i].Typmod
			}
			vals[i] = pgValue(v, oid, mod)
		}
		out.Rows = append(out.Rows, vals)
	}
	if err := rows.Err(); err != nil {
		return out, sqlErr(err)
	}
	return out, nil
}

// pgValue renders a stored value as the API returns it for type oid.
func pgValue(v any, oid uint32, mod int32) any {
	if v == nil {
		return nil
	}
	switch oid {
	case sqltrans.OidInt2, sqltrans.OidInt4, sqltrans.OidInt8, sqltrans.OidFloat4, sqltrans.OidFloat8:
		if s, ok := v.(string); ok {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return n
			}
		}
		return v
	case sqltrans.OidBool:
		s, _ := sqltrans.FormatText(v, oid, mod)
		return s == "t"
	case 0:
		if b, ok := v.([]byte); ok {
			return string(b)
		}
		return v
	}
	if s, ok := sqltrans.FormatText(v, oid, mod); ok {
		return s
	}
	return fmt.Sprint(v)
}
