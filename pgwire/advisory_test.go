package pgwire

import (
	"context"
	"testing"
	"time"
)

// TestAdvisoryLocks checks session and transaction advisory locks between
// two sessions: try, nesting, unlock, release at transaction and session
// end, and a blocking lock that waits for the holder and that a
// statement_timeout stops.
func TestAdvisoryLocks(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	a := ts.connect(t, "acme", "acme")
	b := ts.connect(t, "acme", "acme")
	tryLock := func(name string, c func() (bool, error)) bool {
		t.Helper()
		ok, err := c()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return ok
	}
	bTry := func(q string) bool {
		var ok bool
		return tryLock(q, func() (bool, error) { err := b.QueryRow(ctx, q).Scan(&ok); return ok, err })
	}
	aQ := func(q string) bool {
		var ok bool
		return tryLock(q, func() (bool, error) { err := a.QueryRow(ctx, q).Scan(&ok); return ok, err })
	}

	mustExec(t, a, `SELECT pg_advisory_lock(42)`)
	if !aQ(`SELECT pg_try_advisory_lock(42)`) { // nests
		t.Fatal("holder cannot take its lock again")
	}
	if bTry(`SELECT pg_try_advisory_lock(42)`) {
		t.Fatal("second session took a held lock")
	}
	if !bTry(`SELECT pg_try_advisory_lock(1, 2)`) || bTry(`SELECT pg_advisory_unlock(42)`) {
		t.Fatal("other keys, or unlocking a lock not held")
	}
	if !aQ(`SELECT pg_advisory_unlock(42)`) || bTry(`SELECT pg_try_advisory_lock(42)`) {
		t.Fatal("one unlock of two released the lock")
	}

	// A blocking lock waits for the holder.
	done := make(chan error, 1)
	go func() {
		_, err := b.Exec(ctx, `SELECT pg_advisory_lock(42)`)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("lock taken while held: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	if !aQ(`SELECT pg_advisory_unlock(42)`) {
		t.Fatal("unlock failed")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if aQ(`SELECT pg_try_advisory_lock(42)`) {
		t.Fatal("lock not passed to the waiter")
	}
	mustExec(t, a, `SET statement_timeout = '100ms'`)
	if _, err := a.Exec(ctx, `SELECT pg_advisory_lock(42)`); sqlState(err) != "57014" {
		t.Fatalf("waiting past statement_timeout: %v", err)
	}
	mustExec(t, a, `SET statement_timeout = 0`)

	// Transaction locks end with the transaction.
	mustExec(t, a, `BEGIN`)
	mustExec(t, a, `SELECT pg_advisory_xact_lock(7)`)
	if bTry(`SELECT pg_try_advisory_lock(7)`) {
		t.Fatal("transaction lock not held")
	}
	mustExec(t, a, `COMMIT`)
	if !bTry(`SELECT pg_try_advisory_lock(7)`) {
		t.Fatal("transaction lock outlived its transaction")
	}

	// Session locks end with the session (the server notices the close
	// a moment after the client).
	b.Close(ctx)
	for i := 0; ; i++ {
		if aQ(`SELECT pg_try_advisory_lock(42)`) && aQ(`SELECT pg_try_advisory_lock(7)`) {
			break
		}
		if i == 500 {
			t.Fatal("locks outlived their session")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
