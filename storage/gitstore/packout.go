package gitstore

import (
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/go-git/go-git/v5/plumbing"
)

// Entry types in a pack.
const (
	packCommit   = 1
	packTree     = 2
	packBlob     = 3
	packTag      = 4
	packOfsDelta = 6
	packRefDelta = 7
)

// packReader reads raw entries of one stored pack.
type packReader struct {
	p       *Pack
	f       *os.File
	offsets []int64 // entry offsets in order, then the trailer's offset
	blk     []byte  // the bytes of the file from blkOff, read ahead
	blkOff  int64
}

// readAhead is how much of a pack file one read takes in, so that entries
// read in file order (headers while planning, small entries while writing)
// cost a system call per block rather than one each.
const readAhead = 64 << 10

// bytesAt returns n bytes of the file from off. The bytes are valid until
// the next call.
func (pr *packReader) bytesAt(off, n int64) ([]byte, error) {
	if n > readAhead {
		b := make([]byte, n)
		if _, err := pr.f.ReadAt(b, off); err != nil {
			return nil, fmt.Errorf("read pack entry: %w", err)
		}
		return b, nil
	}
	if pr.blk == nil || off < pr.blkOff || off+n > pr.blkOff+int64(len(pr.blk)) {
		end := pr.offsets[len(pr.offsets)-1] // the trailer
		size := max(n, min(readAhead, end-off))
		if cap(pr.blk) < int(size) {
			pr.blk = make([]byte, readAhead)
		}
		pr.blk = pr.blk[:size]
		if _, err := pr.f.ReadAt(pr.blk, off); err != nil {
			pr.blk = nil
			return nil, fmt.Errorf("read pack entry: %w", err)
		}
		pr.blkOff = off
	}
	return pr.blk[off-pr.blkOff : off-pr.blkOff+n], nil
}

func (pr *packReader) end(off int64) int64 {
	i := sort.Search(len(pr.offsets), func(i int) bool { return pr.offsets[i] > off })
	return pr.offsets[i]
}

// entryType returns the object type of the entry at off, following delta
// headers to the base without inflating anything.
func entryType(f io.ReaderAt, idx interface {
	FindOffset(plumbing.Hash) (int64, error)
}, off int64) (plumbing.ObjectType, error) {
	var buf [64]byte
	for range 10000 {
		n, err := f.ReadAt(buf[:], off)
		if n == 0 {
			return 0, fmt.Errorf("read entry header at %d: %w", off, err)
		}
		b := buf[:n]
		i := 0
		c := b[i]
		i++
		typ := int(c>>4) & 7
		for c&0x80 != 0 {
			if i >= len(b) {
				return 0, fmt.Errorf("bad entry header at %d", off)
			}
			c = b[i]
			i++
		}
		switch typ {
		case packCommit, packTree, packBlob, packTag:
			return plumbing.ObjectType(typ), nil
		case packOfsDelta:
			if i >= len(b) {
				return 0, fmt.Errorf("bad delta header at %d", off)
			}
			c = b[i]
			i++
			rel := int64(c & 0x7f)
			for c&0x80 != 0 {
				if i >= len(b) || rel > 1<<55 {
					return 0, fmt.Errorf("bad delta offset at %d", off)
				}
				c = b[i]
				i++
				rel = (rel+1)<<7 | int64(c&0x7f)
			}
			if rel <= 0 || rel > off {
				return 0, fmt.Errorf("bad delta offset at %d", off)
			}
			off -= rel
		case packRefDelta:
			if i+20 > len(b) {
				return 0, fmt.Errorf("bad delta header at %d", off)
			}
			var h plumbing.Hash
			copy(h[:], b[i:i+20])
			if off, err = idx.FindOffset(h); err != nil {
				return 0, fmt.Errorf("delta base %s: %w", h, err)
			}
		default:
			return 0, fmt.Errorf("bad entry type %d at %d", typ, off)
		}
	}
	return 0, fmt.Errorf("delta chain too long")
}

// entry is one raw pack entry.
type entry struct {
	typ     int
	size    int64
	baseOff int64         // for offset deltas: the base's offset in the same pack
	baseRef plumbing.Hash // for ref deltas
	data    []byte        // the zlib stream
	zsize   int64         // its length (set by header)
}

// read reads the entry at off with its data, which is valid until the
// next read.
func (pr *packReader) read(off int64) (*entry, error) {
	raw, err := pr.bytesAt(off, pr.end(off)-off)
	if err != nil {
		return nil, err
	}
	e, n, err := parseEntryHeader(raw, off)
	if err != nil {
		return nil, err
	}
	e.data = raw[n:]
	return e, nil
}

