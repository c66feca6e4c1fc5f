package gateway

import (
	"context"
	"fmt"
	"net/http"

	"rewire/kafkawire"
)

// The start functions below bind one protocol each. A protocol whose
// package is not built yet is not started, and its address is left empty.

func (g *Gateway) startKafka(ctx context.Context) error {
	if g.cfg.KafkaAddr == "" {
		return nil
	}
	ln, err := listen("kafka", g.cfg.KafkaAddr)
	if err != nil {
		return err
	}
	g.addrs.Kafka = ln.Addr().String()
	srv := kafkawire.NewServer(g.store, kafkawire.Config{
		AdvertisedAddr:    g.cfg.KafkaAdvertisedAddr,
		AutoCreateTopics:  g.cfg.KafkaAutoCreate,
		DefaultPartitions: 1,
		AnonymousTenant:   g.cfg.AnonymousTenant,
	}, g.log.With("proto", "kafka"))
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
	// TODO(#4): start natswire when it lands.
	return nil
}

func (g *Gateway) startPG(ctx context.Context) error {
	if g.cfg.PGAddr == "" {
		return nil
	}
	// TODO(#5): start pgwire when it lands.
	return nil
}

func (g *Gateway) startMounts(ctx context.Context) error {
	if len(g.cfg.Mounts) == 0 {
		return nil
	}
	// TODO(#7): mount with fusefs when it lands.
	return nil
}

// routeHTTP adds the protocol handlers served on the HTTP address.
func (g *Gateway) routeHTTP(mux *http.ServeMux) {
	// TODO(#6): git smart HTTP at /git/ when gitsmart lands.
}
