package pgwire

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"rewire/pgwire/sqltrans"
)

// dropSchemas runs DROP SCHEMA: a schema's tables and views are those
// whose SQLite name starts with "schema.", its sequences likewise.
func (c *conn) dropSchemas(ctx context.Context, names []string, ifExists, cascade bool) error {
	for _, name := range names {
		prefix := name + "."
		var made int
		if err := c.sc.QueryRowContext(ctx, `SELECT count(*) FROM "?rw_schema" WHERE name = ?`, name).Scan(&made); err != nil {
			return err
		}
		type object struct{ kind, name string }
		var objs []object
		rows, err := c.sc.QueryContext(ctx, `SELECT type, name FROM (SELECT type, name FROM main.sqlite_schema
			WHERE type IN ('table', 'view') AND substr(name, 1, length(?1)) = ?1
			UNION ALL SELECT 'sequence' AS type, name FROM "?rw_seq" WHERE substr(name, 1, length(?1)) = ?1)
			ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'view' THEN 1 ELSE 2 END, name`, prefix)
		if err != nil {
			return err
		}
		for rows.Next() {
			var o object
			if err := rows.Scan(&o.kind, &o.name); err != nil {
				rows.Close()
				return err
			}
			objs = append(objs, o)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if made == 0 && len(objs) == 0 {
			if ifExists {
				c.noticeInfo(fmt.Sprintf("schema \"%s\" does not exist, skipping", name), "")
				continue
			}
			return sqltrans.Errorf("3F000", "schema \"%s\" does not exist", name)
		}
		var detail []string
		for _, o := range objs {
			detail = append(detail, fmt.Sprintf("%s %s", o.kind, o.name))
		}
		if len(objs) > 0 && !cascade {
			for i := range detail {
				detail[i] += " depends on schema " + name
			}
			return &sqltrans.Error{Code: "2BP01", Message: fmt.Sprintf("cannot drop schema %s because other objects depend on it", name),
				Detail: strings.Join(detail, "\n"), Hint: "Use DROP ... CASCADE to drop the dependent objects too."}
		}
		switch len(objs) {
		case 0:
		case 1:
			c.noticeInfo("drop cascades to "+detail[0], "")
		default:
			for i := range detail {
				detail[i] = "drop cascades to " + detail[i]
			}
			c.noticeInfo(fmt.Sprintf("drop cascades to %d other objects", len(objs)), strings.Join(detail, "\n"))
		}
		// Views before the tables they read.
		slices.SortStableFunc(objs, func(a, b object) int { return strings.Compare(b.kind, a.kind) })
		for _, o := range objs {
			q := "DROP " + strings.ToUpper(o.kind) + " " + quoteIdent(o.name)
			if o.kind == "sequence" {
				q = `DELETE FROM "?rw_seq" WHERE name = ` + sqlString(o.name)
			}
			if _, err := c.sc.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		if _, err := c.sc.ExecContext(ctx, `DELETE FROM "?rw_schema" WHERE name = ?`, name); err != nil {
			return err
		}
	}
	return nil
}

// sqlString quotes s as an SQLite string literal.
func sqlString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
