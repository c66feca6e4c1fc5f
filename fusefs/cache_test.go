package fusefs

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"rewire/internal/testtool"
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

// TestInodeAPIInvalidates changes files through the inode-level methods
// of storage/files, as the HTTP API and git worktrees do, while the
// kernel has them cached: the mount shows every change at once.
func TestInodeAPIInvalidates(t *testing.T) {
	e := mountT(t)
	e.sh(t, "echo old > f; echo x > g; mkdir d; cat f g; stat -c %a f; ls d")
	waitReleased(t, e)
	ctx := context.Background()
	ten, err := e.store.Acquire(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	defer ten.Release()
	fs := files.New(ten)
	f, _ := fs.Lookup(ctx, files.RootIno, "f")
	d, _ := fs.Lookup(ctx, files.RootIno, "d")
	g, _ := fs.Lookup(ctx, files.RootIno, "g")
	steps := []struct {
		change func() error
		check  string
		want   string
	}{
		{func() error {
			return fs.WriteChunks(ctx, f.Ino, []files.Chunk{{Idx: 0, Data: []byte("brand new\n")}}, 10, time.Now())
		}, "cat f", "brand new\n"},
		{func() error {
			m := uint32(0o600)
			_, err := fs.SetAttr(ctx, f.Ino, files.SetAttrs{Mode: &m})
			return err
		},
			"stat -c %a f", "600\n"},
		{func() error { _, err := fs.Symlink(ctx, d.Ino, "s", "../f", 0, 0); return err }, "ls d; cat d/s", "s\nbrand new\n"},
		{func() error { _, err := fs.Link(ctx, g.Ino, d.Ino, "h"); return err }, "stat -c %h g", "2\n"},
		{func() error { return fs.Rename(ctx, files.RootIno, "g", files.RootIno, "f", 0) }, "cat f; stat -c %h f", "x\n2\n"},
		{func() error { return fs.Truncate(ctx, g.Ino, 0) }, "stat -c %s f d/h", "0\n0\n"},
		{func() error { return fs.Unlink(ctx, d.Ino, "h") }, "ls d; stat -c %h f", "s\n1\n"},
	}
	for i, s := range steps {
		if err := s.change(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		e.m.fs.notifying.Wait()
		if got := e.sh(t, s.check); got != s.want {
			t.Fatalf("step %d: %s: %q, want %q", i, s.check, got, s.want)
		}
	}
}

// TestOtherInterfaceWhileOpen rewrites, through the path API, a file a
// mounted process has open for reading: the open handle reads the new
// content and size.
func TestOtherInterfaceWhileOpen(t *testing.T) {
	e := mountT(t)
	e.sh(t, "echo short > f")
	f, err := os.Open(e.path("f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 100)
	if n, _ := f.ReadAt(buf, 0); string(buf[:n]) != "short\n" {
		t.Fatalf("before: %q", buf[:n])
	}
	ctx := context.Background()
	ten, err := e.store.Acquire(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	defer ten.Release()
	for _, content := range []string{"a longer content\n", "tiny\n"} {
		if err := files.New(ten).Paths().WriteFile(ctx, "f", []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		e.m.fs.notifying.Wait()
		n, _ := f.ReadAt(buf, 0)
		fi, err := f.Stat()
		if string(buf[:n]) != content || err != nil || fi.Size() != int64(len(content)) {
			t.Fatalf("through the open handle: %q (size %d), want %q", buf[:n], fi.Size(), content)
		}
	}
}

// TestReadAheadWindow checks that the mount widened the kernel's
// read-ahead window from its 128 KiB default.
func TestReadAheadWindow(t *testing.T) {
	e := mountT(t)
	testtool.NeedFUSE(t, "mountpoint")
	got := e.sh(t, "cat /sys/class/bdi/$(mountpoint -d .)/read_ahead_kb")
	if got != fmt.Sprintf("%d\n", readAheadKiB) {
		t.Fatalf("read_ahead_kb %q, want %d", got, readAheadKiB)
	}
}
