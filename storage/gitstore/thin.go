package gitstore

import (
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
)

// maxThinBases caps how many objects a thin pack may borrow from the
// repository.
const maxThinBases = 1 << 20

// fixThin completes a thin pack, whose reference deltas may name bases
// that only the repository holds, as git's index-pack --fix-thin does:
// those bases are appended whole, the object count and the trailing
// checksum are rewritten, and every entry keeps its offset. It returns the
// pack unchanged when nothing is missing.
func fixThin(data []byte, base *Repo) ([]byte, error) {
	sc := packfile.NewScanner(bytes.NewReader(data))
	_, count, err := sc.Header()
	if err != nil {
		return nil, fmt.Errorf("%w: bad pack: %w", errMalformed, err)
	}
	whole := make(map[plumbing.Hash]bool)
	var refs []plumbing.Hash
	for range count {
		oh, err := sc.NextObjectHeader()
		if err != nil {
			return nil, fmt.Errorf("%w: bad pack: %w", errMalformed, err)
		}
		if oh.Type.IsDelta() {
			if oh.Type == plumbing.REFDeltaObject {
				refs = append(refs, oh.Reference)
			}
			_, _, err = sc.NextObject(io.Discard)
		} else {
			hs := plumbing.NewHasher(oh.Type, oh.Length)
			if _, _, err = sc.NextObject(&hs); err == nil {
				whole[hs.Sum()] = true
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%w: bad pack: %w", errMalformed, err)
		}
	}

	// A base is external when the pack holds no whole copy of it and the
	// repository has it; a base that is an in-pack delta resolves by itself.
	var ext []plumbing.Hash
	seen := make(map[plumbing.Hash]bool)
	for _, h := range refs {
		if whole[h] || seen[h] || base == nil || !base.Has(h) {
			continue
		}
		seen[h] = true
		ext = append(ext, h)
	}
	if len(ext) == 0 {
		return data, nil
	}
	if len(ext) > maxThinBases || int64(count)+int64(len(ext)) > 1<<32-1 {
		return nil, fmt.Errorf("%w: thin pack borrows %d objects", errMalformed, len(ext))
	}

	out := bytes.NewBuffer(make([]byte, 0, len(data)))
	out.Write(data[:len(data)-20])
	binary.BigEndian.PutUint32(out.Bytes()[8:12], count+uint32(len(ext)))
	zw := zlib.NewWriter(nil)
	var z bytes.Buffer
	for _, h := range ext {
		o, err := base.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return nil, fmt.Errorf("thin pack base %s: %w", h, err)
		}
		r, err := o.Reader()
		if err != nil {
			return nil, err
		}
		z.Reset()
		zw.Reset(&z)
		_, err = io.Copy(zw, r)
		r.Close()
		if err == nil {
			err = zw.Close()
		}
		if err != nil {
			return nil, fmt.Errorf("thin pack base %s: %w", h, err)
		}
		out.Write(appendEntryHeader(nil, int(o.Type()), o.Size()))
		out.Write(z.Bytes())
		if int64(out.Len()) > MaxPackBytes {
			return nil, fmt.Errorf("thin pack with its bases: larger than %d bytes", int64(MaxPackBytes))
		}
	}
	sum := sha1.Sum(out.Bytes())
	out.Write(sum[:])
	return out.Bytes(), nil
}
