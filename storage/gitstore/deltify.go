package gitstore

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"sort"

	"github.com/go-git/go-git/v5/plumbing"
)

// DeltaOptions bound the deltas WritePackWith computes. Zero fields take
// the defaults named in brackets.
//
// Tried are the objects that would go out whole although stored as deltas
// (their stored base is neither sent nor held by the receiver), and whole
// stored objects on which no kept delta rests, against objects of other
// stored packs and the receiver's: the objects of a stored pack were
// compared with each other when it was made, so the objects of one pack
// alone, or a clone of every pack, compute nothing. Only blobs and trees
// are tried, against objects of the same type: the candidates (the pack's
// objects and the receiver's Bases) are sorted by type, name hash, held
// bases first, then decreasing size, and each object is tried against the
// Window candidates before it, in the spirit of git's pack-objects; a
// candidate sharing no blocks with the object at 8 sampled places is
// passed over without a full scan. A delta is kept only when it is at
// most half the object's size less 20 bytes and, compressed, smaller than
// the object compressed, and never makes a chain longer than MaxDepth or
// a cycle.
type DeltaOptions struct {
	Window   int   // objects tried as bases for each object [10]
	MaxDepth int   // longest chain of deltas in the pack [50]
	MinSize  int64 // smaller objects are neither tried nor bases [64]
	MaxSize  int64 // nor larger ones [1 MiB]
	// MaxBytes caps the work per pack: the bytes of the objects read
	// for deltas plus, for every attempt that scans the object tried,
	// its size [32 MiB]. Memory stays near Window*MaxSize.
	MaxBytes int64

	// Name, when not nil, gives the NameHash of the path under which
	// the walk met an object (0 when unknown).
	Name func(plumbing.Hash) uint32
	// Bases are objects the receiver holds that may serve as bases of
	// computed deltas (reference deltas in a thin pack). They are used
	// only with PackOptions.Has and only when their name hash matches
	// an object being tried.
	Bases []plumbing.Hash
}

// DefaultDeltaOptions are the bounds used when serving fetches.
var DefaultDeltaOptions = DeltaOptions{Window: 10, MaxDepth: 50, MinSize: 64, MaxSize: 1 << 20, MaxBytes: 32 << 20}

func (d *DeltaOptions) withDefaults() DeltaOptions {
	o := *d
	def := DefaultDeltaOptions
	if o.Window <= 0 {
		o.Window = def.Window
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = def.MaxDepth
	}
	if o.MinSize <= 0 {
		o.MinSize = def.MinSize
	}
	if o.MaxSize <= 0 {
		o.MaxSize = def.MaxSize
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = def.MaxBytes
	}
	return o
}

// deltaCand is an object in the delta window: one of the pack (o set) or
// one the receiver holds (o nil).
type deltaCand struct {
	o      *outObj
	h      plumbing.Hash
	typ    plumbing.ObjectType
	size   int64
	name   uint32
	seq    int // position in the pack, to keep the sort stable
	target bool
	data   []byte
	idx    *deltaIndex
}

// deltify computes deltas for the objects that would go out whole, within
// opt's bounds.
func (pw *packWriter) deltify(opt DeltaOptions) error {
	list, names, err := pw.deltaCandidates(opt)
	if err != nil || len(names) == 0 {
		return err
	}
	if pw.opts.Has != nil {
		if list, err = pw.heldBases(list, names, opt); err != nil {
			return err
		}
	}
	sort.Slice(list, func(i, j int) bool {
		a, b := list[i], list[j]
		switch {
		case a.typ != b.typ:
			return a.typ < b.typ
		case a.name != b.name:
			return a.name < b.name
		case (a.o == nil) != (b.o == nil):
			return a.o == nil // bases the receiver holds first: they cost nothing
		case a.size != b.size:
			return a.size > b.size
		}
		return a.seq < b.seq
	})

	budget := opt.MaxBytes
	win := make([]*deltaCand, 0, opt.Window)
	for _, c := range list {
		if c.target && budget > 0 {
			if err := pw.tryBases(c, win, opt, &budget); err != nil {
				return err
			}
		}
		if len(win) == opt.Window {
			win[0].data, win[0].idx = nil, nil
			copy(win, win[1:])
			win = win[:len(win)-1]
		}
		win = append(win, c)
	}
	return nil
}

