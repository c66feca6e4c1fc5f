package natswire

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"rewire/storage"
)

// Log keys used on every line about a connection.
const (
	keyTenant = "tenant"
	keyProto  = "proto"
	keyRemote = "remote"
)

// Config configures the NATS listener.
type Config struct {
	Addr       string // host:port to listen on; port 0 picks a free port
	MaxPayload int32  // 0 = 1 MiB
}

// Server is the embedded nats-server with rewire's tenants as accounts and
// JetStream served from the storage core. It is safe for concurrent use.
type Server struct {
	store  *storage.Store
	cfg    Config
	log    *slog.Logger
	ns     *server.Server
	secret string // password of the internal JetStream clients

	mu       sync.Mutex // guards hosts, closed, hostIdle, idleCheck
	hosts    map[string]*hostCall
	closed   bool
	shutOnce sync.Once

	// A tenant's host is closed (releasing the tenant) once no client of
	// the tenant has been connected for hostIdle; idleCheck is how often
	// that is looked at.
	hostIdle  time.Duration
	idleCheck time.Duration
	quit      chan struct{}
	janitorWG sync.WaitGroup
}

// hostCall lets concurrent connects of one tenant wait for the one that
// starts the tenant's JetStream host.
type hostCall struct {
	done chan struct{}
	h    *host
	err  error

	// Guarded by Server.mu.
	lastAuth time.Time     // last connect that used the host
	closing  bool          // the janitor is closing the host
	closed   chan struct{} // closed once an idle close finished
}

// NewServer prepares a server; Start begins listening.
func NewServer(store *storage.Store, cfg Config, log *slog.Logger) (*Server, error) {
	if store == nil {
		return nil, errors.New("natswire: nil store")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxPayload <= 0 {
		cfg.MaxPayload = 1 << 20
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:4222"
	}
	host, portStr, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("natswire: addr %q: %w", cfg.Addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("natswire: port %q: %w", portStr, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	var key [32]byte
	rand.Read(key[:])
	s := &Server{
		store:  store,
		cfg:    cfg,
		log:    log.With(keyProto, "nats"),
		secret: hex.EncodeToString(key[:]),
		hosts:  make(map[string]*hostCall),

		hostIdle:  2 * time.Minute,
		idleCheck: 15 * time.Second,
		quit:      make(chan struct{}),
	}
	opts := &server.Options{
		ServerName:                 "rewire",
		Host:                       host,
		Port:                       port,
		MaxPayload:                 cfg.MaxPayload,
		NoSigs:                     true,
		NoSystemAccount:            true,
		JetStream:                  false,
		CustomClientAuthentication: authenticator{s},
		MaxPending:                 64 << 20,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natswire: %w", err)
	}
	ns.SetLoggerV2(slogAdapter{s.log}, false, false, false)
	s.ns = ns
	return s, nil
}

// Start starts listening and returns once clients can connect.
func (s *Server) Start() error {
	go s.ns.Start()
	if !s.ns.ReadyForConnections(10 * time.Second) {
		return errors.New("natswire: server not ready")
	}
	s.log.Info("listening", "addr", s.Addr())
	s.janitorWG.Add(1)
	go s.janitor()
	return nil
}

// dropHost forgets and closes a broken host.
func (s *Server) dropHost(h *host) {
	s.mu.Lock()
	c := s.hosts[h.name]
	if c != nil && c.h == h && !c.closing {
		c.closing = true
		c.closed = make(chan struct{})
	} else {
		c = nil
	}
	s.mu.Unlock()
	h.close()
	if c != nil {
		s.mu.Lock()
		if s.hosts[h.name] == c {
			delete(s.hosts, h.name)
		}
		s.mu.Unlock()
		close(c.closed)
	}
}

// janitor closes the hosts of tenants without clients.
func (s *Server) janitor() {
	defer s.janitorWG.Done()
	for {
		s.mu.Lock()
		every := s.idleCheck
		s.mu.Unlock()
		select {
		case <-s.quit:
			return
		case <-time.After(every):
		}
		s.closeIdleHosts()
	}
}

func (s *Server) closeIdleHosts() {
	var idle []*hostCall
	s.mu.Lock()
	for _, c := range s.hosts {
		select {
		case <-c.done:
		default:
			continue
		}
		if c.err != nil || c.closing || time.Since(c.lastAuth) < s.hostIdle {
			continue
		}
		// The host's own internal client is one connection.
		if c.h.acc != nil && c.h.acc.NumLocalConnections() > 1 {
			c.lastAuth = time.Now()
			continue
		}
		c.closing = true
		c.closed = make(chan struct{})
		idle = append(idle, c)
	}
	s.mu.Unlock()
	for _, c := range idle {
		c.h.log.Info("closing idle jetstream host")
		c.h.close()
		s.mu.Lock()
		if s.hosts[c.h.name] == c {
			delete(s.hosts, c.h.name)
		}
		s.mu.Unlock()
		close(c.closed)
	}
}

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string {
	if a := s.ns.Addr(); a != nil {
		return a.String()
	}
	return s.cfg.Addr
}

// Traffic is the message and byte counts of the NATS listener since start.
type Traffic struct {
	InMsgs, OutMsgs, InBytes, OutBytes int64
}

// Traffic reports what the server's clients (including rewire's own
// JetStream hosts) have sent and received.
func (s *Server) Traffic() Traffic {
	v, err := s.ns.Varz(nil)
	if err != nil || v == nil {
		return Traffic{}
	}
	return Traffic{InMsgs: v.InMsgs, OutMsgs: v.OutMsgs, InBytes: v.InBytes, OutBytes: v.OutBytes}
}

// Shutdown closes client connections, stops the JetStream hosts (writing
// consumer positions to the core) and stops the server.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutOnce.Do(func() {
		close(s.quit)
		s.janitorWG.Wait()
		s.mu.Lock()
		s.closed = true
		calls := s.hosts
		s.hosts = map[string]*hostCall{}
		s.mu.Unlock()

		done := make(chan struct{})
		go func() {
			s.ns.Shutdown()
			s.ns.WaitForShutdown()
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
		}
		for _, c := range calls {
			<-c.done
			if c.h != nil {
				c.h.close()
			}
		}
	})
	return ctx.Err()
}

