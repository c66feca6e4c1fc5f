package fusefs

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"rewire/internal/testtool"
)

// TestLargeFile writes 256 MiB through the mount and checks it by
// checksum, before and after a remount (so the stored chunks are read).
func TestLargeFile(t *testing.T) {
	e := mountT(t)
	src := filepath.Join(t.TempDir(), "src")
	if out, err := exec.Command("bash", "-c",
		"head -c 268435456 /dev/urandom > "+src).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	sum := func(p string) string {
		out, err := exec.Command("sha256sum", p).Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.Fields(string(out))[0]
	}
	want := sum(src)
	e.sh(t, "cp "+src+" big && sync big")
	if got := sum(e.path("big")); got != want {
		t.Fatalf("checksum %s, want %s", got, want)
	}
	// A random write in the middle, then compare against the same change
	// made locally.
	e.sh(t, "printf 'rewire' | dd of=big bs=1 seek=100000000 conv=notrunc status=none")
	if out, err := exec.Command("bash", "-c",
		"printf 'rewire' | dd of="+src+" bs=1 seek=100000000 conv=notrunc status=none").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	want = sum(src)
	if err := e.m.Unmount(); err != nil {
		t.Fatal(err)
	}
	e.mount(t)
	if got := sum(e.path("big")); got != want {
		t.Fatalf("after remount checksum %s, want %s", got, want)
	}
	st, err := os.Stat(e.path("big"))
	if err != nil || st.Size() != 256<<20 {
		t.Fatalf("stat %v %v", st, err)
	}
}

// TestTarDiff unpacks a tree of many small files, links and modes into
// the mount and compares it with the original.
func TestTarDiff(t *testing.T) {
	e := mountT(t)
	testtool.NeedFUSE(t, "tar", "diff")
	src := t.TempDir()
	script := `
		set -e
		cd "$1"
		for d in a b c; do
			mkdir -p "$d/sub"
			for i in $(seq 1 60); do
				head -c $((i * 97)) /dev/urandom > "$d/sub/f$i"
			done
			echo "$d" > "$d/name"
		done
		ln -s ../a/name b/link
		ln a/name c/hardlink
		chmod 600 a/name
		head -c 3000000 /dev/urandom > big
		truncate -s 10M sparse
		tar -C "$1" -cf "$2" .
	`
	tarball := filepath.Join(t.TempDir(), "t.tar")
	if out, err := exec.Command("bash", "-c", script, "x", src, tarball).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	e.sh(t, "mkdir x && tar -C x -xpf "+tarball)
	out, err := exec.Command("diff", "-r", "--no-dereference", src, e.path("x")).CombinedOutput()
	if err != nil {
		t.Fatalf("diff: %v\n%s", err, out)
	}
	e.sh(t, `test "$(stat -c %h x/a/name)" = 2 && test "$(stat -c %a x/a/name)" = 600`)
}

// TestGit runs git inside the mount.
func TestGit(t *testing.T) {
	e := mountT(t)
	testtool.NeedFUSE(t, "git")
	out := e.sh(t, `
		export HOME=$PWD GIT_CONFIG_NOSYSTEM=1
		git config --global user.email t@example.com
		git config --global user.name t
		git config --global init.defaultBranch main
		mkdir repo && cd repo
		git init -q
		for i in $(seq 1 20); do echo "line $i" > "f$i.txt"; done
		git add . && git commit -qm first
		echo change >> f1.txt && git commit -qam second
		git mv f2.txt moved.txt && git commit -qm third
		git gc -q
		git fsck --full
		git log --oneline | wc -l
		git status --porcelain | wc -l
	`)
	lines := strings.Fields(out)
	if len(lines) < 2 || lines[len(lines)-2] != "3" || lines[len(lines)-1] != "0" {
		t.Fatalf("git output: %s", out)
	}
}

// TestDenseMultiGiB streams a file of more than 2 GiB of non-repeating
// data into the mount and reads it back, comparing SHA-256 sums, so that
// chunk indexes, offsets and the upload path are exercised across the
// 2 GiB boundary with real data rather than holes. The data is generated,
// not kept, so the test needs no scratch space beyond the tenant's.
func TestDenseMultiGiB(t *testing.T) {
	if testing.Short() {
		t.Skip("writes more than 2 GiB")
	}
	e := mountT(t)
	const size = 2<<30 + 3<<20 + 12345
	gen := func() io.Reader {
		return io.LimitReader(rand.NewChaCha8([32]byte{'r', 'e', 'w', 'i', 'r', 'e'}), size)
	}
	want := sha256.New()
	if _, err := io.Copy(want, gen()); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(e.path("dense"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyBuffer(f, gen(), make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// Read it back through a fresh mount, so nothing comes from memory.
	if err := e.m.Unmount(); err != nil {
		t.Fatal(err)
	}
	e.mount(t)
	r, err := os.Open(e.path("dense"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := sha256.New()
	n, err := io.CopyBuffer(got, r, make([]byte, 1<<20))
	if err != nil || n != size {
		t.Fatalf("read back %d bytes (%v), want %d", n, err, size)
	}
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatal("content differs after the round trip")
	}
}
