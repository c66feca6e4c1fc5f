package pgwire

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgproto3"

	"rewire/pgwire/sqltrans"
)

// copy runs COPY FROM STDIN or COPY TO STDOUT.
func (c *conn) copy(ctx context.Context, st *sqltrans.Stmt, _ bool) error {
	if st.Copy.From {
		return c.copyIn(ctx, st.Copy)
	}
	return c.copyOut(ctx, st.Copy)
}

func (c *conn) copyOut(ctx context.Context, cp *sqltrans.Copy) error {
	rows, err := c.sc.QueryContext(ctx, cp.Query)
	if err != nil {
		return err
	}
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		return err
	}
	names := make([]string, len(cts))
	decl := make([]string, len(cts))
	for i, ct := range cts {
		names[i], decl[i] = ct.Name(), ct.DatabaseTypeName()
	}
	cols := resolveCols(&sqltrans.Stmt{Cols: cp.Columns}, names, decl)
	formats := make([]uint16, len(cols))
	c.be.Send(&pgproto3.CopyOutResponse{OverallFormat: 0, ColumnFormatCodes: formats})
	var buf bytes.Buffer
	if cp.Header {
		for i, col := range cols {
			if i > 0 {
				buf.WriteString(cp.Delimiter)
			}
			buf.WriteString(copyField(col.name, cp))
		}
		buf.WriteByte('\n')
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		for i, v := range vals {
			if i > 0 {
				buf.WriteString(cp.Delimiter)
			}
			s, ok := sqltrans.FormatTextIn(v, cols[i].oid, cols[i].typmod, c.loc)
			if !ok {
				buf.WriteString(cp.Null)
				continue
			}
			if i < len(cp.ForceQuote) && cp.ForceQuote[i] {
				buf.WriteString(csvQuote(s, cp))
				continue
			}
			buf.WriteString(copyField(s, cp))
		}
		buf.WriteByte('\n')
		n++
		if buf.Len() > 64<<10 {
			if err := c.send(&pgproto3.CopyData{Data: bytes.Clone(buf.Bytes())}, buf.Len()); err != nil {
				return err
			}
			buf.Reset()
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if buf.Len() > 0 {
		c.be.Send(&pgproto3.CopyData{Data: buf.Bytes()})
	}
	c.be.Send(&pgproto3.CopyDone{})
	c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte("COPY " + strconv.FormatInt(n, 10))})
	return nil
}

// copyField escapes one value for the text or CSV format.
func copyField(s string, cp *sqltrans.Copy) string {
	if cp.CSV {
		// Quoted only where needed, as PostgreSQL does: a value that reads
		// as the null string, the end marker, or one holding the
		// delimiter, the quote or a line break.
		if s == cp.Null || s == `\.` || strings.ContainsAny(s, cp.Delimiter+cp.Quote+"\r\n") {
			return csvQuote(s, cp)
		}
		return s
	}
	if !strings.ContainsAny(s, "\\\n\r\t"+cp.Delimiter) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; ch {
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if string(ch) == cp.Delimiter {
				b.WriteByte('\\')
			}
			b.WriteByte(ch)
		}
	}
	return b.String()
}

// copyBatch is how many text or CSV rows COPY FROM inserts per statement.
const copyBatch = 64

// copyLine is the error context of record raw, after the n-th row of COPY
// FROM, counting lines as PostgreSQL does for one-line records.
func copyLine(cp *sqltrans.Copy, n int64, raw []byte) string {
	line := n + 1
	if cp.Header {
		line++
	}
	if len(raw) > 100 || !utf8.Valid(raw) {
		return fmt.Sprintf("COPY %s, line %d", cp.Table, line)
	}
	return fmt.Sprintf("COPY %s, line %d: \"%s\"", cp.Table, line, raw)
}

// csvQuote quotes one CSV value.
func csvQuote(s string, cp *sqltrans.Copy) string {
	s = strings.ReplaceAll(s, cp.Escape, cp.Escape+cp.Escape)
	if cp.Escape != cp.Quote {
		s = strings.ReplaceAll(s, cp.Quote, cp.Escape+cp.Quote)
	}
	return cp.Quote + s + cp.Quote
}

// errCopyFail reports a client's CopyFail.
var errCopyFail = errors.New("copy failed")

