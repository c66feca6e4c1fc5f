package pgwire

import (
	"bufio"
	"context"
	"crypto/tls"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"rewire/pgwire/sqltrans"
	"rewire/storage"
	"rewire/storage/scram"
)

// maxMessage bounds one frontend message (Query text, Bind parameters,
// CopyData chunk).
const maxMessage = 64 << 20

// onPanic, when set by tests, observes panics recovered per connection.
var onPanic func(any)

// conn is one client connection. Everything but wake and cancelStatement
// runs on the connection's goroutine.
type conn struct {
	srv *Server
	nc  net.Conn
	be  *pgproto3.Backend
	log *slog.Logger

	pid, secret uint32
	user        string
	tenant      *storage.Tenant
	db          *database
	sc          *sql.Conn
	unmapped    bool // sc's database file mapping is off (see mmapBytes)
	settings    map[string]string
	timeout     time.Duration // statement_timeout

	txStatus    byte           // 'I', 'T' or 'E'
	sqliteTx    bool           // a SQLite transaction is open
	holdsWriter bool           // this session holds its database's writer token
	loc         *time.Location // the session's TimeZone; nil for UTC
	notes       notifyState
	// ownTranslations: the session's search_path or TimeZone makes its
	// translations its own, not the database cache's.
	ownTranslations bool
	implicit        bool // the open SQLite transaction is implicit (status 'I')

	multiQuery     bool // running a Query message with several statements
	inPipeline     bool // extended-protocol messages since the last Sync
	pipelineFailed bool // an error happened since the last Sync
	savepoints     []string

	stmts       map[string]*prepared
	portals     map[string]*portal
	cursors     map[string]*cursor // DECLARE CURSOR
	skipToSync  bool
	pendingSent int // bytes sent since the last flush

	prepCache map[string]*sql.Stmt // SQLite statements prepared on sc
	ddlStmts  []*sql.Stmt          // DDL statements to close

	tables map[string][]sqltrans.Column // catalog cache for one schema version
	tabVer int64

	closed bool

	mu         sync.Mutex // guards stmtCancel
	stmtCancel context.CancelFunc
}

func (s *Server) newConn(nc net.Conn) *conn {
	c := &conn{
		srv:      s,
		nc:       nc,
		log:      s.log.With(keyRemote, nc.RemoteAddr().String()),
		settings: map[string]string{},
		txStatus: 'I',
		stmts:    map[string]*prepared{},
		portals:  map[string]*portal{},
	}
	c.be = newBackend(nc)
	return c
}

func newBackend(nc net.Conn) *pgproto3.Backend {
	be := pgproto3.NewBackend(bufio.NewReaderSize(nc, 32<<10), nc)
	be.SetMaxBodyLen(maxMessage)
	return be
}

// wake interrupts a blocked read or running statement so that the
// connection goroutine notices Shutdown.
func (c *conn) wake() {
	c.nc.SetReadDeadline(time.Now())
	c.cancelStatement()
}

func (c *conn) cancelStatement() {
	c.mu.Lock()
	if c.stmtCancel != nil {
		c.stmtCancel()
	}
	c.mu.Unlock()
}

// serve runs the connection until the client leaves, the protocol fails or
// the server shuts down. A panic closes only this connection.
func (c *conn) serve() {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("connection panic", "panic", r, "stack", string(debug.Stack()))
			if onPanic != nil {
				onPanic(r)
			}
		}
		c.close()
	}()
	ok, err := c.startup()
	if err != nil {
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			c.log.Warn("startup failed", "err", err)
		}
		return
	}
	if !ok {
		return
	}
	c.log.Info("connected", "database", c.db.name)
	c.serveMessages()
}

// serveMessages is the message loop of an authenticated session.
func (c *conn) serveMessages() {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("connection panic", "panic", r, "stack", string(debug.Stack()))
			if onPanic != nil {
				onPanic(r)
			}
		}
		c.close()
	}()
	for {
		msg, err := c.receive()
		if err != nil {
			if c.srv.ctx.Err() != nil {
				c.fatal(sqltrans.CodeAdminShutdown, "terminating connection due to administrator command")
			} else if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				c.log.Warn("receive", "err", err)
				c.fatal(sqltrans.CodeProtocolViolation, "invalid message: "+err.Error())
			}
			return
		}
		if _, ok := msg.(*pgproto3.Terminate); ok {
			return
		}
		if c.srv.cfg.OnRequest != nil {
			c.srv.cfg.OnRequest()
		}
		if err := c.handle(msg); err != nil {
			if !errors.Is(err, net.ErrClosed) {
				c.log.Debug("connection ended", "err", err)
			}
			return
		}
	}
}

