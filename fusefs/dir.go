package fusefs

import (
	"github.com/hanwen/go-fuse/v2/fuse"

	"rewire/storage/files"
)

// Directory offsets: 0 starts a listing, 1 and 2 follow "." and "..",
// and an entry's offset is its cookie plus 2. Listings are stateless, so
// a directory of any size costs one page of memory at a time.
const dotEntries = 2

func (r *rawFS) OpenDir(_ <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	a, err := r.fs.GetAttr(ctx(), in.NodeId)
	if err != nil {
		return r.errno("opendir", err)
	}
	if !a.IsDir() {
		return fuse.ENOTDIR
	}
	return fuse.OK
}

func (r *rawFS) ReleaseDir(in *fuse.ReleaseIn) {}

func (r *rawFS) ReadDir(_ <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	r.dirReads.Add(1)
	return r.readDir(in, out, false)
}

func (r *rawFS) ReadDirPlus(_ <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	r.dirPlusReads.Add(1)
	return r.readDir(in, out, true)
}

func (r *rawFS) readDir(in *fuse.ReadIn, out *fuse.DirEntryList, plus bool) fuse.Status {
	ino, off := in.NodeId, in.Offset
	var gen uint64
	add := func(e fuse.DirEntry, a *files.Attr) bool {
		if !plus {
			return out.AddDirEntry(e)
		}
		eo := out.AddDirLookupEntry(e)
		if eo == nil {
			return false
		}
		if a != nil {
			r.fillEntry(*a, gen, eo)
		}
		return true
	}
	if off == 0 {
		if !add(fuse.DirEntry{Name: ".", Ino: ino, Mode: fuse.S_IFDIR, Off: 1}, nil) {
			return fuse.OK
		}
		off = 1
	}
	if off == 1 {
		parent, err := r.fs.Parent(ctx(), ino)
		if err != nil {
			return r.errno("readdir", err)
		}
		if !add(fuse.DirEntry{Name: "..", Ino: parent, Mode: fuse.S_IFDIR, Off: 2}, nil) {
			return fuse.OK
		}
		off = 2
	}
	cookie := int64(off - dotEntries)
	// Fetch about as many entries as the kernel's buffer holds.
	per := 32
	if plus {
		per = 160
	}
	limit := max(16, int(in.Size)/per+1)
	for {
		gen = r.forgotten.Load()
		page, err := r.fs.ReadDir(ctx(), ino, cookie, limit)
		if err != nil {
			return r.errno("readdir", err)
		}
		for i := range page {
			e := &page[i]
			de := fuse.DirEntry{Name: e.Name, Ino: e.Attr.Ino, Mode: e.Attr.Mode, Off: uint64(e.Cookie + dotEntries)}
			if !add(de, &e.Attr) {
				return fuse.OK
			}
			cookie = e.Cookie
		}
		if len(page) < limit {
			return fuse.OK
		}
	}
}
