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
	"time"

	"golang.org/x/sys/unix"

	"rewire/storage/files"
)

// TestRandomOps applies one random sequence of file operations to the
// mount and to a local directory and compares results, errors and both
// trees (modes, link counts, contents, symlink targets, user xattrs)
// after every step. REWIRE_FUSE_SEED and REWIRE_FUSE_STEPS change the
// sequence and its length.
func TestRandomOps(t *testing.T) {
	e := mountT(t)
	seed, steps := uint64(7), 600
	if v := os.Getenv("REWIRE_FUSE_SEED"); v != "" {
		fmt.Sscan(v, &seed)
	}
	if v := os.Getenv("REWIRE_FUSE_STEPS"); v != "" {
		fmt.Sscan(v, &steps)
	}
	if testing.Short() {
		steps = 100
	}
	runRandomOps(t, e.dir, t.TempDir(), seed, steps)
}

// randomHandle is one file opened on both sides.
type randomHandle struct{ m, l *os.File }

func runRandomOps(t *testing.T, mnt, local string, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, seed))
	names := []string{"a", "b", "c", "d", "d/a", "d/b", "d/e", "d/e/a", "e", "e/f"}
	pick := func() string { return names[rng.IntN(len(names))] }

	var open []randomHandle
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
		s := randomStep{
			op: rng.IntN(len(randomOps) + len(handleOps)), p1: pick(), p2: pick(),
			data: randBytes(), off: offset(), n: offset(),
			mode:  fs.FileMode(0o600 | rng.IntN(0o100)),
			xname: "user." + string(rune('a'+rng.IntN(3))),
			when:  time.Unix(rng.Int64N(2e9), rng.Int64N(1e9)),
			pick:  rng.IntN,
		}
		var desc string
		if s.op < len(randomOps) {
			op := randomOps[s.op]
			desc = op.name + " " + s.p1
			errM := op.apply(filepath.Join(mnt, s.p1), filepath.Join(mnt, s.p2), &s)
			errL := op.apply(filepath.Join(local, s.p1), filepath.Join(local, s.p2), &s)
			if !sameErr(errM, errL) {
				t.Fatalf("seed %d step %d %s %s: mount %v, local %v", seed, step, desc, s.p2, errM, errL)
			}
			if op.check != nil {
				if d := op.check(filepath.Join(mnt, s.p1), filepath.Join(local, s.p1)); d != "" {
					t.Fatalf("seed %d step %d %s: %s", seed, step, desc, d)
				}
			}
		} else {
			op := handleOps[s.op-len(randomOps)]
			desc = op.name
			var err error
			open, err = op.apply(open, mnt, local, &s)
			if err != nil {
				t.Fatalf("seed %d step %d %s: %v", seed, step, desc, err)
			}
		}
		if d := compareTrees(mnt, local); d != "" {
			t.Fatalf("seed %d step %d (%s): trees differ: %s", seed, step, desc, d)
		}
	}
}

// randomStep holds the random choices of one step, made before it is
// applied, so both sides see the same ones.
type randomStep struct {
	op       int
	p1, p2   string
	data     []byte
	off, n   int64
	mode     fs.FileMode
	xname    string
	when     time.Time
	pick     func(int) int
	fallMode uint32
}

