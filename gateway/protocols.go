package gateway

import (
	"context"
	"fmt"
	"net/http"

	"rewire/api"
	"rewire/fusefs"
	"rewire/gitsmart"
	"rewire/kafkawire"
	"rewire/mcpserver"
	"rewire/natswire"
	"rewire/pgwire"
)

// The start functions below bind one protocol each; an empty address
// leaves that protocol off.

func (g *Gateway) startKafka(ctx context.Context) error {
	if g.cfg.KafkaAddr == "" {
		return nil
	}
	ln, err := listen("kafka", g.cfg.KafkaAddr)
	if err != nil {
		return err
	}
	g.addrs.Kafka = ln.Addr().String()
	kafkaRequests := metricRequests.WithLabelValues("kafka")
	srv := kafkawire.NewServer(g.store, kafkawire.Config{
		AdvertisedAddr:    g.cfg.KafkaAdvertisedAddr,
		AutoCreateTopics:  g.cfg.KafkaAutoCreate,
		DefaultPartitions: 1,
		AnonymousTenant:   g.cfg.AnonymousTenant,
		OnRequest: func(api string) {
			kafkaRequests.Inc()
			metricKafkaAPI.WithLabelValues(api).Inc()
		},
	}, g.log)
	go func() {
		if err := srv.Serve(ln); err != nil {
			g.serveErr <- fmt.Errorf("kafka: %w", err)
		}
	}()
	g.addService("kafka", srv.Shutdown)
	g.log.Info("listening", "proto", "kafka", "addr", g.addrs.Kafka)
	return nil
}

func (g *Gateway) startNATS(ctx context.Context) error {
	if g.cfg.NATSAddr == "" {
		return nil
	}
	srv, err := natswire.NewServer(g.store, natswire.Config{Addr: g.cfg.NATSAddr, MaxPayload: g.cfg.NATSMaxPayload}, g.log)
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return fmt.Errorf("nats listener: %w", err)
	}
	g.addrs.NATS = srv.Addr()
	g.nats = srv
	if err := g.reg.Register(natsCollector{traffic: srv.Traffic}); err != nil {
		return fmt.Errorf("nats metrics: %w", err)
	}
	g.addService("nats", srv.Shutdown)
	g.log.Info("listening", "proto", "nats", "addr", g.addrs.NATS)
	return nil
}

func (g *Gateway) startPG(ctx context.Context) error {
	if g.cfg.PGAddr == "" {
		return nil
	}
	ln, err := listen("pg", g.cfg.PGAddr)
	if err != nil {
		return err
	}
	g.addrs.PG = ln.Addr().String()
	pgRequests := metricRequests.WithLabelValues("pg")
	srv := pgwire.NewServer(g.store, pgwire.Config{TLS: g.cfg.PGTLS, PasswordOverTLS: g.cfg.PGPasswordOverTLS,
		OnRequest: pgRequests.Inc}, g.log)
	go func() {
		if err := srv.Serve(ln); err != nil {
			g.serveErr <- fmt.Errorf("pg: %w", err)
		}
	}()
	g.addService("pg", srv.Shutdown)
	g.log.Info("listening", "proto", "pg", "addr", g.addrs.PG)
	return nil
}

func (g *Gateway) startMounts(ctx context.Context) error {
	if len(g.cfg.Mounts) == 0 {
		return nil
	}
	for _, m := range g.cfg.Mounts {
		mp, err := fusefs.Mount(ctx, g.store, m.Tenant, m.Dir, fusefs.Options{}, g.log)
		if err != nil {
			return fmt.Errorf("mount %s at %s: %w", m.Tenant, m.Dir, err)
		}
		g.addService("fuse "+m.Dir, func(context.Context) error { return mp.Unmount() })
		g.log.Info("mounted", "proto", "fuse", "tenant", m.Tenant, "dir", m.Dir)
	}
	return nil
}

// routeHTTP adds the protocol handlers served on the HTTP address.
func (g *Gateway) routeHTTP(mux *http.ServeMux) {
	mux.Handle("/git/", gitsmart.NewHandler(g.store, g.log))
	auth := api.NewAuthenticator(g.store)
	apiHandler := api.NewHandlerWith(g.store, auth, g.log)
	mux.Handle("/rpc", apiHandler)
	mux.Handle(api.FilesPrefix, apiHandler)
	mux.Handle("/mcp", mcpserver.NewHTTPHandler(g.store, mcpserver.Options{Log: g.log, Auth: auth, NATS: g.nats}))
}
