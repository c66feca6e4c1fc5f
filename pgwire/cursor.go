package pgwire

import (
	"context"
	"strconv"

	"github.com/jackc/pgx/v5/pgproto3"

	"rewire/pgwire/sqltrans"
)

// DECLARE CURSOR opens a portal that FETCH and MOVE read forward and CLOSE
// (or the end of the transaction, unless WITH HOLD) closes. psycopg2's
// named cursors are built on them.

// maxHeldRows bounds the rows a WITH HOLD cursor keeps in memory once its
// transaction ends.
const maxHeldRows = 1 << 20

// cursor is an open SQL cursor.
type cursor struct {
	p    *portal
	hold bool
}

func (c *conn) declareCursor(st *sqltrans.Stmt, args []any) error {
	if _, dup := c.cursors[st.Name]; dup {
		return sqltrans.Errorf("42P03", "cursor \"%s\" already exists", st.Name)
	}
	if c.txStatus != 'T' && !st.Hold {
		return sqltrans.Errorf(sqltrans.CodeNoActiveTx, "DECLARE CURSOR can only be used in transaction blocks")
	}
	// The cursor outlives the statement: no statement_timeout.
	ctx, cancel := context.WithCancel(c.srv.ctx)
	p := &portal{prep: &prepared{st: st.Cursor}, args: args, started: true, cancel: cancel, loc: c.loc}
	if err := c.openCursorRows(ctx, p); err != nil {
		p.close()
		return err
	}
	if c.cursors == nil {
		c.cursors = map[string]*cursor{}
	}
	cur := &cursor{p: p, hold: st.Hold}
	c.cursors[st.Name] = cur
	if c.txStatus != 'T' {
		return c.materialize(cur)
	}
	return nil
}

// openCursorRows runs a cursor's query and learns its columns.
func (c *conn) openCursorRows(ctx context.Context, p *portal) error {
	st := p.prep.st
	if err := c.beforeStatement(ctx, st); err != nil {
		return err
	}
	ps, err := c.sqlStmt(ctx, st)
	if err != nil {
		return err
	}
	rows, err := ps.QueryContext(ctx, p.args...)
	if err != nil {
		return err
	}
	p.rows = rows
	return c.describeRows(p)
}

// materialize reads the rest of a WITH HOLD cursor into memory, so that it
// survives the end of its transaction.
func (c *conn) materialize(cur *cursor) error {
	p := cur.p
	if p.rows == nil {
		return nil
	}
	mem := [][]any{}
	if p.pending != nil {
		mem = append(mem, p.pending)
		p.pending = nil
	}
	for p.rows.Next() {
		if len(mem) >= maxHeldRows {
			return sqltrans.Errorf(sqltrans.CodeProgramLimit, "a WITH HOLD cursor holds at most %d rows", maxHeldRows)
		}
		row := make([]any, len(p.cols))
		ptrs := make([]any, len(row))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := p.rows.Scan(ptrs...); err != nil {
			return err
		}
		mem = append(mem, row)
	}
	err := p.rows.Err()
	p.rows.Close()
	p.rows = nil
	p.mem = mem
	return err
}

// nextCursorRow returns a cursor's next row, or nil at its end.
func nextCursorRow(p *portal, vals, ptrs []any) ([]any, error) {
	switch {
	case p.pending != nil:
		row := p.pending
		p.pending = nil
		return row, nil
	case p.mem != nil:
		if len(p.mem) == 0 {
			return nil, nil
		}
		row := p.mem[0]
		p.mem = p.mem[1:]
		return row, nil
	case p.rows != nil:
		if p.rows.Next() {
			if err := p.rows.Scan(ptrs...); err != nil {
				return nil, err
			}
			return vals, nil
		}
		err := p.rows.Err()
		p.rows.Close()
		p.rows = nil
		return nil, err
	}
	return nil, nil
}

// fetch runs FETCH or MOVE; with describe set (simple protocol) FETCH
// sends its RowDescription first. formats are the result formats the
// FETCH was bound with.
func (c *conn) fetch(st *sqltrans.Stmt, describe bool, formats []int16) error {
	cur, ok := c.cursors[st.Name]
	if !ok {
		return sqltrans.Errorf(sqltrans.CodeUndefinedCursor, "cursor \"%s\" does not exist", st.Name)
	}
	p := cur.p
	p.formats = formats
	for i := range p.cols {
		p.cols[i].format = p.format(i)
	}
	if describe && !st.Move {
		c.be.Send(&pgproto3.RowDescription{Fields: fieldDescs(p.cols)})
	}
	vals := make([]any, len(p.cols))
	ptrs := make([]any, len(p.cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	for st.Count < 0 || n < st.Count {
		row, err := nextCursorRow(p, vals, ptrs)
		if err != nil {
			return err
		}
		if row == nil {
			break
		}
		n++
		if st.Move {
			continue
		}
		dr, size, err := encodeRow(row, p)
		if err != nil {
			return err
		}
		if err := c.send(dr, size); err != nil {
			return err
		}
	}
	c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(st.Tag + " " + strconv.FormatInt(n, 10))})
	return nil
}

// closeCursor runs CLOSE name, or CLOSE ALL for an empty name.
func (c *conn) closeCursor(name string) error {
	if name == "" {
		c.closeCursors(true)
		return nil
	}
	cur, ok := c.cursors[name]
	if !ok {
		return sqltrans.Errorf(sqltrans.CodeUndefinedCursor, "cursor \"%s\" does not exist", name)
	}
	cur.p.close()
	delete(c.cursors, name)
	return nil
}

// closeCursors closes the cursors of an ending transaction: all of them,
// or only those without HOLD, whose rows the others keep in memory.
func (c *conn) closeCursors(all bool) {
	for name, cur := range c.cursors {
		if cur.hold && !all {
			if err := c.materialize(cur); err == nil {
				continue
			}
		}
		cur.p.close()
		delete(c.cursors, name)
	}
}
