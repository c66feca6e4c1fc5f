package fusefs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"rewire/internal/testtool"
)

func TestUnlinkedOpen(t *testing.T) {
	e := mountT(t)
	f, err := os.Create(e.path("tmp"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("still here"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(e.path("tmp")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(e.path("tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stat after unlink: %v", err)
	}
	// Written and stored after the unlink, read back through the handle.
	if _, err := f.WriteString(" and more"); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := f.ReadAt(buf, 0)
	if string(buf[:n]) != "still here and more" {
		t.Fatalf("read %q %v", buf[:n], err)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil || st.Nlink != 0 {
		t.Fatalf("fstat nlink %d %v", st.Nlink, err)
	}
	f.Close()
	// Once closed the inode is gone from the core.
	tn, _ := e.store.Acquire(t.Context(), "alpha")
	defer tn.Release()
	for i := 0; ; i++ {
		var left int
		tn.DB().QueryRow(`SELECT COUNT(*) FROM file_inodes WHERE nlink = 0`).Scan(&left)
		if left == 0 {
			break
		}
		if i == 500 {
			t.Fatalf("%d unlinked inodes left", left)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRenameFlags(t *testing.T) {
	e := mountT(t)
	e.sh(t, "echo a > a; echo b > b; mkdir d")
	at := unix.AT_FDCWD
	if err := unix.Renameat2(at, e.path("a"), at, e.path("b"), unix.RENAME_NOREPLACE); !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("noreplace: %v", err)
	}
	if err := unix.Renameat2(at, e.path("a"), at, e.path("b"), unix.RENAME_EXCHANGE); err != nil {
		t.Fatal(err)
	}
	if err := unix.Renameat2(at, e.path("d"), at, e.path("a"), unix.RENAME_EXCHANGE); err != nil {
		t.Fatal(err)
	}
	out := e.sh(t, "cat b d; test -d a && echo dir")
	if out != "a\nb\ndir\n" {
		t.Fatalf("after exchange: %q", out)
	}
	if err := unix.Renameat2(at, e.path("b"), at, e.path("c"), unix.RENAME_NOREPLACE); err != nil {
		t.Fatal(err)
	}
	// Atomic replace keeps the destination readable throughout.
	e.sh(t, "echo new > n; mv n c; cat c")
}

func TestXattrs(t *testing.T) {
	e := mountT(t)
	e.sh(t, "touch f")
	p := e.path("f")
	if err := unix.Setxattr(p, "user.color", []byte("blue"), 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(p, "user.color", []byte("red"), unix.XATTR_CREATE); !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("create existing: %v", err)
	}
	buf := make([]byte, 16)
	n, err := unix.Getxattr(p, "user.color", buf)
	if err != nil || string(buf[:n]) != "blue" {
		t.Fatalf("getxattr %q %v", buf[:n], err)
	}
	if _, err := unix.Getxattr(p, "user.color", make([]byte, 1)); !errors.Is(err, syscall.ERANGE) {
		t.Fatalf("small buffer: %v", err)
	}
	n, err = unix.Listxattr(p, buf)
	if err != nil || string(buf[:n]) != "user.color\x00" {
		t.Fatalf("listxattr %q %v", buf[:n], err)
	}
	if err := unix.Removexattr(p, "user.color"); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Getxattr(p, "user.color", buf); !errors.Is(err, syscall.ENODATA) {
		t.Fatalf("after remove: %v", err)
	}
}

func TestSparseAndFallocate(t *testing.T) {
	e := mountT(t)
	f, err := os.Create(e.path("sparse"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const gib = 1 << 30
	if _, err := f.WriteAt([]byte("end"), 3*gib); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("start"), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if _, err := f.ReadAt(buf, gib); err != nil || !bytes.Equal(buf, make([]byte, 8)) {
		t.Fatalf("hole read %q %v", buf, err)
	}
	var st syscall.Stat_t
	syscall.Fstat(int(f.Fd()), &st)
	if st.Size != 3*gib+3 || st.Blocks*512 > 1<<20 {
		t.Fatalf("size %d blocks %d", st.Size, st.Blocks)
	}
	// Past 4 GiB (32-bit offsets and chunk indexes wrap there).
	if _, err := f.WriteAt([]byte("far"), 5*gib+7); err != nil {
		t.Fatal(err)
	}
	f.Sync()
	got := e.sh(t, "tail -c 3 sparse; stat -c %s sparse; dd if=sparse bs=1 skip=$((4*1024*1024*1024)) count=4 status=none | od -An -c | tr -s ' '")
	if got != "far"+fmt.Sprint(5*gib+10)+"\n \\0 \\0 \\0 \\0\n" {
		t.Fatalf("past 4 GiB: %q", got)
	}

	g, err := os.Create(e.path("falloc"))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := unix.Fallocate(int(g.Fd()), 0, 0, 10000); err != nil {
		t.Fatal(err)
	}
	if fi, _ := g.Stat(); fi.Size() != 10000 {
		t.Fatalf("fallocate size %d", fi.Size())
	}
	if err := unix.Fallocate(int(g.Fd()), unix.FALLOC_FL_KEEP_SIZE, 0, 20000); err != nil {
		t.Fatal(err)
	}
	g.WriteAt(bytes.Repeat([]byte{'x'}, 10000), 0)
	if err := unix.Fallocate(int(g.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 100, 200); err != nil {
		t.Fatal(err)
	}
	g.Sync()
	got = e.sh(t, "od -An -c -j 98 -N 4 falloc | tr -s ' '; stat -c %s falloc")
	if got != " x x \\0 \\0\n10000\n" {
		t.Fatalf("after punch: %q", got)
	}
}

// TestConcurrentAppend appends from two processes through O_APPEND; no
// line may be lost or torn.
func TestConcurrentAppend(t *testing.T) {
	e := mountT(t)
	var wg sync.WaitGroup
	for _, who := range []string{"a", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command("bash", "-c", `for i in $(seq 1 500); do echo "`+who+` $i" >> log; done`)
			cmd.Dir = e.dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%v %s", err, out)
			}
		}()
	}
	wg.Wait()
	data, err := os.ReadFile(e.path("log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 1000 {
		t.Fatalf("%d lines", len(lines))
	}
	next := map[string]int{"a": 1, "b": 1}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 2 || strconv.Itoa(next[f[0]]) != f[1] {
			t.Fatalf("line %q out of order or torn", l)
		}
		next[f[0]]++
	}
}

// TestLocksAndSQLite checks flock and POSIX locks between processes and
// runs sqlite3 on a database inside the mount.
func TestLocksAndSQLite(t *testing.T) {
	e := mountT(t)
	testtool.NeedFUSE(t, "sqlite3", "flock")
	e.sh(t, "touch lockfile")
	// flock: a second process cannot take the lock while the first holds it.
	out := e.sh(t, `
		flock lockfile sleep 1 &
		sleep 0.3
		flock -n lockfile true && echo got || echo busy
		wait
		flock -n lockfile true && echo got || echo busy
	`)
	if out != "busy\ngot\n" {
		t.Fatalf("flock: %q", out)
	}
	// POSIX locks through fcntl.
	f, err := os.OpenFile(e.path("lockfile"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk); err != nil {
		t.Fatal(err)
	}
	out = e.sh(t, `python3 -c '
import fcntl, sys
f = open("lockfile", "r+")
try:
    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB); print("got")
except OSError: print("busy")
' 2>/dev/null || echo nopython`)
	if out != "busy\n" && out != "nopython\n" {
		t.Fatalf("posix lock: %q", out)
	}

	e.sh(t, `
		sqlite3 db.sqlite 'PRAGMA journal_mode=WAL; CREATE TABLE t(x INTEGER PRIMARY KEY, y TEXT);'
		for i in $(seq 1 4); do
			sqlite3 -cmd '.timeout 20000' db.sqlite "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM c WHERE n < 500)
				INSERT INTO t(y) SELECT hex(randomblob(40)) FROM c;" &
		done
		wait
		sqlite3 db.sqlite 'PRAGMA journal_mode=DELETE;'
		sqlite3 db.sqlite 'PRAGMA integrity_check; SELECT COUNT(*) FROM t;' > result
	`)
	got := e.sh(t, "cat result")
	if got != "ok\n2000\n" {
		t.Fatalf("sqlite: %q", got)
	}
}
