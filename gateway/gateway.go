package gateway

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"rewire/natswire"
	"rewire/storage"
)

// Config is everything `rewire serve` can be told. An empty address
// disables that listener.
type Config struct {
	DataDir string

	KafkaAddr           string
	KafkaAdvertisedAddr string
	KafkaAutoCreate     bool
	AnonymousTenant     string
	NATSAddr            string
	NATSMaxPayload      int32 // 0 means natswire's default (1 MiB)
	PGAddr              string
	// PGTLS, if set, lets PostgreSQL clients negotiate TLS; with
	// PGPasswordOverTLS those clients send their password in cleartext
	// (over TLS) instead of running SCRAM.
	PGTLS             *tls.Config
	PGPasswordOverTLS bool
	HTTPAddr          string
	Mounts            []MountSpec

	Durability   storage.Durability
	SyncInterval time.Duration
	WarmURL      string
	ColdURL      string
	Policy       storage.Policy

	// AddrFile, if set, receives the bound addresses as JSON once every
	// listener is up (useful with port 0).
	AddrFile string
}

// MountSpec asks for a tenant's files to be mounted at Dir.
type MountSpec struct {
	Tenant string
	Dir    string
}

// Addrs are the addresses the listeners are bound to.
type Addrs struct {
	Kafka string `json:"kafka,omitempty"`
	NATS  string `json:"nats,omitempty"`
	PG    string `json:"pg,omitempty"`
	HTTP  string `json:"http,omitempty"`
}

// service is a started protocol front end.
type service struct {
	name     string
	shutdown func(context.Context) error
}

// Gateway is a running rewire process.
type Gateway struct {
	cfg   Config
	log   *slog.Logger
	store *storage.Store
	reg   *prometheus.Registry
	addrs Addrs

	mu       sync.Mutex // guards services
	services []service
	serveErr chan error
	httpSrv  *http.Server
	mux      *http.ServeMux
	nats     *natswire.Server // nil unless NATS is served
}

// New opens the storage core. Nothing listens until Start.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Gateway, error) {
	store, err := storage.Open(ctx, storage.Config{
		Dir:          cfg.DataDir,
		Durability:   cfg.Durability,
		SyncInterval: cfg.SyncInterval,
		WarmURL:      cfg.WarmURL,
		ColdURL:      cfg.ColdURL,
		Policy:       cfg.Policy,
		Logger:       log.With("component", "storage"),
	})
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(metricConns, metricConnsOpen, metricBytes, metricRequests, metricKafkaAPI)
	storage.RegisterMetrics(reg)
	return &Gateway{
		cfg:      cfg,
		log:      log,
		store:    store,
		reg:      reg,
		serveErr: make(chan error, 8),
		mux:      http.NewServeMux(),
	}, nil
}

// Store returns the storage core.
func (g *Gateway) Store() *storage.Store { return g.store }

// Addrs returns the bound addresses; valid after Start.
func (g *Gateway) Addrs() Addrs { return g.addrs }

// Errors reports listeners that stopped on their own.
func (g *Gateway) Errors() <-chan error { return g.serveErr }

// Start binds every configured listener and starts serving.
func (g *Gateway) Start(ctx context.Context) error {
	starters := []func(context.Context) error{
		g.startKafka,
		g.startNATS,
		g.startPG,
		g.startHTTP,
		g.startMounts,
	}
	for _, start := range starters {
		if err := start(ctx); err != nil {
			g.Shutdown(context.Background())
			return err
		}
	}
	if g.cfg.AddrFile != "" {
		b, _ := json.Marshal(g.addrs)
		tmp := g.cfg.AddrFile + ".tmp"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			return fmt.Errorf("addr file: %w", err)
		}
		if err := os.Rename(tmp, g.cfg.AddrFile); err != nil {
			return fmt.Errorf("addr file: %w", err)
		}
	}
	return nil
}

func (g *Gateway) addService(name string, shutdown func(context.Context) error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.services = append(g.services, service{name: name, shutdown: shutdown})
}

// listen binds addr and wraps the listener with traffic metrics.
func listen(proto, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s listener: %w", proto, err)
	}
	return &countingListener{Listener: ln, proto: proto}, nil
}

func (g *Gateway) startHTTP(ctx context.Context) error {
	if g.cfg.HTTPAddr == "" {
		return nil
	}
	ln, err := listen("http", g.cfg.HTTPAddr)
	if err != nil {
		return err
	}
	g.addrs.HTTP = ln.Addr().String()
	g.mux.HandleFunc("GET /health", g.health)
	g.mux.Handle("GET /metrics", promhttp.HandlerFor(g.reg, promhttp.HandlerOpts{}))
	g.routeHTTP(g.mux)
	requests := metricRequests.WithLabelValues("http")
	g.httpSrv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Inc()
			g.mux.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := g.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.serveErr <- fmt.Errorf("http: %w", err)
		}
	}()
	g.addService("http", g.httpSrv.Shutdown)
	g.log.Info("listening", "proto", "http", "addr", g.addrs.HTTP)
	return nil
}

func (g *Gateway) health(w http.ResponseWriter, r *http.Request) {
	status, code := "ok", http.StatusOK
	if _, err := g.store.Control().ListTenants(r.Context()); err != nil {
		status, code = "control database: "+err.Error(), http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{
		"status":       status,
		"tenants_open": g.store.OpenTenants(),
	})
}

// Shutdown stops the listeners in reverse order of starting, each within
// ctx's deadline, then closes the storage core so every tenant's pending
// writes are committed.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	services := g.services
	g.services = nil
	g.mu.Unlock()
	var errs []error
	for i := len(services) - 1; i >= 0; i-- {
		s := services[i]
		if err := s.shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.name, err))
		}
		g.log.Info("stopped", "proto", s.name)
	}
	if g.store != nil {
		errs = append(errs, g.store.Close())
	}
	return errors.Join(errs...)
}