func (c *conn) copyIn(ctx context.Context, cp *sqltrans.Copy) error {
	formats := make([]uint16, len(cp.Columns))
	overall := byte(0)
	if cp.Binary {
		overall = 1
		for i := range formats {
			formats[i] = 1
		}
	}
	c.be.Send(&pgproto3.CopyInResponse{OverallFormat: overall, ColumnFormatCodes: formats})
	if err := c.be.Flush(); err != nil {
		return err
	}

	// The rows go in one transaction: the session's, or our own.
	own := !c.sqliteTx
	if err := c.acquireWriter(ctx); err != nil {
		c.drainCopy()
		return err
	}
	if own {
		if _, err := c.sc.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			c.releaseWriter()
			c.drainCopy()
			return err
		}
	}
	err := c.copyRows(ctx, cp)
	if own {
		if err != nil {
			c.sc.ExecContext(context.Background(), "ROLLBACK")
		} else if _, cerr := c.sc.ExecContext(ctx, "COMMIT"); cerr != nil {
			c.sc.ExecContext(context.Background(), "ROLLBACK")
			err = cerr
		} else {
			err = c.syncCommit()
		}
		c.releaseWriter()
	}
	return err
}

// drainCopy reads the client's COPY data until its end after a failure.
func (c *conn) drainCopy() {
	for {
		msg, err := c.be.Receive()
		if err != nil {
			return
		}
		switch msg.(type) {
		case *pgproto3.CopyDone, *pgproto3.CopyFail:
			return
		}
	}
}

func (c *conn) copyRows(ctx context.Context, cp *sqltrans.Copy) error {
	var names, marks []string
	for i, col := range cp.Columns {
		names = append(names, quoteIdent(col.Name))
		marks = append(marks, "?"+strconv.Itoa(i+1))
	}
	ins, err := c.sc.PrepareContext(ctx, "INSERT INTO "+quoteIdent(cp.Table)+" ("+strings.Join(names, ", ")+") VALUES ("+strings.Join(marks, ", ")+")")
	if err != nil {
		c.drainCopy()
		return err
	}
	defer ins.Close()

	// Text and CSV rows are inserted copyBatch at a time through one
	// multi-row INSERT; the rest one by one at the end.
	ncols := len(cp.Columns)
	batchRows := max(1, min(copyBatch, 30000/max(ncols, 1)))
	var insBatch *sql.Stmt
	if batchRows > 1 {
		groups := make([]string, batchRows)
		for r := range groups {
			m := make([]string, ncols)
			for i := range m {
				m[i] = "?"
			}
			groups[r] = "(" + strings.Join(m, ", ") + ")"
		}
		insBatch, err = c.sc.PrepareContext(ctx, "INSERT INTO "+quoteIdent(cp.Table)+" ("+strings.Join(names, ", ")+") VALUES "+strings.Join(groups, ", "))
		if err != nil {
			c.drainCopy()
			return err
		}
		defer insBatch.Close()
	}
	var n, seen int64 // rows inserted, rows read
	batch := make([]any, 0, batchRows*ncols)
	flush := func(all bool) error {
		if insBatch != nil && len(batch) == batchRows*ncols {
			if _, err := insBatch.ExecContext(ctx, batch...); err != nil {
				return err
			}
			n += int64(batchRows)
			batch = batch[:0]
		}
		if !all {
			return nil
		}
		for len(batch) > 0 {
			if _, err := ins.ExecContext(ctx, batch[:ncols]...); err != nil {
				return err
			}
			n++
			batch = batch[ncols:]
		}
		batch = batch[:0]
		return nil
	}

	var buf []byte
	headerSkipped := !cp.Header
	args := make([]any, len(cp.Columns))
	binHeader := cp.Binary
	process := func(final bool) error {
		if cp.Binary {
			return c.copyBinaryRows(ctx, ins, cp, &buf, &binHeader, &n, args)
		}
		for {
			rec, rest, ok, err := nextRecord(buf, cp, final)
			if err != nil {
				return err
			}
			if !ok {
				return nil
			}
			raw := bytes.TrimRight(buf[:len(buf)-len(rest)], "\r\n")
			buf = rest
			if !headerSkipped {
				headerSkipped = true
				continue
			}
			if len(rec) == 0 || cp.CSV && len(rec) == 1 && rec[0] != nil && *rec[0] == `\.` {
				continue
			}
			if len(rec) > len(cp.Columns) {
				return &sqltrans.Error{Code: "22P04", Message: "extra data after last expected column",
					Where: copyLine(cp, seen, raw)}
			}
			if len(rec) < len(cp.Columns) {
				return &sqltrans.Error{Code: "22P04", Message: fmt.Sprintf("missing data for column \"%s\"", cp.Columns[len(rec)].Name),
					Where: copyLine(cp, seen, raw)}
			}
			for i, f := range rec {
				if f == nil {
					args[i] = nil
					continue
				}
				col := cp.Columns[i]
				if col.Oid == sqltrans.OidText || col.Oid == 0 {
					args[i] = *f
					continue
				}
				v, err := sqltrans.CoerceIn(*f, col.Oid, col.Typmod, c.loc)
				if err != nil {
					var pe *sqltrans.Error
					if errors.As(err, &pe) {
						line := seen + 1
						if cp.Header {
							line++
						}
						pe.Where = fmt.Sprintf("COPY %s, line %d, column %s: \"%s\"", cp.Table, line, col.Name, *f)
					}
					return err
				}
				args[i] = v
			}
			seen++
			batch = append(batch, args...)
			if err := flush(false); err != nil {
				return err
			}
		}
	}
	for {
		msg, err := c.be.Receive()
		if err != nil {
			return err
		}
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			buf = append(buf, m.Data...)
			if err := process(false); err != nil {
				c.drainCopy()
				return err
			}
		case *pgproto3.CopyDone:
			if err := process(true); err != nil {
				return err
			}
			if err := flush(true); err != nil {
				return err
			}
			c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte("COPY " + strconv.FormatInt(n, 10))})
			return nil
		case *pgproto3.CopyFail:
			return &sqltrans.Error{Code: sqltrans.CodeQueryCanceled, Message: "COPY from stdin failed: " + m.Message}
		case *pgproto3.Flush, *pgproto3.Sync:
		default:
			return sqltrans.Errorf(sqltrans.CodeProtocolViolation, "unexpected message type %T during COPY from stdin", msg)
		}
	}
}

