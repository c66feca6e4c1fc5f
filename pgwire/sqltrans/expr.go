package sqltrans

import (
	"strconv"
	"strings"
	"time"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// expr translates an expression and returns its SQLite text and inferred
// PostgreSQL type (0 or OidUnknown when not known).
func (t *tr) expr(n *pg.Node) (string, uint32) {
	return t.exprTyped(n, 0)
}

// exprTyped translates an expression in a context that expects type want:
// parameters take that type and untyped literals are converted to it.
func (t *tr) exprTyped(n *pg.Node, want uint32) (string, uint32) {
	if n == nil {
		return "NULL", OidUnknown
	}
	switch {
	case n.GetAConst() != nil:
		return t.constant(n.GetAConst(), want)
	case n.GetParamRef() != nil:
		p := int(n.GetParamRef().Number)
		t.setParam(p, want)
		oid := want
		if p <= len(t.params) && t.params[p-1] != 0 {
			oid = t.params[p-1]
		}
		return "?" + itoa(p), oid
	case n.GetColumnRef() != nil:
		return t.columnRef(n.GetColumnRef())
	case n.GetAExpr() != nil:
		return t.aExpr(n.GetAExpr())
	case n.GetBoolExpr() != nil:
		b := n.GetBoolExpr()
		var parts []string
		for _, a := range b.Args {
			e, _ := t.exprTyped(a, OidBool)
			parts = append(parts, e)
		}
		switch b.Boolop {
		case pg.BoolExprType_AND_EXPR:
			return "(" + strings.Join(parts, " AND ") + ")", OidBool
		case pg.BoolExprType_OR_EXPR:
			return "(" + strings.Join(parts, " OR ") + ")", OidBool
		default:
			return "(NOT " + parts[0] + ")", OidBool
		}
	case n.GetNullTest() != nil:
		nt := n.GetNullTest()
		e, _ := t.expr(nt.Arg)
		if nt.Nulltesttype == pg.NullTestType_IS_NULL {
			return "(" + e + " IS NULL)", OidBool
		}
		return "(" + e + " IS NOT NULL)", OidBool
	case n.GetBooleanTest() != nil:
		bt := n.GetBooleanTest()
		e, _ := t.expr(bt.Arg)
		op := map[pg.BoolTestType]string{
			pg.BoolTestType_IS_TRUE: " IS 1", pg.BoolTestType_IS_NOT_TRUE: " IS NOT 1",
			pg.BoolTestType_IS_FALSE: " IS 0", pg.BoolTestType_IS_NOT_FALSE: " IS NOT 0",
			pg.BoolTestType_IS_UNKNOWN: " IS NULL", pg.BoolTestType_IS_NOT_UNKNOWN: " IS NOT NULL",
		}[bt.Booltesttype]
		return "(" + e + op + ")", OidBool
	case n.GetTypeCast() != nil:
		return t.typeCast(n.GetTypeCast())
	case n.GetFuncCall() != nil:
		return t.funcCall(n.GetFuncCall())
	case n.GetCaseExpr() != nil:
		return t.caseExpr(n.GetCaseExpr())
	case n.GetCoalesceExpr() != nil:
		args, oid := t.exprList(n.GetCoalesceExpr().Args, want)
		if len(args) == 1 {
			return args[0], oid
		}
		return "coalesce(" + strings.Join(args, ", ") + ")", oid
	case n.GetMinMaxExpr() != nil:
		m := n.GetMinMaxExpr()
		args, oid := t.exprList(m.Args, want)
		f := "pgw_greatest"
		if m.Op == pg.MinMaxOp_IS_LEAST {
			f = "pgw_least"
		}
		return f + "(" + strings.Join(args, ", ") + ")", oid
	case n.GetSqlvalueFunction() != nil:
		return t.sqlValue(n.GetSqlvalueFunction())
	case n.GetSubLink() != nil:
		return t.subLink(n.GetSubLink())
	case n.GetAArrayExpr() != nil:
		elem := OidUnknown
		if ti := Types[want]; ti != nil && ti.Elem != 0 {
			elem = ti.Elem
		}
		var args []string
		for _, e := range n.GetAArrayExpr().Elements {
			s, o := t.exprTyped(e, elem)
			if elem == OidUnknown && o != 0 && o != OidUnknown {
				elem = o
			}
			args = append(args, s)
		}
		if elem == OidUnknown {
			elem = OidText
		}
		arr := OidTextArray
		if ti := Types[elem]; ti != nil && ti.Array != 0 {
			arr = ti.Array
		}
		return "pgw_array(" + strings.Join(append([]string{itoa(int(elem))}, args...), ", ") + ")", arr
	case n.GetAIndirection() != nil:
		ind := n.GetAIndirection()
		e, oid := t.expr(ind.Arg)
		for _, i := range ind.Indirection {
			ai := i.GetAIndices()
			if ai == nil || ai.IsSlice {
				fail(CodeFeature, "this indirection is not supported")
			}
			idx, _ := t.exprTyped(ai.Uidx, OidInt4)
			elem := OidText
			if ti := Types[oid]; ti != nil && ti.Elem != 0 {
				elem = ti.Elem
			}
			e = "pgw_elem(json_extract(pgw_array_to_json(" + e + "), '$[' || ((" + idx + ") - 1) || ']'), " + itoa(int(elem)) + ")"
			oid = elem
		}
		return e, oid
	case n.GetRowExpr() != nil:
		args, _ := t.exprList(n.GetRowExpr().Args, 0)
		return "(" + strings.Join(args, ", ") + ")", OidUnknown
	case n.GetCollateClause() != nil:
		e, oid := t.expr(n.GetCollateClause().Arg)
		return e, oid
	case n.GetList() != nil:
		args, oid := t.exprList(n.GetList().Items, want)
		return "(" + strings.Join(args, ", ") + ")", oid
	}
	fail(CodeFeature, "expression %s is not supported", nodeName(n))
	return "", 0
}

func (t *tr) exprList(list []*pg.Node, want uint32) ([]string, uint32) {
	var out []string
	oid := want
	for _, a := range list {
		e, o := t.exprTyped(a, oid)
		if (oid == 0 || oid == OidUnknown) && o != 0 {
			oid = o
		}
		out = append(out, e)
	}
	// Give earlier untyped parameters the type found later.
	if oid != 0 && oid != want {
		for _, a := range list {
			if p := a.GetParamRef(); p != nil {
				t.setParam(int(p.Number), oid)
			}
		}
	}
	return out, oid
}

func (t *tr) constant(c *pg.A_Const, want uint32) (string, uint32) {
	switch {
	case c.Isnull:
		return "NULL", OidUnknown
	case c.GetIval() != nil:
		v := strconv.Itoa(int(c.GetIval().Ival))
		if want == OidBool {
			return v, OidInt4
		}
		return v, OidInt4
	case c.GetFval() != nil:
		f := c.GetFval().Fval
		if _, err := strconv.ParseInt(f, 10, 64); err == nil {
			return f, OidInt8
		}
		// A literal a float holds exactly as written stays a SQLite
		// number; others (1.50, many digits) stay decimal text.
		if x, err := strconv.ParseFloat(f, 64); err == nil && strconv.FormatFloat(x, 'f', -1, 64) == f && significantDigits(f) <= 15 {
			return f, OidNumeric
		}
		if d, ok := parseDecimal(f); ok {
			return qs(d.String()), OidNumeric
		}
		return f, OidNumeric
	case c.GetBoolval() != nil:
		if c.GetBoolval().Boolval {
			return "1", OidBool
		}
		return "0", OidBool
	case c.GetSval() != nil:
		s := c.GetSval().Sval
		validUTF8(s)
		if want != 0 && want != OidUnknown && want != OidText && want != OidVarchar {
			return t.literalAs(s, want, int(c.Location)), want
		}
		return qs(s), OidUnknown
	case c.GetBsval() != nil:
		return qs(c.GetBsval().Bsval), OidText
	}
	return "NULL", OidUnknown
}

// significantDigits counts the digits of decimal text from the first
// nonzero one.
func significantDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '1' && c <= '9' || c == '0' && n > 0 {
			n++
		}
	}
	return n
}

