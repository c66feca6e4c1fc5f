package gitstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/storage/memory"

	"rewire/storage"
)

func testTenant(t testing.TB) *storage.Tenant {
	t.Helper()
	ctx := context.Background()
	st, err := storage.Open(ctx, storage.Config{Dir: t.TempDir(), MoverInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.CreateTenant(ctx, "acme", "pw"); err != nil {
		t.Fatal(err)
	}
	ten, err := st.Acquire(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ten.Release)
	return ten
}

// builder makes objects in memory and packs them.
type builder struct {
	t   testing.TB
	mem *memory.Storage
	all []plumbing.Hash
}

func (b *builder) put(typ plumbing.ObjectType, data []byte) plumbing.Hash {
	o := b.mem.NewEncodedObject()
	o.SetType(typ)
	w, _ := o.Writer()
	w.Write(data)
	w.Close()
	h, err := b.mem.SetEncodedObject(o)
	if err != nil {
		b.t.Fatal(err)
	}
	b.all = append(b.all, h)
	return h
}

func (b *builder) commit(msg string, parents ...plumbing.Hash) plumbing.Hash {
	blob := b.put(plumbing.BlobObject, []byte("content "+msg))
	var tree bytes.Buffer
	fmt.Fprintf(&tree, "100644 file.txt\x00")
	tree.Write(blob[:])
	th := b.put(plumbing.TreeObject, tree.Bytes())
	var c bytes.Buffer
	fmt.Fprintf(&c, "tree %s\n", th)
	for _, p := range parents {
		fmt.Fprintf(&c, "parent %s\n", p)
	}
	fmt.Fprintf(&c, "author A <a@example.com> 1700000000 +0000\ncommitter A <a@example.com> 1700000000 +0000\n\n%s\n", msg)
	return b.put(plumbing.CommitObject, c.Bytes())
}

func (b *builder) pack() []byte {
	var buf bytes.Buffer
	if _, err := packfile.NewEncoder(&buf, b.mem, false).Encode(b.all, 10); err != nil {
		b.t.Fatal(err)
	}
	b.all = nil
	return buf.Bytes()
}

func push(t testing.TB, ten *storage.Tenant, repo string, pack []byte, atomic bool, cmds ...Command) []error {
	t.Helper()
	ctx := context.Background()
	base, err := Open(ctx, ten, repo)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		t.Fatal(err)
	}
	if base != nil {
		defer base.Close()
	}
	var in *Incoming
	if pack != nil {
		if in, err = ReadPack(ctx, ten, base, bytes.NewReader(pack)); err != nil {
			t.Fatalf("read pack: %v", err)
		}
	}
	view, err := View(ctx, ten, base, in)
	if err != nil {
		t.Fatal(err)
	}
	defer view.Close()
	res, err := Apply(ctx, ten, repo, in, cmds, view.ObjectType, atomic)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestPushAndRead(t *testing.T) {
	ten := testTenant(t)
	ctx := context.Background()
	b := &builder{t: t, mem: memory.NewStorage()}
	c1 := b.commit("one")
	res := push(t, ten, "r", b.pack(), false, Command{Name: "refs/heads/dev", New: c1})
	if res[0] != nil {
		t.Fatal(res[0])
	}
	r, err := Open(ctx, ten, "r")
	if err != nil {
		t.Fatal(err)
	}
	if r.Head != "refs/heads/dev" {
		t.Errorf("head %q, want refs/heads/dev (only branch of the first push)", r.Head)
	}
	if h, _ := r.Ref("refs/heads/dev"); h != c1 {
		t.Errorf("ref %s, want %s", h, c1)
	}
	if r.ObjectType(c1) != plumbing.CommitObject {
		t.Errorf("commit not readable")
	}
	r.Close()

	// Compare-and-swap: a stale old value is refused, a correct one wins.
	c2 := b.commit("two", c1)
	res = push(t, ten, "r", b.pack(), false,
		Command{Name: "refs/heads/dev", Old: c2, New: c2},
		Command{Name: "refs/heads/main", New: c2})
	if res[0] == nil || res[1] != nil {
		t.Fatalf("results %v", res)
	}
	// Atomic: one stale command rejects all.
	res = push(t, ten, "r", nil, true,
		Command{Name: "refs/heads/dev", Old: c1, New: c2},
		Command{Name: "refs/heads/main", Old: c1, New: c1})
	if res[0] == nil || res[1] == nil {
		t.Fatalf("atomic results %v", res)
	}
	r, _ = Open(ctx, ten, "r")
	if h, _ := r.Ref("refs/heads/dev"); h != c1 {
		t.Errorf("atomic push changed dev")
	}
	r.Close()
	// Delete.
	res = push(t, ten, "r", nil, false, Command{Name: "refs/heads/dev", Old: c1})
	if res[0] != nil {
		t.Fatal(res[0])
	}
	names, _ := List(ctx, ten)
	if len(names) != 1 || names[0] != "r" {
		t.Errorf("list %v", names)
	}
	if err := Delete(ctx, ten, "r"); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(packDir(ten), "*.pack")); len(left) != 0 {
		t.Errorf("local pack copies left after delete: %v", left)
	}
	if _, err := Open(ctx, ten, "r"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("open deleted: %v", err)
	}
}

func TestRejectsBrokenPacks(t *testing.T) {
	ten := testTenant(t)
	ctx := context.Background()
	b := &builder{t: t, mem: memory.NewStorage()}
	c1 := b.commit("one")
	good := b.pack()

	// A commit whose parent is missing fails connectivity.
	b2 := &builder{t: t, mem: memory.NewStorage()}
	var c bytes.Buffer
	blob := b2.put(plumbing.BlobObject, nil)
	var tree bytes.Buffer
	tree.WriteString("100644 f\x00")
	tree.Write(blob[:])
	th := b2.put(plumbing.TreeObject, tree.Bytes())
	fmt.Fprintf(&c, "tree %s\nparent %s\nauthor A <a@b> 1 +0000\ncommitter A <a@b> 1 +0000\n\nx\n", th, c1)
	b2.put(plumbing.CommitObject, c.Bytes())
	if _, err := ReadPack(ctx, ten, nil, bytes.NewReader(b2.pack())); !errors.Is(err, errMalformed) {
		t.Errorf("missing parent accepted: %v", err)
	}
	// A malformed author line.
	b3 := &builder{t: t, mem: memory.NewStorage()}
	b3.put(plumbing.CommitObject, []byte("tree "+th.String()+"\nauthor nobody\n"))
	if _, err := ReadPack(ctx, ten, nil, bytes.NewReader(b3.pack())); !errors.Is(err, errMalformed) {
		t.Errorf("bad commit accepted: %v", err)
	}
	// Corrupted bytes fail the checksum.
	bad := append([]byte(nil), good...)
	bad[len(bad)/2] ^= 0xff
	if _, err := ReadPack(ctx, ten, nil, bytes.NewReader(bad)); err == nil {
		t.Errorf("corrupt pack accepted")
	}
	// Unsorted tree.
	b4 := &builder{t: t, mem: memory.NewStorage()}
	var ut bytes.Buffer
	ut.WriteString("100644 b\x00")
	ut.Write(blob[:])
	ut.WriteString("100644 a\x00")
	ut.Write(blob[:])
	b4.put(plumbing.BlobObject, nil)
	b4.put(plumbing.TreeObject, ut.Bytes())
	if _, err := ReadPack(ctx, ten, nil, bytes.NewReader(b4.pack())); !errors.Is(err, errMalformed) {
		t.Errorf("unsorted tree accepted: %v", err)
	}
}

func TestValidRefName(t *testing.T) {
	for name, want := range map[string]bool{
		"refs/heads/main": true, "refs/tags/v1.0": true, "HEAD": false, "refs/heads/a..b": false,
		"refs/heads/x.lock": false, "refs/heads/.x": false, "refs/heads/a b": false, "refs/heads/": false,
	} {
		if ValidRefName(name) != want {
			t.Errorf("ValidRefName(%q) = %v", name, !want)
		}
	}
}