// nextRecord splits one record off buf. ok is false when buf holds no
// complete record yet (at the end, a last line without newline counts).
func nextRecord(buf []byte, cp *sqltrans.Copy, final bool) (rec []*string, rest []byte, ok bool, err error) {
	if len(buf) == 0 {
		return nil, buf, false, nil
	}
	if cp.CSV {
		return nextCSV(buf, cp, final)
	}
	i := bytes.IndexByte(buf, '\n')
	line := buf
	if i < 0 {
		if !final {
			return nil, buf, false, nil
		}
		rest = nil
	} else {
		line, rest = buf[:i], buf[i+1:]
	}
	line = bytes.TrimSuffix(line, []byte{'\r'})
	if string(line) == `\.` {
		return []*string{}, rest, true, nil // end-of-data marker
	}
	delim := cp.Delimiter[0]
	for _, raw := range splitText(line, delim) {
		if string(raw) == cp.Null {
			rec = append(rec, nil)
			continue
		}
		s := unescapeText(raw)
		rec = append(rec, &s)
	}
	return rec, rest, true, nil
}

// splitText splits on unescaped delimiters.
func splitText(line []byte, delim byte) [][]byte {
	var out [][]byte
	start := 0
	for i := 0; i < len(line); i++ {
		if line[i] == '\\' {
			i++
			continue
		}
		if line[i] == delim {
			out = append(out, line[start:i])
			start = i + 1
		}
	}
	return append(out, line[start:])
}

