package files

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"rewire/storage"
)

// ChunkSize is the size of one content chunk. Chunks larger than the
// tenant's hot limit (1 MiB by default) go to the warm tier, so the full
// chunks of a large file are warm while small files and the tails of
// large ones are inline in the tenant's SQLite.
const ChunkSize = 4 << 20

// RootIno is the inode number of the root directory.
const RootIno = 1

// MaxNameLen is the longest name a directory entry may have.
const MaxNameLen = 255

// File type bits of Attr.Mode (as in st_mode).
const (
	ModeType    = syscall.S_IFMT
	ModeDir     = syscall.S_IFDIR
	ModeRegular = syscall.S_IFREG
	ModeSymlink = syscall.S_IFLNK
)

// Rename flags (as in renameat2).
const (
	RenameNoReplace = 1 << 0
	RenameExchange  = 1 << 1
)

// Attr is an inode's attributes.
type Attr struct {
	Ino   uint64
	Mode  uint32 // type and permission bits, as st_mode
	Nlink uint32
	UID   uint32
	GID   uint32
	Size  int64
	Alloc int64 // bytes of content stored (holes excluded)
	Rdev  uint32
	Atime time.Time
	Mtime time.Time
	Ctime time.Time
	// Version grows with every change of the content.
	Version int64
}

// IsDir reports whether the inode is a directory.
func (a Attr) IsDir() bool { return a.Mode&ModeType == ModeDir }

// IsRegular reports whether the inode is a regular file.
func (a Attr) IsRegular() bool { return a.Mode&ModeType == ModeRegular }

// IsSymlink reports whether the inode is a symbolic link.
func (a Attr) IsSymlink() bool { return a.Mode&ModeType == ModeSymlink }

// FS is a tenant's file tree. It holds no state of its own beyond the
// tenant (and whether it reports changes, see Quiet), so any number of
// FS values over
// the same tenant see the same files. Errors are syscall.Errno values
// (possibly wrapped), the vocabulary every interface of a POSIX tree
// shares: ENOENT also matches storage.ErrNotFound through IsNotFound.
// Methods are safe for concurrent use.
type FS struct {
	t *storage.Tenant
	// quiet FS values do not report their changes to Watch.
	quiet bool
	// lazy FS values commit changes with Tenant.UpdateLazy.
	lazy bool
}

// New returns the file tree of an acquired tenant. The caller keeps the
// tenant acquired while it uses the FS.
func New(t *storage.Tenant) *FS {
	return &FS{t: t}
}

// Quiet returns a view of the same tree whose changes are not reported
// to Watch: the mount's, which keeps its kernel's caches up to date
// itself. Changes through every other FS value are reported.
func (fs *FS) Quiet() *FS { return &FS{t: fs.t, quiet: true, lazy: fs.lazy} }

// Lazy returns a view of the same tree whose changes are acknowledged
// before they reach the disk, as a local file system's are: each survives
// a kill of the process at once, and a power loss once Sync returns or
// after at most a second (see storage.Tenant.UpdateLazy). The mount uses
// it and calls Sync for fsync.
func (fs *FS) Lazy() *FS { return &FS{t: fs.t, quiet: fs.quiet, lazy: true} }

// Sync returns once every change made so far is durable.
func (fs *FS) Sync(ctx context.Context) error { return fs.t.Sync(ctx) }

// update runs a change of the tree as a write of the tenant.
func (fs *FS) update(ctx context.Context, fn func(tx *storage.Tx) error) error {
	if fs.lazy {
		return fs.t.UpdateLazy(ctx, fn)
	}
	return fs.t.Update(ctx, fn)
}

// Tenant returns the tenant the tree belongs to.
func (fs *FS) Tenant() *storage.Tenant { return fs.t }

// IsNotFound reports whether err means that a file does not exist.
func IsNotFound(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, storage.ErrNotFound)
}

const attrCols = `ino, mode, nlink, uid, gid, size, alloc, rdev, atime, mtime, ctime, version`

type scanner interface{ Scan(dest ...any) error }

func scanAttr(s scanner) (Attr, error) {
	var a Attr
	var at, mt, ct int64
	err := s.Scan(&a.Ino, &a.Mode, &a.Nlink, &a.UID, &a.GID, &a.Size, &a.Alloc, &a.Rdev,
		&at, &mt, &ct, &a.Version)
	a.Atime, a.Mtime, a.Ctime = unixNano(at), unixNano(mt), unixNano(ct)
	return a, err
}

// queryer is what both the reader pool and a write transaction offer.
type queryer interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func getAttr(ctx context.Context, q queryer, ino uint64) (Attr, error) {
	a, err := scanAttr(q.QueryRowContext(ctx, `SELECT `+attrCols+` FROM file_inodes WHERE ino = ?`, ino))
	if errors.Is(err, sql.ErrNoRows) {
		return a, syscall.ENOENT
	}
	if err != nil {
		return a, fmt.Errorf("files: stat inode %d: %w", ino, err)
	}
	return a, nil
}

// GetAttr returns an inode's attributes.
func (fs *FS) GetAttr(ctx context.Context, ino uint64) (Attr, error) {
	return getAttr(ctx, fs.t.DB(), ino)
}

// Lookup returns the attributes of the entry name in directory parent.
func (fs *FS) Lookup(ctx context.Context, parent uint64, name string) (Attr, error) {
	if len(name) > MaxNameLen {
		return Attr{}, syscall.ENAMETOOLONG
	}
	a, err := scanAttr(fs.t.DB().QueryRowContext(ctx, `SELECT `+inodeAttrCols+`
		FROM file_dirents d JOIN file_inodes i ON i.ino = d.ino
		WHERE d.parent = ? AND d.name = ?`, parent, []byte(name)))
	if errors.Is(err, sql.ErrNoRows) {
		// Tell a missing entry from a parent that is no directory.
		pa, perr := fs.GetAttr(ctx, parent)
		if perr != nil {
			return a, perr
		}
		if !pa.IsDir() {
			return a, syscall.ENOTDIR
		}
		return a, syscall.ENOENT
	}
	if err != nil {
		return a, fmt.Errorf("files: lookup %q: %w", name, err)
	}
	return a, nil
}

// Readlink returns a symbolic link's target.
func (fs *FS) Readlink(ctx context.Context, ino uint64) (string, error) {
	var mode uint32
	var target []byte
	err := fs.t.DB().QueryRowContext(ctx, `SELECT mode, target FROM file_inodes WHERE ino = ?`, ino).
		Scan(&mode, &target)
	if errors.Is(err, sql.ErrNoRows) {
		return "", syscall.ENOENT
	}
	if err != nil {
		return "", fmt.Errorf("files: readlink %d: %w", ino, err)
	}
	if mode&ModeType != ModeSymlink {
		return "", syscall.EINVAL
	}
	return string(target), nil
}

// inodeAttrCols is attrCols qualified for a join that names file_inodes i.
var inodeAttrCols = "i." + strings.ReplaceAll(attrCols, ", ", ", i.")

func now() int64 { return time.Now().UnixNano() }

func checkName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return syscall.EINVAL
	case len(name) > MaxNameLen:
		return syscall.ENAMETOOLONG
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '/' || name[i] == 0 {
			return syscall.EINVAL
		}
	}
	return nil
}

func unixNano(n int64) time.Time { return time.Unix(0, n) }
