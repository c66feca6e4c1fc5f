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
}

func (pr *packReader) read(off int64) (*entry, error) {
	end := pr.end(off)
	raw := make([]byte, end-off)
	if _, err := pr.f.ReadAt(raw, off); err != nil {
		return nil, fmt.Errorf("read pack entry: %w", err)
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
			return nil, fmt.Errorf("bad pack entry header at %d", off)
		}
		c = raw[i]
		i++
		e.size |= int64(c&0x7f) << shift
		shift += 7
	}
	switch e.typ {
	case packOfsDelta:
		if i >= len(raw) {
			return nil, fmt.Errorf("bad delta header at %d", off)
		}
		c = raw[i]
		i++
		rel := int64(c & 0x7f)
		for c&0x80 != 0 {
			if i >= len(raw) || rel > 1<<55 {
				return nil, fmt.Errorf("bad delta offset at %d", off)
			}
			c = raw[i]
			i++
			rel = (rel+1)<<7 | int64(c&0x7f)
		}
		e.baseOff = off - rel
	case packRefDelta:
		if i+20 > len(raw) {
			return nil, fmt.Errorf("bad delta header at %d", off)
		}
		copy(e.baseRef[:], raw[i:i+20])
		i += 20
	}
	e.data = raw[i:]
	return e, nil
}

// packWriter writes a pack of chosen objects, copying their stored entries
// as they are: whole objects keep their compressed bytes and deltas are
// kept whenever their base is sent too, so that nothing is recompressed or
// re-deltified; a delta whose base is not sent goes out as a whole object.
type packWriter struct {
	repo    *Repo
	ofs     bool
	has     func(plumbing.Hash) bool // objects the receiver holds, for a thin pack
	readers map[*Pack]*packReader
	send    map[plumbing.Hash]bool
	written map[plumbing.Hash]int64 // output offset
	busy    map[plumbing.Hash]bool
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
	return r.WriteThinPack(w, objects, ofs, nil)
}

// WriteThinPack is WritePack for a receiver that completes thin packs: a
// stored delta whose base is not sent but for which has reports true goes
// out as a reference delta on that base instead of whole. has may be nil.
func (r *Repo) WriteThinPack(w io.Writer, objects []plumbing.Hash, ofs bool, has func(plumbing.Hash) bool) error {
	pw := &packWriter{
		repo: r, ofs: ofs, has: has, readers: map[*Pack]*packReader{},
		send: make(map[plumbing.Hash]bool, len(objects)), written: make(map[plumbing.Hash]int64, len(objects)),
		busy: map[plumbing.Hash]bool{}, sum: sha1.New(),
	}
	defer pw.close()
	for _, h := range objects {
		pw.send[h] = true
	}
	pw.out = io.MultiWriter(w, pw.sum)
	var hdr [12]byte
	copy(hdr[:], "PACK")
	binary.BigEndian.PutUint32(hdr[4:], 2)
	binary.BigEndian.PutUint32(hdr[8:], uint32(len(pw.send)))
	if err := pw.write(hdr[:]); err != nil {
		return err
	}
	for _, h := range objects {
		if err := pw.emit(h); err != nil {
			return err
		}
	}
	_, err := w.Write(pw.sum.Sum(nil))
	return err
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
	f, err := os.Open(p.Path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	r := &packReader{p: p, f: f}
	it, err := p.Index.EntriesByOffset()
	if err != nil {
		f.Close()
		return nil, err
	}
	for {
		e, err := it.Next()
		if err != nil {
			break
		}
		r.offsets = append(r.offsets, int64(e.Offset))
	}
	it.Close()
	sort.Slice(r.offsets, func(i, j int) bool { return r.offsets[i] < r.offsets[j] })
	r.offsets = append(r.offsets, st.Size()-20)
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

func (pw *packWriter) emit(h plumbing.Hash) error {
	if _, ok := pw.written[h]; ok {
		return nil
	}
	r, off, err := pw.locate(h)
	if err != nil {
		return err
	}
	e, err := r.read(off)
	if err != nil {
		return err
	}
	if e.typ == packOfsDelta || e.typ == packRefDelta {
		base := e.baseRef
		if e.typ == packOfsDelta {
			if base, err = r.p.Index.FindHash(e.baseOff); err != nil {
				return fmt.Errorf("delta base of %s: %w", h, err)
			}
		}
		if pw.send[base] && !pw.busy[h] {
			pw.busy[h] = true
			err := pw.emit(base)
			delete(pw.busy, h)
			if err != nil {
				return err
			}
			if _, ok := pw.written[h]; ok {
				return nil // written while resolving a cycle of deltas
			}
			if bo, ok := pw.written[base]; ok {
				return pw.writeDelta(h, bo, base, e)
			}
		}
		if !pw.send[base] && pw.has != nil && pw.has(base) {
			return pw.writeRefDelta(h, base, e)
		}
		return pw.writeWhole(h)
	}
	pw.written[h] = pw.n
	pw.hdr = appendEntryHeader(pw.hdr[:0], e.typ, e.size)
	if err := pw.write(pw.hdr); err != nil {
		return err
	}
	return pw.write(e.data)
}

func (pw *packWriter) writeDelta(h plumbing.Hash, baseOut int64, base plumbing.Hash, e *entry) error {
	pw.written[h] = pw.n
	if pw.ofs {
		pw.hdr = appendEntryHeader(pw.hdr[:0], packOfsDelta, e.size)
		pw.hdr = appendOfs(pw.hdr, pw.n-baseOut)
	} else {
		pw.hdr = appendEntryHeader(pw.hdr[:0], packRefDelta, e.size)
		pw.hdr = append(pw.hdr, base[:]...)
	}
	if err := pw.write(pw.hdr); err != nil {
		return err
	}
	return pw.write(e.data)
}

// writeRefDelta writes a stored delta as a reference delta on a base the
// receiver holds.
func (pw *packWriter) writeRefDelta(h, base plumbing.Hash, e *entry) error {
	pw.written[h] = pw.n
	pw.hdr = appendEntryHeader(pw.hdr[:0], packRefDelta, e.size)
	pw.hdr = append(pw.hdr, base[:]...)
	if err := pw.write(pw.hdr); err != nil {
		return err
	}
	return pw.write(e.data)
}

// writeWhole writes an object resolved from its delta, compressed anew.
func (pw *packWriter) writeWhole(h plumbing.Hash) error {
	o, err := pw.repo.EncodedObject(plumbing.AnyObject, h)
	if err != nil {
		return err
	}
	rd, err := o.Reader()
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
	z := &pw.z
	pw.written[h] = pw.n
	pw.hdr = appendEntryHeader(pw.hdr[:0], int(o.Type()), o.Size())
	if err := pw.write(pw.hdr); err != nil {
		return err
	}
	return pw.write(z.Bytes())
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
