package pgwire

import (
	"context"
	"fmt"
	"strings"

	"rewire/pgwire/sqltrans"
)

// runPre runs the data-modifying statements of a statement's WITH clause
// (see sqltrans.PreStmt), in order, inside the statement's transaction,
// keeping each one's returned rows in its temporary table for the
// statement to read. Unlike PostgreSQL, where every part of the statement
// sees one snapshot, the statement sees what these changed.
func (c *conn) runPre(ctx context.Context, st *sqltrans.Stmt, args []any) error {
	for _, pre := range st.Pre {
		if pre.Table == "" {
			if _, err := c.sc.ExecContext(ctx, pre.SQL, args...); err != nil {
				return err
			}
			continue
		}
		cols := make([]string, len(pre.Cols))
		marks := make([]string, len(pre.Cols))
		for i := range cols {
			cols[i] = quoteIdent(pre.Cols[i].Name)
			marks[i] = "?"
		}
		tmp := "temp." + quoteIdent(pre.Table)
		for _, q := range []string{"DROP TABLE IF EXISTS " + tmp, "CREATE TEMP TABLE " + quoteIdent(pre.Table) + " (" + strings.Join(cols, ", ") + ")"} {
			if _, err := c.sc.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("WITH %s: %w", pre.Table, err)
			}
		}
		rows, err := c.sc.QueryContext(ctx, pre.SQL, args...)
		if err != nil {
			return err
		}
		var kept [][]any
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return err
			}
			kept = append(kept, vals)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		ins := "INSERT INTO " + tmp + " VALUES (" + strings.Join(marks, ", ") + ")"
		for _, v := range kept {
			if _, err := c.sc.ExecContext(ctx, ins, v...); err != nil {
				return err
			}
		}
	}
	return nil
}