// literalAs converts a string literal to the stored form of type oid at
// translation time, as PostgreSQL does when it resolves an unknown
// literal's type.
func (t *tr) literalAs(s string, oid uint32, loc int) string {
	var zone *time.Location
	if oid == OidTimestamptz {
		_, zone = t.zone()
	}
	v, err := CoerceIn(s, oid, -1, zone)
	if err != nil {
		if e, ok := err.(*Error); ok {
			e.Position = loc + 1
			panic(e)
		}
		panic(&Error{Code: CodeInvalidText, Message: err.Error(), Position: loc + 1})
	}
	if v == Dynamic {
		return "pgw_in(" + qs(s) + ", " + itoa(int(oid)) + ")"
	}
	return SQLLiteral(v)
}

// columnRef resolves a column against the visible relations.
func (t *tr) columnRef(cr *pg.ColumnRef) (string, uint32) {
	if isStar(cr) {
		if len(cr.Fields) == 2 {
			return qi(cr.Fields[0].GetString_().Sval) + ".*", OidUnknown
		}
		return "*", OidUnknown
	}
	var parts []string
	for _, f := range cr.Fields {
		parts = append(parts, f.GetString_().Sval)
	}
	c, ok := t.resolveColumn(cr)
	if !ok {
		name := strings.Join(parts, ".")
		panic(&Error{Code: CodeUndefinedColumn, Message: "column \"" + name + "\" does not exist",
			Position: int(cr.Location) + 1})
	}
	if len(parts) > 2 {
		parts = parts[len(parts)-2:]
	}
	if len(parts) == 1 && t.qualify > 0 {
		if alias := t.relOf(parts[0]); alias != "" {
			return qi(alias) + "." + qi(parts[0]), c.Oid
		}
	}
	var q []string
	for _, p := range parts {
		q = append(q, qi(p))
	}
	return strings.Join(q, "."), c.Oid
}