func (c *conn) close() {
	if c.closed {
		return
	}
	c.closed = true
	for _, p := range c.portals {
		p.close()
	}
	c.closeCursors(true)
	if c.sc != nil {
		c.closeStmts()
		if c.sqliteTx {
			c.sc.ExecContext(context.Background(), "ROLLBACK")
		}
		if c.unmapped {
			// The connection goes back to the pool as it came out.
			c.sc.ExecContext(context.Background(), fmt.Sprintf("PRAGMA mmap_size = %d", mmapBytes))
		}
		c.sc.Close()
	}
	c.unbindSession()
	if c.db != nil {
		c.releaseWriter()
		c.db.listen.remove(c, "")
		c.srv.dbs.release(c.db)
	}
	if c.tenant != nil {
		c.tenant.Release()
	}
	if c.pid != 0 {
		c.srv.keys.Delete(c.pid)
		sqltrans.ReleaseAdvisory(int64(c.pid), false)
	}
	c.nc.Close()
}

// fatal sends a FATAL error and flushes; the caller then closes.
func (c *conn) fatal(code, msg string) {
	c.be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: msg})
	c.be.Flush()
}

// startup negotiates encryption, reads the startup packet, authenticates
// and opens the database. ok is false when the connection should close
// quietly (a CancelRequest).
func (c *conn) startup() (ok bool, err error) {
	c.nc.SetDeadline(time.Now().Add(30 * time.Second))
	defer c.nc.SetDeadline(time.Time{})
	var sm *pgproto3.StartupMessage
	tlsDone := false
	for sm == nil {
		msg, err := c.be.ReceiveStartupMessage()
		if err != nil {
			return false, fmt.Errorf("startup message: %w", err)
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest:
			if c.srv.cfg.TLS == nil || tlsDone {
				if _, err := c.nc.Write([]byte{'N'}); err != nil {
					return false, err
				}
				continue
			}
			if _, err := c.nc.Write([]byte{'S'}); err != nil {
				return false, err
			}
			tc := tls.Server(c.nc, c.srv.cfg.TLS)
			if err := tc.Handshake(); err != nil {
				return false, fmt.Errorf("tls handshake: %w", err)
			}
			c.nc = tc
			c.be = newBackend(tc)
			tlsDone = true
		case *pgproto3.GSSEncRequest:
			if _, err := c.nc.Write([]byte{'N'}); err != nil {
				return false, err
			}
		case *pgproto3.CancelRequest:
			if len(m.SecretKey) == 4 {
				c.srv.cancelRequest(m.ProcessID, binary.BigEndian.Uint32(m.SecretKey))
			}
			return false, nil
		case *pgproto3.StartupMessage:
			sm = m
		}
	}
	if sm.ProtocolVersion != pgproto3.ProtocolVersion30 {
		c.be.Send(&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0})
	}
	c.user = sm.Parameters["user"]
	dbname := sm.Parameters["database"]
	if dbname == "" {
		dbname = c.user
	}
	if c.user == "" {
		c.fatal(sqltrans.CodeInvalidAuthSpec, "no PostgreSQL user name specified in startup packet")
		return false, errors.New("no user")
	}
	c.log = c.log.With(keyTenant, c.user)
	if err := c.authenticate(); err != nil {
		c.fatal(sqltrans.CodeInvalidPassword, fmt.Sprintf("password authentication failed for user \"%s\"", c.user))
		return false, err
	}

	// Authenticated: the tenant is the user; everything below is opened
	// inside that tenant's directory only.
	ctx := c.srv.ctx
	t, err := c.srv.store.Acquire(ctx, c.user)
	if err != nil {
		c.fatal(sqltrans.CodeInvalidAuthSpec, fmt.Sprintf("password authentication failed for user \"%s\"", c.user))
		return false, fmt.Errorf("acquire tenant: %w", err)
	}
	c.tenant = t
	d, err := c.srv.dbs.open(t.Dir(), c.user, dbname, false)
	if err != nil {
		var pe *sqltrans.Error
		if errors.As(err, &pe) {
			c.fatal(pe.Code, pe.Message)
		} else {
			c.fatal(sqltrans.CodeInternal, "could not open database")
		}
		return false, err
	}
	c.db = d
	if c.sc, err = sessionConn(ctx, d); err != nil {
		c.fatal(sqltrans.CodeInternal, "could not open database")
		return false, err
	}
	if err := installCatalog(ctx, c.sc, t.Dir(), c.user, d.name); err != nil {
		c.fatal(sqltrans.CodeInternal, "could not open database")
		return false, fmt.Errorf("install catalog: %w", err)
	}

	c.pid, c.secret = c.srv.newKey()
	c.srv.keys.Store(c.pid, c)
	if err := c.bindSession(); err != nil {
		c.fatal(sqltrans.CodeInternal, "could not open database")
		return false, fmt.Errorf("bind session: %w", err)
	}
	for k, v := range sm.Parameters {
		switch k {
		case "user", "database", "options", "replication":
		default:
			c.settings[strings.ToLower(k)] = v
		}
	}
	if tz, ok := c.settings["timezone"]; ok {
		if loc, err := sqltrans.SessionZone(tz); err == nil {
			c.loc = loc
		} else {
			delete(c.settings, "timezone") // PostgreSQL refuses the startup; UTC is kinder
		}
	}
	c.settingsChanged()
	c.be.Send(&pgproto3.AuthenticationOk{})
	for _, name := range reportedParams {
		c.be.Send(&pgproto3.ParameterStatus{Name: name, Value: c.setting(name)})
	}
	key := make([]byte, 4)
	binary.BigEndian.PutUint32(key, c.secret)
	c.be.Send(&pgproto3.BackendKeyData{ProcessID: c.pid, SecretKey: key})
	c.be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	return true, c.be.Flush()
}

