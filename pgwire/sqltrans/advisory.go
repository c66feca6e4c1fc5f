package sqltrans

import (
	"database/sql/driver"
	"sync"
	"time"

	pg "github.com/pganalyze/pg_query_go/v6"
	"modernc.org/sqlite"
)

// Advisory locks (pg_advisory_lock and friends) live in this process:
// keyed by tenant, database and key, owned by a session's pid. Session
// locks nest and last until unlocked or the session ends; transaction
// locks last until the transaction ends (ReleaseAdvisory). Waiting
// happens in 10 ms steps of a recursive query, so that a cancel or
// statement_timeout stops it.
//
// TODO: shared advisory locks are taken as exclusive ones.

type advKey struct {
	scope string // the database file
	key   int64
}

type advHold struct {
	pid     int64
	session int // nesting count of session-level locks
	xact    int // transaction-level locks
}

var advisory = struct {
	sync.Mutex
	held map[advKey]*advHold
}{held: map[advKey]*advHold{}}

// advTry takes the lock for pid if it is free or pid's already.
func advTry(k advKey, pid int64, xact bool) bool {
	advisory.Lock()
	defer advisory.Unlock()
	h := advisory.held[k]
	if h == nil {
		h = &advHold{pid: pid}
		advisory.held[k] = h
	} else if h.pid != pid {
		return false
	}
	if xact {
		h.xact++
	} else {
		h.session++
	}
	return true
}

// ReleaseAdvisory drops the advisory locks of session pid: its
// transaction-level ones, or all of them when the session ends.
func ReleaseAdvisory(pid int64, xactOnly bool) {
	advisory.Lock()
	defer advisory.Unlock()
	for k, h := range advisory.held {
		if h.pid != pid {
			continue
		}
		h.xact = 0
		if !xactOnly {
			h.session = 0
		}
		if h.session == 0 {
			delete(advisory.held, k)
		}
	}
}

func init() {
	key := func(a []driver.Value) (advKey, int64, bool) {
		return advKey{scope: toString(a[0]), key: asInt(a[1])}, asInt(a[2]), asInt(a[3]) != 0
	}
	sqlite.MustRegisterScalarFunction("pgw_adv_try", 4, func(_ *sqlite.FunctionContext, a []driver.Value) (driver.Value, error) {
		k, pid, xact := key(a)
		return boolInt(advTry(k, pid, xact)), nil
	})
	sqlite.MustRegisterScalarFunction("pgw_adv_step", 4, func(_ *sqlite.FunctionContext, a []driver.Value) (driver.Value, error) {
		k, pid, xact := key(a)
		time.Sleep(10 * time.Millisecond)
		return boolInt(advTry(k, pid, xact)), nil
	})
	sqlite.MustRegisterScalarFunction("pgw_adv_unlock", 3, func(_ *sqlite.FunctionContext, a []driver.Value) (driver.Value, error) {
		k := advKey{scope: toString(a[0]), key: asInt(a[1])}
		pid := asInt(a[2])
		advisory.Lock()
		defer advisory.Unlock()
		h := advisory.held[k]
		if h == nil || h.pid != pid || h.session == 0 {
			return int64(0), nil
		}
		h.session--
		if h.session == 0 && h.xact == 0 {
			delete(advisory.held, k)
		}
		return int64(1), nil
	})
	sqlite.MustRegisterScalarFunction("pgw_adv_unlock_all", 1, func(_ *sqlite.FunctionContext, a []driver.Value) (driver.Value, error) {
		pid := asInt(a[0])
		advisory.Lock()
		defer advisory.Unlock()
		for k, h := range advisory.held {
			if h.pid == pid {
				h.session = 0
				if h.xact == 0 {
					delete(advisory.held, k)
				}
			}
		}
		return "", nil
	})
}

// advisoryCall translates the advisory lock functions; ok is false for
// any other function.
func (t *tr) advisoryCall(name string, f *pg.FuncCall) (string, uint32, bool) {
	var xact, try, unlock, all bool
	switch name {
	case "pg_advisory_lock", "pg_advisory_lock_shared":
	case "pg_advisory_xact_lock", "pg_advisory_xact_lock_shared":
		xact = true
	case "pg_try_advisory_lock", "pg_try_advisory_lock_shared":
		try = true
	case "pg_try_advisory_xact_lock", "pg_try_advisory_xact_lock_shared":
		try, xact = true, true
	case "pg_advisory_unlock", "pg_advisory_unlock_shared":
		unlock = true
	case "pg_advisory_unlock_all":
		all = true
	default:
		return "", 0, false
	}
	pid := t.session("pid") // also keeps the translation out of the shared cache
	if all {
		return "pgw_adv_unlock_all(" + pid + ")", OidText, true
	}
	var k string
	switch len(f.Args) {
	case 1:
		k, _ = t.exprTyped(f.Args[0], OidInt8)
	case 2:
		k1, _ := t.exprTyped(f.Args[0], OidInt4)
		k2, _ := t.exprTyped(f.Args[1], OidInt4)
		k = "((" + k1 + ") * 4294967296 + ((" + k2 + ") & 4294967295))"
	default:
		fail(CodeUndefinedFunction, "function %s needs one or two arguments", name)
	}
	scope := "''"
	if t.cat != nil {
		scope = qs(t.cat.Session("dbkey"))
	}
	x := "0"
	if xact {
		x = "1"
	}
	args := scope + ", " + k + ", " + pid
	switch {
	case unlock:
		return "pgw_adv_unlock(" + args + ")", OidBool, true
	case try:
		return "pgw_adv_try(" + args + ", " + x + ")", OidBool, true
	}
	return "(WITH RECURSIVE \"?rw_adv\"(got) AS (SELECT pgw_adv_try(" + args + ", " + x + ") UNION ALL " +
		"SELECT pgw_adv_step(" + args + ", " + x + ") FROM \"?rw_adv\" WHERE NOT got) SELECT '' FROM \"?rw_adv\" WHERE got)", OidText, true
}
