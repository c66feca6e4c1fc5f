package fusefs

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"rewire/storage/files"
)

// rawFS answers the kernel's requests. Kernel node ids are core inode
// numbers; the only per-file state it keeps is for files with open
// handles (openFile), so memory does not grow with the tree.
type rawFS struct {
	fuse.RawFileSystem
	fs  *files.FS
	log *slog.Logger
	srv *fuse.Server

	mu      sync.Mutex // guards open, handles, nextFh, lookups, orphans
	open    map[uint64]*openFile
	handles map[uint64]*handle
	nextFh  uint64
	// lookups counts the kernel's references to each inode it holds (the
	// counts FORGET gives back), so that an inode the kernel still knows
	// outlives its last link, as on a local file system. It grows with
	// the kernel's inode cache, not with the tree.
	lookups map[uint64]uint64
	// orphans are inodes that lost their last link while open or known
	// to the kernel; after the last of close and FORGET they wait in
	// drops, deleted in batches by the dropper goroutine.
	orphans map[uint64]bool
	drops   []uint64
	dropped chan struct{} // wakes the dropper; buffered, one slot

	cache *chunkCache
	// flushEvery bounds how long writes stay unstored (Options).
	flushEvery time.Duration
	// forgotten counts open files dropped from open; attributes read
	// before a drop may miss the writes it stored.
	forgotten atomic.Uint64
	// xattrs is false while no inode has extended attributes (they are
	// only set through this mount).
	xattrs atomic.Bool
	// dirtyChunks counts the pending chunks of all open files.
	dirtyChunks atomic.Int64
	// reads counts READ requests (tests check the page cache with it);
	// dirReads and dirPlusReads count READDIR and READDIRPLUS.
	reads, dirReads, dirPlusReads atomic.Int64
	// quota and used (bytes) enforce the tenant's quota; both are
	// refreshed from the core by statfs and the periodic flusher, and used
	// grows with writes in between.
	quota, used atomic.Int64
	// notifying tracks cache invalidations in flight.
	notifying sync.WaitGroup

	quit    chan struct{}
	stopped sync.WaitGroup
}

func newRawFS(fs *files.FS, log *slog.Logger) *rawFS {
	r := &rawFS{
		RawFileSystem: fuse.NewDefaultRawFileSystem(),
		fs:            fs,
		log:           log,
		open:          make(map[uint64]*openFile),
		handles:       make(map[uint64]*handle),
		lookups:       make(map[uint64]uint64),
		orphans:       make(map[uint64]bool),
		dropped:       make(chan struct{}, 1),
		cache:         newChunkCache(64 << 20),
		flushEvery:    FlushInterval,
		quit:          make(chan struct{}),
	}
	return r
}

func (r *rawFS) String() string { return "rewire" }

func (r *rawFS) Init(srv *fuse.Server) { r.srv = srv }

// isHeld is asked by the core (files.Hold) when an inode of the tenant
// loses its last link, through any interface: one that is open or known
// to the kernel is kept, as an orphan, until neither holds it.
func (r *rawFS) isHeld(ino uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.open[ino] == nil && r.lookups[ino] == 0 {
		return false
	}
	r.orphans[ino] = true
	return true
}

func (r *rawFS) isOrphan(ino uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.orphans[ino]
}

// remember counts one more kernel reference to ino; it is called for
// every entry replied to the kernel.
func (r *rawFS) remember(ino uint64) {
	r.mu.Lock()
	r.lookups[ino]++
	r.mu.Unlock()
}

// Forget drops references the kernel gave up; an orphan goes with the
// last one unless it is still open.
func (r *rawFS) Forget(ino, n uint64) {
	r.mu.Lock()
	if c := r.lookups[ino]; c > n {
		r.lookups[ino] = c - n
	} else {
		delete(r.lookups, ino)
	}
	r.mu.Unlock()
	r.dropOrphan(ino)
}

