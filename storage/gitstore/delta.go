package gitstore

import "bytes"

// Deltas in git's pack format: a delta starts with the base's size and the
// result's size (little-endian base-128 numbers), then instructions: a byte
// with the high bit set copies a range of the base (the low seven bits say
// which offset and length bytes follow), a byte n of 1 to 127 inserts the n
// bytes that follow.

const (
	deltaBlock   = 16      // bytes hashed per index entry
	maxDeltaCopy = 0x10000 // longest copy one instruction says
	maxDeltaLit  = 127     // longest insert one instruction says
	deltaMul     = 0x01000193
)

// deltaPow is deltaMul to the power deltaBlock-1, to drop a byte from a
// rolling hash.
var deltaPow = func() uint32 {
	p := uint32(1)
	for range deltaBlock - 1 {
		p *= deltaMul
	}
	return p
}()

// deltaIndex indexes a base for computing deltas against it: the hash of
// every aligned block of deltaBlock bytes, one offset per bucket. It is
// built once and used for every object tried against the base.
type deltaIndex struct {
	src   []byte
	table []int32 // offset+1 of a block by bucket; 0 is empty
	shift uint
}

func newDeltaIndex(src []byte) *deltaIndex {
	blocks := len(src) / deltaBlock
	bits := uint(4)
	for 1<<bits < 2*blocks {
		bits++
	}
	idx := &deltaIndex{src: src, table: make([]int32, 1<<bits), shift: 32 - bits}
	// Last to first, so that the earliest block of equal ones stays.
	for off := (blocks - 1) * deltaBlock; off >= 0; off -= deltaBlock {
		idx.table[idx.bucket(blockHash(src[off:off+deltaBlock]))] = int32(off + 1)
	}
	return idx
}

func (idx *deltaIndex) bucket(h uint32) uint32 { return (h * 0x9e3779b1) >> idx.shift }

// indexBytes is the memory an index of n bytes takes besides the bytes.
func indexBytes(n int) int64 { return int64(n/deltaBlock)*8 + 64 }

func blockHash(b []byte) uint32 {
	var h uint32
	for _, c := range b[:deltaBlock] {
		h = h*deltaMul + uint32(c)
	}
	return h
}

// delta returns the delta that turns the indexed base into tgt, or nil when
// it would be longer than limit bytes (it gives up as soon as it knows) or
// the base is empty, which readers refuse.
func (idx *deltaIndex) delta(tgt []byte, limit int) []byte {
	src := idx.src
	if len(src) == 0 {
		return nil
	}
	out := make([]byte, 0, min(limit, 4096))
	out = appendDeltaSize(out, len(src))
	out = appendDeltaSize(out, len(tgt))
	lit := 0 // start of the bytes not yet copied or inserted
	var h uint32
	fresh := true
	for i := 0; i+deltaBlock <= len(tgt); {
		if fresh {
			h, fresh = blockHash(tgt[i:]), false
		}
		if p := idx.table[idx.bucket(h)]; p != 0 {
			s := int(p - 1)
			if bytes.Equal(src[s:s+deltaBlock], tgt[i:i+deltaBlock]) {
				// Extend the match backwards over pending bytes, then forwards.
				for s > 0 && i > lit && src[s-1] == tgt[i-1] {
					s--
					i--
				}
				n := deltaBlock
				for s+n < len(src) && i+n < len(tgt) && src[s+n] == tgt[i+n] {
					n++
				}
				out = appendInsert(out, tgt[lit:i])
				out = appendCopy(out, s, n)
				if len(out) > limit {
					return nil
				}
				i += n
				lit, fresh = i, true
				continue
			}
		}
		if len(out)+(i-lit)*(maxDeltaLit+1)/maxDeltaLit > limit {
			return nil
		}
		if i+deltaBlock < len(tgt) {
			h = (h-uint32(tgt[i])*deltaPow)*deltaMul + uint32(tgt[i+deltaBlock])
		}
		i++
	}
	out = appendInsert(out, tgt[lit:])
	if len(out) > limit {
		return nil
	}
	return out
}

// likely reports whether tgt may share enough with the indexed base for a
// delta of at most half its size, by looking for base blocks at 8 places
// spread over tgt: a delta that copies half of tgt finds some at several.
// It lets unrelated objects be passed over without a full scan.
func (idx *deltaIndex) likely(tgt []byte) bool {
	const samples, need = 8, 2
	if len(tgt) < samples*4*deltaBlock {
		return true // a full scan is as cheap
	}
	hits := 0
	step := (len(tgt) - 2*deltaBlock) / (samples - 1)
	for k := range samples {
		at := k * step
		h := blockHash(tgt[at:])
		// deltaBlock consecutive offsets meet every alignment of a copied
		// run of two blocks.
		for i := at; i < at+deltaBlock; i++ {
			if p := idx.table[idx.bucket(h)]; p != 0 && bytes.Equal(idx.src[p-1:p-1+deltaBlock], tgt[i:i+deltaBlock]) {
				hits++
				break
			}
			h = (h-uint32(tgt[i])*deltaPow)*deltaMul + uint32(tgt[i+deltaBlock])
		}
		if hits >= need {
			return true
		}
		if hits+samples-1-k < need {
			return false
		}
	}
	return false
}

func appendDeltaSize(b []byte, n int) []byte {
	for n >= 0x80 {
		b = append(b, byte(n)|0x80)
		n >>= 7
	}
	return append(b, byte(n))
}

func appendInsert(b, lit []byte) []byte {
	for len(lit) > 0 {
		n := min(len(lit), maxDeltaLit)
		b = append(b, byte(n))
		b = append(b, lit[:n]...)
		lit = lit[n:]
	}
	return b
}

func appendCopy(b []byte, off, n int) []byte {
	for n > 0 {
		c := min(n, maxDeltaCopy)
		at := len(b)
		b = append(b, 0x80)
		for i := range 4 {
			if v := byte(off >> (8 * i)); v != 0 {
				b[at] |= 1 << i
				b = append(b, v)
			}
		}
		if c != maxDeltaCopy { // a length of 0x10000 is written as none
			for i := range 3 {
				if v := byte(c >> (8 * i)); v != 0 {
					b[at] |= 0x10 << i
					b = append(b, v)
				}
			}
		}
		off += c
		n -= c
	}
	return b
}

// NameHash hashes the path (or last path element) under which a tree walk
// met an object, for ordering delta candidates: it weighs the last
// characters most, so that files of one name, then of one extension, sort
// together. Whitespace is ignored. The empty name hashes to 0, "unknown".
func NameHash(name []byte) uint32 {
	var h uint32
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' {
			continue
		}
		h = h>>2 + uint32(c)<<24
	}
	return h
}
