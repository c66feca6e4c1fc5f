package sqltrans

import (
	"strconv"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// CHECK constraints are written to SQLite with PostgreSQL's name for them
// (CONSTRAINT "t_col_check" CHECK (…)). SQLite keeps them in the table's
// schema text, renaming columns in them on ALTER TABLE, and the catalog
// reads them back with Checks.

// checkDef translates a CHECK constraint of table rel; col is the column
// of a column constraint, "" for a table constraint.
func (t *tr) checkDef(c *pg.Constraint, rel, col string) string {
	e, _ := t.exprTyped(c.RawExpr, OidBool)
	name := c.Conname
	if name == "" {
		if col == "" {
			col = soleColumn(c.RawExpr)
		}
		base := rel + "_check"
		if col != "" {
			base = rel + "_" + col + "_check"
		}
		name = base
		for i := 1; t.checkNames[name]; i++ {
			name = base + strconv.Itoa(i)
		}
	}
	if t.checkNames == nil {
		t.checkNames = map[string]bool{}
	}
	t.checkNames[name] = true
	return "CONSTRAINT " + qi(name) + " CHECK (" + e + ")"
}

// soleColumn returns the one column an expression refers to, or "".
func soleColumn(n *pg.Node) string {
	names := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case *pg.Node:
			if x == nil {
				return
			}
			if cr := x.GetColumnRef(); cr != nil {
				if f := cr.Fields; len(f) > 0 && f[len(f)-1].GetString_() != nil {
					names[f[len(f)-1].GetString_().Sval] = true
				}
				return
			}
			walk(x.GetAExpr())
			walk(x.GetBoolExpr())
			walk(x.GetFuncCall())
			walk(x.GetTypeCast())
			walk(x.GetNullTest())
			walk(x.GetList())
		case *pg.A_Expr:
			if x != nil {
				walk(x.Lexpr)
				walk(x.Rexpr)
			}
		case *pg.BoolExpr:
			if x != nil {
				for _, a := range x.Args {
					walk(a)
				}
			}
		case *pg.FuncCall:
			if x != nil {
				for _, a := range x.Args {
					walk(a)
				}
			}
		case *pg.TypeCast:
			if x != nil {
				walk(x.Arg)
			}
		case *pg.NullTest:
			if x != nil {
				walk(x.Arg)
			}
		case *pg.List:
			if x != nil {
				for _, a := range x.Items {
					walk(a)
				}
			}
		}
	}
	walk(n)
	if len(names) != 1 {
		return ""
	}
	for k := range names {
		return k
	}
	return ""
}

// parseVersion is the parse tree version the deparser expects.
var parseVersion = func() int32 {
	r, err := pg.Parse("SELECT 1")
	if err != nil {
		return 0
	}
	return r.Version
}()

// pgExpr reprints an SQLite expression in PostgreSQL's style, as
// pg_get_constraintdef does, or returns "" when it does not parse.
func pgExpr(e string) string {
	tree, err := pg.Parse("SELECT " + e)
	if err != nil || len(tree.Stmts) != 1 {
		return ""
	}
	sel := tree.Stmts[0].Stmt.GetSelectStmt()
	if sel == nil || len(sel.TargetList) != 1 {
		return ""
	}
	return deparseExpr(sel.TargetList[0].GetResTarget().GetVal())
}

// deparseExpr prints an expression in PostgreSQL syntax, or "".
func deparseExpr(n *pg.Node) string {
	tree := &pg.ParseResult{Version: parseVersion, Stmts: []*pg.RawStmt{{Stmt: &pg.Node{Node: &pg.Node_SelectStmt{SelectStmt: &pg.SelectStmt{
		TargetList: []*pg.Node{{Node: &pg.Node_ResTarget{ResTarget: &pg.ResTarget{Val: n}}}},
	}}}}}}
	s, err := pg.Deparse(tree)
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(s, "SELECT ")
}

// Check is a CHECK constraint found in a table's schema text.
type Check struct {
	Name string
	Def  string // as pg_get_constraintdef shows it: CHECK (…)
}

// Checks returns the CHECK constraints of a CREATE TABLE statement as
// SQLite keeps it. Constraints without a name are named table_check.
func Checks(table, sql string) []Check {
	var out []Check
	name := ""
	for i := 0; i < len(sql); {
		ch := sql[i]
		switch {
		case ch == '\'' || ch == '"' || ch == '`' || ch == '[':
			end := skipQuoted(sql, i)
			i = end
		case ch == '/' && strings.HasPrefix(sql[i:], "/*"):
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				return out
			}
			i += end + 4
		case isWordChar(ch):
			j := i
			for j < len(sql) && isWordChar(sql[j]) {
				j++
			}
			word := strings.ToUpper(sql[i:j])
			i = j
			switch word {
			case "CONSTRAINT":
				name, i = nextIdent(sql, i)
			case "CHECK":
				k := i
				for k < len(sql) && sql[k] == ' ' {
					k++
				}
				if k >= len(sql) || sql[k] != '(' {
					continue
				}
				end := closeParen(sql, k)
				if end < 0 {
					return out
				}
				def := "CHECK " + sql[k:end+1]
				if text := pgExpr(sql[k+1 : end]); text != "" {
					def = "CHECK (" + text + ")"
				}
				i = end + 1
				if name == "" {
					name = table + "_check"
				}
				out = append(out, Check{Name: name, Def: def})
				name = ""
			case "PRIMARY", "UNIQUE", "FOREIGN", "REFERENCES", "NOT", "DEFAULT", "COLLATE", "GENERATED":
				name = ""
			}
		default:
			i++
		}
	}
	return out
}

func isWordChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c >= 0x80
}

// skipQuoted returns the index after the quoted token starting at i.
func skipQuoted(s string, i int) int {
	q := s[i]
	if q == '[' {
		q = ']'
	}
	for j := i + 1; j < len(s); j++ {
		if s[j] == q {
			if q != ']' && j+1 < len(s) && s[j+1] == q {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(s)
}

// nextIdent reads the identifier after position i.
func nextIdent(s string, i int) (string, int) {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i >= len(s) {
		return "", i
	}
	if s[i] == '"' || s[i] == '`' || s[i] == '[' {
		end := skipQuoted(s, i)
		name := s[i+1 : end-1]
		if s[i] == '"' {
			name = strings.ReplaceAll(name, `""`, `"`)
		}
		return name, end
	}
	j := i
	for j < len(s) && isWordChar(s[j]) {
		j++
	}
	return s[i:j], j
}

// closeParen returns the index of the parenthesis closing the one at i.
func closeParen(s string, i int) int {
	depth := 0
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '\'', '"', '`':
			j = skipQuoted(s, j) - 1
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}
