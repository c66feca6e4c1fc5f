package fusefs

import (
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"rewire/storage/files"
)

const (
	chunkSize = files.ChunkSize
	// maxDirtyChunks bounds the unstored writes of one file, and
	// maxDirtyTotal those of the whole mount: past either, a writer
	// stores its file's pending chunks before it goes on.
	maxDirtyChunks = 16
	maxDirtyTotal  = 64
	// uploadBatch is how many full chunks one background store commits.
	uploadBatch = 8
)

// handle is one open file description.
type handle struct {
	of     *openFile
	append bool
	write  bool
}

// openFile is the state of a file while the kernel has it open: the
// writes not yet stored, by chunk, and the size and mtime they imply.
// Every handle of the inode shares it, so all readers see all writes.
type openFile struct {
	ino uint64

	// commitMu serialises stores of this file (and truncation), so they
	// reach the core in the order their snapshots were taken.
	commitMu sync.Mutex

	mu        sync.Mutex // guards the fields below
	refs      int        // open handles plus internal users; guarded by rawFS.mu
	size      int64
	mtime     time.Time // pending mtime, zero when none
	dirty     map[int64]*dirtyChunk
	metaDirty bool  // size or mtime changed since the last store
	err       error // a failed background store, reported by fsync and close
	uploading bool
	writers   int    // handles open for writing
	wver      uint64 // grows with every change of the content
	lastRead  int64  // chunk of the last read that missed the cache, for read-ahead
	gone      bool   // forgotten: no longer in rawFS.open

	// pushMu is held (shared) while stored chunks are pushed into the
	// kernel's page cache, and taken exclusively by an open for writing,
	// so a push never overwrites newer pages.
	pushMu sync.RWMutex
}

// dirtyChunk holds a chunk's content while it differs from the stored
// one. Bytes beyond len(data), up to the file size, are zeros.
type dirtyChunk struct {
	data []byte
	ver  uint64
}

// acquire returns the openFile of ino, creating it from the stored
// attributes, with one more reference.
func (r *rawFS) acquire(ino uint64) (*openFile, error) {
	return r.acquireAttr(ino, nil, 0)
}

// acquireAttr is acquire with the inode's stored attributes at hand (a
// may be nil), read at generation gen of rawFS.forgotten: if an open file
// was forgotten since, they may predate its writes and are read again.
func (r *rawFS) acquireAttr(ino uint64, a *files.Attr, gen uint64) (*openFile, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if of := r.open[ino]; of != nil {
		of.refs++
		return of, nil
	}
	if a == nil || r.forgotten.Load() != gen {
		st, err := r.fs.GetAttr(ctx(), ino)
		if err != nil {
			return nil, err
		}
		a = &st
	}
	of := &openFile{ino: ino, size: a.Size, dirty: make(map[int64]*dirtyChunk), refs: 1, lastRead: -1}
	r.open[ino] = of
	return of, nil
}

// releaseFile drops a reference; with the last one the pending writes
// are stored and an orphan the kernel no longer knows is deleted.
func (r *rawFS) releaseFile(of *openFile) {
	r.mu.Lock()
	of.refs--
	last := of.refs == 0
	r.mu.Unlock()
	if !last {
		return
	}
	if err := r.flush(of); err != nil {
		r.log.Error("store file at close", "ino", of.ino, "err", err)
	}
	// Forget the file only once nothing is pending: another handle may
	// have written meanwhile, and a new openFile made from the stored
	// size would not see those writes. commitMu waits for a store in
	// progress.
	// Pushes into the page cache in flight finish first, so none lands
	// after a new openFile took over.
	of.pushMu.Lock()
	of.commitMu.Lock()
	r.mu.Lock()
	of.mu.Lock()
	gone := of.refs == 0 && r.open[of.ino] == of && len(of.dirty) == 0 && !of.metaDirty
	of.gone = gone
	of.mu.Unlock()
	if gone {
		delete(r.open, of.ino)
		r.forgotten.Add(1)
	}
	r.mu.Unlock()
	of.commitMu.Unlock()
	of.pushMu.Unlock()
	if gone {
		r.dropOrphan(of.ino)
	}
}