func unescapeText(b []byte) string {
	if bytes.IndexByte(b, '\\') < 0 {
		return string(b)
	}
	var out []byte
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			out = append(out, b[i])
			continue
		}
		i++
		switch ch := b[i]; ch {
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'v':
			out = append(out, '\v')
		case 'x':
			j := i + 1
			for j < len(b) && j < i+3 && isHex(b[j]) {
				j++
			}
			if j > i+1 {
				n, _ := strconv.ParseUint(string(b[i+1:j]), 16, 8)
				out = append(out, byte(n))
				i = j - 1
			} else {
				out = append(out, 'x')
			}
		default:
			if ch >= '0' && ch <= '7' {
				j := i
				for j < len(b) && j < i+3 && b[j] >= '0' && b[j] <= '7' {
					j++
				}
				n, _ := strconv.ParseUint(string(b[i:j]), 8, 8)
				out = append(out, byte(n))
				i = j - 1
			} else {
				out = append(out, ch)
			}
		}
	}
	return string(out)
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// nextCSV parses one CSV record; quoted fields may span lines. An
// unquoted field equal to the NULL string is NULL.
func nextCSV(buf []byte, cp *sqltrans.Copy, final bool) ([]*string, []byte, bool, error) {
	delim, quote, esc := cp.Delimiter[0], cp.Quote[0], cp.Escape[0]
	var rec []*string
	var field []byte
	quoted, inQuotes := false, false
	i := 0
	for ; i < len(buf); i++ {
		ch := buf[i]
		if inQuotes {
			switch {
			case ch == esc && i+1 < len(buf) && buf[i+1] == quote:
				field = append(field, quote)
				i++
			case ch == esc && esc != quote && i+1 < len(buf) && buf[i+1] == esc:
				field = append(field, esc)
				i++
			case ch == quote:
				if i+1 >= len(buf) && !final && esc == quote {
					return nil, buf, false, nil // may be a doubled quote
				}
				inQuotes = false
			default:
				field = append(field, ch)
			}
			continue
		}
		switch ch {
		case quote:
			inQuotes, quoted = true, true
		case delim:
			rec = appendCSV(rec, field, quoted, cp)
			field, quoted = nil, false
		case '\n':
			rec = appendCSV(rec, bytes.TrimSuffix(field, []byte{'\r'}), quoted, cp)
			return rec, buf[i+1:], true, nil
		default:
			field = append(field, ch)
		}
	}
	if !final {
		return nil, buf, false, nil
	}
	if inQuotes {
		return nil, nil, false, sqltrans.Errorf("22P04", "unterminated CSV quoted field")
	}
	rec = appendCSV(rec, field, quoted, cp)
	return rec, nil, true, nil
}

func appendCSV(rec []*string, field []byte, quoted bool, cp *sqltrans.Copy) []*string {
	s := string(field)
	i := len(rec)
	if s == cp.Null {
		switch {
		case !quoted && !(i < len(cp.ForceNotNull) && cp.ForceNotNull[i]):
			return append(rec, nil)
		case quoted && i < len(cp.ForceNull) && cp.ForceNull[i]:
			return append(rec, nil)
		}
	}
	return append(rec, &s)
}

// binarySignature starts a binary COPY stream.
const binarySignature = "PGCOPY\n\xff\r\n\x00"

// copyBinaryRows inserts every complete tuple of a binary COPY stream held
// in buf, leaving a partial tuple for the next CopyData.
func (c *conn) copyBinaryRows(ctx context.Context, ins *sql.Stmt, cp *sqltrans.Copy, buf *[]byte, header *bool, n *int64, args []any) error {
	b := *buf
	if *header {
		if len(b) < 19 {
			return nil
		}
		if string(b[:11]) != binarySignature {
			return sqltrans.Errorf("22P04", "COPY file signature not recognized")
		}
		ext := int(binary.BigEndian.Uint32(b[15:19]))
		if ext < 0 || ext > 1<<20 {
			return sqltrans.Errorf("22P04", "invalid COPY file header")
		}
		if len(b) < 19+ext {
			return nil
		}
		b = b[19+ext:]
		*header = false
	}
	for {
		if len(b) < 2 {
			break
		}
		nf := int(int16(binary.BigEndian.Uint16(b)))
		if nf == -1 {
			b = b[2:]
			continue
		}
		if nf != len(cp.Columns) {
			return &sqltrans.Error{Code: "22P04", Message: fmt.Sprintf("row field count is %d, expected %d", nf, len(cp.Columns))}
		}
		p := b[2:]
		complete := true
		for i := 0; i < nf; i++ {
			if len(p) < 4 {
				complete = false
				break
			}
			l := int(int32(binary.BigEndian.Uint32(p)))
			p = p[4:]
			if l < 0 {
				args[i] = nil
				continue
			}
			if len(p) < l {
				complete = false
				break
			}
			v, err := decodeParam(p[:l], cp.Columns[i].Oid, 1, nil)
			if err != nil {
				return err
			}
			args[i] = v
			p = p[l:]
		}
		if !complete {
			break
		}
		if _, err := ins.ExecContext(ctx, args...); err != nil {
			return err
		}
		*n++
		b = p
	}
	*buf = append((*buf)[:0], b...)
	return nil
}