func (t *tr) resolveColumn(cr *pg.ColumnRef) (Column, bool) {
	var qual, name string
	f := cr.Fields
	if len(f) == 0 || f[len(f)-1].GetString_() == nil {
		return Column{}, false
	}
	name = f[len(f)-1].GetString_().Sval
	if len(f) >= 2 {
		qual = f[len(f)-2].GetString_().Sval
	}
	for i := len(t.scopes) - 1; i >= 0; i-- {
		var found *Column
		for _, r := range t.scopes[i] {
			if qual != "" && r.alias != qual {
				continue
			}
			for j := range r.cols {
				if r.cols[j].Name == name {
					if found != nil && qual == "" && found.Oid != r.cols[j].Oid {
						// Ambiguous unless joined USING the same column.
						continue
					}
					c := r.cols[j]
					found = &c
				}
			}
		}
		if found != nil {
			return *found, true
		}
	}
	if qual == "" && len(t.scopes) == 0 {
		return Column{Name: name}, true
	}
	return Column{}, false
}

var compareOps = map[string]bool{"=": true, "<>": true, "!=": true, "<": true, ">": true, "<=": true, ">=": true}

func (t *tr) aExpr(a *pg.A_Expr) (string, uint32) {
	op := ""
	if len(a.Name) > 0 {
		op = a.Name[len(a.Name)-1].GetString_().Sval
	}
	switch a.Kind {
	case pg.A_Expr_Kind_AEXPR_OP:
		if a.Lexpr == nil {
			r, oid := t.expr(a.Rexpr)
			switch op {
			case "-":
				if oid == OidNumeric {
					return numericCall("pgw_nneg", r), oid
				}
				return "(-" + r + ")", oid
			case "+":
				return r, oid
			case "~":
				return "(~" + r + ")", oid
			}
			fail(CodeUndefinedFunction, "operator does not exist: %s", op)
		}
		return t.binaryOp(op, a.Lexpr, a.Rexpr)
	case pg.A_Expr_Kind_AEXPR_OP_ANY, pg.A_Expr_Kind_AEXPR_OP_ALL:
		l, loid := t.expr(a.Lexpr)
		arrType := OidTextArray
		if ti := Types[loid]; ti != nil && ti.Array != 0 {
			arrType = ti.Array
		}
		r, _ := t.exprTyped(a.Rexpr, arrType)
		set := "(SELECT pgw_elem(value, " + itoa(int(Types[arrType].Elem)) + ") FROM json_each(pgw_array_to_json(" + r + ")))"
		if a.Kind == pg.A_Expr_Kind_AEXPR_OP_ANY && op == "=" {
			return "(" + l + " IN " + set + ")", OidBool
		}
		if a.Kind == pg.A_Expr_Kind_AEXPR_OP_ALL && (op == "<>" || op == "!=") {
			return "(" + l + " NOT IN " + set + ")", OidBool
		}
		var cond string
		switch {
		case compareOps[op]:
			cond = l + " " + op + " value"
		case op == "~~" || op == "!~~":
			cond = l + " LIKE value ESCAPE '\\'"
		case op == "~~*" || op == "!~~*":
			cond = "lower(" + l + ") LIKE lower(value) ESCAPE '\\'"
		default:
			fail(CodeFeature, "operator %s with ANY/ALL is not supported", op)
		}
		if strings.HasPrefix(op, "!~~") {
			cond = "NOT (" + cond + ")"
		}
		q := "EXISTS"
		if a.Kind == pg.A_Expr_Kind_AEXPR_OP_ALL {
			q = "NOT EXISTS"
			cond = "NOT (" + cond + ")"
		}
		return "(" + q + " (SELECT 1 FROM (SELECT pgw_elem(value, " + itoa(int(Types[arrType].Elem)) +
			") AS value FROM json_each(pgw_array_to_json(" + r + "))) WHERE " + cond + "))", OidBool
	case pg.A_Expr_Kind_AEXPR_DISTINCT, pg.A_Expr_Kind_AEXPR_NOT_DISTINCT:
		l, lo := t.expr(a.Lexpr)
		r, _ := t.exprTyped(a.Rexpr, lo)
		if a.Kind == pg.A_Expr_Kind_AEXPR_DISTINCT {
			return "(" + l + " IS NOT " + r + ")", OidBool
		}
		return "(" + l + " IS " + r + ")", OidBool
	case pg.A_Expr_Kind_AEXPR_NULLIF:
		l, lo := t.expr(a.Lexpr)
		r, _ := t.exprTyped(a.Rexpr, lo)
		return "nullif(" + l + ", " + r + ")", lo
	case pg.A_Expr_Kind_AEXPR_IN:
		l, lo := t.expr(a.Lexpr)
		items, _ := t.exprList(a.Rexpr.GetList().Items, lo)
		not := ""
		if op == "<>" {
			not = "NOT "
		}
		return "(" + l + " " + not + "IN (" + strings.Join(items, ", ") + "))", OidBool
	case pg.A_Expr_Kind_AEXPR_LIKE, pg.A_Expr_Kind_AEXPR_ILIKE:
		l, _ := t.exprTyped(a.Lexpr, OidText)
		r, _ := t.exprTyped(a.Rexpr, OidText)
		not := ""
		if op == "!~~" || op == "!~~*" {
			not = "NOT "
		}
		if a.Kind == pg.A_Expr_Kind_AEXPR_ILIKE {
			return "(lower(" + l + ") " + not + "LIKE lower(" + r + ") ESCAPE '\\')", OidBool
		}
		return "(" + l + " " + not + "LIKE " + r + " ESCAPE '\\')", OidBool
	case pg.A_Expr_Kind_AEXPR_BETWEEN, pg.A_Expr_Kind_AEXPR_NOT_BETWEEN,
		pg.A_Expr_Kind_AEXPR_BETWEEN_SYM, pg.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM:
		l, lo := t.expr(a.Lexpr)
		bounds, _ := t.exprList(a.Rexpr.GetList().Items, lo)
		not := ""
		if a.Kind == pg.A_Expr_Kind_AEXPR_NOT_BETWEEN || a.Kind == pg.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM {
			not = "NOT "
		}
		if a.Kind == pg.A_Expr_Kind_AEXPR_BETWEEN_SYM || a.Kind == pg.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM {
			return "(" + l + " " + not + "BETWEEN min(" + bounds[0] + ", " + bounds[1] + ") AND max(" + bounds[0] + ", " + bounds[1] + "))", OidBool
		}
		return "(" + l + " " + not + "BETWEEN " + bounds[0] + " AND " + bounds[1] + ")", OidBool
	case pg.A_Expr_Kind_AEXPR_SIMILAR:
		fail(CodeFeature, "SIMILAR TO is not supported")
	}
	fail(CodeFeature, "operator kind %s is not supported", a.Kind)
	return "", 0
}

