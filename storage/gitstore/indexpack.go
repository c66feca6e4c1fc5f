package gitstore

import (
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
)

// errThinPack reports a reference delta whose base the pack does not
// hold: the pack is thin and needs its bases from the repository.
var errThinPack = errors.New("thin pack: delta base not in the pack")

// maxObjectBytes caps one object that indexing holds in memory (commits,
// trees, tags, and delta bases and results). Blobs stored whole are
// hashed as they inflate and may be larger.
const maxObjectBytes = 1 << 30

// maxDeltaDepth caps a chain of deltas in a received pack. git writes
// chains of 50 by default and 250 when aggressive.
const maxDeltaDepth = 10000

// packEntry is one entry of a pack being indexed.
type packEntry struct {
	off     int64 // the entry's header
	data    int64 // its compressed data
	end     int64 // the next entry, or the trailer
	typ     plumbing.ObjectType
	size    int64 // inflated size the header declares
	delta   bool
	ref     bool          // a reference delta
	baseOff int64         // an offset delta's base entry
	baseRef plumbing.Hash // a reference delta's base object
	hash    plumbing.Hash
	crc     uint32
	claimed atomic.Bool // taken by the worker that resolves it
}

// objectCheck validates one commit, tree or tag as it is indexed and
// returns names with the objects it names appended. It may run on several
// goroutines at once; b is valid only during the call.
type objectCheck func(h plumbing.Hash, typ plumbing.ObjectType, b []byte, names []plumbing.Hash) ([]plumbing.Hash, error)

// packIndexer indexes a whole pack held in memory the way git index-pack
// does: one pass inflates every entry, hashing whole objects and checking
// the structured ones; a second pass walks each whole object's tree of
// deltas depth-first, so an object is inflated at most twice and a delta
// base stays in memory only while its deltas resolve. The walks of
// different whole objects run on all CPUs.
type packIndexer struct {
	data    []byte
	entries []packEntry
	ofsKids map[int][]int           // entry → offset deltas on it
	refKids map[plumbing.Hash][]int // object → reference deltas on it
	check   objectCheck
	names   []map[plumbing.Hash]plumbing.Hash // per worker: named object → first namer
	scratch [][]plumbing.Hash                 // per worker: names of one object
}

// indexPack indexes and checks the pack in data and returns its index and
// the objects its commits, trees and tags name, each with the first object
// that names it. A pack whose reference deltas need bases it lacks fails
// with errThinPack.
func indexPack(data []byte, check objectCheck) (*idxfile.MemoryIndex, map[plumbing.Hash]plumbing.Hash, error) {
	ix := &packIndexer{data: data, check: check}
	if err := ix.scan(); err != nil {
		return nil, nil, err
	}
	if err := ix.resolve(); err != nil {
		return nil, nil, err
	}
	w := new(idxfile.Writer)
	w.OnHeader(uint32(len(ix.entries)))
	for i := range ix.entries {
		e := &ix.entries[i]
		w.Add(e.hash, uint64(e.off), e.crc)
	}
	var sum plumbing.Hash
	copy(sum[:], data[len(data)-20:])
	if err := w.OnFooter(sum); err != nil {
		return nil, nil, fmt.Errorf("index pack: %w", err)
	}
	idx, err := w.Index()
	if err != nil {
		return nil, nil, fmt.Errorf("index pack: %w", err)
	}
	names := ix.names[0]
	for _, m := range ix.names[1:] {
		for h, from := range m {
			if _, ok := names[h]; !ok {
				names[h] = from
			}
		}
	}
	return idx, names, nil
}

func badPack(format string, a ...any) error {
	return fmt.Errorf("%w: bad pack: %s", errMalformed, fmt.Sprintf(format, a...))
}