// header reads the header of the entry at off, without its data.
func (pr *packReader) header(off int64) (*entry, error) {
	raw, err := pr.bytesAt(off, min(64, pr.end(off)-off))
	if err != nil {
		return nil, err
	}
	e, n, err := parseEntryHeader(raw, off)
	if err != nil {
		return nil, err
	}
	e.zsize = pr.end(off) - off - int64(n)
	return e, nil
}

// parseEntryHeader parses the header of the entry at off that raw starts
// with, returning the header's length.
func parseEntryHeader(raw []byte, off int64) (*entry, int, error) {
	if len(raw) == 0 {
		return nil, 0, fmt.Errorf("bad pack entry header at %d", off)
	}
	e := &entry{}
	i := 0
	c := raw[i]
	i++
	e.typ = int(c>>4) & 7
	e.size = int64(c & 15)
	shift := 4
	for c&0x80 != 0 {
		if i >= len(raw) || shift > 60 {
			return nil, 0, fmt.Errorf("bad pack entry header at %d", off)
		}
		c = raw[i]
		i++
		e.size |= int64(c&0x7f) << shift
		shift += 7
	}
	switch e.typ {
	case packOfsDelta:
		if i >= len(raw) {
			return nil, 0, fmt.Errorf("bad delta header at %d", off)
		}
		c = raw[i]
		i++
		rel := int64(c & 0x7f)
		for c&0x80 != 0 {
			if i >= len(raw) || rel > 1<<55 {
				return nil, 0, fmt.Errorf("bad delta offset at %d", off)
			}
			c = raw[i]
			i++
			rel = (rel+1)<<7 | int64(c&0x7f)
		}
		if rel <= 0 || rel > off {
			return nil, 0, fmt.Errorf("bad delta offset at %d", off)
		}
		e.baseOff = off - rel
	case packRefDelta:
		if i+20 > len(raw) {
			return nil, 0, fmt.Errorf("bad delta header at %d", off)
		}
		copy(e.baseRef[:], raw[i:i+20])
		i += 20
	}
	return e, i, nil
}

func (e *entry) isDelta() bool { return e.typ == packOfsDelta || e.typ == packRefDelta }

// How an object goes into an outgoing pack.
const (
	outCopy  = iota // its stored whole entry, copied
	outReuse        // its stored delta, on a base sent in the same pack
	outThin         // its stored delta, on a base the receiver holds
	outWhole        // resolved and compressed anew
	outDelta        // a delta computed for this pack (see deltify.go)
)

// outObj is one object of an outgoing pack and how it is written.
type outObj struct {
	h      plumbing.Hash
	r      *packReader
	off    int64         // stored entry's offset
	e      *entry        // stored entry's header
	sbase  plumbing.Hash // stored delta's base
	kind   int
	base   *outObj       // the base in this pack, for outReuse and outDelta
	ext    plumbing.Hash // the base the receiver holds, for outThin and outDelta
	zdelta []byte        // outDelta: the compressed delta
	dsize  int64         // outDelta: the delta's size
	height int           // the longest chain of deltas resting on it
	mark   uint8         // cycle search state
	busy   bool          // being written
	out    int64         // offset in the output; -1 until written
}

// PackOptions say how WritePackWith writes a pack.
type PackOptions struct {
	// OfsDelta lets deltas name their base by offset rather than id.
	OfsDelta bool
	// Has, when not nil, reports the objects the receiver holds: a
	// delta whose base it holds goes out as a reference delta on that
	// base (a thin pack).
	Has func(plumbing.Hash) bool
	// Deltas, when not nil, has deltas computed for objects that would
	// otherwise go out whole (see DeltaOptions).
	Deltas *DeltaOptions
}

// PackStats count how the objects of a written pack went out.
type PackStats struct {
	Objects  int // objects in the pack
	Reused   int // stored deltas copied (thin ones included)
	Computed int // deltas computed for this pack
	Whole    int // stored deltas resolved and sent whole
	Tried    int // delta attempts
}

// packWriter writes a pack of chosen objects. It plans first: every
// object's stored entry is located and its header read, stored deltas are
// kept when their base is sent too (or held by a thin pack's receiver),
// cycles between stored deltas of different packs are broken, and then,
// when asked, deltas are computed for what would go out whole. It then
// writes each object after its base, copying stored entries as they are.
type packWriter struct {
	repo    *Repo
	opts    PackOptions
	readers map[*Pack]*packReader
	objs    map[plumbing.Hash]*outObj
	order   []*outObj // the objects in the caller's order
	stats   PackStats
	out     io.Writer
	sum     hashWriter
	n       int64
	hdr     []byte
	z       bytes.Buffer // compressed whole object, reused
	zw      *zlib.Writer // reused: a new writer costs more than a small object
}

type hashWriter interface {
	io.Writer
	Sum([]byte) []byte
}