// numericCall calls one of the exact numeric functions of decimal.go;
// its decimal text result sorts and groups by value.
func numericCall(fn string, args ...string) string {
	return "(" + fn + "(" + strings.Join(args, ", ") + ") COLLATE pgw_numeric)"
}

// numericCompare compares where one side is numeric. A stored numeric
// column compares as it is (decimal text under the pgw_numeric collation,
// or a number in a table made before), so that an index on it serves; the
// other side is brought to text in that collation, which orders text by
// value. Anything else compares through pgw_ncmp, which reads integers,
// floats and decimal text alike.
func numericCompare(op, l string, lo uint32, lcol bool, r string, ro uint32, rcol bool) string {
	switch {
	case lcol && rcol:
		return "(" + l + " " + op + " " + r + ")"
	case lcol && lo == OidNumeric:
		return "(" + l + " " + op + " (CAST(" + r + " AS TEXT) COLLATE pgw_numeric))"
	case rcol && ro == OidNumeric:
		return "((CAST(" + l + " AS TEXT) COLLATE pgw_numeric) " + op + " " + r + ")"
	case lcol || rcol:
		// A column of another numeric type: its affinity makes the
		// decimal text a number.
		return "(" + l + " " + op + " " + r + ")"
	}
	return "(pgw_ncmp(" + l + ", " + r + ") " + op + " 0)"
}