func (r *rawFS) newHandle(of *openFile, flags uint32) uint64 {
	write := flags&syscall.O_ACCMODE != syscall.O_RDONLY
	if write {
		of.pushMu.Lock()
		of.mu.Lock()
		of.writers++
		of.mu.Unlock()
		of.pushMu.Unlock()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nextFh++
	r.handles[r.nextFh] = &handle{of: of, append: flags&syscall.O_APPEND != 0, write: write}
	return r.nextFh
}

func (r *rawFS) handle(fh uint64) *handle {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.handles[fh]
}

// openFlags keeps the page cache across opens: the kernel drops it by
// itself when it sees the mtime or size change (auto_inval_data), and
// changes from other interfaces are invalidated explicitly.
const openFlags = fuse.FOPEN_KEEP_CACHE

func (r *rawFS) Open(_ <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	gen := r.forgotten.Load()
	a, err := r.fs.GetAttr(ctx(), in.NodeId)
	if err != nil {
		return r.errno("open", err)
	}
	if a.IsDir() {
		return fuse.Status(syscall.EISDIR)
	}
	of, err := r.acquireAttr(in.NodeId, &a, gen)
	if err != nil {
		return r.errno("open", err)
	}
	if in.Flags&syscall.O_TRUNC != 0 && in.Flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		of.pushMu.Lock()
		of.commitMu.Lock()
		err := r.truncate(of, 0)
		of.commitMu.Unlock()
		of.pushMu.Unlock()
		if err != nil {
			r.releaseFile(of)
			return r.errno("open", err)
		}
	}
	out.Fh = r.newHandle(of, in.Flags)
	out.OpenFlags = openFlags
	return fuse.OK
}

func (r *rawFS) Create(_ <-chan struct{}, in *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	gen := r.forgotten.Load()
	a, err := r.fs.Create(ctx(), in.NodeId, name, in.Mode, in.Uid, in.Gid, 0)
	if err != nil {
		return r.errno("create", err)
	}
	// A new inode: no open file can have been forgotten for it.
	of, err := r.acquireAttr(a.Ino, &a, r.forgotten.Load())
	if err != nil {
		return r.errno("create", err)
	}
	r.fillEntry(a, gen, &out.EntryOut)
	out.Fh = r.newHandle(of, in.Flags)
	out.OpenFlags = openFlags
	return fuse.OK
}

func (r *rawFS) Release(_ <-chan struct{}, in *fuse.ReleaseIn) {
	r.mu.Lock()
	h := r.handles[in.Fh]
	delete(r.handles, in.Fh)
	r.mu.Unlock()
	if h == nil {
		return
	}
	if h.write {
		h.of.mu.Lock()
		h.of.writers--
		h.of.mu.Unlock()
	}
	r.releaseFile(h.of)
}

func (r *rawFS) Read(_ <-chan struct{}, in *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	r.reads.Add(1)
	h := r.handle(in.Fh)
	if h == nil {
		return nil, fuse.EBADF
	}
	n, err := r.readAt(h.of, buf[:min(len(buf), int(in.Size))], int64(in.Offset))
	if err != nil {
		return nil, r.errno("read", err)
	}
	return fuse.ReadResultData(buf[:n]), fuse.OK
}

// readAt reads from the pending writes where there are any and from the
// stored chunks elsewhere.
func (r *rawFS) readAt(of *openFile, p []byte, off int64) (int, error) {
	type piece struct {
		idx      int64
		in       int64
		dst      []byte
		chunkLen int64
	}
	var stored []piece
	of.mu.Lock()
	ver := of.wver
	if off >= of.size {
		of.mu.Unlock()
		return 0, nil
	}
	p = p[:min(int64(len(p)), of.size-off)]
	for n := 0; n < len(p); {
		pos := off + int64(n)
		idx, in := pos/chunkSize, pos%chunkSize
		dst := p[n:min(len(p), n+int(chunkSize-in))]
		if dc := of.dirty[idx]; dc != nil {
			c := 0
			if in < int64(len(dc.data)) {
				c = copy(dst, dc.data[in:])
			}
			clear(dst[c:])
		} else {
			stored = append(stored, piece{idx: idx, in: in, dst: dst})
		}
		n += len(dst)
	}
	of.mu.Unlock()

	for _, pc := range stored {
		data, fetched, err := r.storedChunk(of.ino, pc.idx)
		if err != nil {
			return 0, err
		}
		if fetched {
			r.afterFetch(of, pc.idx, data, ver)
		}
		c := 0
		if pc.in < int64(len(data)) {
			c = copy(pc.dst, data[pc.in:])
		}
		clear(pc.dst[c:])
	}
	return len(p), nil
}

