package fusefs

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"rewire/storage"
	"rewire/storage/files"
)

// TestCrashChild is the process the crash test kills: it mounts the
// tenant named in its environment and waits.
func TestCrashChild(t *testing.T) {
	spec := os.Getenv("REWIRE_FUSE_CRASH_CHILD")
	if spec == "" {
		t.Skip("helper process for TestCrash")
	}
	data, dir, _ := strings.Cut(spec, ",")
	st, err := storage.Open(context.Background(), storage.Config{Dir: data, MoverInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Mount(context.Background(), st, "alpha", dir, Options{}, nil); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("ready\n")
	select {}
}

// TestCrash kills the process serving the mount after fsync, cleans up
// the stale mount, mounts again and checks that what was synced is there
// and the tree is consistent.
func TestCrash(t *testing.T) {
	needFUSE(t)
	ctx := context.Background()
	data := t.TempDir()
	dir := filepath.Join(t.TempDir(), "mnt")
	os.Mkdir(dir, 0o755)
	st, err := storage.Open(ctx, storage.Config{Dir: data, MoverInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateTenant(ctx, "alpha", "pw"); err != nil {
		t.Fatal(err)
	}
	st.Close()

	child := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
	child.Env = append(os.Environ(), "REWIRE_FUSE_CRASH_CHILD="+data+","+dir)
	out, _ := child.StdoutPipe()
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	holder := exec.Command("bash", "-c", "exec 3<>held; rm held; echo x >&3; sleep 60")
	t.Cleanup(func() {
		child.Process.Kill()
		child.Wait()
		if holder.Process != nil {
			holder.Process.Kill()
			holder.Wait()
		}
		CleanupStale(dir)
		syscall.Unmount(dir, syscall.MNT_DETACH)
	})
	sc := bufio.NewScanner(out)
	for sc.Scan() && !strings.Contains(sc.Text(), "ready") {
	}
	go func() {
		for sc.Scan() {
		}
	}()

	ref := t.TempDir()
	run := func(script, cwd string) {
		t.Helper()
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
		cmd.Dir = cwd
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
	}
	run("head -c 9000000 /dev/urandom > big; echo small > small", ref)
	run(`
		mkdir -p a/b
		cp `+ref+`/big a/b/big && sync a/b/big
		cp `+ref+`/small small && sync small
		mv small a/small
		ln a/small a/b/hard
		ln -s ../small a/b/soft
		echo unsynced > a/later
	`, dir)
	holder.Dir = dir
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	run("sleep 0.3", dir)

	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	holder.Process.Kill()
	holder.Wait()
	var sfs syscall.Statfs_t
	if err := syscall.Statfs(dir, &sfs); !errors.Is(err, syscall.ENOTCONN) {
		t.Fatalf("stat of dead mount: %v (want ENOTCONN)", err)
	}
	if err := CleanupStale(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("after cleanup: %v", err)
	}
	if err := CleanupStale(dir); err != nil {
		t.Fatalf("cleanup of a healthy dir: %v", err)
	}

	e := &env{data: data, dir: dir}
	e.store, err = storage.Open(ctx, storage.Config{Dir: data, MoverInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.store.Close() })
	e.mount(t)
	got := e.sh(t, `
		cmp a/b/big `+ref+`/big && echo big ok
		cat a/small a/b/hard a/b/soft
		stat -c %h a/small
		ls -A | tr '\n' ' '
	`)
	if got != "big ok\nsmall\nsmall\nsmall\n2\na " {
		t.Fatalf("after crash: %q", got)
	}
	// The file unlinked while open is gone for good.
	tn, err := e.store.Acquire(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Release()
	var orphans int
	tn.DB().QueryRow(`SELECT COUNT(*) FROM file_inodes WHERE nlink = 0`).Scan(&orphans)
	if orphans != 0 {
		t.Fatalf("%d orphaned inodes after remount", orphans)
	}
}

// TestDurableAtClose checks that data written without fsync is stored
// (and so durable) once the kernel has released the file, by reading it
// through a second, independent store on the same data directory.
func TestDurableAtClose(t *testing.T) {
	e := mountT(t)
	if err := os.WriteFile(e.path("f"), []byte("no fsync"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitReleased(t, e)
	ctx := context.Background()
	other, err := storage.Open(ctx, storage.Config{Dir: e.data, MoverInterval: -1, SkipDirLock: true})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ten, err := other.Acquire(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	defer ten.Release()
	got, err := files.New(ten).Paths().ReadFile(ctx, "f")
	if err != nil || string(got) != "no fsync" {
		t.Fatalf("stored content %q %v", got, err)
	}
}
