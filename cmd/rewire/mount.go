package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"rewire/fusefs"
	"rewire/storage"
)

// mountCmd mounts one tenant's files in the foreground until a signal or
// an external unmount. It opens the data directory itself, so it is meant
// for a data directory no server is using; with a server running, use
// `rewire serve --mount TENANT=DIR` instead.
func mountCmd(args []string) error {
	o := newOptions("mount")
	data := o.str("data", "./rewire-data", "data directory")
	debug := o.str("debug", "false", "trace FUSE requests")
	pos, err := o.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return errors.New("usage: rewire mount TENANT DIR [--data DIR]")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx := context.Background()
	store, err := storage.Open(ctx, storage.Config{Dir: *data, Logger: log})
	if err != nil {
		return err
	}
	defer store.Close()
	mp, err := fusefs.Mount(ctx, store, pos[0], pos[1], fusefs.Options{Debug: *debug == "true"}, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "mounted tenant %s at %s; Ctrl-C or fusermount3 -u %s to unmount\n", pos[0], pos[1], pos[1])
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { mp.Wait(); close(done) }()
	select {
	case <-sigs:
		return mp.Unmount()
	case <-done:
		return nil
	}
}
