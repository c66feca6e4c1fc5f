package pgwire

import "testing"

func TestPrettyDefault(t *testing.T) {
	for _, c := range []struct{ in, decl, want string }{
		{"pgw_now(1184)", "timestamptz", "now()"},
		{"(pgw_now(1184))", "timestamptz", "now()"},
		{"'x'", "text", "'x'::text"},
		{"'it''s'", "varchar(20)", "'it''s'::character varying"},
		{"'a' || 'b'", "text", "'a' || 'b'"},
		{"(1) + (2)", "int4", "(1) + (2)"},
		{"0", "int4", "0"},
		{"'(x'", "text", "'(x'::text"},
	} {
		if got := prettyDefault(c.in, c.decl); got != c.want {
			t.Errorf("prettyDefault(%q, %q) = %q, want %q", c.in, c.decl, got, c.want)
		}
	}
}
