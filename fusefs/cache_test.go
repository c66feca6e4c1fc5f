package fusefs

import (
	"context"
	"os"
	"testing"

	"rewire/storage/files"
)

// TestPageCacheKept reads a file twice through separate opens; the second
// read is served by the kernel's page cache. A change invalidates it.
func TestPageCacheKept(t *testing.T) {
	e := mountT(t)
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := os.WriteFile(e.path("f"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	waitReleased(t, e)
	if _, err := os.ReadFile(e.path("f")); err != nil {
		t.Fatal(err)
	}
	before := e.m.fs.reads.Load()
	got, err := os.ReadFile(e.path("f"))
	if err != nil || len(got) != len(data) {
		t.Fatal(err)
	}
	if n := e.m.fs.reads.Load() - before; n != 0 {
		t.Fatalf("second read sent %d READ requests, want 0 (page cache dropped)", n)
	}
	// A write through the mount is seen by the next reader.
	e.sh(t, "printf XYZ | dd of=f bs=1 seek=10 conv=notrunc status=none")
	got, _ = os.ReadFile(e.path("f"))
	if string(got[10:13]) != "XYZ" {
		t.Fatalf("after write: %q", got[8:16])
	}
}

// TestOtherInterfaceInvalidates changes files through the path API while
// they are mounted; the mount shows the change at once, not after the
// kernel's cache timeouts.
func TestOtherInterfaceInvalidates(t *testing.T) {
	e := mountT(t)
	e.sh(t, "echo old > f; cat f; ls")
	ctx := context.Background()
	ten, err := e.store.Acquire(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	defer ten.Release()
	p := files.New(ten).Paths()
	waitReleased(t, e)
	if err := p.WriteFile(ctx, "f", []byte("new content\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := p.WriteFile(ctx, "g", []byte("created\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.m.fs.notifying.Wait()
	got, _ := os.ReadFile(e.path("f"))
	g, _ := os.ReadFile(e.path("g"))
	if string(got) != "new content\n" || string(g) != "created\n" {
		t.Fatalf("mount shows f=%q g=%q", got, g)
	}
	if err := p.Remove(ctx, "g"); err != nil {
		t.Fatal(err)
	}
	e.m.fs.notifying.Wait()
	if _, err := os.Stat(e.path("g")); !os.IsNotExist(err) {
		t.Fatalf("removed file still visible: %v", err)
	}
}
