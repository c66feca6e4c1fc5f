package mcpserver

import (
	"context"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"rewire/storage"
	"rewire/storage/files"
)

// TestStdioServe runs the server loop behind ServeStdio over an in-memory
// transport pair (the stdio transport is the same loop on os.Stdin and
// os.Stdout) and checks it acts on the named tenant only.
func TestStdioServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, err := storage.Open(ctx, storage.Config{Dir: t.TempDir(), MoverInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	for _, n := range []string{"alice", "bob"} {
		if _, err := store.CreateTenant(ctx, n, "pw"); err != nil {
			t.Fatal(err)
		}
	}
	if err := ServeStdio(ctx, store, "nobody", Options{}); err == nil {
		t.Fatal("serving an unknown tenant succeeded")
	}
	ct, st := mcp.NewInMemoryTransports()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, store, "alice", Options{}, st) }()
	c := mcp.NewClient(&mcp.Implementation{Name: "stdio-test", Version: "1"}, nil)
	cs, err := c.Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "fs_write",
		Arguments: map[string]any{"path": "/from-stdio.txt", "content": "hi"}})
	if err != nil || res.IsError {
		t.Fatalf("fs_write: %v %+v", err, res)
	}
	cs.Close()
	cancel()
	<-done

	bg := context.Background()
	for tenant, want := range map[string]bool{"alice": true, "bob": false} {
		tn, err := store.Acquire(bg, tenant)
		if err != nil {
			t.Fatal(err)
		}
		_, err = files.New(tn).Paths().Stat(bg, "from-stdio.txt")
		tn.Release()
		if (err == nil) != want {
			t.Fatalf("tenant %s: stat: %v", tenant, err)
		}
	}
}
