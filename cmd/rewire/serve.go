package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"rewire/gateway"
	"rewire/storage"
)

func serve(args []string) error {
	o := newOptions("serve")
	data := o.str("data", "./rewire-data", "data directory")
	kafkaAddr := o.str("kafka-addr", "127.0.0.1:9092", "Kafka listener address (empty disables)")
	kafkaAdv := o.str("kafka-advertised-addr", "", "address told to Kafka clients (default: the listener's)")
	kafkaAuto := o.str("kafka-auto-create-topics", "true", "create unknown topics on Metadata and Produce")
	anon := o.str("anonymous-tenant", "", "tenant for Kafka connections that do not authenticate (local use only)")
	natsAddr := o.str("nats-addr", "127.0.0.1:4222", "NATS listener address (empty disables)")
	natsMaxPayload := o.str("nats-max-payload", "1048576", "largest NATS message payload in bytes")
	pgAddr := o.str("pg-addr", "127.0.0.1:5432", "PostgreSQL listener address (empty disables)")
	pgCert := o.str("pg-tls-cert", "", "PEM certificate for PostgreSQL TLS (with --pg-tls-key; empty: no TLS)")
	pgKey := o.str("pg-tls-key", "", "PEM private key for PostgreSQL TLS")
	pgCleartext := o.str("pg-password-over-tls", "false", "on TLS connections ask for the password in cleartext instead of SCRAM")
	httpAddr := o.str("http-addr", "127.0.0.1:8080", "HTTP listener address: git, health, metrics (empty disables)")
	mounts := o.strList("mount", "mount a tenant's files: TENANT=DIR")
	durability := o.str("durability", "fsync", "fsync (fsync before every acknowledgement) or periodic")
	syncInterval := o.str("sync-interval", "1s", "with --durability periodic, the longest time between fsyncs")
	warmURL := o.str("warm-url", "", "warm tier bucket: a directory or s3://… URL (default DATA/warm)")
	coldURL := o.str("cold-url", "", "cold tier bucket (default DATA/cold)")
	hotMax := o.str("hot-max-bytes", "1048576", "blobs up to this size are kept inline in the tenant database")
	warmAfter := o.str("warm-after", "24h", "move data not read for this long to the warm tier")
	coldAfter := o.str("cold-after", "720h", "move warm data not read for this long to the cold tier")
	logLevel := o.str("log-level", "info", "debug, info, warn or error")
	addrFile := o.str("addr-file", "", "write the bound addresses as JSON to this file once listening")
	if _, err := o.parse(args); err != nil {
		return err
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	cfg := gateway.Config{
		DataDir:             *data,
		KafkaAddr:           *kafkaAddr,
		KafkaAdvertisedAddr: *kafkaAdv,
		AnonymousTenant:     *anon,
		NATSAddr:            *natsAddr,
		PGAddr:              *pgAddr,
		HTTPAddr:            *httpAddr,
		Durability:          storage.Durability(*durability),
		WarmURL:             *warmURL,
		ColdURL:             *coldURL,
		AddrFile:            *addrFile,
	}
	mp, err := strconv.ParseInt(*natsMaxPayload, 10, 32)
	if err != nil || mp <= 0 {
		return fmt.Errorf("--nats-max-payload: want a positive number of bytes, got %q", *natsMaxPayload)
	}
	cfg.NATSMaxPayload = int32(mp)
	if (*pgCert == "") != (*pgKey == "") {
		return errors.New("--pg-tls-cert and --pg-tls-key go together")
	}
	if *pgCert != "" {
		cert, err := tls.LoadX509KeyPair(*pgCert, *pgKey)
		if err != nil {
			return fmt.Errorf("--pg-tls-cert/--pg-tls-key: %w", err)
		}
		cfg.PGTLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if cfg.PGPasswordOverTLS, err = strconv.ParseBool(*pgCleartext); err != nil {
		return fmt.Errorf("--pg-password-over-tls: %w", err)
	}
	if cfg.PGPasswordOverTLS && cfg.PGTLS == nil {
		return errors.New("--pg-password-over-tls needs --pg-tls-cert and --pg-tls-key")
	}
	if cfg.KafkaAutoCreate, err = strconv.ParseBool(*kafkaAuto); err != nil {
		return fmt.Errorf("--kafka-auto-create-topics: %w", err)
	}
	if cfg.SyncInterval, err = time.ParseDuration(*syncInterval); err != nil {
		return fmt.Errorf("--sync-interval: %w", err)
	}
	if cfg.Policy.HotMaxBytes, err = strconv.ParseInt(*hotMax, 10, 64); err != nil {
		return fmt.Errorf("--hot-max-bytes: %w", err)
	}
	if cfg.Policy.WarmAfter, err = time.ParseDuration(*warmAfter); err != nil {
		return fmt.Errorf("--warm-after: %w", err)
	}
	if cfg.Policy.ColdAfter, err = time.ParseDuration(*coldAfter); err != nil {
		return fmt.Errorf("--cold-after: %w", err)
	}
	for _, m := range *mounts {
		tenant, dir, ok := strings.Cut(m, "=")
		if !ok || tenant == "" || dir == "" {
			return fmt.Errorf("--mount %q: want TENANT=DIR", m)
		}
		cfg.Mounts = append(cfg.Mounts, gateway.MountSpec{Tenant: tenant, Dir: dir})
	}

	if n, err := storage.RaiseOpenFileLimit(1 << 20); err != nil || n < 65536 {
		log.Warn("low open-file limit: each open tenant needs a few descriptors", "limit", n, "err", err)
	}
	ctx := context.Background()
	g, err := gateway.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	demoPassword, err := createDemoTenant(ctx, g.Store())
	if err != nil {
		g.Shutdown(ctx)
		return err
	}
	if err := g.Start(ctx); err != nil {
		return err
	}
	log.Info("rewire serving", "version", version, "data", *data)
	if demoPassword != "" {
		printWelcome(g.Addrs(), cfg, demoPassword)
	}

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	select {
	case sig := <-sigs:
		log.Info("shutting down", "signal", sig.String())
	case err := <-g.Errors():
		log.Error("listener failed", "err", err)
	}
	go func() {
		<-sigs
		log.Warn("second signal: exiting at once")
		os.Exit(1)
	}()
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := g.Shutdown(sctx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	log.Info("stopped")
	return nil
}

// createDemoTenant creates tenant "demo" with a random password when the
// data directory holds no tenant yet, and returns the password.
func createDemoTenant(ctx context.Context, store *storage.Store) (string, error) {
	tenants, err := store.Control().ListTenants(ctx)
	if err != nil || len(tenants) > 0 {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(store.Dir(), "demo-created")); err == nil {
		return "", nil // demo was created once and deleted since
	}
	b := make([]byte, 10)
	rand.Read(b)
	pw := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
	if _, err := store.CreateTenant(ctx, "demo", pw); err != nil {
		return "", err
	}
	os.WriteFile(filepath.Join(store.Dir(), "demo-created"), nil, 0o600)
	return pw, nil
}

func printWelcome(a gateway.Addrs, cfg gateway.Config, pw string) {
	var b strings.Builder
	fmt.Fprintf(&b, "\nFirst start: created tenant \"demo\" with password %s\n\n", pw)
	if a.Kafka != "" {
		fmt.Fprintf(&b, "Kafka:\n  kcat -b %s -X security.protocol=SASL_PLAINTEXT -X sasl.mechanisms=SCRAM-SHA-256 -X sasl.username=demo -X sasl.password=%s -L\n\n", a.Kafka, pw)
	}
	if a.NATS != "" {
		fmt.Fprintf(&b, "NATS:\n  nats --server nats://demo:%s@%s pub hello world\n\n", pw, a.NATS)
	}
	if a.PG != "" {
		host, port, _ := net.SplitHostPort(a.PG)
		fmt.Fprintf(&b, "PostgreSQL:\n  PGPASSWORD=%s psql -h %s -p %s -U demo demo\n\n", pw, host, port)
	}
	if a.HTTP != "" {
		fmt.Fprintf(&b, "git (the first push creates the repository):\n  git push http://demo:%s@%s/git/demo/hello.git main\n  git clone http://demo:%s@%s/git/demo/hello.git\n\n",
			pw, a.HTTP, pw, a.HTTP)
		fmt.Fprintf(&b, "HTTP API (JSON-RPC 2.0):\n  curl -u demo:%s -d '{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"files.list\",\"params\":{\"path\":\"/\"}}' http://%s/rpc\n\n",
			pw, a.HTTP)
		fmt.Fprintf(&b, "MCP (streamable HTTP, basic auth demo / the password above):\n  http://%s/mcp\n\n", a.HTTP)
		fmt.Fprintf(&b, "Health and metrics:\n  curl http://%s/health\n  curl http://%s/metrics\n\n", a.HTTP, a.HTTP)
	}
	fmt.Fprintf(&b, "Files (restart with a mount):\n  rewire serve --data %s --mount demo=/mnt/demo\n\n", cfg.DataDir)
	fmt.Print(b.String())
}
