// Package files is the core's file object kind: an inode and
// directory-entry tree kept in the tenant's SQLite, whose contents are
// chunks of core blobs. It is what the FUSE mount (package fusefs) shows,
// and what the HTTP API and git worktrees will read and write by path.
//
// Layout: see schema.go. Content is cut into fixed chunks of ChunkSize
// bytes; each stored chunk is a blob, so small files (and tails) live
// inline in the hot tier, full chunks of large files in the warm tier,
// and the core's tier mover handles both. A missing chunk is a hole and a
// chunk of zeros is stored as one, so sparse files cost nothing.
//
// Every change is one durable tenant transaction (group committed). Blob
// uploads happen before the metadata that names them, and blob references
// are dropped after the metadata that held them is gone, so a crash can
// leak a reference but never leave a chunk naming a missing blob.
//
// Two views: inode-level methods on FS (the mount maps kernel inode
// numbers straight to them) and path-level methods on Paths. Errors are
// syscall.Errno values such as ENOENT, EEXIST, ENOTDIR, EISDIR, ENOTEMPTY
// and ENAMETOOLONG, possibly wrapped; other errors come from the core.
//
// Left out: permission checks (the mount lets the kernel check mode bits;
// the path API acts as the tenant's owner), quota enforcement, following
// symbolic links in the path API.
package files
