package sqltrans

import (
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"modernc.org/libc"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Sequence functions inside expressions (column defaults, INSERT …
// VALUES (nextval('s')), SELECT nextval('s') FROM t) run as SQLite
// functions that change the sequence table of the database they are
// called on, in the calling statement's transaction: a nextval that rolls
// back hands the same value out again, where PostgreSQL would skip it.
//
// The driver gives a function no connection, so these reach the calling
// connection through the sqlite3_context the driver holds: they read its
// two fields by reflection (checked once at start-up) and run one nested
// statement with the SQLite C API on the same connection, as C code may
// from inside a function.

// callContext reads the TLS and the sqlite3_context of a function call.
func callContext(fc *sqlite.FunctionContext) (*libc.TLS, uintptr) {
	v := reflect.ValueOf(fc).Elem()
	tls := (*libc.TLS)(v.Field(callTLSField).UnsafePointer())
	return tls, uintptr(v.Field(callCtxField).Uint())
}

var callTLSField, callCtxField = func() (int, int) {
	t := reflect.TypeFor[sqlite.FunctionContext]()
	tf, ok1 := t.FieldByName("tls")
	cf, ok2 := t.FieldByName("ctx")
	if !ok1 || !ok2 || tf.Type != reflect.TypeFor[*libc.TLS]() || cf.Type.Kind() != reflect.Uintptr {
		panic("sqltrans: modernc.org/sqlite FunctionContext changed; sequence functions need its tls and ctx")
	}
	return tf.Index[0], cf.Index[0]
}()

// CallDB returns the sqlite3 connection a function call runs on, which
// identifies the session that made the call.
func CallDB(fc *sqlite.FunctionContext) uintptr {
	tls, ctx := callContext(fc)
	return sqlite3.Xsqlite3_context_db_handle(tls, ctx)
}

// errNoRow reports that a nested statement returned no row.
var errNoRow = errors.New("no row")

// nestedInt64 runs query (no parameters) on the connection of a function
// call and returns the first column of its first row as an integer.
func nestedInt64(fc *sqlite.FunctionContext, query string) (int64, error) {
	var v int64
	err := nested(fc, query, func(tls *libc.TLS, stmt uintptr) {
		v = int64(sqlite3.Xsqlite3_column_int64(tls, stmt, 0))
	})
	return v, err
}

// nestedTextInt runs query as nestedInt64 does and returns its first
// row's first two columns as text and integer.
func nestedTextInt(fc *sqlite.FunctionContext, query string) (string, int64, error) {
	var s string
	var n int64
	err := nested(fc, query, func(tls *libc.TLS, stmt uintptr) {
		s = libc.GoString(sqlite3.Xsqlite3_column_text(tls, stmt, 0))
		n = int64(sqlite3.Xsqlite3_column_int64(tls, stmt, 1))
	})
	return s, n, err
}

// nested runs query (no parameters) on the connection of a function call
// and calls first with its first row; errNoRow when there is none. Every
// row is stepped through so that an UPDATE … RETURNING completes.
func nested(fc *sqlite.FunctionContext, query string, first func(tls *libc.TLS, stmt uintptr)) error {
	tls, ctx := callContext(fc)
	db := sqlite3.Xsqlite3_context_db_handle(tls, ctx)
	zSQL, err := libc.CString(query)
	if err != nil {
		return err
	}
	defer libc.Xfree(tls, zSQL)
	// The statement handle comes back through a word of the call's C
	// stack, read with a copy.
	pp := tls.Alloc(8)
	defer tls.Free(8)
	libc.Xmemset(tls, pp, 0, 8)
	rc := sqlite3.Xsqlite3_prepare_v2(tls, db, zSQL, -1, pp, 0)
	stmt := uintptr(binary.NativeEndian.Uint64(libc.GoBytes(pp, 8)))
	if rc != sqlite3.SQLITE_OK {
		msg := libc.GoString(sqlite3.Xsqlite3_errmsg(tls, db))
		if strings.Contains(msg, "no such table: ?rw_seq") || strings.Contains(msg, "no such table: sqlite_sequence") {
			return errNoRow // no sequence was ever made here
		}
		return errors.New(msg)
	}
	defer sqlite3.Xsqlite3_finalize(tls, stmt)
	found := false
	for {
		switch rc := sqlite3.Xsqlite3_step(tls, stmt); rc {
		case sqlite3.SQLITE_ROW:
			if !found {
				first(tls, stmt)
				found = true
			}
		case sqlite3.SQLITE_DONE:
			if !found {
				return errNoRow
			}
			return nil
		default:
			return errors.New(libc.GoString(sqlite3.Xsqlite3_errmsg(tls, db)))
		}
	}
}

func init() {
	seqFunc := func(name string, n int32, f func(fc *sqlite.FunctionContext, seq string, a []driver.Value) (driver.Value, error)) {
		sqlite.MustRegisterScalarFunction(name, n, func(fc *sqlite.FunctionContext, a []driver.Value) (driver.Value, error) {
			seq, ok := a[0].(string)
			if !ok {
				if a[0] == nil {
					return nil, nil
				}
				return nil, udfError(Errorf(CodeInvalidText, "invalid sequence name"))
			}
			v, err := f(fc, seq, a)
			if errors.Is(err, errNoRow) {
				return nil, udfError(Errorf(CodeUndefinedTable, "relation \"%s\" does not exist", seq))
			}
			if err != nil {
				return nil, err
			}
			return v, nil
		})
	}
	where := func(seq string) string { return ` WHERE name = ` + qs(seq) }
	seqFunc("pgw_nextval", 1, func(fc *sqlite.FunctionContext, seq string, _ []driver.Value) (driver.Value, error) {
		v, err := nestedInt64(fc, `UPDATE "?rw_seq" SET last = CASE WHEN called THEN last + incr ELSE last END, called = 1`+where(seq)+` RETURNING last`)
		if !errors.Is(err, errNoRow) {
			return v, err
		}
		rs, err := findRowidSeq(fc, seq)
		if err != nil {
			return nil, err
		}
		return rs.next(fc)
	})
	seqFunc("pgw_currval", 1, func(fc *sqlite.FunctionContext, seq string, _ []driver.Value) (driver.Value, error) {
		c, v, err := nestedTextInt(fc, `SELECT called, last FROM "?rw_seq"`+where(seq))
		if errors.Is(err, errNoRow) {
			rs, rerr := findRowidSeq(fc, seq)
			if rerr != nil {
				return nil, rerr
			}
			v, err = rs.current(fc)
			c = "1"
			if errors.Is(err, errNoRow) {
				c, err = "0", nil
			}
		}
		if err != nil {
			return nil, err
		}
		if c == "0" {
			return nil, udfError(Errorf(CodeObjectNotInState, "currval of sequence \"%s\" is not yet defined in this session", seq))
		}
		return v, nil
	})
	seqFunc("pgw_setval", 3, func(fc *sqlite.FunctionContext, seq string, a []driver.Value) (driver.Value, error) {
		if a[1] == nil {
			return nil, nil
		}
		f, _ := num(a[1])
		v := int64(f)
		called := a[2] == nil || asInt(a[2]) != 0
		c := "0"
		if called {
			c = "1"
		}
		_, err := nestedInt64(fc, fmt.Sprintf(`UPDATE "?rw_seq" SET last = %d, called = %s%s RETURNING last`, v, c, where(seq)))
		if errors.Is(err, errNoRow) {
			rs, rerr := findRowidSeq(fc, seq)
			if rerr != nil {
				return nil, rerr
			}
			if !called {
				return v, rs.set(fc, v-1)
			}
			return v, rs.set(fc, v)
		}
		return v, err
	})
	// pg_get_serial_sequence(table, column): the sequence a serial column
	// draws from, schema-qualified, or NULL.
	sqlite.MustRegisterScalarFunction("pgw_serial_seq", 2, func(fc *sqlite.FunctionContext, a []driver.Value) (driver.Value, error) {
		table, ok1 := a[0].(string)
		col, ok2 := a[1].(string)
		if !ok1 || !ok2 {
			return nil, nil
		}
		seq := SeqName(table) + "_" + col + "_seq"
		_, err := nestedInt64(fc, `SELECT 1 FROM "?rw_seq"`+where(seq))
		if errors.Is(err, errNoRow) {
			_, err = findRowidSeq(fc, seq)
		}
		if errors.Is(err, errNoRow) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if !strings.Contains(seq, ".") {
			seq = "public." + seq
		}
		return seq, nil
	})
}

// rowidSeq is the sequence PostgreSQL would have made for a serial
// primary key, which rewire stores as the table's rowid instead: the
// catalog lists it as TABLE_COLUMN_seq. Under AUTOINCREMENT, which rewire
// gives serial keys, SQLite keeps the largest key handed out in
// sqlite_sequence and never hands out a key at or below it, so nextval
// and setval there move the keys later inserts get, as in PostgreSQL.
// Tables without AUTOINCREMENT (an integer key that is not serial, or a
// table made before rewire used it) have nothing to move: nextval and
// currval read the largest key and setval has no effect.
type rowidSeq struct {
	table string
	auto  bool
}

// findRowidSeq finds the table whose rowid seq stands for: one whose only
// key column is its INTEGER PRIMARY KEY; errNoRow when there is none.
func findRowidSeq(fc *sqlite.FunctionContext, seq string) (rowidSeq, error) {
	t, auto, err := nestedTextInt(fc, `SELECT s.name, instr(upper(s.sql), 'AUTOINCREMENT') > 0
		FROM sqlite_schema s, pragma_table_info(s.name) p
		WHERE s.type = 'table' AND p.pk = 1 AND p.type = 'INTEGER' AND s.name || '_' || p.name || '_seq' = `+qs(seq)+`
		AND (SELECT count(*) FROM pragma_table_info(s.name) WHERE pk > 0) = 1`)
	return rowidSeq{table: t, auto: auto != 0}, err
}

// top is the SQL of the largest key in the table, 0 when it is empty.
func (r rowidSeq) top() string { return `coalesce((SELECT max(rowid) FROM ` + qi(r.table) + `), 0)` }

func (r rowidSeq) next(fc *sqlite.FunctionContext) (int64, error) {
	if !r.auto {
		return nestedInt64(fc, `SELECT `+r.top()+` + 1`)
	}
	v, err := nestedInt64(fc, `UPDATE sqlite_sequence SET seq = max(seq, `+r.top()+`) + 1 WHERE name = `+qs(r.table)+` RETURNING seq`)
	if errors.Is(err, errNoRow) {
		v, err = nestedInt64(fc, `INSERT INTO sqlite_sequence(name, seq) VALUES (`+qs(r.table)+`, `+r.top()+` + 1) RETURNING seq`)
	}
	return v, err
}

// current is the last key handed out; errNoRow before the first.
func (r rowidSeq) current(fc *sqlite.FunctionContext) (int64, error) {
	q := `SELECT seq FROM sqlite_sequence WHERE seq > 0 AND name = ` + qs(r.table)
	if !r.auto {
		q = `SELECT max(rowid) FROM ` + qi(r.table) + ` HAVING count(*) > 0`
	}
	return nestedInt64(fc, q)
}

func (r rowidSeq) set(fc *sqlite.FunctionContext, last int64) error {
	if !r.auto {
		return nil // TODO: a rowid without AUTOINCREMENT cannot be moved
	}
	_, err := nestedInt64(fc, fmt.Sprintf(`UPDATE sqlite_sequence SET seq = %d WHERE name = %s RETURNING seq`, last, qs(r.table)))
	if errors.Is(err, errNoRow) {
		_, err = nestedInt64(fc, fmt.Sprintf(`INSERT INTO sqlite_sequence(name, seq) VALUES (%s, %d) RETURNING seq`, qs(r.table), last))
	}
	return err
}
