package pgwire

import (
	"github.com/jackc/pgx/v5/pgproto3"

	"rewire/pgwire/sqltrans"
)

// parse handles Parse: one statement, translated and kept by name.
func (c *conn) parse(m *pgproto3.Parse) error {
	if m.Name != "" {
		if _, ok := c.stmts[m.Name]; ok {
			return sqltrans.Errorf(sqltrans.CodeDuplicatePrepared, "prepared statement \"%s\" already exists", m.Name)
		}
	}
	stmts, err := c.translate(m.Query)
	if err != nil {
		return err
	}
	if len(stmts) > 1 {
		return sqltrans.Errorf(sqltrans.CodeSyntax, "cannot insert multiple commands into a prepared statement")
	}
	st := stmts[0]
	params := append([]uint32(nil), st.Params...)
	for i, oid := range m.ParameterOIDs {
		for len(params) <= i {
			params = append(params, 0)
		}
		if oid != 0 {
			params[i] = oid
		}
	}
	for i, oid := range params {
		if oid == 0 || oid == sqltrans.OidUnknown {
			params[i] = sqltrans.OidText
		}
	}
	c.stmts[m.Name] = &prepared{st: st, params: params}
	c.be.Send(&pgproto3.ParseComplete{})
	return nil
}

// bind handles Bind: decode the parameters and create the portal.
func (c *conn) bind(m *pgproto3.Bind) error {
	ps, ok := c.stmts[m.PreparedStatement]
	if !ok {
		return sqltrans.Errorf(sqltrans.CodeUndefinedPrepared, "prepared statement \"%s\" does not exist", m.PreparedStatement)
	}
	if len(m.Parameters) != len(ps.params) {
		return sqltrans.Errorf(sqltrans.CodeProtocolViolation,
			"bind message supplies %d parameters, but prepared statement \"%s\" requires %d",
			len(m.Parameters), m.PreparedStatement, len(ps.params))
	}
	if c.txStatus == 'E' && !allowedWhenFailed(ps.st) {
		return errInFailedTx
	}
	args := make([]any, len(m.Parameters))
	for i, raw := range m.Parameters {
		f := int16(0)
		switch len(m.ParameterFormatCodes) {
		case 0:
		case 1:
			f = m.ParameterFormatCodes[0]
		default:
			if i < len(m.ParameterFormatCodes) {
				f = m.ParameterFormatCodes[i]
			}
		}
		v, err := decodeParam(raw, ps.params[i], f, c.loc)
		if err != nil {
			return err
		}
		args[i] = v
	}
	if old, ok := c.portals[m.DestinationPortal]; ok {
		if m.DestinationPortal != "" {
			return sqltrans.Errorf("42P03", "portal \"%s\" already exists", m.DestinationPortal)
		}
		old.close()
	}
	p := &portal{prep: ps, args: args, formats: append([]int16(nil), m.ResultFormatCodes...), loc: c.loc}
	if ps.descr {
		p.cols = append([]resCol(nil), ps.cols...)
		p.descr = true
	}
	c.portals[m.DestinationPortal] = p
	c.be.Send(&pgproto3.BindComplete{})
	return nil
}

// describeStmt works out a prepared statement's result columns without
// running it.
func (c *conn) describeStmt(ps *prepared) error {
	if ps.descr {
		return nil
	}
	st := ps.st
	switch {
	case st.Kind == sqltrans.KindShow:
		p := &portal{prep: ps, describeOnly: true}
		if err := c.startShow(p); err != nil {
			return err
		}
		ps.cols = p.cols
	case st.Tag == "EXPLAIN":
		ps.cols = []resCol{{name: "QUERY PLAN", oid: sqltrans.OidText, typmod: -1}}
	case st.Kind == sqltrans.KindFetch && !st.Move:
		// The columns are the cursor's, which may be declared anew.
		if cur, ok := c.cursors[st.Name]; ok {
			ps.cols = append([]resCol(nil), cur.p.cols...)
		}
		return nil
	case st.Kind == sqltrans.KindQuery && st.Rows:
		info, err := c.columnInfo(st.SQL)
		if err != nil {
			return err
		}
		names := make([]string, len(info))
		decl := make([]string, len(info))
		for i, ci := range info {
			names[i], decl[i] = ci.Name, ci.DeclType
		}
		ps.cols = resolveCols(st, names, decl)
		for i := range ps.cols {
			if ps.cols[i].oid == 0 {
				ps.cols[i].oid = sqltrans.OidText
			}
		}
	}
	ps.descr = true
	return nil
}

// describe handles Describe of a statement or a portal.
func (c *conn) describe(m *pgproto3.Describe) error {
	var ps *prepared
	var p *portal
	if m.ObjectType == 'S' {
		var ok bool
		if ps, ok = c.stmts[m.Name]; !ok {
			return sqltrans.Errorf(sqltrans.CodeUndefinedPrepared, "prepared statement \"%s\" does not exist", m.Name)
		}
	} else {
		var ok bool
		if p, ok = c.portals[m.Name]; !ok {
			return sqltrans.Errorf(sqltrans.CodeUndefinedCursor, "portal \"%s\" does not exist", m.Name)
		}
		ps = p.prep
	}
	if err := c.describeStmt(ps); err != nil {
		return err
	}
	if m.ObjectType == 'S' {
		c.be.Send(&pgproto3.ParameterDescription{ParameterOIDs: ps.params})
	}
	if ps.cols == nil {
		c.be.Send(&pgproto3.NoData{})
		return nil
	}
	cols := append([]resCol(nil), ps.cols...)
	if p != nil {
		if !p.descr {
			p.cols = append([]resCol(nil), ps.cols...)
			p.descr = true
		}
		cols = p.cols
		for i := range cols {
			cols[i].format = p.format(i)
		}
	}
	c.be.Send(&pgproto3.RowDescription{Fields: fieldDescs(cols)})
	return nil
}

// execute handles Execute, honouring the row limit.
func (c *conn) execute(m *pgproto3.Execute) error {
	p, ok := c.portals[m.Portal]
	if !ok {
		return sqltrans.Errorf(sqltrans.CodeUndefinedCursor, "portal \"%s\" does not exist", m.Portal)
	}
	if p.prep.st.Kind == sqltrans.KindEmpty {
		c.be.Send(&pgproto3.EmptyQueryResponse{})
		return nil
	}
	suspended, err := c.runPortal(p, int(m.MaxRows), false)
	if !suspended {
		c.endStatement()
	}
	return err
}

// closeMsg handles Close of a statement or portal; closing a missing one
// is not an error.
func (c *conn) closeMsg(m *pgproto3.Close) error {
	if m.ObjectType == 'S' {
		delete(c.stmts, m.Name)
	} else if p, ok := c.portals[m.Name]; ok {
		p.close()
		delete(c.portals, m.Name)
	}
	c.be.Send(&pgproto3.CloseComplete{})
	return nil
}
