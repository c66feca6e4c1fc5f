package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"rewire/mcpserver"
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
	err = mcpserver.ServeStdio(ctx, store, *tenant, log)
	if ctx.Err() != nil {
		return nil // stopped by a signal
	}
	return err
}
