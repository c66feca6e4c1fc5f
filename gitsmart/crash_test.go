package gitsmart

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
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

// TestMain lets the crash test run this test binary as a server process.
func TestMain(m *testing.M) {
	if dir := os.Getenv("GITSMART_CHILD_DIR"); dir != "" {
		runChild(dir)
		return
	}
	os.Exit(m.Run())
}

// runChild serves git over HTTP from dir until killed, writing its address
// to dir/addr.
func runChild(dir string) {
	ctx := context.Background()
	st, err := storage.Open(ctx, storage.Config{Dir: filepath.Join(dir, "data"), MoverInterval: -1})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if _, err := st.CreateTenant(ctx, "acme", "secret"); err != nil && !errors.Is(err, storage.ErrTenantExists) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.Exit(1)
	}
	os.WriteFile(filepath.Join(dir, "addr.tmp"), []byte(ln.Addr().String()), 0o644)
	os.Rename(filepath.Join(dir, "addr.tmp"), filepath.Join(dir, "addr"))
	mux := http.NewServeMux()
	mux.Handle("/git/", NewHandler(st, nil))
	http.Serve(ln, mux)
}

type child struct {
	cmd  *exec.Cmd
	addr string
}

func startChild(t *testing.T, dir string) *child {
	t.Helper()
	os.Remove(filepath.Join(dir, "addr"))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GITSMART_CHILD_DIR="+dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd}
	t.Cleanup(func() { c.kill() })
	for i := 0; i < 500; i++ {
		if b, err := os.ReadFile(filepath.Join(dir, "addr")); err == nil {
			c.addr = string(b)
			return c
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("child server did not start")
	return nil
}

func (c *child) kill() {
	if c.cmd.ProcessState == nil {
		c.cmd.Process.Signal(syscall.SIGKILL)
		c.cmd.Wait()
	}
}

// TestCrashMidPush kills the server while it receives, stores or applies a
// push (see waitForKillPoint) and checks
// that after a restart the old references are intact, the repository is
// complete, and a push acknowledged before a kill is never lost.
func TestCrashMidPush(t *testing.T) {
	testtool.Need(t, "git")
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	dir := t.TempDir()
	e := &gitEnv{t: t, home: t.TempDir(), proto: "2"}
	c := startChild(t, dir)
	url := func() string { return "http://acme:secret@" + c.addr + "/git/acme/crash.git" }

	src := t.TempDir()
	e.git(src, "init", "-q")
	writeFile(t, filepath.Join(src, "a.txt"), []byte("a\n"))
	e.git(src, "add", ".")
	e.git(src, "commit", "-qm", "base")
	e.git(src, "push", "-q", url(), "main")
	acked := strings.TrimSpace(e.git(src, "rev-parse", "HEAD"))

	for round := 0; round < 6; round++ {
		big := make([]byte, 8<<20)
		rand.Read(big)
		writeFile(t, filepath.Join(src, fmt.Sprintf("big%d.bin", round)), big)
		e.git(src, "add", ".")
		e.git(src, "commit", "-qm", fmt.Sprintf("big %d", round))
		next := strings.TrimSpace(e.git(src, "rev-parse", "HEAD"))

		// Push in the background; kill the server at this round's point.
		stale := incoming(dir, nil) // left by earlier kills
		done := make(chan error, 1)
		go func() {
			_, err := e.tryGit(src, "push", "-q", url(), "main")
			done <- err
		}()
		waitForKillPoint(dir, round, stale, done)
		c.kill()
		pushErr := <-done
		if pushErr == nil {
			acked = next // the push finished before the kill
		}

		c = startChild(t, dir)
		got := lsRemoteURL(e, url(), "refs/heads/main")
		if pushErr == nil && got != next {
			t.Fatalf("round %d: acknowledged push lost: main %s, want %s", round, got, next)
		}
		if got != acked && got != next {
			t.Fatalf("round %d: main %s is neither old %s nor new %s", round, got, acked, next)
		}
		t.Logf("round %d: push error %v; after restart main is the new commit: %v", round, pushErr, got == next)
		clone := filepath.Join(t.TempDir(), "c")
		e.git("", "clone", "-q", url(), clone)
		e.git(clone, "fsck", "--no-progress")
		// Make the client's view match the server again.
		e.git(src, "push", "-q", "--force", url(), "main")
		acked = next
	}
}

// incoming lists the server's incoming pack files, leaving out those in
// skip.
func incoming(dir string, skip map[string]bool) map[string]bool {
	m, _ := filepath.Glob(filepath.Join(dir, "data", "tenants", "*", "git", "packs", "incoming-*"))
	out := make(map[string]bool)
	for _, p := range m {
		if !skip[p] {
			out[p] = true
		}
	}
	return out
}

// waitForKillPoint waits until the server is where round wants it killed:
// as the pack starts arriving, halfway through it, or once it is received
// and stored (its incoming file renamed) but perhaps not yet applied. It
// returns early when the push ends first.
func waitForKillPoint(dir string, round int, stale map[string]bool, done chan error) {
	seen := false
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && len(done) == 0 {
		m := incoming(dir, stale)
		switch round % 3 {
		case 0:
			if len(m) > 0 {
				return
			}
		case 1:
			for p := range m {
				if st, err := os.Stat(p); err == nil && st.Size() >= 4<<20 {
					return
				}
			}
		case 2:
			if len(m) > 0 {
				seen = true
			} else if seen {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
}

func lsRemoteURL(e *gitEnv, url, ref string) string {
	f := strings.Fields(e.git("", "ls-remote", url, ref))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
