package pgwire

import (
	"strconv"
	"strings"

	"rewire/pgwire/sqltrans"
)

// liftKeywords are the clause keywords the literal lifter tracks; integer
// literals are lifted only in the clauses marked true, where they are
// compared or assigned values, never positions (ORDER BY 1) or output
// columns (SELECT 1).
var liftKeywords = map[string]bool{
	"select": false, "from": false, "where": true, "set": true, "values": true, "limit": true,
	"offset": true, "by": false, "having": true, "returning": false, "on": true, "into": false,
	"using": false, "with": false, "as": false, "union": false, "intersect": false, "except": false,
	"conflict": false, "do": false, "join": false, "window": false, "over": false, "partition": false,
	"case": false, "distinct": false,
}

// liftLiterals rewrites the integer literals of a one-statement simple
// query into parameters, so that statements differing only in their
// constants (pgbench's) share one cached translation. It returns the
// rewritten text and the literals, or ok false when the query is not a
// plain SELECT/INSERT/UPDATE/DELETE it can handle safely.
func liftLiterals(src string) (string, []string, bool) {
	s := strings.TrimSpace(src)
	s = strings.TrimSuffix(s, ";")
	if len(s) < 10 || len(s) > 4096 || strings.ContainsAny(s, "$;\\") || strings.Contains(s, "--") || strings.Contains(s, "/*") {
		return "", nil, false
	}
	first := strings.ToLower(s[:6])
	if first != "select" && first != "insert" && first != "update" && first != "delete" {
		return "", nil, false
	}
	var b strings.Builder
	var lits []string
	lift := false
	for i := 0; i < len(s); {
		ch := s[i]
		switch {
		case ch == '\'' || ch == '"':
			j := i + 1
			for j < len(s) {
				if s[j] == ch {
					if j+1 < len(s) && s[j+1] == ch {
						j += 2
						continue
					}
					break
				}
				j++
			}
			if j >= len(s) {
				return "", nil, false
			}
			if ch == '\'' && i > 0 && (s[i-1] == 'e' || s[i-1] == 'E' || s[i-1] == 'b' || s[i-1] == 'B' || s[i-1] == 'x' || s[i-1] == 'X' || s[i-1] == 'u' || s[i-1] == 'U' || s[i-1] == '&') {
				return "", nil, false // escape, bit and Unicode strings
			}
			b.WriteString(s[i : j+1])
			i = j + 1
		case isIdentStart(ch):
			j := i
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			word := strings.ToLower(s[i:j])
			if v, ok := liftKeywords[word]; ok {
				lift = v
				// A VALUES list outside INSERT is a query whose column
				// types come from its literals: keep them.
				if word == "values" && first != "insert" {
					lift = false
				}
			}
			b.WriteString(s[i:j])
			i = j
		case ch >= '0' && ch <= '9':
			j := i
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j < len(s) && (s[j] == '.' || isIdentChar(s[j])) {
				// A decimal, exponent or odd token: keep it as written.
				for j < len(s) && (s[j] == '.' || isIdentChar(s[j]) || (s[j] == '-' || s[j] == '+') && (s[j-1] == 'e' || s[j-1] == 'E')) {
					j++
				}
				b.WriteString(s[i:j])
				i = j
				continue
			}
			prev := strings.TrimRight(s[:i], " \t\n")
			castArg := strings.HasSuffix(prev, "::")
			if lift && !castArg && j-i <= 18 {
				lits = append(lits, s[i:j])
				b.WriteString("$" + strconv.Itoa(len(lits)))
			} else {
				b.WriteString(s[i:j])
			}
			i = j
		default:
			b.WriteByte(ch)
			i++
		}
	}
	if len(lits) == 0 {
		return "", nil, false
	}
	return b.String(), lits, true
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func isIdentChar(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9'
}

// translateSimple translates a Query message. A message of one statement
// is translated whole, through the lifted form when possible: args are
// then the lifted literals, converted to the types the translation
// inferred for them. For a message of several statements it returns their
// pieces instead, to be translated one at a time as they run.
func (c *conn) translateSimple(src string) (stmts []*sqltrans.Stmt, args []any, pieces []sqltrans.Piece, err error) {
	if stmts, args, ok := c.translateLifted(src); ok {
		return stmts, args, nil, nil
	}
	// Only single statements are cached under the whole message.
	if st, ok := c.cacheGet(src); ok {
		return st, nil, nil, nil
	}
	pieces, err = sqltrans.Split(src)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(pieces) > 1 {
		return nil, nil, pieces, nil
	}
	stmts, err = c.translate(src)
	return stmts, nil, nil, err
}

// translateLifted translates a one-statement query with its integer
// literals lifted into parameters; ok is false when that does not apply.
func (c *conn) translateLifted(src string) ([]*sqltrans.Stmt, []any, bool) {
	norm, lits, ok := liftLiterals(src)
	if !ok {
		return nil, nil, false
	}
	stmts, err := c.translate(norm)
	if err != nil || len(stmts) != 1 || stmts[0].Kind != sqltrans.KindQuery || len(stmts[0].Params) > len(lits) {
		return nil, nil, false
	}
	st := stmts[0]
	args := make([]any, len(lits))
	for i, l := range lits {
		oid := uint32(0)
		if i < len(st.Params) {
			oid = st.Params[i]
		}
		switch oid {
		case 0, sqltrans.OidUnknown, sqltrans.OidInt2, sqltrans.OidInt4, sqltrans.OidInt8, sqltrans.OidNumeric, sqltrans.OidOid:
			n, err := strconv.ParseInt(l, 10, 64)
			if err != nil {
				return nil, nil, false
			}
			args[i] = n
		default:
			// A literal compared with a non-integer column: let the
			// full translation apply PostgreSQL's rules.
			return nil, nil, false
		}
	}
	return stmts, args, true
}