// storedChunk reads a stored chunk through the mount's chunk cache and
// reports whether it had to be fetched. The result must not be modified.
func (r *rawFS) storedChunk(ino uint64, idx int64) ([]byte, bool, error) {
	h, ok, err := r.fs.ChunkHash(ctx(), ino, idx)
	if err != nil || !ok {
		return nil, false, err
	}
	if data := r.cache.get(h); data != nil {
		return data, false, nil
	}
	// One fetch per chunk at a time: read-ahead and the reader it runs
	// ahead of often want the same chunk.
	data, leader, err := r.cache.fetch(h, func() ([]byte, error) { return r.fs.GetBlob(ctx(), h) })
	if err != nil {
		return nil, false, err
	}
	return data, leader, nil
}

// readAhead is how many chunks sequential reading fetches ahead.
const readAhead = 2

// afterFetch runs after a chunk was fetched for a read: the whole chunk
// goes into the kernel's page cache, so further reads of it (random ones
// included) need no request, and on sequential reading the next chunks
// are fetched ahead, in parallel. All of it happens in the background.
func (r *rawFS) afterFetch(of *openFile, idx int64, data []byte, ver uint64) {
	of.mu.Lock()
	var ahead []int64
	if of.lastRead == idx-1 {
		for i := idx + 1; i <= idx+readAhead && i*chunkSize < of.size; i++ {
			if of.dirty[i] == nil {
				ahead = append(ahead, i)
			}
		}
	}
	of.lastRead = idx
	of.mu.Unlock()
	r.stopped.Add(1 + len(ahead))
	go func() {
		defer r.stopped.Done()
		r.push(of, idx, data, ver)
	}()
	for _, i := range ahead {
		go func() {
			defer r.stopped.Done()
			next, fetched, err := r.storedChunk(of.ino, i)
			if err != nil || !fetched {
				return
			}
			r.push(of, i, next, ver)
			of.mu.Lock()
			of.lastRead = max(of.lastRead, i)
			of.mu.Unlock()
		}()
	}
}

// push stores a chunk read from the core into the kernel's page cache,
// unless the file is open for writing or changed since ver.
func (r *rawFS) push(of *openFile, idx int64, data []byte, ver uint64) {
	if r.srv == nil || len(data) == 0 {
		return
	}
	of.pushMu.RLock()
	defer of.pushMu.RUnlock()
	of.mu.Lock()
	ok := !of.gone && of.writers == 0 && of.wver == ver && of.dirty[idx] == nil
	size := of.size
	of.mu.Unlock()
	start := idx * chunkSize
	if !ok || start >= size {
		return
	}
	// Never past the end of the file: a store there would grow it.
	data = data[:min(int64(len(data)), size-start)]
	r.srv.InodeNotifyStoreCache(of.ino, start, data)
}

func (r *rawFS) Write(_ <-chan struct{}, in *fuse.WriteIn, data []byte) (uint32, fuse.Status) {
	h := r.handle(in.Fh)
	if h == nil {
		return 0, fuse.EBADF
	}
	if err := r.writeAt(h.of, data, int64(in.Offset), h.append); err != nil {
		return 0, r.errno("write", err)
	}
	return uint32(len(data)), fuse.OK
}

// writeAt applies a write to the pending chunks. Chunks it fills are
// stored in the background; past maxDirtyChunks the writer stores what is
// pending itself.
func (r *rawFS) writeAt(of *openFile, data []byte, off int64, appendMode bool) error {
	of.mu.Lock()
	if appendMode {
		off = of.size
	}
	if growth := off + int64(len(data)) - of.size; growth > 0 {
		if err := r.charge(growth); err != nil {
			of.mu.Unlock()
			return err
		}
	}
	full := false
	for len(data) > 0 {
		idx, in := off/chunkSize, off%chunkSize
		n := min(int64(len(data)), chunkSize-in)
		dc, err := r.dirtyLocked(of, idx, in, n)
		if err != nil {
			of.mu.Unlock()
			return err
		}
		if end := in + n; int64(len(dc.data)) < end {
			dc.data = grow(dc.data, int(end))
		}
		copy(dc.data[in:], data[:n])
		dc.ver++
		if len(dc.data) == chunkSize {
			full = true
		}
		off += n
		data = data[n:]
	}
	of.size = max(of.size, off)
	of.mtime = time.Now()
	of.metaDirty = true
	of.wver++
	tooMany := len(of.dirty) > maxDirtyChunks || r.dirtyChunks.Load() > maxDirtyTotal
	of.mu.Unlock()

	if tooMany {
		return r.flush(of)
	}
	if full {
		r.kickUpload(of)
	}
	return nil
}