// hostFor returns the running JetStream host of a tenant, starting it on
// first use. A tenant deleted and re-created since gets a fresh host.
func (s *Server) hostFor(info storage.TenantInfo) (*host, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, storage.ErrClosed
		}
		c, ok := s.hosts[info.Name]
		if ok && c.closing {
			// Wait for the idle close so that two hosts never serve one
			// tenant at once.
			closed := c.closed
			s.mu.Unlock()
			<-closed
			continue
		}
		if ok {
			c.lastAuth = time.Now()
		}
		if !ok {
			c = &hostCall{done: make(chan struct{}), lastAuth: time.Now()}
			s.hosts[info.Name] = c
			s.mu.Unlock()
			c.h, c.err = startHost(s, info)
			close(c.done)
			if c.err != nil {
				s.mu.Lock()
				if s.hosts[info.Name] == c {
					delete(s.hosts, info.Name)
				}
				s.mu.Unlock()
			}
			return c.h, c.err
		}
		s.mu.Unlock()
		<-c.done
		if c.err != nil {
			return nil, c.err
		}
		if c.h.id == info.ID {
			return c.h, nil
		}
		// Stale: the tenant was deleted and created again.
		s.mu.Lock()
		if s.hosts[info.Name] == c {
			delete(s.hosts, info.Name)
		}
		s.mu.Unlock()
		c.h.close()
	}
}

// authenticator maps a connection to its tenant's account after checking
// the password against the control database.
type authenticator struct{ s *Server }

// Check implements server.Authentication.
func (a authenticator) Check(c server.ClientAuthentication) bool {
	s := a.s
	learnClientType(c)
	opts := c.GetOpts()
	remote := ""
	if ra := c.RemoteAddress(); ra != nil {
		remote = ra.String()
	}
	log := s.log.With(keyTenant, opts.Username, keyRemote, remote)
	if opts.Username == "" {
		log.Warn("connection refused: no user")
		return false
	}

	// The internal JetStream client of a host presents the server secret.
	if subtle.ConstantTimeCompare([]byte(opts.Password), []byte(s.secret)) == 1 {
		acc, _ := s.ns.LookupOrRegisterAccount(opts.Username)
		c.RegisterUser(&server.User{Username: opts.Username, Account: acc})
		return true
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := s.store.Control().Authenticate(ctx, opts.Username, opts.Password)
	if err != nil {
		log.Warn("connection refused", "err", err)
		return false
	}
	if _, err := s.hostFor(info); err != nil {
		log.Error("jetstream host", "err", err)
		return false
	}
	acc, _ := s.ns.LookupOrRegisterAccount(info.Name)
	c.RegisterUser(&server.User{Username: info.Name, Account: acc})
	log.Debug("connection accepted")
	return true
}

// slogAdapter lets nats-server log through slog.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Noticef(f string, v ...any) { a.l.Info(fmt.Sprintf(f, v...)) }
func (a slogAdapter) Warnf(f string, v ...any)   { a.l.Warn(fmt.Sprintf(f, v...)) }
func (a slogAdapter) Fatalf(f string, v ...any)  { a.l.Error(fmt.Sprintf(f, v...)) }
func (a slogAdapter) Errorf(f string, v ...any)  { a.l.Error(fmt.Sprintf(f, v...)) }
func (a slogAdapter) Debugf(f string, v ...any)  { a.l.Debug(fmt.Sprintf(f, v...)) }
func (a slogAdapter) Tracef(f string, v ...any)  {}