func isNumeric(oid uint32) bool {
	switch oid {
	case OidInt2, OidInt4, OidInt8, OidFloat4, OidFloat8, OidNumeric, OidOid:
		return true
	}
	return false
}

func numericResult(a, b uint32) uint32 {
	rank := map[uint32]int{OidInt2: 1, OidInt4: 2, OidInt8: 3, OidNumeric: 4, OidFloat4: 5, OidFloat8: 6}
	if !isNumeric(a) {
		a = b
	}
	if !isNumeric(b) {
		b = a
	}
	if rank[a] >= rank[b] {
		if a == OidInt2 {
			return OidInt4
		}
		return a
	}
	return b
}

func (t *tr) binaryOp(op string, ln, rn *pg.Node) (string, uint32) {
	// Type each side from the other where one is a parameter or literal.
	l, lo := t.expr(ln)
	want := lo
	if op == "->" || op == "->>" || op == "#>" || op == "#>>" || op == "?" || op == "?|" || op == "?&" {
		want = 0
	}
	if op == "-" && lo == OidJSONB {
		want = OidText // jsonb - key, jsonb - index, jsonb - keys[]
	}
	r, ro := t.exprTyped(rn, want)
	if (lo == 0 || lo == OidUnknown) && ro != 0 && ro != OidUnknown && (ln.GetParamRef() != nil || ln.GetAConst() != nil) && compareOps[op] {
		l, lo = t.exprTyped(ln, ro)
	}
	switch {
	case compareOps[op]:
		if op == "!=" {
			op = "<>"
		}
		if lo == OidNumeric || ro == OidNumeric {
			return numericCompare(op, l, lo, ln.GetColumnRef() != nil, r, ro, rn.GetColumnRef() != nil), OidBool
		}
		return "(" + l + " " + op + " " + r + ")", OidBool
	case op == "+" || op == "-" || op == "*":
		res := numericResult(lo, ro)
		if isTimeType(lo) || isTimeType(ro) || lo == OidInterval || ro == OidInterval {
			return t.dateArith(op, l, lo, r, ro)
		}
		if op == "-" && (lo == OidJSONB) {
			return "pgw_jsonb_delete(" + l + ", " + r + ")", OidJSONB
		}
		if res == OidNumeric {
			return numericCall(map[string]string{"+": "pgw_nadd", "-": "pgw_nsub", "*": "pgw_nmul"}[op], l, r), res
		}
		return "(" + l + " " + op + " " + r + ")", res
	case op == "/":
		res := numericResult(lo, ro)
		if res == OidNumeric {
			return numericCall("pgw_ndiv", l, r), res
		}
		return "pgw_div(" + l + ", " + r + ")", res
	case op == "%":
		if res := numericResult(lo, ro); res == OidNumeric {
			return numericCall("pgw_nmod", l, r), res
		}
		return "pgw_mod(" + l + ", " + r + ")", numericResult(lo, ro)
	case op == "^":
		return "pgw_pow(" + l + ", " + r + ")", OidFloat8
	case op == "||":
		if lo == OidJSONB || ro == OidJSONB {
			return "pgw_jsonb_concat(" + l + ", " + r + ")", OidJSONB
		}
		if IsArray(lo) || IsArray(ro) {
			return "pgw_array_cat(" + l + ", " + r + ")", arrayOf(lo, ro)
		}
		return "(" + l + " || " + r + ")", OidText
	case op == "->":
		if lo == OidJSON {
			return "(" + l + " -> " + r + ")", OidJSON
		}
		return "pgw_jsonb_norm(" + l + " -> " + r + ")", OidJSONB
	case op == "->>":
		return "pgw_json_text(" + l + " ->> " + r + ", " + l + " -> " + r + ")", OidText
	case op == "#>":
		return "pgw_json_path(" + l + ", " + r + ", 0)", OidJSONB
	case op == "#>>":
		return "pgw_json_path(" + l + ", " + r + ", 1)", OidText
	case op == "@>":
		if IsArray(lo) || IsArray(ro) {
			return "pgw_array_contains(" + l + ", " + r + ")", OidBool
		}
		return "pgw_jsonb_contains(" + l + ", " + r + ")", OidBool
	case op == "<@":
		if IsArray(lo) || IsArray(ro) {
			return "pgw_array_contains(" + r + ", " + l + ")", OidBool
		}
		return "pgw_jsonb_contains(" + r + ", " + l + ")", OidBool
	case op == "&&":
		return "pgw_array_overlap(" + l + ", " + r + ")", OidBool
	case op == "?":
		return "pgw_jsonb_exists(" + l + ", " + r + ")", OidBool
	case op == "~" || op == "~*" || op == "!~" || op == "!~*":
		flags := "''"
		if strings.Contains(op, "*") {
			flags = "'i'"
		}
		e := "pgw_regex(" + l + ", " + r + ", " + flags + ")"
		if op[0] == '!' {
			e = "(NOT " + e + ")"
		}
		return e, OidBool
	case op == "&" || op == "|" || op == "<<" || op == ">>":
		return "(" + l + " " + op + " " + r + ")", numericResult(lo, ro)
	case op == "#":
		return "((" + l + " | " + r + ") - (" + l + " & " + r + "))", numericResult(lo, ro)
	}
	fail(CodeUndefinedFunction, "operator does not exist: %s", op)
	return "", 0
}

