package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"rewire/mcpserver"
	"rewire/natswire"
	"rewire/storage"
)

// mcpCmd serves one tenant's MCP tools over stdin and stdout, for an AI
// agent that starts rewire as a subprocess. Like mount, it opens the data
// directory itself, so no server may be using it; with a server running,
// agents use its /mcp endpoint instead.
func mcpCmd(args []string) error {
	o := newOptions("mcp")
	data := o.str("data", "./rewire-data", "data directory")
	tenant := o.str("tenant", "", "tenant whose data the tools act on")
	pos, err := o.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *tenant == "" {
		return errors.New("usage: rewire mcp --tenant T [--data DIR]")
	}
	// stdout carries the protocol; logs go to stderr.
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	store, err := storage.Open(ctx, storage.Config{Dir: *data, Logger: log})
	if err != nil {
		return err
	}
	defer store.Close()
	// An in-process NATS server lets nats_publish reach the tenant's
	// streams; it listens on a free loopback port only.
	ns, err := natswire.NewServer(store, natswire.Config{Addr: "127.0.0.1:0"}, log)
	if err != nil {
		return err
	}
	if err := ns.Start(); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ns.Shutdown(sctx)
	}()
	err = mcpserver.ServeStdio(ctx, store, *tenant, mcpserver.Options{Log: log, NATS: ns})
	if ctx.Err() != nil {
		return nil // stopped by a signal
	}
	return err
}
