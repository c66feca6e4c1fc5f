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
	"time"

	"rewire/internal/testtool"
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
	if _, err := Mount(context.Background(), st, "alpha", dir, Options{FlushInterval: crashFlush}, nil); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("ready\n")
	select {}
}

// crashFlush is the crash child's FlushInterval.
const crashFlush = 200 * time.Millisecond

// TestCrash kills the process serving the mount after fsync, mounts again
// over the stale mount (Mount cleans it up) and checks that what was
// synced is there and the tree is consistent. Data written without fsync
// (closed, or still open) must be durable within the FlushInterval: the
// test waits until an independent reader of the data directory sees it,
// then kills, and expects it after the remount.
func TestCrash(t *testing.T) {
	testtool.NeedFUSE(t)
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
	var holder *exec.Cmd
	t.Cleanup(func() {
		child.Process.Kill()
		child.Wait()
		if holder != nil && holder.Process != nil {
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
	holder = exec.Command("bash", "-c", "exec 3<>held; rm held; echo x >&3; exec 4>a/open; echo pending >&4; sleep 60")
	holder.Dir = dir
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	waitStored(t, data, map[string]string{"a/later": "unsynced\n", "a/open": "pending\n"})

	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	holder.Process.Kill()
	holder.Wait()
	var sfs syscall.Statfs_t
	if err := syscall.Statfs(dir, &sfs); !errors.Is(err, syscall.ENOTCONN) {
		t.Fatalf("stat of dead mount: %v (want ENOTCONN)", err)
	}

	// The next mount cleans up the stale one by itself.
	e := &env{data: data, dir: dir}
	e.store, err = storage.Open(ctx, storage.Config{Dir: data, MoverInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.store.Close() })
	e.mount(t)
	if err := CleanupStale(dir); err != nil {
		t.Fatalf("cleanup of a live mount: %v", err)
	}
	got := e.sh(t, `
		cmp a/b/big `+ref+`/big && echo big ok
		cat a/small a/b/hard a/b/soft
		stat -c %h a/small
		cat a/later a/open
		ls -A | tr '\n' ' '
	`)
	if got != "big ok\nsmall\nsmall\nsmall\n2\nunsynced\npending\na " {
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

// waitStored waits until a reader of the data directory, independent of
// the mount's process, sees every file with its content; it fails after
// far longer than crashFlush.
func waitStored(t *testing.T, data string, want map[string]string) {
	t.Helper()
	ctx := context.Background()
	st, err := storage.Open(ctx, storage.Config{Dir: data, MoverInterval: -1, SkipDirLock: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ten, err := st.Acquire(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	defer ten.Release()
	p := files.New(ten).Paths()
	deadline := time.Now().Add(100 * crashFlush)
	for name, content := range want {
		for {
			got, err := p.ReadFile(ctx, name)
			if err == nil && string(got) == content {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not stored within %v of the write: %q %v", name, 100*crashFlush, got, err)
			}
			time.Sleep(crashFlush / 4)
		}
	}
}

// TestFsyncSyncsLazyChanges checks that the mount's namespace changes are
// lazy writes and that fsync of a file and of a directory makes them
// durable: each asks the core for a WAL sync, and one with nothing lazy
// outstanding costs none.
func TestFsyncSyncsLazyChanges(t *testing.T) {
	e := mountT(t)
	f, err := os.Create(e.path("a"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	before := storage.LazySyncs()
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	// (The one-second lazy-sync bound may have come first on a slow
	// machine; then that was the sync.)
	if got := storage.LazySyncs() - before; got != 1 {
		t.Fatalf("fsync after a lazy create made %d WAL syncs, want 1", got)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if got := storage.LazySyncs() - before; got != 1 {
		t.Fatalf("a second fsync with nothing new made %d more WAL syncs, want 0", got-1)
	}
	if err := os.Mkdir(e.path("d"), 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := os.Open(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
	if got := storage.LazySyncs() - before; got != 2 {
		t.Fatalf("fsync of the directory after a lazy mkdir: %d WAL syncs in all, want 2", got)
	}
}
