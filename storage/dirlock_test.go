package storage

import (
	"context"
	"errors"
	"testing"
)

func TestDataDirectoryLock(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, err := Open(ctx, Config{Dir: dir, MoverInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, Config{Dir: dir, MoverInterval: -1}); !errors.Is(err, ErrDirInUse) {
		t.Fatalf("second Open: %v, want ErrDirInUse", err)
	}
	// Administrative access to the control database works beside it, and
	// sees the owner's changes at once.
	admin, err := Open(ctx, Config{Dir: dir, MoverInterval: -1, ControlOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateTenant(ctx, "acme", "pw"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Acquire(ctx, "acme"); err == nil {
		t.Fatal("a control-only store opened a tenant")
	}
	admin.Close()
	tn, err := a.Acquire(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	tn.Release()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, Config{Dir: dir, MoverInterval: -1})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	b.Close()
}