// randomOps are path operations, applied to each side with its paths.
var randomOps = []struct {
	name  string
	apply func(a, b string, s *randomStep) error
	check func(m, l string) string // optional extra comparison
}{
	{"writefile", func(a, _ string, s *randomStep) error { return os.WriteFile(a, s.data, 0o644) }, nil},
	{"write", func(a, _ string, s *randomStep) error {
		f, err := os.OpenFile(a, os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = f.WriteAt(s.data, s.off)
		return err
	}, nil},
	{"truncate", func(a, _ string, s *randomStep) error { return os.Truncate(a, s.off) }, nil},
	{"mkdir", func(a, _ string, s *randomStep) error { return os.Mkdir(a, 0o755) }, nil},
	{"rmdir", func(a, _ string, s *randomStep) error { return syscall.Rmdir(a) }, nil},
	{"unlink", func(a, _ string, s *randomStep) error { return syscall.Unlink(a) }, nil},
	{"rename", func(a, b string, s *randomStep) error { return os.Rename(a, b) }, nil},
	{"rename-noreplace", func(a, b string, s *randomStep) error {
		return unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_NOREPLACE)
	}, nil},
	{"rename-exchange", func(a, b string, s *randomStep) error {
		return unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
	}, nil},
	{"link", func(a, b string, s *randomStep) error { return os.Link(a, b) }, nil},
	{"symlink", func(a, b string, s *randomStep) error { return os.Symlink("target-"+filepath.Base(b), a) }, nil},
	{"chmod", func(a, _ string, s *randomStep) error { return os.Chmod(a, s.mode) }, nil},
	{"append", func(a, _ string, s *randomStep) error {
		f, err := os.OpenFile(a, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = f.Write(s.data)
		return err
	}, nil},
	{"create-excl", func(a, _ string, s *randomStep) error {
		f, err := os.OpenFile(a, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
		if err == nil {
			_, err = f.Write(s.data[:1])
			f.Close()
		}
		return err
	}, nil},
	{"setxattr", func(a, _ string, s *randomStep) error {
		return unix.Setxattr(a, s.xname, s.data[:min(len(s.data), 64)], 0)
	}, nil},
	{"removexattr", func(a, _ string, s *randomStep) error { return unix.Removexattr(a, s.xname) }, nil},
	{"utimens", func(a, _ string, s *randomStep) error { return os.Chtimes(a, s.when, s.when) },
		func(m, l string) string {
			var sm, sl syscall.Stat_t
			em, el := syscall.Stat(m, &sm), syscall.Stat(l, &sl)
			if em != nil || el != nil {
				return ""
			}
			if sm.Mtim != sl.Mtim || sm.Atim != sl.Atim {
				return fmt.Sprintf("times mount %v/%v, local %v/%v", sm.Mtim, sm.Atim, sl.Mtim, sl.Atim)
			}
			return ""
		}},
}

// handleOps work on handles kept open across steps, the same file on both
// sides, including files renamed or unlinked since they were opened.
var handleOps = []struct {
	name  string
	apply func(open []randomHandle, mnt, local string, s *randomStep) ([]randomHandle, error)
}{
	{"open", func(open []randomHandle, mnt, local string, s *randomStep) ([]randomHandle, error) {
		flags := os.O_RDWR | os.O_CREATE
		if s.pick(4) == 0 {
			flags |= os.O_TRUNC
		}
		fm, errM := os.OpenFile(filepath.Join(mnt, s.p1), flags, 0o644)
		fl, errL := os.OpenFile(filepath.Join(local, s.p1), flags, 0o644)
		if !sameErr(errM, errL) {
			return open, fmt.Errorf("%s: mount %v, local %v", s.p1, errM, errL)
		}
		if errM == nil {
			open = append(open, randomHandle{fm, fl})
		}
		return open, nil
	}},
	{"handle write", func(open []randomHandle, _, _ string, s *randomStep) ([]randomHandle, error) {
		return open, onHandle(open, s, func(f *os.File) error { _, err := f.WriteAt(s.data, s.off); return err })
	}},
	{"handle ftruncate", func(open []randomHandle, _, _ string, s *randomStep) ([]randomHandle, error) {
		return open, onHandle(open, s, func(f *os.File) error { return f.Truncate(s.n) })
	}},
	{"handle fallocate", func(open []randomHandle, _, _ string, s *randomStep) ([]randomHandle, error) {
		modes := []uint32{0, unix.FALLOC_FL_KEEP_SIZE,
			unix.FALLOC_FL_PUNCH_HOLE | unix.FALLOC_FL_KEEP_SIZE, unix.FALLOC_FL_ZERO_RANGE}
		s.fallMode = modes[s.pick(len(modes))]
		return open, onHandle(open, s, func(f *os.File) error {
			return unix.Fallocate(int(f.Fd()), s.fallMode, s.off, 1+s.n)
		})
	}},
	{"handle fsync", func(open []randomHandle, _, _ string, s *randomStep) ([]randomHandle, error) {
		return open, onHandle(open, s, func(f *os.File) error { return f.Sync() })
	}},
	{"close", func(open []randomHandle, _, _ string, s *randomStep) ([]randomHandle, error) {
		if len(open) == 0 {
			return open, nil
		}
		i := s.pick(len(open))
		errM, errL := open[i].m.Close(), open[i].l.Close()
		if !sameErr(errM, errL) {
			return open, fmt.Errorf("mount %v, local %v", errM, errL)
		}
		return append(open[:i], open[i+1:]...), nil
	}},
}

// onHandle applies fn to both files of a random open handle and compares
// the errors, the sizes and the contents read back through the handles.
func onHandle(open []randomHandle, s *randomStep, fn func(*os.File) error) error {
	if len(open) == 0 {
		return nil
	}
	p := open[s.pick(len(open))]
	errM, errL := fn(p.m), fn(p.l)
	if !sameErr(errM, errL) {
		return fmt.Errorf("mount %v, local %v", errM, errL)
	}
	var sm, sl syscall.Stat_t
	if err := errors.Join(syscall.Fstat(int(p.m.Fd()), &sm), syscall.Fstat(int(p.l.Fd()), &sl)); err != nil {
		return err
	}
	if sm.Size != sl.Size || sm.Nlink != sl.Nlink {
		return fmt.Errorf("fstat: mount size %d nlink %d, local size %d nlink %d", sm.Size, sm.Nlink, sl.Size, sl.Nlink)
	}
	bm, bl := make([]byte, sm.Size+10), make([]byte, sl.Size+10)
	nm, errM := p.m.ReadAt(bm, 0)
	nl, errL := p.l.ReadAt(bl, 0)
	if !sameErr(errM, errL) || !bytes.Equal(bm[:nm], bl[:nl]) {
		return fmt.Errorf("read through handle differs (%d vs %d bytes, %v vs %v)", nm, nl, errM, errL)
	}
	return nil
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
		x, err := userXattrs(p)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		out = append(out, line+x)
		return nil
	})
	sort.Strings(out)
	return out, err
}

// userXattrs describes the user.* extended attributes of p (not
// following a symlink).
func userXattrs(p string) (string, error) {
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		return "", fmt.Errorf("listxattr: %w", err)
	}
	var names []string
	for _, name := range strings.Split(string(buf[:n]), "\x00") {
		if strings.HasPrefix(name, "user.") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		v := make([]byte, 4096)
		n, err := unix.Lgetxattr(p, name, v)
		if err != nil {
			return "", fmt.Errorf("getxattr %s: %w", name, err)
		}
		fmt.Fprintf(&b, " %s=%x", name, sha256.Sum256(v[:n]))
	}
	return b.String(), nil
}
