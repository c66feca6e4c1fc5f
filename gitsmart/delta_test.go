package gitsmart

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"rewire/storage/gitstore"
)

// TestComputedDeltas (issue 6): the tip blobs of a repository are stored
// as deltas on their previous versions, pushed in an earlier commit. A
// depth-1 clone and a blob:none partial clone (whose checkout fetches the
// tip blobs alone) send the tip blobs without those bases, so rewire
// computes deltas between them: the clones' packs hold blob deltas, and
// git fsck accepts them.
func TestComputedDeltas(t *testing.T) {
	forEachProto(t, func(t *testing.T, e *gitEnv) {
		const n = 40
		src := t.TempDir()
		e.git(src, "init", "-q")
		common := strings.Repeat("a line that every file of this repository shares\n", 80)
		for i := range n {
			writeFile(t, filepath.Join(src, fmt.Sprintf("f%02d.txt", i)), []byte(fmt.Sprintf("file %d\n%s", i, common)))
		}
		e.git(src, "add", ".")
		e.git(src, "commit", "-qm", "one")
		e.git(src, "push", "-q", e.acme("cd"), "main")
		for i := range n {
			writeFile(t, filepath.Join(src, fmt.Sprintf("f%02d.txt", i)), []byte(fmt.Sprintf("file %d\n%schanged\n", i, common)))
		}
		e.git(src, "commit", "-qam", "two")
		e.git(src, "push", "-q", e.acme("cd"), "main")
		checkStoredBasesDropped(t, e, src, n)

		sh := filepath.Join(t.TempDir(), "sh")
		// Packs of few objects are kept, not unpacked, so that they can be read.
		e.git("", "-c", "fetch.unpackLimit=1", "clone", "-q", "--depth", "1", e.acme("cd"), sh)
		e.git(sh, "fsck", "--no-progress")
		d := blobDeltas(e, sh)
		t.Logf("depth-1 clone: %d blob deltas", d)
		if d < n/2 {
			t.Errorf("depth-1 clone: %d blob deltas, want at least %d", d, n/2)
		}

		part := filepath.Join(t.TempDir(), "part")
		e.git("", "-c", "fetch.unpackLimit=1", "clone", "-q", "--filter=blob:none", e.acme("cd"), part)
		e.git(part, "fsck", "--no-progress")
		if d := blobDeltas(e, part); d < n/2 {
			t.Errorf("partial clone: %d blob deltas, want at least %d", d, n/2)
		}
	})
}

// checkStoredBasesDropped checks the test's premise: without computing,
// most tip blobs of src would go out whole in a pack of the tip.
func checkStoredBasesDropped(t *testing.T, e *gitEnv, src string, n int) {
	ctx := context.Background()
	ten, err := e.store.Acquire(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	defer ten.Release()
	repo, err := gitstore.Open(ctx, ten, "cd")
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	var tip []plumbing.Hash
	for _, line := range strings.Fields(e.git(src, "rev-parse", "HEAD", "HEAD^{tree}")) {
		tip = append(tip, plumbing.NewHash(line))
	}
	for _, line := range strings.Split(strings.TrimSpace(e.git(src, "ls-tree", "HEAD")), "\n") {
		tip = append(tip, plumbing.NewHash(strings.Fields(line)[2]))
	}
	var sink strings.Builder
	st, err := repo.WritePackWith(&sink, tip, gitstore.PackOptions{OfsDelta: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.Whole < n/2 {
		t.Fatalf("only %d of %d tip blobs are stored as deltas on older blobs: the test would not exercise computing", st.Whole, n)
	}
}

// blobDeltas counts the blobs stored as deltas in a clone's packs.
func blobDeltas(e *gitEnv, dir string) int {
	idx, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "*.idx"))
	if len(idx) == 0 {
		e.t.Fatalf("no pack in %s", dir)
	}
	deltas := 0
	for _, p := range idx {
		for _, line := range strings.Split(e.git(dir, "verify-pack", "-v", p), "\n") {
			if f := strings.Fields(line); len(f) == 7 && f[1] == "blob" {
				deltas++
			}
		}
	}
	return deltas
}
