// Package fusefs mounts a tenant's core files (package storage/files) as
// a POSIX directory through FUSE, so that ordinary programs work on them
// unchanged and see the same files as every other interface of the
// tenant.
//
// Protocol: the Linux FUSE protocol (7.x as negotiated by
// github.com/hanwen/go-fuse/v2 v2.12.1), served through go-fuse's raw API.
// Kernel node ids are core inode numbers (never reused), so no tree is
// held in memory: lookups, getattr and readdir(plus) read the tenant's
// SQLite directly, and listings are resumed from a cookie, so a directory
// of any size costs one page at a time. The only per-inode state is the
// kernel's lookup count of each inode it holds (returned by FORGET): an
// inode that loses its last link, through this mount or any other
// interface of the tenant (files.Hold), stays readable while the kernel
// or an open handle still has it, as on a local file system, so that a
// process that looked a name up just before a rename replaced it can
// still open and read the old file.
//
// Message flow: every namespace change (create, mkdir, link, unlink,
// rename with RENAME_NOREPLACE and RENAME_EXCHANGE, setattr, xattrs) is one
// tenant transaction, committed before the reply (files.FS.Lazy: it does
// not wait for the disk, see Durability). File data is different:
// writes collect, per open inode and shared by all its handles, in chunk
// buffers (files.ChunkSize); a chunk that fills up is stored in the
// background, off the write path, and the rest is stored on fsync or
// fdatasync (durable when they return), when the last handle is released,
// at most FlushInterval after the write otherwise, and before unmount.
// Reads see pending writes first and stored chunks otherwise, through a
// small cache of verified chunks. A chunk fetched from the core is pushed
// whole into the kernel's page cache (NOTIFY_STORE, only while nobody has
// the file open for writing), and sequential reads fetch the next two
// chunks ahead, so random and sequential reads of cold files do not pay a
// whole-chunk fetch per request.
//
// Durability, as on a journaling local file system: fsync and fdatasync
// of a file store its pending data and return once it and every change
// committed before (namespace changes included) is on disk; fsync of a
// directory does the same for the namespace. Without fsync, a namespace
// change survives a kill of rewire as soon as it returns (it is committed;
// the kernel holds it) and a power loss at most a second later (the
// tenant's lazy-sync bound, storage.Tenant.UpdateLazy). File data is
// committed when the kernel releases the last handle (right after the
// last close) and in any case within FlushInterval (Options.FlushInterval,
// 5 s by default) of the write, open or closed, and is then durable on
// the same terms. TestCrash checks the bound across SIGKILL.
//
// Lifecycle: a process that dies leaves an ENOTCONN mount behind, which
// the next Mount (or CleanupStale) detaches; that mount then deletes files
// that were unlinked but still held. Unmount detaches a busy mount lazily
// rather than leaving it behind. One mount per tenant (a flock in the
// tenant's directory). The mount widens the kernel's read-ahead window to
// 1 MiB (sysfs, as root) and asks for READDIRPLUS only where lookups
// follow.
//
// Caching: entries and attributes are cached by the kernel for a second;
// the page cache is kept across opens (FOPEN_KEEP_CACHE) and dropped by
// the kernel when mtime or size change; changes made through the tenant's
// other interfaces (any files.FS but the mount's own, which is Quiet)
// invalidate the kernel's caches (files.Watch).
//
// Locks: POSIX (fcntl) and flock locks are left to the kernel, which
// enforces them among the processes of this machine; that is what SQLite
// and git need, and there is one mount per tenant.
//
// Left out: writeback caching in the kernel. With it the kernel trusts
// its own size and mtime of regular files over the server's, so a change
// made through another interface of the tenant would stay hidden from
// the mount; it is not safe here, and every write reaches rewire
// synchronously instead (in 1 MiB requests; the page cache still serves
// reads). Also left out: SEEK_DATA/SEEK_HOLE (the kernel treats files as
// all data), copy_file_range offload, exact quota accounting (writes that
// grow files past the quota fail with EDQUOT, but usage is re-read from
// the core only by statfs and every FlushInterval), access control lists
// and O_TMPFILE. Unstored writes are bounded: 16 chunks per open file and
// 64 per mount, past which a writer stores its own file's pending chunks
// first.
package fusefs
