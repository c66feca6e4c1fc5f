package pgwire

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"rewire/storage"
)

// Log keys used on every connection line.
const (
	keyTenant = "tenant"
	keyProto  = "proto"
	keyRemote = "remote"
)

// Config configures a Server.
type Config struct {
	// TLS enables SSL negotiation; nil answers SSLRequest with 'N'.
	TLS *tls.Config
	// PasswordOverTLS asks clients on a TLS connection for their password
	// in cleartext (checked against the stored SCRAM verifier) instead of
	// running SCRAM, for clients without SCRAM. Plain connections always
	// use SCRAM.
	PasswordOverTLS bool
	// OnRequest, if set, is called once per frontend message handled
	// after startup (Query, Parse, Bind, Execute, Sync, …), for metrics.
	OnRequest func()
}

// Server serves the PostgreSQL wire protocol for every tenant of a store.
// It is safe for concurrent use.
type Server struct {
	store *storage.Store
	cfg   Config
	log   *slog.Logger
	dbs   *dbRegistry

	ctx    context.Context // cancelled by Shutdown
	cancel context.CancelFunc

	mu       sync.Mutex // guards lns, conns, shutdown
	lns      map[net.Listener]struct{}
	conns    map[*conn]struct{}
	shutdown bool
	wg       sync.WaitGroup

	nextPID atomic.Int32
	keys    sync.Map // uint32 pid → *conn, for CancelRequest
}

// NewServer returns a server for the tenants of store. log may be nil.
func NewServer(store *storage.Store, cfg Config, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		store:  store,
		cfg:    cfg,
		log:    log.With(keyProto, "pg"),
		dbs:    newDBRegistry(),
		ctx:    ctx,
		cancel: cancel,
		lns:    map[net.Listener]struct{}{},
		conns:  map[*conn]struct{}{},
	}
	s.nextPID.Store(1000)
	return s
}

// Serve accepts connections on ln until Shutdown; it returns nil after
// Shutdown and the accept error otherwise.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.lns[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.lns, ln)
		s.mu.Unlock()
	}()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			down := s.shutdown
			s.mu.Unlock()
			if down {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(backoff*2, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		c := s.newConn(nc)
		s.mu.Lock()
		if s.shutdown {
			s.mu.Unlock()
			nc.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// Shutdown stops accepting, tells every client that the server is going
// away (SQLSTATE 57P01), interrupts running statements and waits for the
// connections to close or ctx to end, then closes the databases.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	for ln := range s.lns {
		ln.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.cancel()
	for _, c := range conns {
		c.wake()
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		s.mu.Lock()
		for c := range s.conns {
			c.nc.Close()
		}
		s.mu.Unlock()
		<-done
	}
	s.dbs.closeAll()
	return err
}

// newKey allocates a process id and secret for BackendKeyData.
func (s *Server) newKey() (uint32, uint32) {
	pid := uint32(s.nextPID.Add(1))
	var b [4]byte
	rand.Read(b[:])
	return pid, binary.BigEndian.Uint32(b[:])
}

// cancelRequest interrupts the statement running on the connection with
// the given key. A wrong secret is ignored, as PostgreSQL does.
func (s *Server) cancelRequest(pid, secret uint32) {
	v, ok := s.keys.Load(pid)
	if !ok {
		return
	}
	c := v.(*conn)
	if c.secret != secret {
		return
	}
	c.cancelStatement()
}
