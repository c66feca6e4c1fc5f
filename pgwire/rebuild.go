package pgwire

import (
	"context"
	"fmt"
	"strings"

	"rewire/pgwire/sqltrans"
)

// rebuildTable adds table constraints that SQLite cannot add in place
// (FOREIGN KEY, CHECK). The rows are copied aside into a table without
// types or constraints, the table is dropped and made again under its
// name with the constraints, the rows go back, and the table's indexes
// and triggers are made again. Foreign keys are deferred meanwhile, so
// other tables' references, which name the table, find their rows again
// in the new copy by the end. It runs inside the statement's transaction,
// so a failure leaves the table as it was; rows that break a new
// constraint fail (23514, 23503), as PostgreSQL validates an added one.
func (c *conn) rebuildTable(ctx context.Context, table string, constraints []string) error {
	var create string
	if err := c.sc.QueryRowContext(ctx, `SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?`, table).Scan(&create); err != nil {
		return fmt.Errorf("rebuild %s: %w", table, err)
	}
	end := strings.LastIndexByte(create, ')')
	if end < 0 {
		return fmt.Errorf("rebuild %s: unexpected table definition", table)
	}
	// Dropping the table deletes its rows first, which would fire other
	// tables' ON DELETE actions.
	var acting string
	err := c.sc.QueryRowContext(ctx, `SELECT m.name FROM sqlite_schema m, pragma_foreign_key_list(m.name) f
		WHERE m.type = 'table' AND m.name <> ?1 AND f."table" = ?1 AND f.on_delete NOT IN ('NO ACTION') LIMIT 1`, table).Scan(&acting)
	if err == nil {
		return sqltrans.Errorf(sqltrans.CodeFeature, "cannot add this constraint: table \"%s\" has an ON DELETE action on \"%s\"", acting, table)
	}

	var cols int
	if err := c.sc.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info(?)`, table).Scan(&cols); err != nil {
		return fmt.Errorf("rebuild %s: %w", table, err)
	}
	var again []string
	rows, err := c.sc.QueryContext(ctx, `SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL
		AND type IN ('index', 'trigger') AND tbl_name = ? ORDER BY type = 'trigger', rowid`, table)
	if err != nil {
		return fmt.Errorf("rebuild %s: %w", table, err)
	}
	for rows.Next() {
		var sql string
		if err := rows.Scan(&sql); err != nil {
			rows.Close()
			return fmt.Errorf("rebuild %s: %w", table, err)
		}
		again = append(again, sql)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("rebuild %s: %w", table, err)
	}

	const aside = `"?rw_rebuild"`
	untyped := make([]string, cols)
	for i := range untyped {
		untyped[i] = fmt.Sprintf("c%d", i)
	}
	if _, err := c.sc.ExecContext(ctx, "PRAGMA defer_foreign_keys = ON"); err != nil {
		return err
	}
	defer c.sc.ExecContext(context.WithoutCancel(ctx), "PRAGMA defer_foreign_keys = OFF")
	steps := []string{
		"CREATE TEMP TABLE " + aside + " (" + strings.Join(untyped, ", ") + ")",
		"INSERT INTO " + aside + " SELECT * FROM " + quoteIdent(table),
		"DROP TABLE " + quoteIdent(table),
		create[:end] + ", " + strings.Join(constraints, ", ") + create[end:],
		"INSERT INTO " + quoteIdent(table) + " SELECT * FROM " + aside,
		"DROP TABLE " + aside,
	}
	steps = append(steps, again...)
	for _, q := range steps {
		if _, err := c.sc.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	// A new foreign key is only counted while they are deferred: look.
	var bad int
	if err := c.sc.QueryRowContext(ctx, `SELECT count(*) FROM pragma_foreign_key_check(?)`, table).Scan(&bad); err != nil {
		return fmt.Errorf("rebuild %s: %w", table, err)
	}
	if bad > 0 {
		return &sqltrans.Error{Code: sqltrans.CodeForeignKey,
			Message: fmt.Sprintf("insert or update on table \"%s\" violates foreign key constraint", table),
			Detail:  fmt.Sprintf("%d rows reference keys that are not present.", bad)}
	}
	return nil
}
