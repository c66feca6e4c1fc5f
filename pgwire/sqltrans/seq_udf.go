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
// call and returns the first column of its first row. Every row is
// stepped through so that an UPDATE … RETURNING completes.
func nestedInt64(fc *sqlite.FunctionContext, query string) (int64, error) {
	tls, ctx := callContext(fc)
	db := sqlite3.Xsqlite3_context_db_handle(tls, ctx)
	zSQL, err := libc.CString(query)
	if err != nil {
		return 0, err
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
		if strings.Contains(msg, "no such table: ?rw_seq") {
			return 0, errNoRow // no sequence was ever made here
		}
		return 0, errors.New(msg)
	}
	defer sqlite3.Xsqlite3_finalize(tls, stmt)
	var v int64
	found := false
	for {
		switch rc := sqlite3.Xsqlite3_step(tls, stmt); rc {
		case sqlite3.SQLITE_ROW:
			if !found {
				v, found = int64(sqlite3.Xsqlite3_column_int64(tls, stmt, 0)), true
			}
		case sqlite3.SQLITE_DONE:
			if !found {
				return 0, errNoRow
			}
			return v, nil
		default:
			return 0, errors.New(libc.GoString(sqlite3.Xsqlite3_errmsg(tls, db)))
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
	where := func(seq string) string { return ` WHERE name = '` + strings.ReplaceAll(seq, "'", "''") + `'` }
	seqFunc("pgw_nextval", 1, func(fc *sqlite.FunctionContext, seq string, _ []driver.Value) (driver.Value, error) {
		return nestedInt64(fc, `UPDATE "?rw_seq" SET last = CASE WHEN called THEN last + incr ELSE last END, called = 1`+where(seq)+` RETURNING last`)
	})
	seqFunc("pgw_currval", 1, func(fc *sqlite.FunctionContext, seq string, _ []driver.Value) (driver.Value, error) {
		v, err := nestedInt64(fc, `SELECT CASE WHEN called THEN last END FROM "?rw_seq"`+where(seq))
		if err == nil && v == 0 {
			// A NULL reads as 0: tell an uncalled sequence from a 0.
			if c, cerr := nestedInt64(fc, `SELECT called FROM "?rw_seq"`+where(seq)); cerr == nil && c == 0 {
				return nil, udfError(Errorf(CodeObjectNotInState, "currval of sequence \"%s\" is not yet defined in this session", seq))
			}
		}
		return v, err
	})
	seqFunc("pgw_setval", 3, func(fc *sqlite.FunctionContext, seq string, a []driver.Value) (driver.Value, error) {
		if a[1] == nil {
			return nil, nil
		}
		v, _ := num(a[1])
		called := a[2] == nil || asInt(a[2]) != 0
		c := "0"
		if called {
			c = "1"
		}
		_, err := nestedInt64(fc, fmt.Sprintf(`UPDATE "?rw_seq" SET last = %d, called = %s%s RETURNING last`, int64(v), c, where(seq)))
		return int64(v), err
	})
}
