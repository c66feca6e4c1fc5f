package pgwire

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestCatalogIntrospection runs catalog queries of the kind ORMs and
// migration tools send: information_schema constraints and key columns,
// pg_constraint key arrays unnested WITH ORDINALITY, column defaults.
func TestCatalogIntrospection(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	c := ts.connect(t, "acme", "acme")
	mustExec(t, c, `CREATE TABLE parent (id int PRIMARY KEY)`)
	mustExec(t, c, `CREATE TABLE child (id serial PRIMARY KEY, pid int REFERENCES parent(id), tag text UNIQUE, at timestamptz DEFAULT now(), CHECK (pid > 0))`)
	lines := func(q string) string {
		t.Helper()
		rows, err := c.Query(ctx, q, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var out []string
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			var parts []string
			for _, v := range vals {
				parts = append(parts, fmtValue(v))
			}
			out = append(out, strings.Join(parts, "|"))
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return strings.Join(out, "\n")
	}
	for _, tc := range []struct{ q, want string }{
		{`SELECT kcu.column_name FROM information_schema.table_constraints tc JOIN information_schema.key_column_usage kcu
			ON tc.constraint_name = kcu.constraint_name WHERE tc.table_name = 'child' AND tc.constraint_type = 'PRIMARY KEY'`, "id"},
		{`SELECT constraint_name, constraint_type FROM information_schema.table_constraints WHERE table_name = 'child' ORDER BY 1`,
			"child_pid_check|CHECK\nchild_pid_fkey|FOREIGN KEY\nchild_pkey|PRIMARY KEY\nchild_tag_key|UNIQUE"},
		{`SELECT c.conname, array(SELECT attname FROM unnest(c.conkey) WITH ORDINALITY cols(colid, arridx)
			JOIN pg_attribute AS ca ON cols.colid = ca.attnum WHERE ca.attrelid = c.conrelid ORDER BY cols.arridx), c.contype::text
			FROM pg_constraint AS c JOIN pg_class AS cl ON c.conrelid = cl.oid WHERE cl.relname = 'child' ORDER BY 1`,
			"child_pid_check|{}|c\nchild_pid_fkey|{pid}|f\nchild_pkey|{id}|p\nchild_tag_key|{tag}|u"},
		{`SELECT column_name, column_default FROM information_schema.columns WHERE table_name = 'child' ORDER BY ordinal_position`,
			"id|nextval('child_id_seq'::regclass)\npid|\ntag|\nat|now()"},
		{`SELECT x, n FROM unnest(ARRAY['a', 'b']) WITH ORDINALITY AS u(x, n)`, "a|1\nb|2"},
	} {
		if got := lines(tc.q); got != tc.want {
			t.Errorf("%s\ngot:\n%s\nwant:\n%s", tc.q, got, tc.want)
		}
	}
}

func fmtValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []any:
		var parts []string
		for _, e := range x {
			parts = append(parts, fmtValue(e))
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	return fmt.Sprint(v)
}