// scan reads every entry in order: whole objects are inflated, hashed and
// checked; deltas are inflated only to find where they end.
func (ix *packIndexer) scan() error {
	data := ix.data
	if len(data) < 32 || string(data[:4]) != "PACK" {
		return badPack("bad header")
	}
	if v := be32(data[4:]); v != 2 && v != 3 {
		return badPack("version %d", v)
	}
	if sum := sha1.Sum(data[:len(data)-20]); !bytes.Equal(sum[:], data[len(data)-20:]) {
		return badPack("trailing checksum mismatch")
	}
	count := int(be32(data[8:]))
	body := int64(len(data) - 20)
	ix.entries = make([]packEntry, count)
	ix.ofsKids = make(map[int][]int)
	ix.refKids = make(map[plumbing.Hash][]int)
	ix.names = []map[plumbing.Hash]plumbing.Hash{make(map[plumbing.Hash]plumbing.Hash)}
	ix.scratch = make([][]plumbing.Hash, 1)
	st := new(inflater)
	off := int64(12)
	for i := range ix.entries {
		if off >= body {
			return badPack("%d entries where the header says %d", i, count)
		}
		hdr, n, err := parseEntryHeader(data[off:min(off+64, body)], off)
		if err != nil {
			return badPack("%v", err)
		}
		e := &ix.entries[i]
		e.off, e.data, e.size = off, off+int64(n), hdr.size
		switch hdr.typ {
		case packCommit, packTree, packBlob, packTag:
			e.typ = plumbing.ObjectType(hdr.typ)
		case packOfsDelta:
			e.delta = true
			j := sort.Search(i, func(j int) bool { return ix.entries[j].off >= hdr.baseOff })
			if j == i || ix.entries[j].off != hdr.baseOff {
				return badPack("delta at %d names no entry at %d", off, hdr.baseOff)
			}
			ix.ofsKids[j] = append(ix.ofsKids[j], i)
		case packRefDelta:
			e.delta, e.ref = true, true
			e.baseRef = hdr.baseRef
			ix.refKids[hdr.baseRef] = append(ix.refKids[hdr.baseRef], i)
		default:
			return badPack("entry type %d at %d", hdr.typ, off)
		}
		if e.delta || e.typ == plumbing.BlobObject {
			// Deltas resolve later; blobs are hashed as they inflate.
			var w io.Writer = io.Discard
			var hs plumbing.Hasher
			if !e.delta {
				hs = plumbing.NewHasher(e.typ, e.size)
				w = &hs
			}
			if e.end, err = st.inflateTo(w, data[:body], e.data, e.size); err != nil {
				return badPack("entry at %d: %v", off, err)
			}
			if !e.delta {
				e.hash = hs.Sum()
			}
		} else {
			b, end, err := st.inflate(&st.buf, data[:body], e.data, e.size)
			if err != nil {
				return badPack("entry at %d: %v", off, err)
			}
			e.end = end
			e.hash = plumbing.ComputeHash(e.typ, b)
			if err := ix.checkObject(0, e.hash, e.typ, b); err != nil {
				return err
			}
		}
		e.crc = crc32.ChecksumIEEE(data[e.off:e.end])
		off = e.end
	}
	if off != body {
		return badPack("%d bytes after the last entry", body-off)
	}
	return nil
}