// authenticate runs SCRAM-SHA-256 against the tenant's stored verifier.
// Unknown tenants go through the same exchange and fail at the end, so
// that they cannot be told apart from wrong passwords.
func (c *conn) authenticate() error {
	if _, isTLS := c.nc.(*tls.Conn); isTLS && c.srv.cfg.PasswordOverTLS {
		return c.authenticatePassword()
	}
	lookup := c.srv.store.Control().SCRAMLookup(c.srv.ctx, scram.SHA256, c.user)
	ex := scram.NewServer(scram.SHA256, lookup)
	c.be.Send(&pgproto3.AuthenticationSASL{AuthMechanisms: []string{string(scram.SHA256)}})
	if err := c.be.Flush(); err != nil {
		return err
	}
	c.be.SetAuthType(pgproto3.AuthTypeSASL)
	msg, err := c.be.Receive()
	if err != nil {
		return fmt.Errorf("sasl initial response: %w", err)
	}
	init, ok := msg.(*pgproto3.SASLInitialResponse)
	if !ok || init.AuthMechanism != string(scram.SHA256) {
		return errors.New("expected SASLInitialResponse for SCRAM-SHA-256")
	}
	reply, _, err := ex.Step(init.Data)
	if err != nil {
		return fmt.Errorf("scram: %w", err)
	}
	c.be.Send(&pgproto3.AuthenticationSASLContinue{Data: reply})
	if err := c.be.Flush(); err != nil {
		return err
	}
	c.be.SetAuthType(pgproto3.AuthTypeSASLContinue)
	msg, err = c.be.Receive()
	if err != nil {
		return fmt.Errorf("sasl response: %w", err)
	}
	resp, ok := msg.(*pgproto3.SASLResponse)
	if !ok {
		return errors.New("expected SASLResponse")
	}
	final, _, err := ex.Step(resp.Data)
	if err != nil {
		return fmt.Errorf("scram: %w", err)
	}
	c.be.Send(&pgproto3.AuthenticationSASLFinal{Data: final})
	c.be.SetAuthType(pgproto3.AuthTypeOk)
	return nil
}

// authenticatePassword asks for the password in cleartext, which only a
// TLS connection carries, and checks it against the stored verifier.
func (c *conn) authenticatePassword() error {
	c.be.Send(&pgproto3.AuthenticationCleartextPassword{})
	if err := c.be.Flush(); err != nil {
		return err
	}
	c.be.SetAuthType(pgproto3.AuthTypeCleartextPassword)
	msg, err := c.be.Receive()
	if err != nil {
		return fmt.Errorf("password message: %w", err)
	}
	pm, ok := msg.(*pgproto3.PasswordMessage)
	if !ok {
		return errors.New("expected PasswordMessage")
	}
	if _, err := c.srv.store.Control().Authenticate(c.srv.ctx, c.user, pm.Password); err != nil {
		return fmt.Errorf("password: %w", err)
	}
	c.be.SetAuthType(pgproto3.AuthTypeOk)
	return nil
}