// dropOrphan queues an orphan for deletion once neither a handle nor the
// kernel holds it. Deletion is off the request path and batched: an rm -r
// costs one transaction per unlink, not two. (Until deleted, an orphan
// counts for no quota, and a crash leaves it to the next mount's purge.)
func (r *rawFS) dropOrphan(ino uint64) {
	r.mu.Lock()
	drop := r.orphans[ino] && r.open[ino] == nil && r.lookups[ino] == 0
	if drop {
		delete(r.orphans, ino)
		r.drops = append(r.drops, ino)
	}
	r.mu.Unlock()
	if drop {
		select {
		case r.dropped <- struct{}{}:
		default:
		}
	}
}

// dropDelay is how long the dropper gathers orphans before a batch.
const dropDelay = 20 * time.Millisecond

// startDropper deletes queued orphans until stop.
func (r *rawFS) startDropper() {
	r.stopped.Add(1)
	go func() {
		defer r.stopped.Done()
		for {
			select {
			case <-r.quit:
				r.dropQueued()
				return
			case <-r.dropped:
			}
			// Let a burst (rm -r) gather into one transaction.
			select {
			case <-r.quit:
			case <-time.After(dropDelay):
			}
			r.dropQueued()
		}
	}()
}

// dropQueued deletes the orphans queued so far in one transaction.
func (r *rawFS) dropQueued() {
	r.mu.Lock()
	inos := r.drops
	r.drops = nil
	r.mu.Unlock()
	if len(inos) == 0 {
		return
	}
	if err := r.fs.DropIfUnlinked(ctx(), inos...); err != nil {
		r.log.Error("drop unlinked inodes", "count", len(inos), "err", err)
	}
}

// ctx is the context of a request. Requests are not cancelled when the
// caller is interrupted: a half-applied change is worse than a late one.
func ctx() context.Context { return context.Background() }

// errno turns an error from the core into a FUSE status; errors that are
// not errnos are rewire's own faults and are logged.
func (r *rawFS) errno(op string, err error) fuse.Status {
	if err == nil {
		return fuse.OK
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return fuse.Status(e)
	}
	r.log.Error("fuse request failed", "op", op, "err", err)
	return fuse.EIO
}

// attr returns an inode's attributes with the pending size and mtime of
// an open file applied. The open file is looked up before the stored
// attributes are read: once it is forgotten its writes are stored, so a
// read that starts after that sees them.
func (r *rawFS) attr(ino uint64) (files.Attr, error) {
	r.mu.Lock()
	of := r.open[ino]
	r.mu.Unlock()
	a, err := r.fs.GetAttr(ctx(), ino)
	if err != nil {
		return a, err
	}
	if of != nil {
		of.apply(&a)
	}
	return a, nil
}

// fresh applies pending writes to attributes read from the store at
// generation gen (see rawFS.forgotten), reading them again if an open
// file was forgotten meanwhile.
func (r *rawFS) fresh(a *files.Attr, gen uint64) {
	r.mu.Lock()
	of := r.open[a.Ino]
	r.mu.Unlock()
	if of != nil {
		of.apply(a)
		return
	}
	if r.forgotten.Load() != gen {
		if b, err := r.attr(a.Ino); err == nil {
			*a = b
		}
	}
}

func (of *openFile) apply(a *files.Attr) {
	of.mu.Lock()
	defer of.mu.Unlock()
	a.Size = of.size
	if !of.mtime.IsZero() {
		a.Mtime = of.mtime
		if a.Ctime.Before(of.mtime) {
			a.Ctime = of.mtime
		}
	}
}

func fillAttr(a files.Attr, out *fuse.Attr) {
	out.Ino = a.Ino
	out.Size = uint64(a.Size)
	out.Blocks = uint64(a.Alloc+511) / 512
	out.Mode = a.Mode
	out.Nlink = a.Nlink
	out.Uid, out.Gid = a.UID, a.GID
	out.Rdev = a.Rdev
	out.Blksize = 1 << 17
	out.Atime, out.Atimensec = splitTime(a.Atime)
	out.Mtime, out.Mtimensec = splitTime(a.Mtime)
	out.Ctime, out.Ctimensec = splitTime(a.Ctime)
}

