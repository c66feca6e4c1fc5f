package fusefs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"rewire/internal/testtool"
	"rewire/storage/files"
)

// TestRenameReplaceAtomic replaces a file by rename over and over while
// other goroutines open and read it: the name never disappears and every
// read sees one whole version.
func TestRenameReplaceAtomic(t *testing.T) {
	e := mountT(t)
	version := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, 20000+i%7) }
	if err := os.WriteFile(e.path("cur"), version(0), 0o644); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				got, err := os.ReadFile(e.path("cur"))
				if err != nil {
					errs <- err
					return
				}
				if len(got) < 20000 || !bytes.Equal(got, bytes.Repeat(got[:1], len(got))) {
					errs <- fmt.Errorf("torn read: %d bytes starting %q", len(got), got[:min(len(got), 8)])
					return
				}
			}
		}()
	}
	for i := 1; i <= 300 && len(errs) == 0; i++ {
		tmp := e.path(fmt.Sprintf("tmp%d", i%3))
		if err := os.WriteFile(tmp, version(i), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, e.path("cur")); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(e.path("cur"))
	if !bytes.Equal(got, version(300)) {
		t.Fatalf("final content: %d bytes", len(got))
	}
	out := e.sh(t, "ls")
	if out != "cur\n" {
		t.Fatalf("left behind: %q", out)
	}
}

// TestMmapShared writes a file through a shared writable mapping; the
// kernel writes the pages back through the mount, and they are stored.
func TestMmapShared(t *testing.T) {
	e := mountT(t)
	testtool.NeedFUSE(t, "python3")
	e.sh(t, `truncate -s 300000 m && python3 -c '
import mmap
with open("m", "r+b") as f:
    mm = mmap.mmap(f.fileno(), 0)
    mm[5:10] = b"hello"
    mm[200000:200005] = b"world"
    mm.flush()
    mm.close()
'`)
	check := func() {
		t.Helper()
		got, err := os.ReadFile(e.path("m"))
		if err != nil || len(got) != 300000 || string(got[5:10]) != "hello" || string(got[200000:200005]) != "world" {
			t.Fatalf("mapped writes: %d bytes %v", len(got), err)
		}
	}
	check()
	waitReleased(t, e)
	if err := e.m.Unmount(); err != nil {
		t.Fatal(err)
	}
	e.mount(t)
	check()
}

// TestMoreErrnos covers errnos of symlinks, renames and special names.
func TestMoreErrnos(t *testing.T) {
	e := mountT(t)
	e.sh(t, `mkdir -p full/x empty; echo x > file; ln -s loop2 loop1; ln -s loop1 loop2`)
	cases := []struct {
		name string
		op   func() error
		want syscall.Errno
	}{
		{"symlink loop", func() error { _, err := os.ReadFile(e.path("loop1")); return err }, syscall.ELOOP},
		{"symlink exists", func() error { return os.Symlink("t", e.path("file")) }, syscall.EEXIST},
		{"link exists", func() error { return os.Link(e.path("file"), e.path("full")) }, syscall.EEXIST},
		{"rename missing", func() error { return os.Rename(e.path("nope"), e.path("x")) }, syscall.ENOENT},
		{"rename dir over non-empty dir", func() error { return syscall.Rename(e.path("empty"), e.path("full")) }, syscall.ENOTEMPTY},
		{"rename file over dir", func() error { return syscall.Rename(e.path("file"), e.path("empty")) }, syscall.EISDIR},
		{"rename into missing dir", func() error { return os.Rename(e.path("file"), e.path("nope/file")) }, syscall.ENOENT},
		{"mkdir under file", func() error { return os.Mkdir(e.path("file/d"), 0o755) }, syscall.ENOTDIR},
		{"rmdir dot", func() error { return syscall.Rmdir(e.path("empty") + "/.") }, syscall.EINVAL},
		{"opendir file", func() error { _, err := os.ReadDir(e.path("file")); return err }, syscall.ENOTDIR},
		{"trailing slash on file", func() error { _, err := os.Stat(e.path("file") + "/"); return err }, syscall.ENOTDIR},
		{"unlink missing", func() error { return syscall.Unlink(e.path("nope")) }, syscall.ENOENT},
		{"truncate dir", func() error { return os.Truncate(e.path("empty"), 0) }, syscall.EISDIR},
	}
	for _, c := range cases {
		if err := c.op(); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

// TestOtherInterfaceUnlinkOpen removes, through the path API, a file the
// mount has open: the open handle still reads and writes it.
func TestOtherInterfaceUnlinkOpen(t *testing.T) {
	e := mountT(t)
	f, err := os.Create(e.path("f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("kept"); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	ten, err := e.store.Acquire(t.Context(), "alpha")
	if err != nil {
		t.Fatal(err)
	}
	defer ten.Release()
	if err := files.New(ten).Paths().Remove(t.Context(), "f"); err != nil {
		t.Fatal(err)
	}
	e.m.fs.notifying.Wait()
	if _, err := os.Stat(e.path("f")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stat after remove: %v", err)
	}
	if _, err := f.WriteString(" alive"); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 32)
	if n, err := f.ReadAt(buf, 0); string(buf[:n]) != "kept alive" {
		t.Fatalf("read through handle: %q %v", buf[:n], err)
	}
}

// TestOtherInterfaceRemoveFrees removes and replaces, through the path
// API, files the kernel knows but nobody has open: the kernel is told
// they are gone, lets go of them, and their inodes are deleted while the
// mount runs.
func TestOtherInterfaceRemoveFrees(t *testing.T) {
	e := mountT(t)
	e.sh(t, "echo a > a; echo b > b; echo c > c; cat a b c >/dev/null; stat a b c >/dev/null")
	waitReleased(t, e)
	ten, err := e.store.Acquire(t.Context(), "alpha")
	if err != nil {
		t.Fatal(err)
	}
	defer ten.Release()
	p := files.New(ten).Paths()
	if err := p.Remove(t.Context(), "a"); err != nil {
		t.Fatal(err)
	}
	if err := p.Rename(t.Context(), "b", "c"); err != nil {
		t.Fatal(err)
	}
	e.m.fs.notifying.Wait()
	if out := e.sh(t, "ls; cat c"); out != "c\nb\n" {
		t.Fatalf("after path API changes: %q", out)
	}
	for i := 0; ; i++ {
		var left int
		ten.DB().QueryRow(`SELECT COUNT(*) FROM file_inodes WHERE nlink = 0`).Scan(&left)
		if left == 0 {
			break
		}
		if i == 1000 {
			t.Fatalf("%d orphans left while mounted", left)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
