package gitstore

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"

	"rewire/storage"
)

func TestDeltaRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	text := []byte(strings.Repeat("the quick brown fox jumps over the lazy dog\n", 3000))
	big := random(200 << 10)
	cases := []struct {
		name     string
		src, tgt []byte
		small    bool // the delta must be under a tenth of tgt
	}{
		{"identical", text, text, true},
		{"appended", text, append(bytes.Clone(text), "one more line\n"...), true},
		{"prepended", text, append([]byte("a first line\n"), text...), true},
		{"changed middle", text, bytes.Replace(text, []byte("lazy"), []byte("busy"), 1), true},
		{"long copy", big, append(bytes.Clone(big), big[:100<<10]...), true},
		{"unrelated", random(5000), random(5000), false},
		{"empty target", text, nil, false},
		{"short", []byte("abc"), []byte("abd"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newDeltaIndex(c.src).delta(c.tgt, len(c.tgt)*2+64)
			if d == nil {
				t.Fatal("no delta within twice the target's size")
			}
			got, err := packfile.PatchDelta(c.src, d)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, c.tgt) {
				t.Fatalf("patched %d bytes differ from the %d of the target", len(got), len(c.tgt))
			}
			if c.small && len(d) > len(c.tgt)/10 {
				t.Errorf("delta of %d bytes for a target of %d", len(d), len(c.tgt))
			}
		})
	}
	if d := newDeltaIndex(nil).delta(text[:500], 1000); d != nil {
		t.Error("delta on an empty base, which readers refuse")
	}
	if idx := newDeltaIndex(text); !idx.likely(cases[3].tgt) || idx.likely(random(5000)) {
		t.Error("likely misjudges a changed copy or random bytes")
	}
	if d := newDeltaIndex(random(5000)).delta(random(5000), 2500); d != nil {
		t.Errorf("delta of %d bytes between random inputs, over the 2500 limit", len(d))
	}
}

func FuzzDelta(f *testing.F) {
	f.Add([]byte("hello, hello, hello, hello, world"), []byte("hello, hello, hello, hello, there"))
	f.Add([]byte(strings.Repeat("abcdefghijklmnopq", 20)), []byte(strings.Repeat("abcdefghijklmnopq", 21)))
	f.Fuzz(func(t *testing.T, src, tgt []byte) {
		d := newDeltaIndex(src).delta(tgt, 2*len(tgt)+64)
		if len(src) == 0 {
			if d != nil {
				t.Fatal("delta on an empty base")
			}
			return
		}
		got, err := packfile.PatchDelta(src, d)
		if err != nil || !bytes.Equal(got, tgt) {
			t.Fatalf("round trip failed: %v", err)
		}
	})
}

// file is one file of a commit stored by storeCommit: whole, as a
// reference delta on base, or not at all when the repository holds it.
type file struct {
	name   string
	data   []byte
	base   []byte
	stored bool
}