func splitTime(t time.Time) (uint64, uint32) {
	n := t.UnixNano()
	if n < 0 {
		return 0, 0
	}
	return uint64(n / 1e9), uint32(n % 1e9)
}

// fillEntry describes an inode to the kernel; a holds attributes read at
// generation gen of rawFS.forgotten.
func (r *rawFS) fillEntry(a files.Attr, gen uint64, out *fuse.EntryOut) {
	r.fresh(&a, gen)
	r.remember(a.Ino)
	out.NodeId = a.Ino
	out.Generation = 1
	out.SetEntryTimeout(entryTimeout)
	out.SetAttrTimeout(attrTimeout)
	fillAttr(a, &out.Attr)
}

func (r *rawFS) Lookup(_ <-chan struct{}, h *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	gen := r.forgotten.Load()
	a, err := r.fs.Lookup(ctx(), h.NodeId, name)
	if errors.Is(err, syscall.ENOENT) {
		// A negative entry: the kernel remembers the name is free.
		out.NodeId = 0
		out.SetEntryTimeout(entryTimeout)
		return fuse.OK
	}
	if err != nil {
		return r.errno("lookup", err)
	}
	r.fillEntry(a, gen, out)
	return fuse.OK
}

func (r *rawFS) GetAttr(_ <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	a, err := r.attr(in.NodeId)
	if err != nil {
		return r.errno("getattr", err)
	}
	out.SetTimeout(attrTimeout)
	fillAttr(a, &out.Attr)
	return fuse.OK
}

func (r *rawFS) SetAttr(_ <-chan struct{}, in *fuse.SetAttrIn, out *fuse.AttrOut) fuse.Status {
	ino := in.NodeId
	// Serialise with the stores of an open file, so that a pending mtime
	// cannot overwrite one set here.
	of, err := r.acquire(ino)
	if err != nil {
		return r.errno("setattr", err)
	}
	defer r.releaseFile(of)
	if in.Valid&fuse.FATTR_SIZE != 0 {
		// No chunk may be pushed into the page cache meanwhile: a push
		// past the new end would grow the file again.
		of.pushMu.Lock()
		defer of.pushMu.Unlock()
	}
	of.commitMu.Lock()
	defer of.commitMu.Unlock()

	if size, ok := in.GetSize(); ok {
		if err := r.truncate(of, int64(size)); err != nil {
			return r.errno("truncate", err)
		}
	}
	var s files.SetAttrs
	change := false
	if m, ok := in.GetMode(); ok {
		s.Mode, change = &m, true
	}
	if u, ok := in.GetUID(); ok {
		s.UID, change = &u, true
	}
	if g, ok := in.GetGID(); ok {
		s.GID, change = &g, true
	}
	if t, ok := in.GetATime(); ok {
		s.Atime, change = &t, true
	}
	if t, ok := in.GetMTime(); ok {
		s.Mtime, change = &t, true
		of.mu.Lock()
		of.mtime = time.Time{}
		of.mu.Unlock()
	}
	if in.Valid&fuse.FATTR_KILL_SUIDGID != 0 && s.Mode == nil {
		if a, err := r.fs.GetAttr(ctx(), ino); err == nil && a.Mode&(syscall.S_ISUID|syscall.S_ISGID) != 0 {
			m := a.Mode &^ (syscall.S_ISUID | syscall.S_ISGID)
			s.Mode, change = &m, true
		}
	}
	if change {
		if _, err := r.fs.SetAttr(ctx(), ino, s); err != nil {
			return r.errno("setattr", err)
		}
	}
	a, err := r.attr(ino)
	if err != nil {
		return r.errno("setattr", err)
	}
	out.SetTimeout(attrTimeout)
	fillAttr(a, &out.Attr)
	return fuse.OK
}