func arrayOf(a, b uint32) uint32 {
	if IsArray(a) {
		return a
	}
	return b
}

func isTimeType(oid uint32) bool {
	switch oid {
	case OidDate, OidTimestamp, OidTimestamptz, OidTime:
		return true
	}
	return false
}

// dateArith handles date/time arithmetic through Go functions.
func (t *tr) dateArith(op, l string, lo uint32, r string, ro uint32) (string, uint32) {
	res := lo
	switch {
	case op == "-" && isTimeType(lo) && isTimeType(ro):
		if lo == OidDate && ro == OidDate {
			res = OidInt4
		} else {
			res = OidInterval
		}
	case lo == OidInterval && isTimeType(ro):
		res = ro
	case lo == OidDate && ro == OidInterval:
		res = OidTimestamp
	case lo == OidDate && (ro == OidInt4 || ro == OidInt8 || ro == OidUnknown):
		res = OidDate
	case lo == OidInterval && ro == OidInterval:
		res = OidInterval
	case lo == OidInterval:
		res = OidInterval
	}
	return "pgw_datearith(" + qs(op) + ", " + l + ", " + itoa(int(lo)) + ", " + r + ", " + itoa(int(ro)) + ", " + itoa(int(res)) + ")", res
}

func (t *tr) typeCast(c *pg.TypeCast) (string, uint32) {
	oid, typmod := typeNameOid(c.TypeName)
	if oid == 0 {
		fail(CodeUndefinedObject, "type \"%s\" does not exist", typeNameString(c.TypeName))
	}
	if oid == OidRegnamespace || oid == OidRegrole {
		e, _ := t.outerExpr(c.Arg)
		if oid == OidRegrole {
			return "coalesce(" + t.session("user") + ", " + e + ")", OidName
		}
		return "coalesce((SELECT n.nspname FROM \"pg_catalog.pg_namespace\" n WHERE n.oid = " + e + "), " + e + ")", OidName
	}
	if oid == OidRegclass || oid == OidRegtype {
		e, from := t.outerExpr(c.Arg)
		if c.Arg.GetAConst() != nil || c.Arg.GetParamRef() != nil || from == OidText || from == OidUnknown {
			if oid == OidRegtype {
				return "pgw_regtype(" + e + ")", OidRegtype
			}
			return "pgw_regclass(" + e + ")", OidRegclass
		}
		if oid == OidRegtype {
			return "pgw_format_type(" + e + ")", OidText
		}
		// Shown as the relation's name, as regclass output is.
		return "coalesce((SELECT relname FROM \"pg_catalog.pg_class\" WHERE oid = " + e + "), " + e + ")", OidName
	}
	if sv := c.Arg.GetAConst(); sv != nil && sv.GetSval() != nil {
		s := sv.GetSval().Sval
		validUTF8(s)
		lit := t.literalAs(s, oid, int(c.Location))
		if typmod >= 0 {
			return "pgw_cast(" + lit + ", " + itoa(int(oid)) + ", " + itoa(int(oid)) + ", " + itoa(int(typmod)) + ")", oid
		}
		return lit, oid
	}
	e, from := t.exprTyped(c.Arg, oid)
	if c.Arg.GetParamRef() != nil || from == oid && typmod < 0 {
		return e, oid
	}
	switch {
	case (oid == OidInt8 || oid == OidInt4 || oid == OidInt2) && (from == OidInt2 || from == OidInt4 || from == OidInt8):
		return e, oid
	case oid == OidFloat8 && isNumeric(from):
		return "CAST(" + e + " AS REAL)", oid
	case (oid == OidText || oid == OidVarchar) && (from == OidText || from == OidVarchar || from == OidUnknown) && typmod < 0:
		return e, oid
	case oid == OidJSONB && from == OidJSON || oid == OidJSON && from == OidJSONB:
		return e, oid
	}
	if z := t.zonedCast(e, from, oid); z != "" {
		return z, oid
	}
	return "pgw_cast(" + e + ", " + itoa(int(from)) + ", " + itoa(int(oid)) + ", " + itoa(int(typmod)) + ")", oid
}

