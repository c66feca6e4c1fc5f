package kafkawire

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"rewire/storage"
)

// Log keys used on every connection line.
const (
	logTenant = "tenant"
	logProto  = "proto"
	logRemote = "remote"
)

// Config configures a Server.
type Config struct {
	// AdvertisedAddr is the host:port told to clients in Metadata and
	// FindCoordinator; "" means the listener's address.
	AdvertisedAddr string
	// AutoCreateTopics creates topics on Metadata and Produce for unknown
	// names, as Kafka does by default.
	AutoCreateTopics bool
	// DefaultPartitions is the partition count of auto-created topics and
	// of CreateTopics requests that leave it to the broker (default 1).
	DefaultPartitions int32
	// AnonymousTenant, if set, is the tenant of connections that skip
	// SASL; "" means SASL is required.
	AnonymousTenant string
	// OnRequest, if set, is called once per request frame parsed, with
	// the request's API name (for metrics).
	OnRequest func(api string)
}

// Server serves the Kafka protocol for every tenant of a store. It is safe
// for concurrent use; one Server may serve several listeners.
type Server struct {
	store *storage.Store
	cfg   Config
	log   *slog.Logger

	ctx    context.Context // canceled by Shutdown once draining ends
	cancel context.CancelFunc

	mu        sync.Mutex // guards the fields below
	brokers   map[string]*broker
	conns     map[*conn]struct{}
	listeners map[net.Listener]struct{}
	shutdown  bool
	connWG    sync.WaitGroup
}

// NewServer returns a server over store. log may be nil.
func NewServer(store *storage.Store, cfg Config, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.DefaultPartitions <= 0 {
		cfg.DefaultPartitions = 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		store:     store,
		cfg:       cfg,
		log:       log.With(logProto, "kafka"),
		ctx:       ctx,
		cancel:    cancel,
		brokers:   make(map[string]*broker),
		conns:     make(map[*conn]struct{}),
		listeners: make(map[net.Listener]struct{}),
	}
}

// Serve accepts connections on ln until Shutdown; it returns nil after
// Shutdown and the accept error otherwise. It closes ln.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()

	advertised := s.cfg.AdvertisedAddr
	if advertised == "" {
		advertised = ln.Addr().String()
	}
	host, portStr, err := net.SplitHostPort(advertised)
	if err != nil {
		return err
	}
	port, err := net.LookupPort("tcp", portStr)
	if err != nil {
		return err
	}

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isShutdown() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		c := newConn(s, nc, host, int32(port))
		s.mu.Lock()
		if s.shutdown {
			s.mu.Unlock()
			nc.Close()
			return nil
		}
		s.conns[c] = struct{}{}
		s.connWG.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.connWG.Done()
			c.serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

func (s *Server) isShutdown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutdown
}

// Shutdown stops accepting, lets every connection finish the request it is
// serving, then closes the connections. If ctx ends first, connections are
// closed at once and ctx's error is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.stopReading()
	}
	s.mu.Unlock()

	// Long polls end early once the server context is canceled.
	s.cancel()
	done := make(chan struct{})
	go func() {
		s.connWG.Wait()
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

	s.mu.Lock()
	for name, b := range s.brokers {
		b.close()
		delete(s.brokers, name)
	}
	s.mu.Unlock()
	return err
}

// acquireBroker returns the tenant's broker state, opening it on first use.
// The caller must call releaseBroker.
func (s *Server) acquireBroker(ctx context.Context, tenant string) (*broker, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown {
		return nil, storage.ErrClosed
	}
	if b, ok := s.brokers[tenant]; ok {
		b.refs++
		return b, nil
	}
	b, err := openBroker(ctx, s, tenant)
	if err != nil {
		return nil, err
	}
	b.refs = 1
	s.brokers[tenant] = b
	return b, nil
}

// releaseBroker drops a reference; the last one closes the tenant's state
// (committed offsets are durable; live group membership ends with the
// connections anyway).
func (s *Server) releaseBroker(b *broker) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b.refs--
	if b.refs > 0 {
		return
	}
	if s.brokers[b.name] == b {
		delete(s.brokers, b.name)
	}
	b.close()
}