// dirtyLocked returns the pending chunk idx, loading the stored content
// first unless the write [in, in+n) covers all of it that exists.
func (r *rawFS) dirtyLocked(of *openFile, idx, in, n int64) (*dirtyChunk, error) {
	if dc := of.dirty[idx]; dc != nil {
		return dc, nil
	}
	dc := &dirtyChunk{}
	start := idx * chunkSize
	valid := min(chunkSize, max(0, of.size-start)) // bytes of the chunk inside the file
	if valid > 0 && !(in == 0 && n >= valid) {
		stored, _, err := r.storedChunk(of.ino, idx)
		if err != nil {
			return nil, err
		}
		dc.data = append(make([]byte, 0, max(len(stored), int(in+n))), stored[:min(int64(len(stored)), valid)]...)
	}
	of.dirty[idx] = dc
	r.dirtyChunks.Add(1)
	return dc, nil
}

// grow extends b to n bytes, the new ones zero.
func grow(b []byte, n int) []byte {
	if cap(b) >= n {
		old := len(b)
		b = b[:n]
		clear(b[old:])
		return b
	}
	nb := make([]byte, n, min(max(n, 2*cap(b)), chunkSize))
	copy(nb, b)
	return nb
}

// kickUpload starts storing the file's full chunks in the background,
// off the write path.
func (r *rawFS) kickUpload(of *openFile) {
	of.mu.Lock()
	if of.uploading {
		of.mu.Unlock()
		return
	}
	of.uploading = true
	of.mu.Unlock()
	r.stopped.Add(1)
	go func() {
		defer r.stopped.Done()
		for r.storeSome(of, true) {
		}
	}()
}

// storeSome stores pending chunks (only full ones when fullOnly) and
// reports whether it should be called again.
func (r *rawFS) storeSome(of *openFile, fullOnly bool) bool {
	of.commitMu.Lock()
	defer of.commitMu.Unlock()
	of.mu.Lock()
	type snap struct {
		idx int64
		dc  *dirtyChunk
		ver uint64
	}
	var snaps []snap
	var chunks []files.Chunk
	for idx, dc := range of.dirty {
		if fullOnly && (len(dc.data) != chunkSize || len(snaps) == uploadBatch) {
			continue
		}
		snaps = append(snaps, snap{idx, dc, dc.ver})
		chunks = append(chunks, files.Chunk{Idx: idx, Data: append([]byte(nil), dc.data...)})
	}
	if len(snaps) == 0 && (fullOnly || !of.metaDirty) {
		if fullOnly {
			of.uploading = false
		}
		of.mu.Unlock()
		return false
	}
	size, mtime := of.size, of.mtime
	of.metaDirty = false
	of.mu.Unlock()

	err := r.fs.WriteChunks(ctx(), of.ino, chunks, size, mtime)

	of.mu.Lock()
	defer of.mu.Unlock()
	if err != nil {
		of.metaDirty = true
		if of.err == nil {
			of.err = err
		}
		if fullOnly {
			of.uploading = false
		}
		return false
	}
	for _, s := range snaps {
		if of.dirty[s.idx] == s.dc && s.dc.ver == s.ver {
			delete(of.dirty, s.idx)
			r.dirtyChunks.Add(-1)
		}
	}
	return fullOnly
}

// flush stores everything pending for the file, durably, and returns (and
// clears) any error a background store met.
func (r *rawFS) flush(of *openFile) error {
	r.storeSome(of, false)
	of.mu.Lock()
	defer of.mu.Unlock()
	err := of.err
	of.err = nil
	return err
}

