package sqltrans

import (
	"errors"

	pg "github.com/pganalyze/pg_query_go/v6"
	pgparser "github.com/pganalyze/pg_query_go/v6/parser"
)

// Piece is one statement of a query string.
type Piece struct {
	Text   string // the statement, trimmed, without its semicolon
	Offset int    // byte offset of Text in the query string
}

// Split parses src with the PostgreSQL grammar and returns its statements
// without translating them, so that a caller can translate each one after
// the statements before it have run. A syntax error anywhere in src is
// returned before any statement is, as PostgreSQL does.
func Split(src string) ([]Piece, error) {
	tree, err := pg.Parse(src)
	if err != nil {
		return nil, syntaxError(err)
	}
	out := make([]Piece, 0, len(tree.Stmts))
	for _, raw := range tree.Stmts {
		text, off := stmtSpan(src, raw)
		out = append(out, Piece{Text: text, Offset: off})
	}
	return out, nil
}

// syntaxError turns a parser error into a 42601 error with its position.
func syntaxError(perr error) *Error {
	e := &Error{Code: CodeSyntax, Message: perr.Error()}
	var pe *pgparser.Error
	if errors.As(perr, &pe) {
		e.Message = pe.Message
		if pe.Cursorpos > 0 {
			e.Position = pe.Cursorpos
		}
	}
	return e
}

// Shift returns err with its position moved by off bytes, for an error
// raised on a Piece of a longer query string.
func Shift(err error, off int) error {
	var e *Error
	if off == 0 || !errors.As(err, &e) || e.Position == 0 {
		return err
	}
	c := *e
	c.Position += off
	return &c
}