// handle dispatches one frontend message.
func (c *conn) handle(msg pgproto3.FrontendMessage) error {
	if c.skipToSync {
		switch msg.(type) {
		case *pgproto3.Sync:
			c.skipToSync = false
			c.endImplicitTx(false)
			c.inPipeline, c.pipelineFailed = false, false
			c.endImplicit()
			return c.ready()
		case *pgproto3.Query:
			c.skipToSync = false
		default:
			return nil
		}
	}
	switch m := msg.(type) {
	case *pgproto3.Query:
		c.simpleQuery(m.String)
		return c.ready()
	case *pgproto3.Parse:
		c.inPipeline = true
		return c.extended(c.parse(m))
	case *pgproto3.Bind:
		return c.extended(c.bind(m))
	case *pgproto3.Describe:
		return c.extended(c.describe(m))
	case *pgproto3.Execute:
		c.inPipeline = true
		return c.extended(c.execute(m))
	case *pgproto3.Close:
		return c.extended(c.closeMsg(m))
	case *pgproto3.Sync:
		if err := c.endImplicitTx(!c.pipelineFailed); err != nil {
			c.sendError(err)
		}
		c.inPipeline, c.pipelineFailed = false, false
		c.endImplicit()
		return c.ready()
	case *pgproto3.Flush:
		c.pendingSent = 0
		return c.be.Flush()
	case *pgproto3.CopyData, *pgproto3.CopyDone, *pgproto3.CopyFail:
		// Stray COPY messages outside COPY IN are ignored, as PostgreSQL
		// does.
		return nil
	case *pgproto3.FunctionCall:
		c.sendError(sqltrans.Errorf(sqltrans.CodeFeature, "function call protocol is not supported"))
		return c.ready()
	}
	return fmt.Errorf("unexpected message %T", msg)
}

// extended finishes an extended-protocol message: on error it reports it
// and skips to the next Sync.
func (c *conn) extended(err error) error {
	if err != nil {
		c.sendError(err)
		c.failTx()
		c.skipToSync = true
	}
	if c.pendingSent > 64<<10 {
		c.pendingSent = 0
		return c.be.Flush()
	}
	return nil
}

func (c *conn) ready() error {
	if c.txStatus == 'I' && !c.sqliteTx {
		c.endNotifies(true) // what a statement outside a transaction sent
	}
	c.notes.mu.Lock()
	c.sendQueued()
	c.notes.mu.Unlock()
	c.be.Send(&pgproto3.ReadyForQuery{TxStatus: c.txStatus})
	c.pendingSent = 0
	return c.be.Flush()
}

// send queues a message and flushes when much is pending, so that large
// results stream instead of piling up in memory.
func (c *conn) send(m pgproto3.BackendMessage, size int) error {
	c.be.Send(m)
	c.pendingSent += size
	if c.pendingSent > 256<<10 {
		c.pendingSent = 0
		return c.be.Flush()
	}
	return nil
}

// sendError reports err as an ErrorResponse with its SQLSTATE.
func (c *conn) sendError(err error) {
	pe := toPGError(err)
	if pe.Code == sqltrans.CodeInternal {
		c.log.Warn("statement failed", "err", err)
	}
	if pe.Code == sqltrans.CodeUniqueViolation && pe.Table != "" {
		c.nameUniqueConstraint(pe)
	}
	c.be.Send(&pgproto3.ErrorResponse{
		Severity: "ERROR", SeverityUnlocalized: "ERROR",
		Code: pe.Code, Message: pe.Message, Detail: pe.Detail, Hint: pe.Hint, Position: int32(pe.Position),
		Where: pe.Where, TableName: pe.Table, ColumnName: pe.Column, ConstraintName: pe.Constraint,
	})
}

// noticeInfo sends a NOTICE, as PostgreSQL does for IF EXISTS skips and
// cascades.
func (c *conn) noticeInfo(msg, detail string) {
	c.be.Send(&pgproto3.NoticeResponse{Severity: "NOTICE", SeverityUnlocalized: "NOTICE", Code: "00000", Message: msg, Detail: detail})
}

func (c *conn) notice(code, msg string) {
	c.be.Send(&pgproto3.NoticeResponse{Severity: "WARNING", SeverityUnlocalized: "WARNING", Code: code, Message: msg})
}
