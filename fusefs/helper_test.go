package fusefs

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"rewire/internal/testtool"
	"rewire/storage"
)

type env struct {
	store *storage.Store
	data  string
	dir   string
	m     *MountPoint
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("REWIRE_FUSE_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// mountT mounts a fresh tenant under t.TempDir and unmounts it in
// t.Cleanup, lazily if it is still busy, so no mount outlives the test.
func mountT(t *testing.T) *env {
	t.Helper()
	return mountCfg(t, storage.Config{MoverInterval: -1})
}

// mountCfg is mountT with a store opened with cfg (its Dir is set here).
func mountCfg(t *testing.T, cfg storage.Config) *env {
	t.Helper()
	testtool.NeedFUSE(t)
	ctx := context.Background()
	e := &env{data: t.TempDir()}
	cfg.Dir = e.data
	st, err := storage.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.store = st
	if _, err := st.CreateTenant(ctx, "alpha", "pw"); err != nil {
		t.Fatal(err)
	}
	e.dir = filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(e.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.mount(t)
	return e
}

func (e *env) mount(t *testing.T) {
	t.Helper()
	m, err := Mount(context.Background(), e.store, "alpha", e.dir, Options{Debug: os.Getenv("REWIRE_FUSE_DEBUG") != ""}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	dir := e.dir
	t.Cleanup(func() {
		if err := m.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
			syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
}

func (e *env) path(p string) string { return filepath.Join(e.dir, p) }

// sh runs a shell command in the mount and returns its output.
func (e *env) sh(t *testing.T, script string) string {
	t.Helper()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = e.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return string(out)
}

// shErr runs a command that must fail and returns its output.
func (e *env) shErr(t *testing.T, script string) string {
	t.Helper()
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = e.dir
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("%s: succeeded, want failure\n%s", script, out)
	}
	return string(out)
}

// waitReleased waits until the kernel's asynchronous RELEASE requests
// have closed every open file of the mount.
func waitReleased(t *testing.T, e *env) {
	t.Helper()
	for i := 0; i < 500; i++ {
		e.m.fs.mu.Lock()
		n := len(e.m.fs.open)
		e.m.fs.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("files still open")
}