// deltaCandidates lists the blobs and trees of the pack within the size
// bounds, marking those to try, and returns the name hashes of those. The
// kept deltas, whose size costs an inflate each, are listed only when
// there is something to try.
func (pw *packWriter) deltaCandidates(opt DeltaOptions) ([]*deltaCand, map[uint32]bool, error) {
	var list []*deltaCand
	add := func(i int, o *outObj) error {
		typ, size, err := pw.typeSize(o.r, o.off, o.e, o.h)
		if err != nil {
			return err
		}
		if (typ != plumbing.BlobObject && typ != plumbing.TreeObject) || size < opt.MinSize || size > opt.MaxSize {
			return nil
		}
		c := &deltaCand{o: o, h: o.h, typ: typ, size: size, seq: i}
		if opt.Name != nil {
			c.name = opt.Name(o.h)
		}
		c.target = o.kind == outWhole || (o.kind == outCopy && o.height == 0)
		list = append(list, c)
		return nil
	}
	for i, o := range pw.order {
		if o.kind == outCopy || o.kind == outWhole {
			if err := add(i, o); err != nil {
				return nil, nil, err
			}
		}
	}
	// A whole stored object was compared with its neighbours of its own
	// pack when that was made: it is worth trying only against objects
	// of other packs (or held by the receiver), and not at all when its
	// pack goes out entirely.
	whole := pw.packsSentWhole(list)
	packs := make(map[*Pack]bool)
	for _, o := range pw.order {
		packs[o.r.p] = true
	}
	onePack := len(packs) == 1 && (pw.opts.Has == nil || len(opt.Bases) == 0)
	names := make(map[uint32]bool)
	for _, c := range list {
		if c.o.kind == outCopy && (onePack || whole[c.o.r.p]) {
			c.target = false
		}
		if c.target {
			names[c.name] = true
		}
	}
	if len(names) == 0 {
		return nil, nil, nil
	}
	for i, o := range pw.order {
		if o.kind == outReuse || o.kind == outThin {
			if err := add(i, o); err != nil {
				return nil, nil, err
			}
		}
	}
	return list, names, nil
}

// packsSentWhole reports which stored packs holding the whole objects
// among cands go out entirely (an object stored in several packs counts
// in each).
func (pw *packWriter) packsSentWhole(cands []*deltaCand) map[*Pack]bool {
	whole := make(map[*Pack]bool)
	for _, c := range cands {
		if c.o.kind == outCopy {
			whole[c.o.r.p] = false
		}
	}
	if len(whole) == 0 {
		return whole
	}
	sent := make(map[*Pack]int64)
	for _, o := range pw.order {
		for _, p := range pw.repo.Packs {
			if _, ok := whole[p]; ok && p.has(o.h) {
				sent[p]++
			}
		}
	}
	for p := range whole {
		count, err := p.Index.Count()
		whole[p] = err == nil && sent[p] >= count
	}
	return whole
}

// heldBases adds to list the bases the receiver holds whose name hash is
// that of an object to try, at most 4 per object to try.
func (pw *packWriter) heldBases(list []*deltaCand, names map[uint32]bool, opt DeltaOptions) ([]*deltaCand, error) {
	if opt.Name == nil {
		return list, nil
	}
	room := 4 * len(names)
	for _, h := range opt.Bases {
		if room == 0 {
			break
		}
		if pw.objs[h] != nil {
			continue
		}
		name := opt.Name(h)
		if name == 0 || !names[name] || !pw.opts.Has(h) {
			continue
		}
		r, off, err := pw.locate(h)
		if err != nil {
			continue // not stored here after all: not a base
		}
		e, err := r.header(off)
		if err != nil {
			return nil, err
		}
		typ, size, err := pw.typeSize(r, off, e, h)
		if err != nil {
			return nil, err
		}
		if size < opt.MinSize || size > opt.MaxSize {
			continue
		}
		list = append(list, &deltaCand{h: h, typ: typ, size: size, name: name, seq: len(pw.order) + len(list)})
		room--
	}
	return list, nil
}

// typeSize returns the type and size of the object stored at off.
func (pw *packWriter) typeSize(r *packReader, off int64, e *entry, h plumbing.Hash) (plumbing.ObjectType, int64, error) {
	if !e.isDelta() {
		return plumbing.ObjectType(e.typ), e.size, nil
	}
	typ, err := entryType(r.f, r.p.Index, off)
	if err != nil {
		// A base in another pack: resolve the object.
		o, err := r.p.get(h)
		if err != nil {
			return 0, 0, fmt.Errorf("type of %s: %w", h, err)
		}
		return o.Type(), o.Size(), nil
	}
	size, err := r.p.size(h)
	if err != nil {
		return 0, 0, fmt.Errorf("size of %s: %w", h, err)
	}
	return typ, size, nil
}