// resolve walks the deltas resting on every whole object, on all CPUs.
func (ix *packIndexer) resolve() error {
	var roots []int
	for i := range ix.entries {
		e := &ix.entries[i]
		if !e.delta && (len(ix.ofsKids[i]) > 0 || len(ix.refKids[e.hash]) > 0) {
			roots = append(roots, i)
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(roots))
	for len(ix.names) < workers {
		ix.names = append(ix.names, make(map[plumbing.Hash]plumbing.Hash))
		ix.scratch = append(ix.scratch, nil)
	}
	var next atomic.Int64
	var failed atomic.Bool
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			st := new(inflater)
			for !failed.Load() {
				r := int(next.Add(1) - 1)
				if r >= len(roots) {
					return
				}
				e := &ix.entries[roots[r]]
				b, _, err := st.inflate(&st.buf, ix.data, e.data, e.size)
				if err == nil {
					err = ix.resolveKids(w, st, roots[r], e.typ, b, 1)
				}
				if err != nil {
					errs[w] = err
					failed.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for i := range ix.entries {
		e := &ix.entries[i]
		if e.ref && !e.claimed.Load() {
			return fmt.Errorf("%w: %w: base %s of the delta at %d", errMalformed, errThinPack, e.baseRef, e.off)
		}
	}
	for i := range ix.entries {
		if e := &ix.entries[i]; e.delta && !e.claimed.Load() {
			return badPack("delta at %d never resolves", e.off)
		}
	}
	return nil
}

// resolveKids resolves the deltas resting on entry i, whose object has
// type typ and content base, and the deltas resting on those, depth-first.
func (ix *packIndexer) resolveKids(w int, st *inflater, i int, typ plumbing.ObjectType, base []byte, depth int) error {
	if depth > maxDeltaDepth {
		return badPack("delta chain deeper than %d", maxDeltaDepth)
	}
	kids := ix.ofsKids[i]
	if ref := ix.refKids[ix.entries[i].hash]; len(ref) > 0 {
		kids = append(kids[:len(kids):len(kids)], ref...)
	}
	for _, k := range kids {
		e := &ix.entries[k]
		if !e.claimed.CompareAndSwap(false, true) {
			continue // a reference delta an equal object already resolved
		}
		d, _, err := st.inflate(&st.delta, ix.data, e.data, e.size)
		if err != nil {
			return badPack("delta at %d: %v", e.off, err)
		}
		if err := checkDeltaSize(d); err != nil {
			return badPack("delta at %d: %v", e.off, err)
		}
		b, err := packfile.PatchDelta(base, d)
		if err != nil {
			return badPack("delta at %d: %v", e.off, err)
		}
		e.typ = typ
		e.hash = plumbing.ComputeHash(typ, b)
		if typ != plumbing.BlobObject {
			if err := ix.checkObject(w, e.hash, typ, b); err != nil {
				return err
			}
		}
		if err := ix.resolveKids(w, st, k, typ, b, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// checkDeltaSize refuses a delta whose result would exceed maxObjectBytes.
func checkDeltaSize(d []byte) error {
	var n [2]uint64
	for k := range n {
		shift := 0
		for {
			if len(d) == 0 || shift > 63 {
				return errors.New("truncated delta header")
			}
			c := d[0]
			d = d[1:]
			n[k] |= uint64(c&0x7f) << shift
			shift += 7
			if c&0x80 == 0 {
				break
			}
		}
	}
	if n[1] > maxObjectBytes {
		return fmt.Errorf("result of %d bytes", n[1])
	}
	return nil
}

// checkObject runs the check on one commit, tree or tag and records the
// objects it names.
func (ix *packIndexer) checkObject(w int, h plumbing.Hash, typ plumbing.ObjectType, b []byte) error {
	if ix.check == nil {
		return nil
	}
	names, err := ix.check(h, typ, b, ix.scratch[w][:0])
	if err != nil {
		return err
	}
	ix.scratch[w] = names
	m := ix.names[w]
	for _, n := range names {
		if _, ok := m[n]; !ok {
			m[n] = h
		}
	}
	return nil
}

// inflater inflates zlib streams of a pack held in memory, reusing its
// decompressor and buffers.
type inflater struct {
	src   bytes.Reader
	zr    io.ReadCloser
	buf   bytes.Buffer // whole objects
	delta bytes.Buffer // deltas
}

// inflate returns the size bytes the zlib stream at data[off:] inflates
// to, held in buf until its next use, and the offset just past the stream.
func (st *inflater) inflate(buf *bytes.Buffer, data []byte, off, size int64) ([]byte, int64, error) {
	if size > maxObjectBytes {
		return nil, 0, fmt.Errorf("object of %d bytes", size)
	}
	buf.Reset()
	buf.Grow(int(size))
	end, err := st.inflateTo(buf, data, off, size)
	return buf.Bytes(), end, err
}

// inflateTo writes the size bytes the zlib stream at data[off:] inflates
// to into w and returns the offset just past the stream.
func (st *inflater) inflateTo(w io.Writer, data []byte, off, size int64) (int64, error) {
	st.src.Reset(data[off:])
	var err error
	if st.zr == nil {
		st.zr, err = zlib.NewReader(&st.src)
	} else {
		err = st.zr.(zlib.Resetter).Reset(&st.src, nil)
	}
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(w, io.LimitReader(st.zr, size))
	if err != nil {
		return 0, err
	}
	if n != size {
		return 0, fmt.Errorf("inflates to %d bytes, header says %d", n, size)
	}
	// The stream must end here; reading on checks its checksum and
	// leaves the source just past it.
	var one [1]byte
	if k, err := st.zr.Read(one[:]); k != 0 || err != io.EOF {
		if err == nil || err == io.EOF {
			err = fmt.Errorf("inflates to more than %d bytes", size)
		}
		return 0, err
	}
	return off + int64(len(data[off:])-st.src.Len()), nil
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
