package fusefs

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestConcurrentOps runs random file operations from several goroutines
// on one small namespace, so that they race on the same names and
// inodes. Operations may fail as they would on a local file system
// (ENOENT, EEXIST, ENOTEMPTY, ...), never with EIO; afterwards every
// file reads back whole, and once unmounted the core holds no orphaned
// inodes and its byte counts match its chunks.
func TestConcurrentOps(t *testing.T) {
	e := mountT(t)
	names := []string{"a", "b", "c", "d", "d/a", "d/b", "e", "e/a"}
	allowed := []syscall.Errno{syscall.ENOENT, syscall.EEXIST, syscall.ENOTEMPTY,
		syscall.ENOTDIR, syscall.EISDIR, syscall.EINVAL, syscall.ENODATA, syscall.EPERM}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			for step := 0; step < 400; step++ {
				p1 := e.path(names[rng.IntN(len(names))])
				p2 := e.path(names[rng.IntN(len(names))])
				data := make([]byte, 1+rng.IntN(70000))
				for i := range data {
					data[i] = byte(w)
				}
				var err error
				switch rng.IntN(10) {
				case 0:
					err = os.WriteFile(p1, data, 0o644)
				case 1:
					var f *os.File
					if f, err = os.OpenFile(p1, os.O_RDWR|os.O_CREATE, 0o644); err == nil {
						_, err = f.WriteAt(data, rng.Int64N(100000))
						if err == nil && rng.IntN(2) == 0 {
							err = f.Sync()
						}
						f.Close()
					}
				case 2:
					err = os.Truncate(p1, rng.Int64N(100000))
				case 3:
					err = os.Mkdir(p1, 0o755)
				case 4:
					err = os.Remove(p1)
				case 5:
					err = syscall.Rename(p1, p2)
				case 6:
					err = unix.Renameat2(unix.AT_FDCWD, p1, unix.AT_FDCWD, p2, unix.RENAME_EXCHANGE)
				case 7:
					err = os.Link(p1, p2)
				case 8:
					_, err = os.ReadFile(p1)
				case 9:
					err = unix.Setxattr(p1, "user.w", data[:10], 0)
				}
				var en syscall.Errno
				if err != nil && (!errors.As(err, &en) || !slicesContains(allowed, en)) {
					errs <- fmt.Errorf("worker %d step %d: %w", w, step, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	err := filepath.WalkDir(e.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if st, err := os.Stat(p); err != nil || st.Size() != int64(len(data)) {
			return fmt.Errorf("%s: read %d bytes, stat %v %v", p, len(data), st.Size(), err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	waitReleased(t, e)
	if n := e.m.fs.dirtyChunks.Load(); n != 0 {
		t.Fatalf("%d pending chunks counted after every file closed", n)
	}
	if err := e.m.Unmount(); err != nil {
		t.Fatal(err)
	}
	ten, err := e.store.Acquire(t.Context(), "alpha")
	if err != nil {
		t.Fatal(err)
	}
	defer ten.Release()
	var orphans, badAlloc int
	ten.DB().QueryRow(`SELECT COUNT(*) FROM file_inodes WHERE nlink = 0`).Scan(&orphans)
	ten.DB().QueryRow(`SELECT COUNT(*) FROM file_inodes i WHERE alloc !=
		(SELECT COALESCE(SUM(size), 0) FROM file_chunks c WHERE c.ino = i.ino)`).Scan(&badAlloc)
	if orphans != 0 || badAlloc != 0 {
		t.Fatalf("after unmount: %d orphans, %d inodes whose alloc differs from their chunks", orphans, badAlloc)
	}
	e.mount(t)
}

func slicesContains(s []syscall.Errno, e syscall.Errno) bool {
	for _, x := range s {
		if x == e {
			return true
		}
	}
	return false
}

// TestDirtyBound keeps many files open with unstored writes: the mount
// holds at most maxDirtyTotal pending chunks, every file reads back, and
// the count returns to zero once all are closed.
func TestDirtyBound(t *testing.T) {
	e := mountT(t)
	var open []*os.File
	defer func() {
		for _, f := range open {
			f.Close()
		}
	}()
	content := func(i int) []byte { return []byte(fmt.Sprintf("file %d\n", i)) }
	for i := 0; i < 3*maxDirtyTotal; i++ {
		f, err := os.Create(e.path(fmt.Sprintf("f%03d", i)))
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, f)
		if _, err := f.Write(content(i)); err != nil {
			t.Fatal(err)
		}
		if n := e.m.fs.dirtyChunks.Load(); n > maxDirtyTotal+1 {
			t.Fatalf("%d pending chunks after %d files", n, i+1)
		}
	}
	for i, f := range open {
		got := make([]byte, 64)
		n, _ := f.ReadAt(got, 0)
		if string(got[:n]) != string(content(i)) {
			t.Fatalf("f%03d: %q", i, got[:n])
		}
		f.Close()
	}
	open = nil
	waitReleased(t, e)
	if n := e.m.fs.dirtyChunks.Load(); n != 0 {
		t.Fatalf("%d pending chunks counted after every file closed", n)
	}
}
