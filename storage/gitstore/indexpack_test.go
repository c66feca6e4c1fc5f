package gitstore

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
)

// gitPack has the git CLI build a history whose files change a line at a
// time and returns a pack of all of it with the deltas git computes, by
// offset or by reference.
func gitPack(t *testing.T, ofs bool) []byte {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	run := func(stdin string, args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader(stdin)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir,
			"GIT_AUTHOR_NAME=A", "GIT_AUTHOR_EMAIL=a@example.com",
			"GIT_COMMITTER_NAME=A", "GIT_COMMITTER_EMAIL=a@example.com",
			// Fixed dates make the same pack on every run.
			"GIT_AUTHOR_DATE=1700000000 +0000", "GIT_COMMITTER_DATE=1700000000 +0000")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("git %v: %v", args, err)
		}
		return string(out)
	}
	run("", "init", "-q", "-b", "main")
	for c := range 30 {
		for f := range 8 {
			var b strings.Builder
			for l := range 200 {
				fmt.Fprintf(&b, "file %d line %d", f, l)
				if l <= c {
					b.WriteString(" changed")
				}
				b.WriteByte('\n')
			}
			os.MkdirAll(filepath.Join(dir, "d", fmt.Sprint(f%3)), 0o755)
			os.WriteFile(filepath.Join(dir, "d", fmt.Sprint(f%3), fmt.Sprintf("f%d.txt", f)), []byte(b.String()), 0o644)
		}
		run("", "add", "-A")
		run("", "commit", "-qm", fmt.Sprintf("commit %d", c))
	}
	run("", "tag", "-a", "-m", "a tag", "v1")
	args := []string{"pack-objects", "--stdout", "--revs", "--all", "--window=50", "--depth=20"}
	if ofs {
		args = append(args, "--delta-base-offset")
	}
	return []byte(run("", args...))
}

// goGitIndex indexes a pack with go-git's parser, the reference for ours.
func goGitIndex(t *testing.T, data []byte) *idxfile.MemoryIndex {
	t.Helper()
	w := new(idxfile.Writer)
	p, err := packfile.NewParser(packfile.NewScanner(bytes.NewReader(data)), w)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Parse(); err != nil {
		t.Fatal(err)
	}
	idx, err := w.Index()
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func entries(t *testing.T, idx *idxfile.MemoryIndex) []idxfile.Entry {
	t.Helper()
	it, err := idx.Entries()
	if err != nil {
		t.Fatal(err)
	}
	var out []idxfile.Entry
	for {
		e, err := it.Next()
		if err != nil {
			break
		}
		out = append(out, *e)
	}
	return out
}

func TestIndexPackMatchesGoGit(t *testing.T) {
	for _, ofs := range []bool{true, false} {
		t.Run(fmt.Sprintf("ofs=%v", ofs), func(t *testing.T) {
			data := gitPack(t, ofs)
			want := entries(t, goGitIndex(t, data))
			deltas := 0
			var typeCount [8]int
			idx, names, err := indexPack(data, func(h plumbing.Hash, typ plumbing.ObjectType, b []byte, n []plumbing.Hash) ([]plumbing.Hash, error) {
				if plumbing.ComputeHash(typ, b) != h {
					t.Errorf("check got %s with content of another object", h)
				}
				return checkReceived(h, typ, b, n)
			})
			if err != nil {
				t.Fatal(err)
			}
			got := entries(t, idx)
			if len(got) != len(want) {
				t.Fatalf("%d entries, go-git finds %d", len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("entry %d: %+v, go-git %+v", i, got[i], want[i])
				}
			}
			// Everything named is in this complete pack, and the pack
			// really holds deltas of the kind asked for.
			for h, from := range names {
				if ok, _ := idx.Contains(h); !ok {
					t.Errorf("%s names %s, not in the pack", from, h)
				}
			}
			sc := packfile.NewScanner(bytes.NewReader(data))
			_, count, _ := sc.Header()
			for range count {
				oh, err := sc.NextObjectHeader()
				if err != nil {
					t.Fatal(err)
				}
				typeCount[oh.Type]++
				if oh.Type.IsDelta() {
					deltas++
				}
				sc.NextObject(new(bytes.Buffer))
			}
			wantType := plumbing.OFSDeltaObject
			if !ofs {
				wantType = plumbing.REFDeltaObject
			}
			if typeCount[wantType] == 0 || typeCount[wantType] != deltas {
				t.Fatalf("pack has %v entries by type; want only %v deltas", typeCount, wantType)
			}
			if len(names) == 0 {
				t.Fatal("no names collected")
			}
		})
	}
}

// TestIndexPackRejects damages a good pack in ways a client could and
// expects a malformed-pack error, never a panic. A flipped byte may land
// where it changes no object (a zlib header's compression-level bits
// with a check that still holds): then the pack must index to the very
// same objects as before.
func TestIndexPackRejects(t *testing.T) {
	good := gitPack(t, true)
	goodIdx, _, err := indexPack(good, checkReceived)
	if err != nil {
		t.Fatal(err)
	}
	fix := func(b []byte) []byte {
		// A valid trailer, so that the damage inside is what is found.
		b = b[:len(b)-20]
		return append(b, packChecksum(b)...)
	}
	cases := map[string][]byte{
		"short":             good[:40],
		"bad trailer":       append(bytes.Clone(good[:len(good)-1]), good[len(good)-1]^1),
		"count too high":    fix(append(append(bytes.Clone(good[:8]), 0, 0, 0xff, 0xff), good[12:]...)),
		"count too low":     fix(append(append(bytes.Clone(good[:8]), 0, 0, 0, 1), good[12:]...)),
		"truncated entries": fix(bytes.Clone(good[:len(good)/2])),
	}
	for i := 0; i < 40; i++ {
		b := bytes.Clone(good)
		b[12+(len(good)-32)*i/40] ^= 0x5a
		cases[fmt.Sprintf("flip %d", i)] = fix(b)
	}
	for name, data := range cases {
		idx, _, err := indexPack(data, checkReceived)
		if err == nil && strings.HasPrefix(name, "flip") {
			got, want := entries(t, idx), entries(t, goodIdx)
			for i := range got {
				got[i].CRC32, got[i].Offset = 0, 0
			}
			for i := range want {
				want[i].CRC32, want[i].Offset = 0, 0
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s: accepted with other objects", name)
			}
			continue
		}
		if !errors.Is(err, errMalformed) {
			t.Errorf("%s: %v, want a malformed-pack error", name, err)
		}
	}
}

func packChecksum(b []byte) []byte {
	sum := sha1.Sum(b)
	return sum[:]
}