// tryBases looks in the window for the base giving t the smallest delta
// and, when one qualifies, makes t a delta on it.
func (pw *packWriter) tryBases(t *deltaCand, win []*deltaCand, opt DeltaOptions, budget *int64) error {
	limit := int(t.size/2) - 20
	if t.o.kind == outCopy {
		// The delta must compress below the stored entry: one much
		// longer than that would not.
		limit = min(limit, int(3*t.o.e.zsize))
	}
	if limit <= 0 {
		return nil
	}
	var best []byte
	var bestBase *deltaCand
	for j := len(win) - 1; j >= 0 && *budget > 0; j-- {
		b := win[j]
		if b.typ != t.typ || t.size-b.size >= int64(limit) || t.size < b.size/32 {
			continue
		}
		if t.o.kind == outCopy && b.o != nil && b.o.r.p == t.o.r.p {
			continue // compared when their pack was made
		}
		if !pw.canRest(t.o, b, opt.MaxDepth) {
			continue
		}
		if err := pw.load(t, budget); err != nil {
			return err
		}
		if err := pw.load(b, budget); err != nil {
			return err
		}
		if b.idx == nil {
			b.idx = newDeltaIndex(b.data)
		}
		pw.stats.Tried++
		if !b.idx.likely(t.data) {
			*budget -= 8 * 2 * deltaBlock
			continue
		}
		*budget -= t.size
		if d := b.idx.delta(t.data, limit); d != nil {
			best, bestBase, limit = d, b, len(d)-1
		}
	}
	if bestBase == nil {
		return nil
	}
	return pw.setDelta(t, bestBase, best)
}

// canRest reports whether o may become a delta on b: b's chain does not
// pass through o, and the chains through o stay within maxDepth.
func (pw *packWriter) canRest(o *outObj, b *deltaCand, maxDepth int) bool {
	depth := 0 // of b; a base the receiver holds is whole
	if b.o != nil {
		for x := b.o; x != nil; x = x.base {
			if x == o {
				return false
			}
		}
		depth = b.o.depth()
	}
	return depth+1+o.height <= maxDepth
}

// load reads the content of c once.
func (pw *packWriter) load(c *deltaCand, budget *int64) error {
	if c.data != nil {
		return nil
	}
	obj, err := pw.repo.EncodedObject(plumbing.AnyObject, c.h)
	if err != nil {
		return err
	}
	rd, err := obj.Reader()
	if err != nil {
		return err
	}
	defer rd.Close()
	c.data = make([]byte, 0, c.size)
	buf := bytes.NewBuffer(c.data)
	if _, err := io.Copy(buf, rd); err != nil {
		return fmt.Errorf("read %s: %w", c.h, err)
	}
	c.data = buf.Bytes()
	*budget -= int64(len(c.data)) + indexBytes(len(c.data))
	return nil
}

// setDelta makes t a delta on b with the delta d, unless d compressed is
// no smaller than t compressed (a repetitive object compresses better
// whole than as a delta). The compressed delta waits for the write.
func (pw *packWriter) setDelta(t, b *deltaCand, d []byte) error {
	zd, err := pw.compress(d)
	if err != nil {
		return err
	}
	zdelta := bytes.Clone(zd)
	whole := t.o.e.zsize // what a copied entry costs
	if t.o.kind != outCopy {
		z, err := pw.compress(t.data)
		if err != nil {
			return err
		}
		whole = int64(len(z))
	}
	if int64(len(zdelta)) >= whole {
		return nil
	}
	o := t.o
	o.kind, o.base, o.ext = outDelta, b.o, plumbing.ZeroHash
	if b.o == nil {
		o.ext = b.h
	}
	o.zdelta = zdelta
	o.dsize = int64(len(d))
	pw.raise(o)
	return nil
}

// compress compresses b into pw.z, whose bytes it returns.
func (pw *packWriter) compress(b []byte) ([]byte, error) {
	pw.z.Reset()
	if pw.zw == nil {
		pw.zw, _ = zlib.NewWriterLevel(&pw.z, zlib.BestSpeed)
	} else {
		pw.zw.Reset(&pw.z)
	}
	if _, err := pw.zw.Write(b); err != nil {
		return nil, err
	}
	if err := pw.zw.Close(); err != nil {
		return nil, err
	}
	return pw.z.Bytes(), nil
}
