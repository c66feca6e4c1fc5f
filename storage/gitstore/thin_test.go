package gitstore

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/storage/memory"

	"rewire/storage"
)

// rawPack assembles a pack from raw entries.
type rawPack struct {
	n   uint32
	buf bytes.Buffer
}

func (p *rawPack) entry(typ int, size int, ref *plumbing.Hash, body []byte) {
	p.n++
	p.buf.Write(appendEntryHeader(nil, typ, int64(size)))
	if ref != nil {
		p.buf.Write(ref[:])
	}
	zw := zlib.NewWriter(&p.buf)
	zw.Write(body)
	zw.Close()
}

func (p *rawPack) bytes() []byte {
	var out bytes.Buffer
	out.WriteString("PACK")
	binary.Write(&out, binary.BigEndian, uint32(2))
	binary.Write(&out, binary.BigEndian, p.n)
	out.Write(p.buf.Bytes())
	sum := sha1.Sum(out.Bytes())
	out.Write(sum[:])
	return out.Bytes()
}

// thinFixture pushes a repository whose only blob is a long text and
// returns a thin pack of a second commit whose changed blob is a reference
// delta on that blob, with the commits, the new blob and its content.
func thinFixture(t testing.TB, ten *storage.Tenant, repo string) (thin []byte, c1, c2, newBlob plumbing.Hash, updated []byte) {
	b := &builder{t: t, mem: memory.NewStorage()}
	old := []byte(strings.Repeat("the same line again\n", 500) + "old ending\n")
	oldBlob := b.put(plumbing.BlobObject, old)
	c1 = b.commit("one")
	if res := push(t, ten, repo, b.pack(), false, Command{Name: "refs/heads/main", New: c1}); res[0] != nil {
		t.Fatal(res[0])
	}
	updated = append(bytes.Clone(old[:len(old)-11]), "new ending\n"...)
	newBlob = b.put(plumbing.BlobObject, updated)
	tree := fmt.Appendf(nil, "100644 big.txt\x00%s", newBlob[:])
	treeHash := b.put(plumbing.TreeObject, tree)
	commit := fmt.Appendf(nil, "tree %s\nparent %s\nauthor A <a@example.com> 1700000000 +0000\n"+
		"committer A <a@example.com> 1700000000 +0000\n\ntwo\n", treeHash, c1)
	c2 = b.put(plumbing.CommitObject, commit)
	var p rawPack
	delta := packfile.DiffDelta(old, updated)
	p.entry(packRefDelta, len(delta), &oldBlob, delta)
	p.entry(packTree, len(tree), nil, tree)
	p.entry(packCommit, len(commit), nil, commit)
	return p.bytes(), c1, c2, newBlob, updated
}

// FuzzThinPack feeds arbitrary bytes as a pushed pack to a repository,
// seeded with a thin pack, so that completing thin packs sees bad input.
func FuzzThinPack(f *testing.F) {
	ten := testTenant(f)
	thin, _, _, _, _ := thinFixture(f, ten, "fz")
	f.Add(thin)
	f.Add(thin[:len(thin)-30])
	f.Add([]byte("PACK\x00\x00\x00\x02\x00\x00\x00\x01\x70"))
	ctx := context.Background()
	base, err := Open(ctx, ten, "fz")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(base.Close)
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := ReadPack(ctx, ten, base, bytes.NewReader(b))
		if err == nil {
			in.Discard(ctx)
		}
	})
}

// TestThinPack pushes a pack whose new blob is a reference delta against a
// blob only the repository holds: the pack is completed with that base,
// and every object reads back. Without the repository the same pack is
// refused.
func TestThinPack(t *testing.T) {
	ten := testTenant(t)
	ctx := context.Background()
	thin, c1, c2, newBlob, updated := thinFixture(t, ten, "thin")
	if _, err := ReadPack(ctx, ten, nil, bytes.NewReader(thin)); err == nil {
		t.Fatal("thin pack accepted without the repository holding its base")
	}
	cmd := Command{Name: "refs/heads/main", Old: c1, New: c2}
	if res := push(t, ten, "thin", thin, false, cmd); res[0] != nil {
		t.Fatal(res[0])
	}
	r, err := Open(ctx, ten, "thin")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Packs[0].Objects != 4 {
		t.Errorf("completed pack holds %d objects, want 3 sent and 1 base", r.Packs[0].Objects)
	}
	got, err := readObject(r, newBlob)
	if err != nil || !bytes.Equal(got, updated) {
		t.Fatalf("new blob: %v", err)
	}
	if h, _ := r.Ref("refs/heads/main"); h != c2 {
		t.Errorf("main %s, want %s", h, c2)
	}
}