func (r *rawFS) Mknod(_ <-chan struct{}, in *fuse.MknodIn, name string, out *fuse.EntryOut) fuse.Status {
	gen := r.forgotten.Load()
	a, err := r.fs.Create(ctx(), in.NodeId, name, in.Mode, in.Uid, in.Gid, in.Rdev)
	if err != nil {
		return r.errno("mknod", err)
	}
	r.fillEntry(a, gen, out)
	return fuse.OK
}

func (r *rawFS) Mkdir(_ <-chan struct{}, in *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	gen := r.forgotten.Load()
	a, err := r.fs.Mkdir(ctx(), in.NodeId, name, in.Mode&0o7777, in.Uid, in.Gid)
	if err != nil {
		return r.errno("mkdir", err)
	}
	r.fillEntry(a, gen, out)
	return fuse.OK
}

func (r *rawFS) Unlink(_ <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	return r.errno("unlink", r.fs.Unlink(ctx(), h.NodeId, name))
}

func (r *rawFS) Rmdir(_ <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	return r.errno("rmdir", r.fs.Rmdir(ctx(), h.NodeId, name))
}

func (r *rawFS) Rename(_ <-chan struct{}, in *fuse.RenameIn, oldName, newName string) fuse.Status {
	return r.errno("rename", r.fs.Rename(ctx(), in.NodeId, oldName, in.Newdir, newName, in.Flags))
}

func (r *rawFS) Link(_ <-chan struct{}, in *fuse.LinkIn, name string, out *fuse.EntryOut) fuse.Status {
	gen := r.forgotten.Load()
	a, err := r.fs.Link(ctx(), in.Oldnodeid, in.NodeId, name)
	if err != nil {
		return r.errno("link", err)
	}
	r.fillEntry(a, gen, out)
	return fuse.OK
}

func (r *rawFS) Symlink(_ <-chan struct{}, h *fuse.InHeader, target, name string, out *fuse.EntryOut) fuse.Status {
	gen := r.forgotten.Load()
	a, err := r.fs.Symlink(ctx(), h.NodeId, name, target, h.Uid, h.Gid)
	if err != nil {
		return r.errno("symlink", err)
	}
	r.fillEntry(a, gen, out)
	return fuse.OK
}

func (r *rawFS) Readlink(_ <-chan struct{}, h *fuse.InHeader) ([]byte, fuse.Status) {
	t, err := r.fs.Readlink(ctx(), h.NodeId)
	if err != nil {
		return nil, r.errno("readlink", err)
	}
	return []byte(t), fuse.OK
}

// Access is only asked without default_permissions; the kernel checks
// mode bits itself.
func (r *rawFS) Access(_ <-chan struct{}, in *fuse.AccessIn) fuse.Status { return fuse.OK }

func (r *rawFS) StatFs(_ <-chan struct{}, h *fuse.InHeader, out *fuse.StatfsOut) fuse.Status {
	u, err := r.refreshUsage()
	if err != nil {
		return r.errno("statfs", err)
	}
	const bs = 4096
	total := u.Quota
	if total == 0 {
		// No quota: report the space of the disk holding the tenant.
		var st syscall.Statfs_t
		if err := syscall.Statfs(r.fs.Tenant().Dir(), &st); err == nil {
			total = u.Bytes + int64(st.Bavail)*st.Bsize
		}
	}
	used := (u.Bytes + bs - 1) / bs
	blocks := max(total/bs, used)
	out.Bsize, out.Frsize = bs, bs
	out.Blocks = uint64(blocks)
	out.Bfree = uint64(blocks - used)
	out.Bavail = out.Bfree
	out.Files = uint64(u.Inodes) + 1<<30
	out.Ffree = 1 << 30
	out.NameLen = files.MaxNameLen
	return fuse.OK
}

