package fusefs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"rewire/storage"
	"rewire/storage/files"
)

// TestTenantIsolation mounts two tenants of one store: neither sees the
// other's files, through the mount or through the path API, even for the
// same names and inode numbers.
func TestTenantIsolation(t *testing.T) {
	e := mountT(t) // tenant alpha
	ctx := context.Background()
	if _, err := e.store.CreateTenant(ctx, "beta", "pw"); err != nil {
		t.Fatal(err)
	}
	betaDir := filepath.Join(t.TempDir(), "beta")
	os.Mkdir(betaDir, 0o755)
	mb, err := Mount(ctx, e.store, "beta", betaDir, Options{}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mb.Unmount() })

	e.sh(t, "mkdir shared; echo alpha-secret > shared/f")
	if _, err := os.Stat(filepath.Join(betaDir, "shared")); !os.IsNotExist(err) {
		t.Fatalf("beta sees alpha's directory: %v", err)
	}
	if err := os.WriteFile(filepath.Join(betaDir, "f"), []byte("beta"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The same inode numbers exist in both tenants and name different files.
	var sa, sb os.FileInfo
	sa, _ = os.Stat(e.path("shared"))
	sb, _ = os.Stat(filepath.Join(betaDir, "f"))
	if sa == nil || sb == nil || sa.Sys().(*syscall.Stat_t).Ino != sb.Sys().(*syscall.Stat_t).Ino {
		t.Fatalf("expected one inode number in both tenants: %v %v", sa, sb)
	}
	got, _ := os.ReadFile(e.path("shared/f"))
	if string(got) != "alpha-secret\n" {
		t.Fatalf("alpha reads %q", got)
	}

	// The path API of beta does not reach alpha's files.
	tb, err := e.store.Acquire(ctx, "beta")
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Release()
	if _, err := files.New(tb).Paths().ReadFile(ctx, "shared/f"); !files.IsNotFound(err) {
		t.Fatalf("beta's path API reads alpha's file: %v", err)
	}
	// A change through beta's path API does not touch alpha's mount.
	if err := files.New(tb).Paths().WriteFile(ctx, "shared", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(e.path("shared")); err != nil || !st.IsDir() {
		t.Fatalf("alpha's directory changed: %v", err)
	}
}

// TestMountTwice refuses a second mount of the same tenant.
func TestMountTwice(t *testing.T) {
	e := mountT(t)
	other := filepath.Join(t.TempDir(), "again")
	os.Mkdir(other, 0o755)
	m, err := Mount(context.Background(), e.store, "alpha", other, Options{}, nil)
	if err == nil {
		m.Unmount()
		t.Fatal("second mount of one tenant succeeded")
	}
	if !errors.Is(err, ErrMounted) {
		t.Fatalf("second mount: %v", err)
	}
}

// TestNoFUSE fails with a clear error when the FUSE device is missing.
func TestNoFUSE(t *testing.T) {
	ctx := context.Background()
	st, err := storage.Open(ctx, storage.Config{Dir: t.TempDir(), MoverInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.CreateTenant(ctx, "alpha", "pw"); err != nil {
		t.Fatal(err)
	}
	old := fuseDevice
	fuseDevice = filepath.Join(t.TempDir(), "fuse")
	defer func() { fuseDevice = old }()
	m, err := Mount(ctx, st, "alpha", t.TempDir(), Options{}, nil)
	if err == nil {
		m.Unmount()
		t.Fatal("mounted without a FUSE device")
	}
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "FUSE is unavailable") {
		t.Fatalf("error: %v", err)
	}
}

// TestUnmountBusy unmounts while a process has a file open inside: the
// mount leaves the namespace at once, and the session ends when the
// file is closed, with its writes stored.
func TestUnmountBusy(t *testing.T) {
	e := mountT(t)
	f, err := os.Create(e.path("busy"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("before"); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Unmount(); err != nil {
		t.Fatal(err)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), " "+e.dir+" ") {
		t.Fatalf("%s still mounted", e.dir)
	}
	// The open file still works until it is closed.
	if _, err := f.WriteString(" after"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	e.m.Wait()
	e.mount(t)
	if got, err := os.ReadFile(e.path("busy")); err != nil || string(got) != "before after" {
		t.Fatalf("after remount: %q %v", got, err)
	}
}
