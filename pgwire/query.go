package pgwire

import (
	"context"
	"database/sql"
	"sort"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"rewire/pgwire/sqltrans"
)

// prepared is a parsed statement (named, or the unnamed one).
type prepared struct {
	st     *sqltrans.Stmt
	params []uint32 // parameter types, as told to the client
	cols   []resCol // result columns once described; nil for none
	descr  bool     // cols is valid
}

// portal is a bound statement being executed.
type portal struct {
	// describeOnly: the portal exists to describe a statement and must
	// not run it.
	describeOnly bool
	loc          *time.Location // the session's TimeZone when the portal was made
	prep         *prepared
	args         []any
	formats      []int16 // result format codes as sent in Bind

	cols    []resCol
	descr   bool // cols is valid
	rows    *sql.Rows
	mem     [][]any // rows produced in memory (SHOW)
	pending []any   // a row read ahead to learn column types
	started bool
	done    bool
	n       int64
	cancel  context.CancelFunc
}

func (p *portal) close() {
	if p.rows != nil {
		p.rows.Close()
		p.rows = nil
	}
	if p.cancel != nil {
		p.cancel()
		p.cancel = nil
	}
}

// format returns the result format of column i.
func (p *portal) format(i int) int16 {
	switch len(p.formats) {
	case 0:
		return 0
	case 1:
		return p.formats[0]
	}
	if i < len(p.formats) {
		return p.formats[i]
	}
	return 0
}

// simpleQuery runs every statement of a Query message. A message of
// several statements is parsed whole first, so that a syntax error anywhere
// runs nothing; then each statement is translated just before it runs, so
// that it sees the tables and columns the statements before it made.
func (c *conn) simpleQuery(src string) {
	stmts, lifted, pieces, err := c.translateSimple(src)
	if err != nil {
		c.queryFailed(err)
		return
	}
	if pieces == nil {
		if len(stmts) == 1 && stmts[0].Kind == sqltrans.KindEmpty {
			c.be.Send(&pgproto3.EmptyQueryResponse{})
			return
		}
		for _, st := range stmts {
			if !c.runSimple(st, lifted) {
				return
			}
		}
	} else {
		c.multiQuery = true
		defer func() { c.multiQuery = false }()
		for _, pc := range pieces {
			stmts, err := c.translate(pc.Text)
			if err != nil {
				c.queryFailed(sqltrans.Shift(err, pc.Offset))
				return
			}
			for _, st := range stmts {
				if !c.runSimple(st, nil) {
					return
				}
			}
		}
	}
	if err := c.endImplicitTx(true); err != nil {
		c.sendError(err)
	}
}

// runSimple runs one statement of a Query message; on error it reports it,
// ends the implicit transaction and returns false.
func (c *conn) runSimple(st *sqltrans.Stmt, args []any) bool {
	if st.Kind == sqltrans.KindEmpty {
		return true
	}
	p := &portal{prep: &prepared{st: st}, args: args, loc: c.loc}
	_, err := c.runPortal(p, 0, true)
	p.close()
	c.endStatement()
	if err != nil {
		c.sendError(err)
		c.failTx()
		c.endImplicitTx(false)
		return false
	}
	return true
}

// queryFailed reports a statement that could not be translated. In an
// aborted transaction block PostgreSQL refuses every statement but the
// ones ending it before looking at it, and so does rewire.
func (c *conn) queryFailed(err error) {
	if c.txStatus == 'E' {
		err = errInFailedTx
	}
	c.sendError(err)
	c.failTx()
	c.endImplicitTx(false)
}