// storeCommit pushes a raw pack holding a commit of files (on parent,
// which may be zero) to refs/heads/main. It returns the commit, its tree
// and the blobs in order.
func storeCommit(t *testing.T, ten *storage.Tenant, repo string, parent plumbing.Hash, files []file) (c, tree plumbing.Hash, blobs []plumbing.Hash) {
	t.Helper()
	var p rawPack
	sorted := append([]file(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	var tb bytes.Buffer
	for _, f := range files {
		blobs = append(blobs, plumbing.ComputeHash(plumbing.BlobObject, f.data))
	}
	for _, f := range sorted {
		h := plumbing.ComputeHash(plumbing.BlobObject, f.data)
		fmt.Fprintf(&tb, "100644 %s\x00", f.name)
		tb.Write(h[:])
		switch {
		case f.stored:
			continue
		case f.base == nil:
			p.entry(packBlob, len(f.data), nil, f.data)
			continue
		}
		base := plumbing.ComputeHash(plumbing.BlobObject, f.base)
		d := packfile.DiffDelta(f.base, f.data)
		p.entry(packRefDelta, len(d), &base, d)
	}
	tree = plumbing.ComputeHash(plumbing.TreeObject, tb.Bytes())
	p.entry(packTree, tb.Len(), nil, tb.Bytes())
	var cb bytes.Buffer
	fmt.Fprintf(&cb, "tree %s\n", tree)
	if !parent.IsZero() {
		fmt.Fprintf(&cb, "parent %s\n", parent)
	}
	fmt.Fprintf(&cb, "author A <a@example.com> 1700000000 +0000\ncommitter A <a@example.com> 1700000000 +0000\n\nc\n")
	c = plumbing.ComputeHash(plumbing.CommitObject, cb.Bytes())
	p.entry(packCommit, cb.Len(), nil, cb.Bytes())
	if res := push(t, ten, repo, p.bytes(), false, Command{Name: "refs/heads/main", Old: parent, New: c}); res[0] != nil {
		t.Fatal(res[0])
	}
	return c, tree, blobs
}

// packShape is what git verify-pack says of a pack.
type packShape struct {
	objects, deltas, maxDepth int
	size                      int
}

// inspect indexes pack with the git CLI (completing it with held when it
// is thin), which checks every object's hash, and reads its delta chains.
func inspect(t *testing.T, pack []byte, held ...[]byte) packShape {
	t.Helper()
	dir := t.TempDir()
	git := func(stdin []byte, args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Stdin = bytes.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	git(nil, "init", "-q", "--bare", ".")
	for _, b := range held {
		git(b, "hash-object", "-w", "--stdin")
	}
	git(pack, "index-pack", "--stdin", "--fix-thin")
	idx, _ := filepath.Glob(filepath.Join(dir, "objects", "pack", "*.idx"))
	if len(idx) != 1 {
		t.Fatalf("index-pack left %d indexes", len(idx))
	}
	s := packShape{size: len(pack)}
	for _, line := range strings.Split(git(nil, "verify-pack", "-v", idx[0]), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || len(f[0]) != 40 {
			continue
		}
		s.objects++
		if len(f) == 7 {
			s.deltas++
			d, _ := strconv.Atoi(f[5])
			s.maxDepth = max(s.maxDepth, d)
		}
	}
	return s
}

func needGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git CLI not installed")
	}
}

// deltaFixture stores two commits of n similar files, the second's blobs
// as deltas on the first's, and returns what a depth-1 fetch of the
// second sends: its commit, tree and blobs, whose stored bases are not
// sent.
func deltaFixture(t *testing.T, ten *storage.Tenant, repo string, n int) (tip []plumbing.Hash, names map[plumbing.Hash]string) {
	common := strings.Repeat("a line every file of the fixture shares\n", 60)
	var v1, v2 []file
	for i := range n {
		name := fmt.Sprintf("f%02d.txt", i)
		old := []byte(fmt.Sprintf("file %d\n%s", i, common))
		v1 = append(v1, file{name: name, data: old})
		v2 = append(v2, file{name: name, data: append(bytes.Clone(old), fmt.Sprintf("changed %d\n", i)...), base: old})
	}
	c1, _, _ := storeCommit(t, ten, repo, plumbing.ZeroHash, v1)
	c2, tree, blobs := storeCommit(t, ten, repo, c1, v2)
	names = map[plumbing.Hash]string{}
	for i, h := range blobs {
		names[h] = v2[i].name
	}
	return append([]plumbing.Hash{c2, tree}, blobs...), names
}

func openRepo(t *testing.T, ten *storage.Tenant, name string) *Repo {
	r, err := Open(context.Background(), ten, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func writeWith(t *testing.T, r *Repo, objects []plumbing.Hash, opts PackOptions) ([]byte, PackStats) {
	t.Helper()
	var buf bytes.Buffer
	st, err := r.WritePackWith(&buf, objects, opts)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), st
}

// TestComputeDeltasForDroppedBases sends the tip of a repository whose tip
// blobs are stored as deltas on older blobs that are not sent: without
// computing they go out whole, with it they become deltas on each other,
// by offset and by id, and git accepts the pack.
func TestComputeDeltasForDroppedBases(t *testing.T) {
	needGit(t)
	ten := testTenant(t)
	const n = 12
	tip, _ := deltaFixture(t, ten, "d", n)
	r := openRepo(t, ten, "d")

	plain, st := writeWith(t, r, tip, PackOptions{OfsDelta: true})
	if st.Whole != n || st.Computed != 0 {
		t.Fatalf("without computing: %+v, want %d whole", st, n)
	}
	if s := inspect(t, plain); s.deltas != 0 || s.objects != n+2 {
		t.Fatalf("without computing: %+v", s)
	}
	for _, ofs := range []bool{true, false} {
		pack, st := writeWith(t, r, tip, PackOptions{OfsDelta: ofs, Deltas: &DeltaOptions{}})
		s := inspect(t, pack)
		if st.Computed < n/2 || s.deltas != st.Computed || s.objects != n+2 {
			t.Errorf("ofs=%v: stats %+v, pack %+v: want at least %d computed deltas", ofs, st, s, n/2)
		}
		if len(pack) >= len(plain) {
			t.Errorf("ofs=%v: %d bytes with deltas, %d without", ofs, len(pack), len(plain))
		}
	}

	// A depth limit of 1 leaves every chain one delta long.
	pack, st := writeWith(t, r, tip, PackOptions{OfsDelta: true, Deltas: &DeltaOptions{MaxDepth: 1}})
	if s := inspect(t, pack); s.maxDepth != 1 || st.Computed == 0 {
		t.Errorf("MaxDepth 1: stats %+v, pack %+v", st, s)
	}
	// Objects outside the size bounds are not tried.
	for _, o := range []DeltaOptions{{MinSize: 1 << 20}, {MaxSize: 32}} {
		if _, st := writeWith(t, r, tip, PackOptions{OfsDelta: true, Deltas: &o}); st.Tried != 0 || st.Computed != 0 {
			t.Errorf("bounds %+v: %+v", o, st)
		}
	}
	// The work budget stops trying once spent.
	if _, st := writeWith(t, r, tip, PackOptions{OfsDelta: true, Deltas: &DeltaOptions{MaxBytes: 1}}); st.Tried > 1 {
		t.Errorf("MaxBytes 1: %d attempts", st.Tried)
	}
}

// TestNoDeltasForWholePacks writes every object of the stored packs: the
// stored deltas are reused and nothing is computed.
func TestNoDeltasForWholePacks(t *testing.T) {
	needGit(t)
	ten := testTenant(t)
	deltaFixture(t, ten, "w", 12)
	r := openRepo(t, ten, "w")
	var all []plumbing.Hash
	for _, p := range r.Packs {
		it, err := p.Index.Entries()
		if err != nil {
			t.Fatal(err)
		}
		for e, err := it.Next(); err == nil; e, err = it.Next() {
			all = append(all, e.Hash)
		}
		it.Close()
	}
	pack, st := writeWith(t, r, all, PackOptions{OfsDelta: true, Deltas: &DeltaOptions{}})
	if st.Tried != 0 || st.Computed != 0 || st.Reused != 12 {
		t.Errorf("whole packs: %+v, want 12 reused deltas and no attempt", st)
	}
	inspect(t, pack)
}

// TestNamesChooseBases checks that the name hashes order the candidates:
// with a window of one, each object is tried only against its neighbour,
// which is the object of the same name when names are known and an object
// of another family when only sizes order them. The objects tried are
// stored as deltas on versions that are not sent.
func TestNamesChooseBases(t *testing.T) {
	needGit(t)
	ten := testTenant(t)
	var v1, v2 []file
	for i := range 8 {
		// Two families whose sizes interleave.
		for _, fam := range []string{"alpha", "omega"} {
			line := map[string]string{"alpha": "abcdefghij klmnopqrst\n", "omega": "0123456789 ZYXWVUTSRQ\n"}[fam]
			name := fmt.Sprintf("%s%d.txt", fam, i)
			old := []byte(strings.Repeat(line, 20+i))
			v1 = append(v1, file{name: name, data: old})
			v2 = append(v2, file{name: name, data: append(bytes.Clone(old), fmt.Sprintf("%d\n", i)...), base: old})
		}
	}
	c1, _, _ := storeCommit(t, ten, "n", plumbing.ZeroHash, v1)
	c, tree, blobs := storeCommit(t, ten, "n", c1, v2)
	r := openRepo(t, ten, "n")
	family := map[plumbing.Hash]uint32{}
	for i, h := range blobs {
		family[h] = NameHash([]byte(v2[i].name[:5] + ".txt"))
	}
	objects := append([]plumbing.Hash{c, tree}, blobs...)

	_, bySize := writeWith(t, r, objects, PackOptions{OfsDelta: true, Deltas: &DeltaOptions{Window: 1}})
	named, byName := writeWith(t, r, objects, PackOptions{OfsDelta: true,
		Deltas: &DeltaOptions{Window: 1, Name: func(h plumbing.Hash) uint32 { return family[h] }}})
	if byName.Computed != len(blobs)-2 || bySize.Computed >= byName.Computed {
		t.Errorf("computed %d deltas by name (want %d), %d by size alone", byName.Computed, len(blobs)-2, bySize.Computed)
	}
	inspect(t, named)
}

// TestWholeObjectsAcrossPacks: whole stored objects are tried against
// objects of another stored pack, never against those of their own.
func TestWholeObjectsAcrossPacks(t *testing.T) {
	needGit(t)
	ten := testTenant(t)
	text := strings.Repeat("a text that a later file copies with a change\n", 40)
	x := []byte(text + "first\n")
	y := []byte("a copy\n" + text + "second\n")
	z := []byte(text + "the third\n")
	c1, _, b1 := storeCommit(t, ten, "x", plumbing.ZeroHash, []file{{name: "a.txt", data: x}})
	// The second push stores y and z whole, in one pack.
	c2, t2, b2 := storeCommit(t, ten, "x", c1, []file{{name: "a.txt", data: x, stored: true}, {name: "b.txt", data: y}, {name: "c.txt", data: z}})
	r := openRepo(t, ten, "x")

	// y and z alone, from one pack: nothing is tried.
	if _, st := writeWith(t, r, []plumbing.Hash{b2[1], b2[2]}, PackOptions{OfsDelta: true, Deltas: &DeltaOptions{}}); st.Tried != 0 {
		t.Errorf("objects of one pack: %+v, want no attempt", st)
	}
	// With x from the first pack, the tip: the second pack goes out
	// entirely, so only x is tried, against y and z.
	pack, st := writeWith(t, r, []plumbing.Hash{c2, t2, b1[0], b2[1], b2[2]}, PackOptions{OfsDelta: true, Deltas: &DeltaOptions{}})
	if st.Computed != 1 || st.Tried != 2 {
		t.Errorf("objects of two packs: %+v, want x tried against y and z and made a delta", st)
	}
	inspect(t, pack)
}

// TestThinDeltaOnHeldBase fetches the third version of a file from a
// receiver holding the first: the stored base (the second) is neither sent
// nor held, so the third goes out as a delta computed on the first.
func TestThinDeltaOnHeldBase(t *testing.T) {
	needGit(t)
	ten := testTenant(t)
	text := strings.Repeat("some text that lasts through versions\n", 50)
	v := [][]byte{[]byte(text + "one\n"), []byte(text + "two\n"), []byte(text + "three\n")}
	c1, _, b1 := storeCommit(t, ten, "h", plumbing.ZeroHash, []file{{name: "f.txt", data: v[0]}})
	c2, _, _ := storeCommit(t, ten, "h", c1, []file{{name: "f.txt", data: v[1], base: v[0]}})
	c3, t3, b3 := storeCommit(t, ten, "h", c2, []file{{name: "f.txt", data: v[2], base: v[1]}})
	r := openRepo(t, ten, "h")
	held := map[plumbing.Hash]bool{b1[0]: true}
	name := NameHash([]byte("f.txt"))
	opts := PackOptions{OfsDelta: true, Has: func(h plumbing.Hash) bool { return held[h] },
		Deltas: &DeltaOptions{Bases: []plumbing.Hash{b1[0]}, Name: func(plumbing.Hash) uint32 { return name }}}
	pack, st := writeWith(t, r, []plumbing.Hash{c3, t3, b3[0]}, opts)
	if st.Computed != 1 {
		t.Fatalf("stats %+v, want one computed delta", st)
	}
	// index-pack --fix-thin appends the held base: four objects.
	if s := inspect(t, pack, v[0]); s.deltas != 1 || s.objects != 4 {
		t.Errorf("pack %+v", s)
	}
}

// TestBaseRules checks the rules for a computed base on a hand-made plan:
// no cycle through kept deltas, and chains within the depth limit
// counting the deltas that rest on the object.
func TestBaseRules(t *testing.T) {
	pw := &packWriter{}
	x := &outObj{kind: outWhole}
	y := &outObj{kind: outReuse, base: x}
	z := &outObj{kind: outReuse, base: y}
	other := &outObj{kind: outCopy}
	held := &outObj{kind: outThin} // a kept delta on a base the receiver holds
	for _, o := range []*outObj{y, z} {
		pw.raise(o)
	}
	if x.height != 2 || y.height != 1 || z.height != 0 {
		t.Fatalf("heights %d %d %d, want 2 1 0", x.height, y.height, z.height)
	}
	cases := []struct {
		name  string
		o     *outObj
		b     *deltaCand
		depth int
		ok    bool
	}{
		{"cycle through a kept delta", x, &deltaCand{o: z}, 50, false},
		{"unrelated base", x, &deltaCand{o: other}, 50, true},
		{"chain too deep with what rests on it", x, &deltaCand{o: other}, 2, false},
		{"chain just fits", x, &deltaCand{o: other}, 3, true},
		{"base the receiver holds", x, &deltaCand{}, 3, true},
		{"base itself a thin delta", x, &deltaCand{o: held}, 3, false},
		{"on a deep chain", other, &deltaCand{o: z}, 2, false},
		{"on a chain within the limit", other, &deltaCand{o: z}, 3, true},
	}
	for _, c := range cases {
		if got := pw.canRest(c.o, c.b, c.depth); got != c.ok {
			t.Errorf("%s: canRest %v, want %v", c.name, got, c.ok)
		}
	}

	// Kept deltas naming each other: one of the cycle goes whole.
	a := &outObj{kind: outReuse}
	b := &outObj{kind: outReuse, base: a}
	a.base = b
	pw.order = []*outObj{a, b}
	pw.breakCycles()
	if (a.kind == outWhole) == (b.kind == outWhole) {
		t.Errorf("after breaking the cycle: kinds %d and %d", a.kind, b.kind)
	}
}
