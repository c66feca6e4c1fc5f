package fusefs

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"rewire/storage/files"
)

// TestRandomOps applies one random sequence of file operations to the
// mount and to a local directory and compares results, errors and both
// trees after every step.
func TestRandomOps(t *testing.T) {
	e := mountT(t)
	local := t.TempDir()
	seed, steps := uint64(7), 400
	if v := os.Getenv("REWIRE_FUSE_SEED"); v != "" {
		fmt.Sscan(v, &seed)
	}
	if testing.Short() {
		steps = 100
	}
	rng := rand.New(rand.NewPCG(seed, seed))
	names := []string{"a", "b", "c", "d/a", "d/b", "d/e/a", "e", "e/f"}
	pick := func() string { return names[rng.IntN(len(names))] }

	// Open handles kept across steps, the same file on both sides.
	type pair struct{ m, l *os.File }
	var open []pair
	defer func() {
		for _, p := range open {
			p.m.Close()
			p.l.Close()
		}
	}()

	offset := func() int64 {
		switch rng.IntN(4) {
		case 0:
			return int64(files.ChunkSize) - 50 + rng.Int64N(100) // across a chunk edge
		default:
			return rng.Int64N(20000)
		}
	}
	randBytes := func() []byte {
		b := make([]byte, 1+rng.IntN(9000))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}

	for step := 0; step < steps; step++ {
		op := rng.IntN(14)
		p1, p2 := pick(), pick()
		data, off := randBytes(), offset()
		mode := fs.FileMode(0o600 | rng.IntN(0o100))
		var desc string
		apply := func(root string) error {
			a, b := filepath.Join(root, p1), filepath.Join(root, p2)
			switch op {
			case 0:
				desc = "writefile " + p1
				return os.WriteFile(a, data, 0o644)
			case 1:
				desc = fmt.Sprintf("write %s at %d", p1, off)
				f, err := os.OpenFile(a, os.O_WRONLY|os.O_CREATE, 0o644)
				if err != nil {
					return err
				}
				defer f.Close()
				_, err = f.WriteAt(data, off)
				return err
			case 2:
				desc = fmt.Sprintf("truncate %s to %d", p1, off)
				return os.Truncate(a, off)
			case 3:
				desc = "mkdir " + p1
				return os.Mkdir(a, 0o755)
			case 4:
				desc = "rmdir " + p1
				return syscall.Rmdir(a)
			case 5:
				desc = "unlink " + p1
				return syscall.Unlink(a)
			case 6:
				desc = "rename " + p1 + " " + p2
				return os.Rename(a, b)
			case 7:
				desc = "link " + p1 + " " + p2
				return os.Link(a, b)
			case 8:
				desc = "symlink " + p1
				return os.Symlink("target-"+p2, a)
			case 9:
				desc = "chmod " + p1
				return os.Chmod(a, mode)
			case 10:
				desc = "append " + p1
				f, err := os.OpenFile(a, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
				if err != nil {
					return err
				}
				defer f.Close()
				_, err = f.Write(data)
				return err
			}
			return nil
		}
		switch op {
		case 11, 12, 13:
			// Work on long-lived handles: open, write through, close.
			if op == 11 || len(open) == 0 {
				desc = "open " + p1
				fm, errM := os.OpenFile(filepath.Join(e.dir, p1), os.O_RDWR|os.O_CREATE, 0o644)
				fl, errL := os.OpenFile(filepath.Join(local, p1), os.O_RDWR|os.O_CREATE, 0o644)
				if !sameErr(errM, errL) {
					t.Fatalf("step %d %s: mount %v, local %v", step, desc, errM, errL)
				}
				if errM == nil {
					open = append(open, pair{fm, fl})
				}
			} else if op == 12 {
				p := open[rng.IntN(len(open))]
				desc = fmt.Sprintf("handle write at %d", off)
				_, errM := p.m.WriteAt(data, off)
				_, errL := p.l.WriteAt(data, off)
				if !sameErr(errM, errL) {
					t.Fatalf("step %d %s: mount %v, local %v", step, desc, errM, errL)
				}
				bm, bl := make([]byte, 5000), make([]byte, 5000)
				nm, _ := p.m.ReadAt(bm, off-100)
				nl, _ := p.l.ReadAt(bl, off-100)
				if !bytes.Equal(bm[:nm], bl[:nl]) {
					t.Fatalf("step %d: handle read differs", step)
				}
			} else {
				i := rng.IntN(len(open))
				desc = "close handle"
				open[i].m.Close()
				open[i].l.Close()
				open = append(open[:i], open[i+1:]...)
			}
		default:
			errM := apply(e.dir)
			errL := apply(local)
			if !sameErr(errM, errL) {
				t.Fatalf("step %d %s: mount %v, local %v", step, desc, errM, errL)
			}
		}
		if d := compareTrees(e.dir, local); d != "" {
			t.Fatalf("seed %d step %d (%s): trees differ: %s", seed, step, desc, d)
		}
	}
}

func sameErr(a, b error) bool {
	if (a == nil) != (b == nil) {
		return false
	}
	if a == nil {
		return true
	}
	var ea, eb syscall.Errno
	if !errors.As(a, &ea) || !errors.As(b, &eb) {
		return a.Error() == b.Error()
	}
	return ea == eb
}

// compareTrees describes the first difference between two trees, or
// returns "".
func compareTrees(a, b string) string {
	la, err := describeTree(a)
	if err != nil {
		return err.Error()
	}
	lb, err := describeTree(b)
	if err != nil {
		return err.Error()
	}
	if len(la) != len(lb) {
		return fmt.Sprintf("\nmount: %s\nlocal: %s", strings.Join(la, "\n"), strings.Join(lb, "\n"))
	}
	for i := range la {
		if la[i] != lb[i] {
			return fmt.Sprintf("mount %q, local %q", la[i], lb[i])
		}
	}
	return ""
}

func describeTree(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return err
		}
		line := fmt.Sprintf("%s mode=%o", rel, st.Mode)
		switch st.Mode & syscall.S_IFMT {
		case syscall.S_IFREG:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" nlink=%d size=%d sum=%x", st.Nlink, st.Size, sha256.Sum256(data))
		case syscall.S_IFLNK:
			tgt, _ := os.Readlink(p)
			line += " -> " + tgt
		case syscall.S_IFDIR:
			line += fmt.Sprintf(" nlink=%d", st.Nlink)
		}
		out = append(out, line)
		return nil
	})
	sort.Strings(out)
	return out, err
}