// runPortal executes or continues a portal, sending DataRows and, at the
// end, CommandComplete. With describe set (simple protocol) it sends the
// RowDescription first. It returns true when stopped by maxRows.
func (c *conn) runPortal(p *portal, maxRows int, describe bool) (suspended bool, err error) {
	st := p.prep.st
	defer func() {
		if err != nil && st.Table != "" {
			err = c.explainForeignKey(err, st)
		}
	}()
	if !p.started {
		p.started = true
		ctx, cancel := c.stmtContext()
		p.cancel = cancel
		if err := c.beforeStatement(ctx, st); err != nil {
			return false, err
		}
		if err := c.runPre(ctx, st, p.args); err != nil {
			p.done = true
			return false, err
		}
		switch {
		case st.Kind == sqltrans.KindCopy:
			p.done = true
			return false, c.copy(ctx, st, describe)
		case st.Kind == sqltrans.KindFetch:
			p.done = true
			return false, c.fetch(st, describe, p.formats)
		case st.Kind == sqltrans.KindDeclare:
			p.done = true
			if err := c.declareCursor(st, p.args); err != nil {
				return false, err
			}
			c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(st.Tag)})
			return false, nil
		case st.Kind == sqltrans.KindShow:
			if err := c.startShow(p); err != nil {
				return false, err
			}
		case st.Kind != sqltrans.KindQuery:
			tag, err := c.control(ctx, st)
			p.done = true
			if err != nil {
				return false, err
			}
			if tag != "" {
				c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
			} else {
				c.be.Send(&pgproto3.EmptyQueryResponse{})
			}
			return false, nil
		case !st.Rows:
			ps, err := c.sqlStmt(ctx, st)
			if err != nil {
				p.done = true
				return false, err
			}
			res, err := ps.ExecContext(ctx, p.args...)
			p.done = true
			if err != nil {
				return false, err
			}
			if st.DDL {
				c.db.schemaVer.Add(1)
			}
			n, _ := res.RowsAffected()
			if st.Tag != "INSERT" && st.Tag != "UPDATE" && st.Tag != "DELETE" {
				n = 0
			}
			c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(commandTag(st, n))})
			return false, nil
		default:
			ps, err := c.sqlStmt(ctx, st)
			if err != nil {
				return false, err
			}
			rows, err := ps.QueryContext(ctx, p.args...)
			if err != nil {
				return false, err
			}
			p.rows = rows
			if !p.descr {
				if err := c.describeRows(p); err != nil {
					return false, err
				}
			}
		}
		if describe {
			for i := range p.cols {
				p.cols[i].format = p.format(i)
			}
			c.be.Send(&pgproto3.RowDescription{Fields: fieldDescs(p.cols)})
		}
	}
	if p.done {
		c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(commandTag(st, p.n))})
		return false, nil
	}

	width := len(p.cols)
	explain := st.Tag == "EXPLAIN"
	if explain {
		width = 4 // id, parent, notused, detail
	}
	vals := make([]any, width)
	ptrs := make([]any, width)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	sent := 0
	for maxRows <= 0 || sent < maxRows {
		var row []any
		switch {
		case p.pending != nil:
			row, p.pending = p.pending, nil
		case p.mem != nil:
			if len(p.mem) == 0 {
				p.mem = nil
				row = nil
			} else {
				row, p.mem = p.mem[0], p.mem[1:]
				if len(p.mem) == 0 {
					p.mem = [][]any{}
				}
			}
		case p.rows != nil && p.rows.Next():
			if err := p.rows.Scan(ptrs...); err != nil {
				return false, err
			}
			row = vals
			if explain {
				row = vals[3:4]
			}
		}
		if row == nil {
			break
		}
		dr, size, err := encodeRow(row, p)
		if err != nil {
			return false, err
		}
		if err := c.send(dr, size); err != nil {
			return false, err
		}
		sent++
		p.n++
	}
	if maxRows > 0 && sent == maxRows {
		c.be.Send(&pgproto3.PortalSuspended{})
		return true, nil
	}
	if p.rows != nil {
		err := p.rows.Err()
		p.rows.Close()
		p.rows = nil
		if err != nil {
			return false, err
		}
	}
	p.done = true
	if st.Seq && p.n == 0 {
		if st.Name == "" {
			return false, sqltrans.Errorf(sqltrans.CodeUndefinedTable, "sequence does not exist")
		}
		return false, sqltrans.Errorf(sqltrans.CodeUndefinedTable, "relation \"%s\" does not exist", st.Name)
	}
	c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(commandTag(st, p.n))})
	return false, nil
}