func (r *rawFS) GetXAttr(_ <-chan struct{}, h *fuse.InHeader, name string, dest []byte) (uint32, fuse.Status) {
	if !r.xattrs.Load() {
		// Nothing in the tree has one; ls -l asks for every file.
		return 0, fuse.ENODATA
	}
	v, err := r.fs.GetXattr(ctx(), h.NodeId, name)
	if err != nil {
		return 0, r.errno("getxattr", err)
	}
	if len(dest) < len(v) {
		return uint32(len(v)), fuse.ERANGE
	}
	return uint32(copy(dest, v)), fuse.OK
}

func (r *rawFS) ListXAttr(_ <-chan struct{}, h *fuse.InHeader, dest []byte) (uint32, fuse.Status) {
	names, err := r.fs.ListXattr(ctx(), h.NodeId)
	if err != nil {
		return 0, r.errno("listxattr", err)
	}
	var buf []byte
	for _, n := range names {
		buf = append(append(buf, n...), 0)
	}
	if len(dest) < len(buf) {
		return uint32(len(buf)), fuse.ERANGE
	}
	return uint32(copy(dest, buf)), fuse.OK
}

func (r *rawFS) SetXAttr(_ <-chan struct{}, in *fuse.SetXAttrIn, name string, data []byte) fuse.Status {
	r.xattrs.Store(true)
	return r.errno("setxattr", r.fs.SetXattr(ctx(), in.NodeId, name, append([]byte(nil), data...), in.Flags))
}

func (r *rawFS) RemoveXAttr(_ <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	return r.errno("removexattr", r.fs.RemoveXattr(ctx(), h.NodeId, name))
}

// invalidate drops what the kernel cached about a change made through
// another interface. It runs the notifications on their own goroutine:
// the kernel may need this server to answer requests before it returns.
func (r *rawFS) invalidate(c files.Change) {
	srv := r.srv
	if srv == nil {
		return
	}
	r.notifying.Add(1)
	go func() {
		defer r.notifying.Done()
		if c.Ino != 0 {
			r.reload(c.Ino)
			srv.InodeNotify(c.Ino, 0, -1)
		}
		if c.Parent != 0 {
			if c.Deleted && c.Ino != 0 && r.isOrphan(c.Ino) {
				// The kernel learns the inode has no links left, so it
				// lets go of it (FORGET) once unused, and the orphan goes.
				srv.DeleteNotify(c.Parent, c.Ino, c.Name)
			} else {
				srv.EntryNotify(c.Parent, c.Name)
			}
			srv.InodeNotify(c.Parent, 0, -1)
		}
	}()
}

// reload takes the stored size of an open file that another interface
// changed, unless this mount has writes of its own pending for it (then
// the last writer wins, as with two unsynchronised local writers).
func (r *rawFS) reload(ino uint64) {
	r.mu.Lock()
	of := r.open[ino]
	if of != nil {
		of.refs++
	}
	r.mu.Unlock()
	if of == nil {
		return
	}
	defer r.releaseFile(of)
	// No store of this mount runs meanwhile, so the stored size is the
	// latest.
	of.commitMu.Lock()
	defer of.commitMu.Unlock()
	a, err := r.fs.GetAttr(ctx(), ino)
	if err != nil {
		return
	}
	of.mu.Lock()
	defer of.mu.Unlock()
	if len(of.dirty) == 0 && !of.metaDirty {
		of.size = a.Size
		of.mtime = time.Time{} // stored already; the other change's counts
		of.wver++
	}
}

// refreshUsage reads the quota and the stored bytes from the core.
func (r *rawFS) refreshUsage() (files.Usage, error) {
	u, err := r.fs.Usage(ctx())
	if err != nil {
		return u, err
	}
	r.quota.Store(u.Quota)
	r.used.Store(u.Bytes)
	return u, nil
}

// charge accounts for n more bytes, failing with EDQUOT past the quota.
func (r *rawFS) charge(n int64) error {
	if n <= 0 {
		r.used.Add(n)
		return nil
	}
	q := r.quota.Load()
	if q > 0 && r.used.Load()+n > q {
		return syscall.EDQUOT
	}
	r.used.Add(n)
	return nil
}