// zonedCast casts between timestamptz and the wall-time types (timestamp,
// date) or text in the session's TimeZone; it returns "" when the cast
// is not one of those or the zone is UTC.
func (t *tr) zonedCast(e string, from, to uint32) string {
	if from != OidTimestamptz && to != OidTimestamptz || from == to {
		return ""
	}
	text := func(o uint32) bool { return o == OidText || o == OidVarchar || o == OidUnknown || o == OidBpchar }
	if text(from) || text(to) {
		zone, loc := t.zone()
		if loc == nil {
			return ""
		}
		if from == OidTimestamptz {
			return "pgw_tstz_out(" + e + ", " + zone + ")"
		}
		return "pgw_tstz_in(" + e + ", " + zone + ")"
	}
	wall := func(o uint32) bool { return o == OidTimestamp || o == OidDate }
	if !wall(from) && !wall(to) {
		return ""
	}
	zone, loc := t.zone()
	if loc == nil {
		return ""
	}
	if from == OidTimestamptz {
		local := "pgw_timezone(" + zone + ", " + e + ", 0)"
		if to == OidDate {
			return "pgw_cast(" + local + ", " + itoa(int(OidTimestamp)) + ", " + itoa(int(OidDate)) + ", -1)"
		}
		return local
	}
	if from == OidDate {
		e = "pgw_cast(" + e + ", " + itoa(int(OidDate)) + ", " + itoa(int(OidTimestamp)) + ", -1)"
	}
	return "pgw_timezone(" + zone + ", " + e + ", 1)"
}

// typeNameOid resolves a parsed type name and its modifier.
func typeNameOid(tn *pg.TypeName) (uint32, int32) {
	name := typeNameString(tn)
	oid := TypeByName(name)
	typmod := int32(-1)
	var mods []int
	for _, m := range tn.Typmods {
		if c := m.GetAConst(); c != nil && c.GetIval() != nil {
			mods = append(mods, int(c.GetIval().Ival))
		}
	}
	switch oid {
	case OidVarchar, OidBpchar:
		if len(mods) > 0 {
			typmod = int32(mods[0] + 4)
		} else if oid == OidBpchar && strings.HasSuffix(name, "bpchar") && len(tn.Typmods) == 0 && !strings.Contains(name, "[]") {
			typmod = 5 // char without a length is char(1)
		}
	case OidNumeric:
		if len(mods) > 0 {
			s := 0
			if len(mods) > 1 {
				s = mods[1]
			}
			typmod = int32(mods[0]<<16|s) + 4
		}
	}
	if len(tn.ArrayBounds) > 0 && oid != 0 && !IsArray(oid) {
		if ti := Types[oid]; ti != nil {
			oid = ti.Array
		}
	}
	return oid, typmod
}

func typeNameString(tn *pg.TypeName) string {
	var parts []string
	for _, n := range tn.Names {
		if s := n.GetString_(); s != nil {
			parts = append(parts, s.Sval)
		}
	}
	if len(parts) == 2 && parts[0] == "pg_catalog" {
		parts = parts[1:]
	}
	return strings.Join(parts, ".")
}

func (t *tr) caseExpr(c *pg.CaseExpr) (string, uint32) {
	var b strings.Builder
	b.WriteString("CASE")
	var argType uint32
	if c.Arg != nil {
		e, o := t.expr(c.Arg)
		argType = o
		b.WriteString(" " + e)
	}
	var res uint32
	for _, w := range c.Args {
		cw := w.GetCaseWhen()
		cond, _ := t.exprTyped(cw.Expr, argType)
		val, o := t.exprTyped(cw.Result, res)
		if res == 0 || res == OidUnknown {
			res = o
		}
		b.WriteString(" WHEN " + cond + " THEN " + val)
	}
	if c.Defresult != nil {
		d, o := t.exprTyped(c.Defresult, res)
		if res == 0 || res == OidUnknown {
			res = o
		}
		b.WriteString(" ELSE " + d)
	}
	b.WriteString(" END")
	if res == OidUnknown {
		res = OidText
	}
	return b.String(), res
}