// WritePack streams a version-2 pack holding objects to w, copying their
// stored entries as they are: whole objects keep their compressed bytes and
// deltas are kept whenever their base is sent too, so nothing is
// recompressed or re-deltified; a delta whose base is not sent goes out as
// a whole object. With ofs, deltas refer to their base by offset, otherwise
// by object id. The pack is never thin.
func (r *Repo) WritePack(w io.Writer, objects []plumbing.Hash, ofs bool) error {
	_, err := r.WritePackWith(w, objects, PackOptions{OfsDelta: ofs})
	return err
}

// WriteThinPack is WritePack for a receiver that completes thin packs: a
// stored delta whose base is not sent but for which has reports true goes
// out as a reference delta on that base instead of whole. has may be nil.
func (r *Repo) WriteThinPack(w io.Writer, objects []plumbing.Hash, ofs bool, has func(plumbing.Hash) bool) error {
	_, err := r.WritePackWith(w, objects, PackOptions{OfsDelta: ofs, Has: has})
	return err
}

// WritePackWith streams a version-2 pack holding objects to w as opts say:
// stored entries are copied as WriteThinPack copies them, and with
// opts.Deltas set, objects that would go out whole get a delta computed
// against another object of the pack (or one the receiver holds) when that
// is clearly smaller. Every base comes before its deltas.
func (r *Repo) WritePackWith(w io.Writer, objects []plumbing.Hash, opts PackOptions) (PackStats, error) {
	pw := &packWriter{
		repo: r, opts: opts, readers: map[*Pack]*packReader{},
		objs: make(map[plumbing.Hash]*outObj, len(objects)), sum: sha1.New(),
	}
	defer pw.close()
	if err := pw.plan(objects); err != nil {
		return pw.stats, err
	}
	if opts.Deltas != nil {
		if err := pw.deltify(opts.Deltas.withDefaults()); err != nil {
			return pw.stats, err
		}
	}
	pw.out = io.MultiWriter(w, pw.sum)
	var hdr [12]byte
	copy(hdr[:], "PACK")
	binary.BigEndian.PutUint32(hdr[4:], 2)
	binary.BigEndian.PutUint32(hdr[8:], uint32(len(pw.order)))
	if err := pw.write(hdr[:]); err != nil {
		return pw.stats, err
	}
	for _, o := range pw.order {
		if err := pw.emit(o); err != nil {
			return pw.stats, err
		}
	}
	pw.stats.Objects = len(pw.order)
	_, err := w.Write(pw.sum.Sum(nil))
	return pw.stats, err
}

func (pw *packWriter) close() {
	for _, r := range pw.readers {
		r.f.Close()
	}
}

func (pw *packWriter) write(b []byte) error {
	n, err := pw.out.Write(b)
	pw.n += int64(n)
	return err
}

func (pw *packWriter) reader(p *Pack) (*packReader, error) {
	if r, ok := pw.readers[p]; ok {
		return r, nil
	}
	offsets, err := p.entryOffsets()
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p.Path)
	if err != nil {
		return nil, err
	}
	r := &packReader{p: p, f: f, offsets: offsets}
	pw.readers[p] = r
	return r, nil
}

// locate finds the stored entry of an object.
func (pw *packWriter) locate(h plumbing.Hash) (*packReader, int64, error) {
	for _, p := range pw.repo.Packs {
		off, err := p.Index.FindOffset(h)
		if err != nil {
			continue
		}
		r, err := pw.reader(p)
		return r, off, err
	}
	return nil, 0, fmt.Errorf("object %s: %w", h, plumbing.ErrObjectNotFound)
}

// plan reads the header of every object's stored entry and decides which
// stored deltas are kept.
func (pw *packWriter) plan(objects []plumbing.Hash) error {
	for _, h := range objects {
		if pw.objs[h] != nil {
			continue
		}
		r, off, err := pw.locate(h)
		if err != nil {
			return err
		}
		e, err := r.header(off)
		if err != nil {
			return err
		}
		o := &outObj{h: h, r: r, off: off, e: e, sbase: e.baseRef, out: -1}
		if e.typ == packOfsDelta {
			if o.sbase, err = r.p.Index.FindHash(e.baseOff); err != nil {
				return fmt.Errorf("delta base of %s: %w", h, err)
			}
		}
		pw.objs[h] = o
		pw.order = append(pw.order, o)
	}
	for _, o := range pw.order {
		switch {
		case !o.e.isDelta():
			o.kind = outCopy
		case pw.objs[o.sbase] != nil:
			o.kind, o.base = outReuse, pw.objs[o.sbase]
		case pw.opts.Has != nil && pw.opts.Has(o.sbase):
			o.kind, o.ext = outThin, o.sbase
		default:
			o.kind = outWhole
		}
	}
	pw.breakCycles()
	for _, o := range pw.order {
		if o.kind == outReuse {
			pw.raise(o)
		}
	}
	return nil
}