// flushAll stores every open file's pending writes.
func (r *rawFS) flushAll() error {
	r.mu.Lock()
	ofs := make([]*openFile, 0, len(r.open))
	for _, of := range r.open {
		ofs = append(ofs, of)
	}
	r.mu.Unlock()
	var first error
	for _, of := range ofs {
		if err := r.flush(of); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// startFlusher bounds the life of unstored writes to r.flushEvery.
func (r *rawFS) startFlusher() {
	r.stopped.Add(1)
	go func() {
		defer r.stopped.Done()
		t := time.NewTicker(r.flushEvery)
		defer t.Stop()
		for {
			select {
			case <-r.quit:
				return
			case <-t.C:
			}
			if err := r.flushAll(); err != nil {
				r.log.Error("periodic store", "err", err)
			}
			if _, err := r.refreshUsage(); err != nil {
				r.log.Warn("read usage", "err", err)
			}
		}
	}()
}

func (r *rawFS) stop() {
	close(r.quit)
	r.stopped.Wait()
}

// truncate sets the size of a file. The caller holds of.commitMu.
func (r *rawFS) truncate(of *openFile, size int64) error {
	of.mu.Lock()
	for idx, dc := range of.dirty {
		start := idx * chunkSize
		switch {
		case start >= size:
			delete(of.dirty, idx)
			r.dirtyChunks.Add(-1)
		case int64(len(dc.data)) > size-start:
			dc.data = dc.data[:size-start]
			dc.ver++
		}
	}
	if err := r.charge(size - of.size); err != nil {
		of.mu.Unlock()
		return err
	}
	of.size = size
	of.mtime = time.Now()
	of.wver++
	of.mu.Unlock()
	a, err := r.fs.GetAttr(ctx(), of.ino)
	if err != nil {
		return err
	}
	if a.IsDir() {
		return syscall.EISDIR
	}
	return r.fs.Truncate(ctx(), of.ino, size)
}

func (r *rawFS) Flush(_ <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	h := r.handle(in.Fh)
	if h == nil {
		return fuse.OK
	}
	of := h.of
	of.mu.Lock()
	err := of.err
	of.err = nil
	of.mu.Unlock()
	return r.errno("flush", err)
}

// Fsync stores the file's pending writes and makes them, and every
// namespace change made before, durable. Like a journaling file system's
// fsync it covers more than the one file: one WAL sync does it all.
func (r *rawFS) Fsync(_ <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	var err error
	if h := r.handle(in.Fh); h != nil {
		err = r.flush(h.of)
	} else {
		// fsync through a handle another process opened: store all.
		err = r.flushAll()
	}
	if err == nil {
		err = r.fs.Sync(ctx())
	}
	return r.errno("fsync", err)
}

// FsyncDir makes the namespace changes made so far durable.
func (r *rawFS) FsyncDir(_ <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	return r.errno("fsyncdir", r.fs.Sync(ctx()))
}

// Fallocate modes (fallocate(2)).
const (
	fallocKeepSize  = 0x01
	fallocPunchHole = 0x02
	fallocZeroRange = 0x10
)

func (r *rawFS) Fallocate(_ <-chan struct{}, in *fuse.FallocateIn) fuse.Status {
	h := r.handle(in.Fh)
	if h == nil {
		return fuse.EBADF
	}
	of := h.of
	off, end := int64(in.Offset), int64(in.Offset+in.Length)
	switch in.Mode &^ fallocKeepSize {
	case 0:
		// Space is not reserved (chunks are stored on write); only the
		// size grows.
		if in.Mode&fallocKeepSize == 0 {
			of.mu.Lock()
			if end > of.size {
				of.size = end
				of.mtime = time.Now()
				of.metaDirty = true
				of.wver++
			}
			of.mu.Unlock()
		}
		return fuse.OK
	case fallocPunchHole, fallocZeroRange:
		if in.Mode == fallocPunchHole {
			return fuse.EINVAL // punching requires KEEP_SIZE
		}
		if err := r.zeroRange(of, off, end, in.Mode&fallocKeepSize == 0); err != nil {
			return r.errno("fallocate", err)
		}
		return fuse.OK
	}
	return fuse.Status(syscall.EOPNOTSUPP)
}

// zeroRange makes [off, end) read as zeros; whole chunks become holes when
// stored.
func (r *rawFS) zeroRange(of *openFile, off, end int64, grow bool) error {
	of.mu.Lock()
	if !grow {
		end = min(end, of.size)
	}
	for pos := off; pos < end; {
		idx, in := pos/chunkSize, pos%chunkSize
		n := min(end-pos, chunkSize-in)
		if in == 0 && n == chunkSize {
			if of.dirty[idx] == nil {
				r.dirtyChunks.Add(1)
			}
			of.dirty[idx] = &dirtyChunk{}
		} else {
			dc, err := r.dirtyLocked(of, idx, in, 0)
			if err != nil {
				of.mu.Unlock()
				return err
			}
			if e := min(int64(len(dc.data)), in+n); e > in {
				clear(dc.data[in:e])
			}
			dc.ver++
		}
		pos += n
	}
	if end > of.size {
		of.size = end
	}
	of.mtime = time.Now()
	of.metaDirty = true
	of.wver++
	of.mu.Unlock()
	return nil
}