func sqlValueName(op pg.SQLValueFunctionOp) string {
	switch op {
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_DATE:
		return "current_date"
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_TIME, pg.SQLValueFunctionOp_SVFOP_CURRENT_TIME_N:
		return "current_time"
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP, pg.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP_N:
		return "current_timestamp"
	case pg.SQLValueFunctionOp_SVFOP_LOCALTIME, pg.SQLValueFunctionOp_SVFOP_LOCALTIME_N:
		return "localtime"
	case pg.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP, pg.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP_N:
		return "localtimestamp"
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_ROLE:
		return "current_role"
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_USER:
		return "current_user"
	case pg.SQLValueFunctionOp_SVFOP_USER:
		return "user"
	case pg.SQLValueFunctionOp_SVFOP_SESSION_USER:
		return "session_user"
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_CATALOG:
		return "current_catalog"
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_SCHEMA:
		return "current_schema"
	}
	return "?column?"
}

func (t *tr) sqlValue(f *pg.SQLValueFunction) (string, uint32) {
	switch f.Op {
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_DATE, pg.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP, pg.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP_N:
		// Wall-clock values are the session zone's.
		to := OidDate
		if f.Op != pg.SQLValueFunctionOp_SVFOP_CURRENT_DATE {
			to = OidTimestamp
		}
		if z := t.zonedCast("pgw_now("+itoa(int(OidTimestamptz))+")", OidTimestamptz, to); z != "" {
			return z, to
		}
	}
	switch f.Op {
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_DATE:
		return "pgw_now(" + itoa(int(OidDate)) + ")", OidDate
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_TIME, pg.SQLValueFunctionOp_SVFOP_CURRENT_TIME_N,
		pg.SQLValueFunctionOp_SVFOP_LOCALTIME, pg.SQLValueFunctionOp_SVFOP_LOCALTIME_N:
		return "pgw_now(" + itoa(int(OidTime)) + ")", OidTime
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP, pg.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP_N:
		return "pgw_now(" + itoa(int(OidTimestamptz)) + ")", OidTimestamptz
	case pg.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP, pg.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP_N:
		return "pgw_now(" + itoa(int(OidTimestamp)) + ")", OidTimestamp
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_CATALOG:
		return t.session("database"), OidName
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_SCHEMA:
		return "'public'", OidName
	}
	return t.session("user"), OidName
}

// session inlines a session constant; the process id varies per session,
// so a statement using it is not cached.
func (t *tr) session(key string) string {
	if key == "pid" || key == "txid" {
		t.noCache = true
	}
	if t.cat == nil {
		return "NULL"
	}
	v := t.cat.Session(key)
	if key == "pid" || key == "txid" {
		return v
	}
	return qs(v)
}

func (t *tr) subLink(s *pg.SubLink) (string, uint32) {
	sub := &tr{cat: t.cat, params: t.params, scopes: t.scopes, ctes: t.ctes}
	sql, cols := sub.selectStmt(s.Subselect.GetSelectStmt())
	t.params = sub.params
	switch s.SubLinkType {
	case pg.SubLinkType_EXISTS_SUBLINK:
		return "(EXISTS (" + sql + "))", OidBool
	case pg.SubLinkType_EXPR_SUBLINK:
		var oid uint32
		if len(cols) > 0 {
			oid = cols[0].Oid
		}
		return "(" + sql + ")", oid
	case pg.SubLinkType_ANY_SUBLINK, pg.SubLinkType_ALL_SUBLINK:
		l, _ := t.expr(s.Testexpr)
		op := "="
		if len(s.OperName) > 0 {
			op = s.OperName[len(s.OperName)-1].GetString_().Sval
		}
		if s.SubLinkType == pg.SubLinkType_ANY_SUBLINK && op == "=" {
			return "(" + l + " IN (" + sql + "))", OidBool
		}
		if s.SubLinkType == pg.SubLinkType_ALL_SUBLINK && (op == "<>" || op == "!=") {
			return "(" + l + " NOT IN (" + sql + "))", OidBool
		}
		fail(CodeFeature, "subquery comparison with %s is not supported", op)
	case pg.SubLinkType_ARRAY_SUBLINK:
		elem := OidText
		if len(cols) > 0 && cols[0].Oid != 0 {
			elem = cols[0].Oid
		}
		arr := OidTextArray
		if ti := Types[elem]; ti != nil && ti.Array != 0 {
			arr = ti.Array
		}
		col := "column1"
		if len(cols) > 0 {
			col = cols[0].Name
		}
		return "(SELECT coalesce('{' || group_concat(pgw_array_item(" + qi(col) + ", " + itoa(int(elem)) + "), ',') || '}', '{}') FROM (" + sql + "))", arr
	}
	fail(CodeFeature, "subquery kind %s is not supported", s.SubLinkType)
	return "", 0
}
