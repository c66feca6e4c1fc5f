package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"rewire/internal/testserver"
	"rewire/internal/testtool"
)

// TestGitCommands creates, lists and deletes a repository with the CLI,
// and clones the created one from a server.
func TestGitCommands(t *testing.T) {
	git := testtool.Need(t, "git")
	bin := testserver.Binary(t)
	data := t.TempDir()
	run := func(args ...string) (string, error) {
		out, err := exec.Command(bin, append(args, "--data", data)...).CombinedOutput()
		return string(out), err
	}
	mustRun := func(args ...string) string {
		t.Helper()
		out, err := run(args...)
		if err != nil {
			t.Fatalf("rewire %v: %v: %s", args, err, out)
		}
		return out
	}
	mustRun("tenant", "create", "acme", "--password", "pw")
	mustRun("git", "create", "acme", "site")
	if out := mustRun("git", "list", "acme"); strings.TrimSpace(out) != "site" {
		t.Fatalf("git list = %q", out)
	}
	for _, bad := range [][]string{
		{"git", "create", "acme", "site"},      // exists
		{"git", "create", "acme", "../escape"}, // invalid name
		{"git", "create", "nobody", "site"},    // no such tenant
		{"git", "delete", "acme", "missing"},   // no such repository
		{"git", "create", "acme"},              // usage
	} {
		if out, err := run(bad...); err == nil {
			t.Errorf("rewire %v succeeded: %s", bad, out)
		}
	}

	srv := testserver.Start(t, testserver.Options{DataDir: data})
	// The server holds the data directory; the CLI says what to do instead.
	if out, err := run("git", "create", "acme", "other"); err == nil || !strings.Contains(out, "git.create") {
		t.Errorf("git create beside a server: %v: %s", err, out)
	}
	clone := filepath.Join(t.TempDir(), "site")
	cmd := exec.Command(git, "clone", "-q", "http://acme:pw@"+srv.Addrs.HTTP+"/git/acme/site.git", clone)
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("clone of the created repository: %v: %s", err, out)
	}
	srv.Stop(t)

	mustRun("git", "delete", "acme", "site")
	if out := mustRun("git", "list", "acme"); strings.TrimSpace(out) != "" {
		t.Fatalf("git list after delete = %q", out)
	}
}

// TestMountCommand runs `rewire mount` in the foreground, writes through
// the mount, and checks that SIGINT unmounts and the data stays.
func TestMountCommand(t *testing.T) {
	testtool.NeedFUSE(t)
	bin := testserver.Binary(t)
	data, mnt := t.TempDir(), t.TempDir()
	if out, err := exec.Command(bin, "tenant", "create", "files", "--password", "pw", "--data", data).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	cmd := exec.Command(bin, "mount", "files", mnt, "--data", data)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}) // closed when the process has exited
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			cmd.Process.Kill()
			<-done
		}
		if isMountPoint(t, mnt) {
			syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
	})
	// Wait until the mount is in place.
	deadline := time.Now().Add(20 * time.Second)
	for !isMountPoint(t, mnt) {
		if time.Now().After(deadline) {
			t.Fatalf("no mount at %s: %s", mnt, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := os.WriteFile(filepath.Join(mnt, "note.txt"), []byte("via rewire mount\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
		if waitErr != nil {
			t.Fatalf("rewire mount exited with %v: %s", waitErr, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("rewire mount did not exit on SIGINT")
	}
	if isMountPoint(t, mnt) {
		t.Fatal("still mounted after SIGINT")
	}
	// The server serves what the mount wrote.
	srv := testserver.Start(t, testserver.Options{DataDir: data, Args: []string{"--mount", "files=" + mnt}})
	b, err := os.ReadFile(filepath.Join(mnt, "note.txt"))
	if err != nil || string(b) != "via rewire mount\n" {
		t.Fatalf("after remount by serve: %q, %v", b, err)
	}
	srv.Stop(t)
}

// isMountPoint reports whether dir is listed in /proc/self/mountinfo.
func isMountPoint(t *testing.T, dir string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
