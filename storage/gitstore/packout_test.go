package gitstore

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/storage/memory"
)

// TestWritePack writes packs of subsets of a deltified stored pack, with
// offset and reference deltas, and reads them back with go-git's parser.
func TestWritePack(t *testing.T) {
	ten := testTenant(t)
	ctx := context.Background()
	b := &builder{t: t, mem: memory.NewStorage()}
	var blobs []plumbing.Hash
	text := strings.Repeat("a line of text that stays the same\n", 200)
	for i := 0; i < 20; i++ {
		blobs = append(blobs, b.put(plumbing.BlobObject, []byte(fmt.Sprintf("%sversion %d\n", text, i))))
	}
	c := b.commit("x")
	if res := push(t, ten, "w", b.pack(), false, Command{Name: "refs/heads/main", New: c}); res[0] != nil {
		t.Fatal(res[0])
	}
	r, err := Open(ctx, ten, "w")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pw := &packWriter{readers: map[*Pack]*packReader{}}
	defer pw.close()
	pr, err := pw.reader(r.Packs[0])
	if err != nil {
		t.Fatal(err)
	}
	deltas := 0
	for _, off := range pr.offsets[:len(pr.offsets)-1] {
		if e, err := pr.read(off); err == nil && (e.typ == packOfsDelta || e.typ == packRefDelta) {
			deltas++
		}
	}
	if deltas == 0 {
		t.Fatal("the stored pack has no deltas: the test would not exercise delta reuse")
	}

	for _, ofs := range []bool{true, false} {
		for _, subset := range [][]plumbing.Hash{blobs, blobs[5:7], {blobs[19], blobs[0]}} {
			var out bytes.Buffer
			if err := r.WritePack(&out, subset, ofs); err != nil {
				t.Fatal(err)
			}
			w := new(idxfile.Writer)
			p, _ := packfile.NewParser(packfile.NewScanner(bytes.NewReader(out.Bytes())), w)
			if _, err := p.Parse(); err != nil {
				t.Fatalf("ofs=%v: written pack does not parse: %v", ofs, err)
			}
			idx, _ := w.Index()
			if n, _ := idx.Count(); n != int64(len(subset)) {
				t.Errorf("ofs=%v: %d objects, want %d", ofs, n, len(subset))
			}
			for _, h := range subset {
				if ok, _ := idx.Contains(h); !ok {
					t.Errorf("ofs=%v: %s missing", ofs, h)
				}
			}
		}
	}
}
