package gitstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/memory"

	"rewire/storage"
)

// TestRepack merges packs of several pushes, with deltified blobs, and
// checks that every object and reference survives, the old blobs and
// local copies go, and a snapshot opened before keeps reading.
func TestRepack(t *testing.T) {
	ten := testTenant(t)
	ctx := context.Background()
	b := &builder{t: t, mem: memory.NewStorage()}
	text := strings.Repeat("a line that stays the same in every version\n", 100)
	var tip plumbing.Hash
	var all []plumbing.Hash
	for i := range 4 {
		for j := range 5 {
			b.put(plumbing.BlobObject, []byte(fmt.Sprintf("%spush %d version %d\n", text, i, j)))
		}
		var parents []plumbing.Hash
		if i > 0 {
			parents = append(parents, tip)
		}
		c := b.commit(fmt.Sprintf("c%d", i), parents...)
		all = append(all, b.all...)
		cmd := Command{Name: "refs/heads/main", Old: tip, New: c}
		if res := push(t, ten, "p", b.pack(), false, cmd); res[0] != nil {
			t.Fatal(res[0])
		}
		tip = c
	}

	if n, err := Repack(ctx, ten, "p", 5); n != 0 || err != nil {
		t.Fatalf("repack below the threshold: %d %v", n, err)
	}
	before, err := Open(ctx, ten, "p")
	if err != nil {
		t.Fatal(err)
	}
	old := append([]*Pack(nil), before.Packs...)
	n, err := Repack(ctx, ten, "p", 4)
	if n != 4 || err != nil {
		t.Fatalf("repack: %d %v", n, err)
	}

	// The snapshot from before still reads every object from the old packs.
	for _, h := range all {
		if _, err := readObject(before, h); err != nil {
			t.Fatalf("old snapshot: %v", err)
		}
	}
	before.Close()
	for _, p := range old {
		if _, err := os.Stat(p.Path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("local copy %s left: %v", p.Path, err)
		}
		if _, err := ten.Blobs().Stat(ctx, p.Blob); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("pack blob %s left: %v", p.Blob, err)
		}
	}

	after, err := Open(ctx, ten, "p")
	if err != nil {
		t.Fatal(err)
	}
	defer after.Close()
	if len(after.Packs) != 1 || after.Packs[0].Objects != int64(len(all)) {
		t.Fatalf("after repack: %d packs", len(after.Packs))
	}
	if h, _ := after.Ref("refs/heads/main"); h != tip {
		t.Errorf("main %s, want %s", h, tip)
	}
	for _, h := range all {
		if _, err := readObject(after, h); err != nil {
			t.Fatal(err)
		}
	}

	// Deltas were kept: the merged pack is not much larger than the sum.
	var sum int64
	for _, p := range old {
		sum += p.Size
	}
	if after.Packs[0].Size > sum {
		t.Errorf("merged pack of %d bytes, the packs held %d", after.Packs[0].Size, sum)
	}

	// A push after the repack still works on top of the merged pack.
	c := b.commit("after", tip)
	if res := push(t, ten, "p", b.pack(), false, Command{Name: "refs/heads/main", Old: tip, New: c}); res[0] != nil {
		t.Fatal(res[0])
	}
}

func readObject(r *Repo, h plumbing.Hash) ([]byte, error) {
	o, err := r.EncodedObject(plumbing.AnyObject, h)
	if err != nil {
		return nil, err
	}
	rd, err := o.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(rd)
}

// TestCollectOrphans leaves a stored pack unapplied, as a crash between
// storing and applying would, and checks that a later push releases its
// blobs and local copy once it is old enough, while applied and discarded
// packs leave no pending row.
func TestCollectOrphans(t *testing.T) {
	defer func(d time.Duration) { orphanAge = d }(orphanAge)
	ten := testTenant(t)
	ctx := context.Background()
	b := &builder{t: t, mem: memory.NewStorage()}
	c1 := b.commit("kept")
	if res := push(t, ten, "o", b.pack(), false, Command{Name: "refs/heads/main", New: c1}); res[0] != nil {
		t.Fatal(res[0])
	}
	pending := func() int {
		var n int
		if err := ten.DB().QueryRow(`SELECT count(*) FROM git_pending`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := pending(); n != 0 {
		t.Fatalf("%d pending rows after a push", n)
	}

	// A pack stored but never applied: the process "crashed".
	base, err := Open(ctx, ten, "o")
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	b.commit("lost", c1)
	lost, err := ReadPack(ctx, ten, base, bytes.NewReader(b.pack()))
	if err != nil {
		t.Fatal(err)
	}
	openPacks.forget(ten, lost.blob)
	local := filepath.Join(packDir(ten), lost.blob.String()+".pack")
	if _, err := os.Stat(local); err != nil {
		t.Fatal(err)
	}
	if n := pending(); n != 1 {
		t.Fatalf("%d pending rows for an unapplied pack", n)
	}

	// Young orphans are left alone: they may be pushes in progress.
	if err := collectOrphans(ctx, ten); err != nil || pending() != 1 {
		t.Fatalf("young orphan collected: %v", err)
	}
	orphanAge = 0
	b.commit("next", c1)
	discarded, err := ReadPack(ctx, ten, base, bytes.NewReader(b.pack())) // collects
	if err != nil {
		t.Fatal(err)
	}
	discarded.Discard(ctx)
	if n := pending(); n != 0 {
		t.Errorf("%d pending rows after collection and discard", n)
	}
	for _, h := range []storage.Hash{lost.blob, lost.idxBlob, discarded.blob} {
		if _, err := ten.Blobs().Stat(ctx, h); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("blob %s kept: %v", h, err)
		}
	}
	if _, err := os.Stat(local); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("local copy of the orphan kept: %v", err)
	}
	r, err := Open(ctx, ten, "o")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.ObjectType(c1) != plumbing.CommitObject {
		t.Errorf("applied pack lost its objects")
	}
}

// TestOpenDuringRepack repacks between Open reading the pack rows and
// opening the packs, whose blobs and local copies are then gone: Open
// reads the rows again and succeeds.
func TestOpenDuringRepack(t *testing.T) {
	ten := testTenant(t)
	ctx := context.Background()
	b := &builder{t: t, mem: memory.NewStorage()}
	c1 := b.commit("one")
	push(t, ten, "r", b.pack(), false, Command{Name: "refs/heads/main", New: c1})
	c2 := b.commit("two", c1)
	push(t, ten, "r", b.pack(), false, Command{Name: "refs/heads/main", Old: c1, New: c2})

	// The packs are no longer open anywhere: a fresh Open must restore them.
	r, err := Open(ctx, ten, "r")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range r.Packs {
		openPacks.forget(ten, p.Blob)
	}
	r.Close()
	for _, p := range r.Packs {
		openPacks.forget(ten, p.Blob)
	}

	fired := false
	testHookRowsRead = func() {
		if fired {
			return
		}
		fired = true
		if n, err := Repack(ctx, ten, "r", 2); n != 2 || err != nil {
			t.Errorf("repack: %d %v", n, err)
		}
	}
	defer func() { testHookRowsRead = nil }()
	r, err = Open(ctx, ten, "r")
	if err != nil {
		t.Fatalf("open during repack: %v", err)
	}
	defer r.Close()
	if !fired || len(r.Packs) != 1 {
		t.Fatalf("hook fired %v, %d packs", fired, len(r.Packs))
	}
	if r.ObjectType(c1) != plumbing.CommitObject || r.ObjectType(c2) != plumbing.CommitObject {
		t.Errorf("objects missing after the reopen")
	}
}