// describeRows fills the portal's columns from an open result, reading
// one row ahead when a column's type is left to the data.
func (c *conn) describeRows(p *portal) error {
	if p.prep.st.Tag == "EXPLAIN" {
		p.cols = []resCol{{name: "QUERY PLAN", oid: sqltrans.OidText, typmod: -1}}
		p.descr = true
		return nil
	}
	cts, err := p.rows.ColumnTypes()
	if err != nil {
		return err
	}
	names := make([]string, len(cts))
	decl := make([]string, len(cts))
	for i, ct := range cts {
		names[i] = ct.Name()
		decl[i] = ct.DatabaseTypeName()
	}
	p.cols = resolveCols(p.prep.st, names, decl)
	p.descr = true
	unknown := false
	for _, rc := range p.cols {
		if rc.oid == 0 {
			unknown = true
		}
	}
	if !unknown {
		return nil
	}
	if p.rows.Next() {
		vals := make([]any, len(p.cols))
		ptrs := make([]any, len(p.cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := p.rows.Scan(ptrs...); err != nil {
			return err
		}
		p.pending = vals
	} else if err := p.rows.Err(); err != nil {
		return err
	}
	for i := range p.cols {
		if p.cols[i].oid == 0 {
			p.cols[i].oid = sqltrans.OidText
			if p.pending != nil && p.pending[i] != nil {
				p.cols[i].oid = guessOid(p.pending[i])
			}
		}
	}
	return nil
}

func encodeRow(row []any, p *portal) (*pgproto3.DataRow, int, error) {
	vals := make([][]byte, len(row))
	size := 0
	for i, v := range row {
		b, err := encodeValue(v, p.cols[i], p.format(i), p.loc)
		if err != nil {
			return nil, 0, err
		}
		vals[i] = b
		size += len(b) + 4
	}
	return &pgproto3.DataRow{Values: vals}, size, nil
}

// startShow answers SHOW from the session settings.
func (c *conn) startShow(p *portal) error {
	if st := p.prep.st; st.SetConfig {
		p.cols = []resCol{{name: st.Cols[0].Name, oid: sqltrans.OidText, typmod: -1}}
		p.descr = true
		if p.describeOnly {
			return nil
		}
		set := *st
		set.Kind = sqltrans.KindSet
		if err := c.set(&set); err != nil {
			return err
		}
		p.mem = [][]any{{c.setting(st.Name)}}
		return nil
	}
	name := p.prep.st.Name
	if name == "all" {
		p.cols = []resCol{{name: "name", oid: sqltrans.OidText, typmod: -1},
			{name: "setting", oid: sqltrans.OidText, typmod: -1}, {name: "description", oid: sqltrans.OidText, typmod: -1}}
		keys := make([]string, 0, len(defaultSettings))
		for k := range defaultSettings {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		p.mem = [][]any{}
		for _, k := range keys {
			p.mem = append(p.mem, []any{k, c.setting(k), ""})
		}
	} else {
		if name == "transaction isolation level" {
			name = "transaction_isolation"
		}
		v := c.setting(name)
		if _, known := defaultSettings[name]; !known {
			if _, set := c.settings[name]; !set {
				return sqltrans.Errorf(sqltrans.CodeUndefinedObject, "unrecognized configuration parameter \"%s\"", p.prep.st.Name)
			}
		}
		p.cols = []resCol{{name: p.prep.st.Name, oid: sqltrans.OidText, typmod: -1}}
		p.mem = [][]any{{v}}
	}
	p.descr = true
	return nil
}

// maxPrepared bounds the SQLite statements a session keeps prepared.
const maxPrepared = 128

// sqlStmt returns the session's prepared SQLite statement for st. DDL is
// never kept: it runs once.
func (c *conn) sqlStmt(ctx context.Context, st *sqltrans.Stmt) (*sql.Stmt, error) {
	if ps, ok := c.prepCache[st.SQL]; ok {
		return ps, nil
	}
	ps, err := c.sc.PrepareContext(ctx, st.SQL)
	if err != nil {
		return nil, err
	}
	if st.DDL {
		// Closed after use by the caller's statement end; keep it simple:
		// DDL statements are rare, let them be collected with the map.
		c.ddlStmts = append(c.ddlStmts, ps)
		return ps, nil
	}
	if c.prepCache == nil {
		c.prepCache = map[string]*sql.Stmt{}
	}
	if len(c.prepCache) >= maxPrepared {
		for k, old := range c.prepCache {
			old.Close()
			delete(c.prepCache, k)
		}
	}
	c.prepCache[st.SQL] = ps
	return ps, nil
}

// closeStmts closes every prepared SQLite statement of the session.
func (c *conn) closeStmts() {
	for k, ps := range c.prepCache {
		ps.Close()
		delete(c.prepCache, k)
	}
	for _, ps := range c.ddlStmts {
		ps.Close()
	}
	c.ddlStmts = nil
}