// breakCycles sends whole one object of every cycle of kept deltas (stored
// deltas of different packs may name each other as bases).
func (pw *packWriter) breakCycles() {
	const (
		unseen = iota
		onPath
		done
	)
	var path []*outObj
	for _, o := range pw.order {
		path = path[:0]
		x := o
		for x.kind == outReuse && x.mark == unseen {
			x.mark = onPath
			path = append(path, x)
			x = x.base
		}
		if x.mark == onPath {
			x.kind, x.base = outWhole, nil
		}
		for _, y := range path {
			y.mark = done
		}
	}
}

// raise records on the bases below o that a chain of o.height+1 deltas
// rests on the first, o.height+2 on the second, and so on.
func (pw *packWriter) raise(o *outObj) {
	d := o.height + 1
	for b := o.base; b != nil && b.height < d; b = b.base {
		b.height = d
		d++
	}
}

// depth is the length of the delta chain that ends at o.
func (o *outObj) depth() int {
	d := 0
	for x := o; ; x = x.base {
		if x.kind == outThin || (x.kind == outDelta && x.base == nil) {
			return d + 1
		}
		if x.base == nil {
			return d
		}
		d++
	}
}

// emit writes o after its base.
func (pw *packWriter) emit(o *outObj) error {
	if o.out >= 0 {
		return nil
	}
	if o.base != nil {
		if o.busy {
			return fmt.Errorf("delta cycle at %s", o.h) // plan prevents it
		}
		o.busy = true
		err := pw.emit(o.base)
		o.busy = false
		if err != nil {
			return err
		}
	}
	switch o.kind {
	case outWhole:
		pw.stats.Whole++
		return pw.writeWhole(o)
	case outDelta:
		pw.stats.Computed++
		return pw.writeDelta(o, o.dsize, o.zdelta)
	}
	e, err := o.r.read(o.off)
	if err != nil {
		return err
	}
	if o.kind == outCopy {
		o.out = pw.n
		pw.hdr = appendEntryHeader(pw.hdr[:0], e.typ, e.size)
		if err := pw.write(pw.hdr); err != nil {
			return err
		}
		return pw.write(e.data)
	}
	pw.stats.Reused++
	return pw.writeDelta(o, e.size, e.data)
}

// writeDelta writes a delta of size bytes, compressed as z: by offset on
// a base in the pack when the receiver reads offset deltas, otherwise by
// the base's id.
func (pw *packWriter) writeDelta(o *outObj, size int64, z []byte) error {
	o.out = pw.n
	if o.base != nil && pw.opts.OfsDelta {
		pw.hdr = appendEntryHeader(pw.hdr[:0], packOfsDelta, size)
		pw.hdr = appendOfs(pw.hdr, pw.n-o.base.out)
	} else {
		base := o.ext
		if o.base != nil {
			base = o.base.h
		}
		pw.hdr = appendEntryHeader(pw.hdr[:0], packRefDelta, size)
		pw.hdr = append(pw.hdr, base[:]...)
	}
	if err := pw.write(pw.hdr); err != nil {
		return err
	}
	return pw.write(z)
}

// writeWhole writes an object resolved from its delta, compressed anew.
func (pw *packWriter) writeWhole(o *outObj) error {
	obj, err := pw.repo.EncodedObject(plumbing.AnyObject, o.h)
	if err != nil {
		return err
	}
	rd, err := obj.Reader()
	if err != nil {
		return err
	}
	defer rd.Close()
	pw.z.Reset()
	if pw.zw == nil {
		pw.zw, _ = zlib.NewWriterLevel(&pw.z, zlib.BestSpeed)
	} else {
		pw.zw.Reset(&pw.z)
	}
	if _, err := io.Copy(pw.zw, rd); err != nil {
		return err
	}
	if err := pw.zw.Close(); err != nil {
		return err
	}
	o.out = pw.n
	pw.hdr = appendEntryHeader(pw.hdr[:0], int(obj.Type()), obj.Size())
	if err := pw.write(pw.hdr); err != nil {
		return err
	}
	return pw.write(pw.z.Bytes())
}

func appendEntryHeader(b []byte, typ int, size int64) []byte {
	c := byte(typ<<4) | byte(size&15)
	size >>= 4
	for size > 0 {
		b = append(b, c|0x80)
		c = byte(size & 0x7f)
		size >>= 7
	}
	return append(b, c)
}

func appendOfs(b []byte, rel int64) []byte {
	var tmp [16]byte
	i := len(tmp) - 1
	tmp[i] = byte(rel & 0x7f)
	for rel >>= 7; rel > 0; rel >>= 7 {
		rel--
		i--
		tmp[i] = 0x80 | byte(rel&0x7f)
	}
	return append(b, tmp[i:]...)
}
