package fusefs

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"rewire/internal/testtool"
	"rewire/storage"
	"rewire/storage/files"
)

// TestPermissions checks that the kernel enforces mode bits for an
// unprivileged user (default_permissions), giving EACCES.
func TestPermissions(t *testing.T) {
	e := mountT(t)
	testtool.NeedFUSE(t, "setpriv")
	// Let the unprivileged user reach the mount point.
	for p := filepath.Dir(e.dir); p != "/" && p != os.TempDir(); p = filepath.Dir(p) {
		os.Chmod(p, 0o755)
	}
	e.sh(t, "echo secret > private; chmod 600 private; echo open > public; chmod 644 public; mkdir locked; chmod 700 locked; chmod 777 .")
	as := func(script string) (string, error) {
		cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash", "-c", script)
		cmd.Dir = e.dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := as("cat public"); err != nil || out != "open\n" {
		t.Fatalf("public: %q %v", out, err)
	}
	for _, script := range []string{"cat private", "echo x >> public", "ls locked", "touch locked/x", "chmod 777 public"} {
		out, err := as(script)
		if err == nil || !(strings.Contains(out, "Permission denied") || strings.Contains(out, "Operation not permitted")) {
			t.Errorf("%s as nobody: %q %v", script, out, err)
		}
	}
	// The new file belongs to the caller.
	if out, err := as("touch mine && stat -c %u:%g mine"); err != nil || out != "65534:65534\n" {
		t.Fatalf("owner of new file: %q %v", out, err)
	}
}

// TestBigDirectory lists a directory of 100,000 entries with readdir and
// readdirplus.
func TestBigDirectory(t *testing.T) {
	e := mountT(t)
	n := 100000
	if v := os.Getenv("REWIRE_FUSE_BIGDIR"); v != "" {
		fmt.Sscan(v, &n)
	}
	if testing.Short() {
		t.Skip("slow")
	}
	ctx := context.Background()
	ten, err := e.store.Acquire(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	defer ten.Release()
	fs := files.New(ten)
	d, err := fs.Mkdir(ctx, files.RootIno, "big", 0o755, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Insert the entries in one transaction (the layout of
	// storage/files), so the setup takes a second, not minutes.
	start := time.Now()
	err = ten.Update(ctx, func(tx *storage.Tx) error {
		for i := 0; i < n; i++ {
			var ino int64
			err := tx.QueryRow(`INSERT INTO file_inodes(mode, nlink, atime, mtime, ctime)
				VALUES (33188, 1, 0, 0, 0) RETURNING ino`).Scan(&ino)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(`INSERT INTO file_dirents(parent, name, ino) VALUES (?, ?, ?)`,
				d.Ino, []byte(fmt.Sprintf("file-%06d", i)), ino); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("setup %v", time.Since(start))
	start = time.Now()
	out := e.sh(t, "ls -f big | wc -l")
	t.Logf("ls -f %v", time.Since(start))
	out += e.sh(t, "ls -l big | grep -c '^-rw-r--r--'")
	t.Logf("ls -l %v", time.Since(start))
	out += e.sh(t, "ls big | tail -1")
	if out != fmt.Sprintf("%d\n%d\nfile-%06d\n", n+2, n, n-1) {
		t.Fatalf("listing: %q", out)
	}
	// Both request kinds served the listings.
	if p, d := e.m.fs.dirPlusReads.Load(), e.m.fs.dirReads.Load(); p == 0 || d == 0 {
		t.Fatalf("READDIRPLUS %d, READDIR %d: want both", p, d)
	}
	t.Logf("listings %v", time.Since(start))
}
