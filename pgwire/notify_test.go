package pgwire

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestListenNotify delivers notifications between sessions of one
// database with pgx: at commit and not after a rollback, to an idle
// listener, from NOTIFY and pg_notify with parameters; never to another
// tenant's session.
func TestListenNotify(t *testing.T) {
	ts := startServer(t, "acme", "other")
	ctx := context.Background()
	listener := ts.connect(t, "acme", "acme")
	sender := ts.connect(t, "acme", "acme")
	stranger := ts.connect(t, "other", "other")
	mustExec(t, listener, `LISTEN jobs`)
	mustExec(t, stranger, `LISTEN jobs`)

	wait := func(timeout time.Duration) (string, string, error) {
		wctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		n, err := listener.WaitForNotification(wctx)
		if err != nil {
			return "", "", err
		}
		return n.Channel, n.Payload, nil
	}
	mustExec(t, sender, `NOTIFY jobs, 'first'`)
	if ch, p, err := wait(5 * time.Second); err != nil || ch != "jobs" || p != "first" {
		t.Fatalf("first notification: %q %q %v", ch, p, err)
	}
	// Inside a transaction: nothing until COMMIT, nothing after ROLLBACK.
	mustExec(t, sender, `BEGIN`)
	mustExec(t, sender, `SELECT pg_notify('jobs', 'rolled back')`)
	mustExec(t, sender, `ROLLBACK`)
	mustExec(t, sender, `BEGIN`)
	if _, err := sender.Exec(ctx, `SELECT pg_notify($1, $2)`, "jobs", "second"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := wait(200 * time.Millisecond); err == nil {
		t.Fatal("notified before commit")
	}
	mustExec(t, sender, `COMMIT`)
	if ch, p, err := wait(5 * time.Second); err != nil || ch != "jobs" || p != "second" {
		t.Fatalf("notification at commit: %q %q %v", ch, p, err)
	}
	// Other channels and UNLISTEN.
	mustExec(t, sender, `NOTIFY elsewhere`)
	mustExec(t, listener, `UNLISTEN jobs`)
	mustExec(t, sender, `NOTIFY jobs, 'unheard'`)
	if ch, p, err := wait(300 * time.Millisecond); err == nil {
		t.Fatalf("notified after UNLISTEN or on another channel: %q %q", ch, p)
	}
	// The other tenant's session heard nothing.
	sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if n, err := stranger.WaitForNotification(sctx); err == nil {
		t.Fatalf("another tenant got %q", n.Payload)
	}
	if _, err := sender.Exec(ctx, `SELECT pg_notify('jobs', $1)`, strings.Repeat("x", 8000)); sqlState(err) != "22023" {
		t.Fatalf("long payload: %v", err)
	}
}

// TestListenNotifyPsycopg2 waits for a notification with psycopg2's
// documented select/poll loop while another session sends it.
func TestListenNotifyPsycopg2(t *testing.T) {
	python := pythonWithPsycopg2(t)
	ts := startServer(t)
	script := `
import psycopg2, select, sys, threading, time
conn = psycopg2.connect(sys.argv[1])
conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
conn.cursor().execute("LISTEN events")
def send():
    time.sleep(0.2)
    other = psycopg2.connect(sys.argv[1])
    cur = other.cursor()
    cur.execute("NOTIFY events, 'hello from python'")
    other.commit()
threading.Thread(target=send).start()
deadline = time.time() + 10
while time.time() < deadline:
    if select.select([conn], [], [], 1) == ([], [], []):
        continue
    conn.poll()
    if conn.notifies:
        n = conn.notifies.pop(0)
        assert n.channel == "events" and n.payload == "hello from python", n
        print("ok")
        sys.exit(0)
sys.exit("no notification")
`
	out, err := exec.Command(python, "-c", script, ts.url("acme", "acme")).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("psycopg2: %v\n%s", err, out)
	}
}
