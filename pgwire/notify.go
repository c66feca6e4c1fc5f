package pgwire

import (
	"database/sql/driver"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5/pgproto3"
	"modernc.org/sqlite"

	"rewire/pgwire/sqltrans"
)

// LISTEN, UNLISTEN and NOTIFY: notifications go to the sessions of the
// same database (so never across tenants) that listen on the channel.
// NOTIFY and pg_notify queue a notification in the session; it is sent
// when the transaction commits, and dropped when it rolls back. A
// listener receives it at once when it is idle, and otherwise just
// before its next ReadyForQuery, as PostgreSQL sends them. LISTEN takes
// effect at once rather than at commit.

// maxNotifyPayload is PostgreSQL's limit on a payload.
const maxNotifyPayload = 8000

// listeners are a database's listening sessions by channel.
type listeners struct {
	mu     sync.Mutex
	byChan map[string]map[*conn]struct{}
}

func (l *listeners) add(c *conn, ch string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byChan == nil {
		l.byChan = map[string]map[*conn]struct{}{}
	}
	if l.byChan[ch] == nil {
		l.byChan[ch] = map[*conn]struct{}{}
	}
	l.byChan[ch][c] = struct{}{}
}

// remove stops c listening on ch, or on every channel when ch is "".
func (l *listeners) remove(c *conn, ch string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for name, set := range l.byChan {
		if ch == "" || name == ch {
			delete(set, c)
			if len(set) == 0 {
				delete(l.byChan, name)
			}
		}
	}
}

// publish sends a notification to every session listening on its
// channel. Deliveries happen outside the lock, so a slow listener does
// not hold up LISTEN elsewhere.
func (l *listeners) publish(n *pgproto3.NotificationResponse) {
	l.mu.Lock()
	var to []*conn
	for c := range l.byChan[n.Channel] {
		to = append(to, c)
	}
	l.mu.Unlock()
	for _, c := range to {
		c.deliver(n)
	}
}

// notifyState is a session's side of notifications.
type notifyState struct {
	pending []*pgproto3.NotificationResponse // sent at commit

	mu     sync.Mutex // guards idle and queue, and writes while idle
	idle   bool       // blocked reading the next message
	queued []*pgproto3.NotificationResponse
}

// deliver hands a notification to this session: written now when it is
// idle, else queued for its next ReadyForQuery.
func (c *conn) deliver(n *pgproto3.NotificationResponse) {
	c.notes.mu.Lock()
	defer c.notes.mu.Unlock()
	if !c.notes.idle {
		c.notes.queued = append(c.notes.queued, n)
		return
	}
	c.be.Send(n)
	c.be.Flush()
}

// sendQueued writes the notifications that arrived while the session was
// busy; the caller holds c.notes.mu or is the session's goroutine while
// not idle.
func (c *conn) sendQueued() {
	for _, n := range c.notes.queued {
		c.be.Send(n)
	}
	c.notes.queued = nil
}

// receive reads the next message, letting notifications be written while
// the session waits for it.
func (c *conn) receive() (pgproto3.FrontendMessage, error) {
	c.notes.mu.Lock()
	if len(c.notes.queued) > 0 {
		c.sendQueued()
		c.be.Flush()
	}
	c.notes.idle = true
	c.notes.mu.Unlock()
	msg, err := c.be.Receive()
	c.notes.mu.Lock()
	c.notes.idle = false
	c.notes.mu.Unlock()
	return msg, err
}

// endNotifies runs when a transaction ends: its notifications go out on
// commit and are dropped on rollback.
func (c *conn) endNotifies(commit bool) {
	pending := c.notes.pending
	c.notes.pending = nil
	if !commit || c.db == nil {
		return
	}
	for _, n := range pending {
		c.db.listen.publish(n)
	}
}

// sessionsByDB maps the SQLite connection of each session to the session,
// for pg_notify, which runs inside SQLite.
var sessionsByDB sync.Map // uintptr → *conn

func init() {
	sqlite.MustRegisterScalarFunction("pgw_bind_session", 1, func(fc *sqlite.FunctionContext, a []driver.Value) (driver.Value, error) {
		if v, ok := bindingSession.Load(a[0]); ok {
			sessionsByDB.Store(sqltrans.CallDB(fc), v)
		}
		return nil, nil
	})
	sqlite.MustRegisterScalarFunction("pgw_notify", 2, func(fc *sqlite.FunctionContext, a []driver.Value) (driver.Value, error) {
		v, ok := sessionsByDB.Load(sqltrans.CallDB(fc))
		if !ok {
			return nil, nil // not a session's connection
		}
		ch, _ := sqltrans.FormatText(a[0], sqltrans.OidText, -1)
		payload, _ := sqltrans.FormatText(a[1], sqltrans.OidText, -1)
		if a[0] == nil || ch == "" {
			return nil, sqlErr(sqltrans.CodeInvalidParameter, "channel name cannot be empty")
		}
		if len(payload) >= maxNotifyPayload {
			return nil, sqlErr(sqltrans.CodeInvalidParameter, "payload string too long")
		}
		c := v.(*conn)
		c.notes.pending = append(c.notes.pending, &pgproto3.NotificationResponse{PID: c.pid, Channel: ch, Payload: payload})
		return "", nil
	})
}

// bindingSession passes a session to pgw_bind_session by a key.
var bindingSession sync.Map // int64 → *conn

// bindSession records which session owns c.sc's SQLite connection.
func (c *conn) bindSession() error {
	key := int64(c.pid)
	bindingSession.Store(key, c)
	defer bindingSession.Delete(key)
	_, err := c.sc.ExecContext(c.srv.ctx, "SELECT pgw_bind_session(?)", key)
	return err
}

// unbindSession forgets the session's SQLite connection.
func (c *conn) unbindSession() {
	sessionsByDB.Range(func(k, v any) bool {
		if v == c {
			sessionsByDB.Delete(k)
		}
		return true
	})
}

func sqlErr(code, msg string) error {
	return fmt.Errorf("pgerr:%s:%s", code, msg)
}
