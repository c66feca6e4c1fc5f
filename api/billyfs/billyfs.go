// Package billyfs adapts a directory of a tenant's file tree
// (rewire/storage/files, what the FUSE mount shows) to go-billy's
// Filesystem, so that go-git can use it as a worktree.
//
// Files are read whole when opened and written back whole, in one durable
// transaction, when closed (or synced); that suits source trees, not
// large files (opening is bounded by MaxFile). Lock and Unlock do
// nothing: the core serialises writes and each Close replaces content
// atomically. Permission bits are kept, owners are not.
package billyfs

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/go-git/go-billy/v5"

	"rewire/storage/files"
)

// MaxFile bounds the size of a file opened through the adapter.
const MaxFile = 256 << 20

// FS is a billy.Filesystem over the directory root of a tenant's tree.
// It holds a context for the core calls billy's interface has no room
// for. It is safe for concurrent use.
type FS struct {
	ctx  context.Context
	fs   *files.FS
	p    *files.Paths
	root string // cleaned, "" for the tree's root
}

var _ billy.Filesystem = (*FS)(nil)

// New returns the filesystem of directory root (slash separated, relative
// to the tenant's root) of fs, using ctx for every core call.
func New(ctx context.Context, fs *files.FS, root string) *FS {
	return &FS{ctx: ctx, fs: fs, p: fs.Paths(), root: clean(root)}
}

func clean(p string) string {
	return strings.TrimPrefix(path.Clean("/"+p), "/")
}

// abs maps a name inside the filesystem to a path of the tree; ".."
// cannot climb above the root, since the name is cleaned as an absolute
// path first.
func (f *FS) abs(name string) string {
	return strings.TrimPrefix(path.Join(f.root, clean(name)), "/")
}

func pathErr(op, name string, err error) error {
	if files.IsNotFound(err) {
		err = fs.ErrNotExist
	} else if errors.Is(err, syscall.EEXIST) {
		err = fs.ErrExist
	}
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// Root returns the directory the filesystem is rooted at.
func (f *FS) Root() string { return "/" + f.root }

// Join joins path elements.
func (f *FS) Join(elem ...string) string { return path.Join(elem...) }

// Chroot returns the filesystem of a subdirectory.
func (f *FS) Chroot(p string) (billy.Filesystem, error) {
	return &FS{ctx: f.ctx, fs: f.fs, p: f.p, root: f.abs(p)}, nil
}

// Stat describes a file (symbolic links are not followed by the core's
// path API, so Stat and Lstat agree).
func (f *FS) Stat(name string) (os.FileInfo, error) {
	a, err := f.p.Stat(f.ctx, f.abs(name))
	if err != nil {
		return nil, pathErr("stat", name, err)
	}
	return info{name: path.Base("/" + clean(name)), a: a}, nil
}

// Lstat is Stat.
func (f *FS) Lstat(name string) (os.FileInfo, error) { return f.Stat(name) }

// ReadDir lists a directory.
func (f *FS) ReadDir(name string) ([]os.FileInfo, error) {
	ents, err := f.p.List(f.ctx, f.abs(name))
	if err != nil {
		return nil, pathErr("readdir", name, err)
	}
	out := make([]os.FileInfo, len(ents))
	for i, e := range ents {
		out[i] = info{name: e.Name, a: e.Attr}
	}
	return out, nil
}

// MkdirAll makes a directory and its missing parents.
func (f *FS) MkdirAll(name string, perm os.FileMode) error {
	cur := ""
	for _, s := range strings.Split(f.abs(name), "/") {
		if s == "" {
			continue
		}
		cur = path.Join(cur, s)
		a, err := f.p.Stat(f.ctx, cur)
		if err == nil {
			if !a.IsDir() {
				return pathErr("mkdir", name, syscall.ENOTDIR)
			}
			continue
		}
		if err := f.p.Mkdir(f.ctx, cur, uint32(perm.Perm())); err != nil && !errors.Is(err, syscall.EEXIST) {
			return pathErr("mkdir", name, err)
		}
	}
	return nil
}

// Rename moves a file, replacing the target.
func (f *FS) Rename(from, to string) error {
	if err := f.MkdirAll(path.Dir("/"+clean(to)), 0o755); err != nil {
		return err
	}
	if err := f.p.Rename(f.ctx, f.abs(from), f.abs(to)); err != nil {
		return pathErr("rename", from, err)
	}
	return nil
}

// Remove removes a file or an empty directory.
func (f *FS) Remove(name string) error {
	if err := f.p.Remove(f.ctx, f.abs(name)); err != nil {
		return pathErr("remove", name, err)
	}
	return nil
}

// Symlink makes a symbolic link.
func (f *FS) Symlink(target, link string) error {
	if err := f.MkdirAll(path.Dir("/"+clean(link)), 0o755); err != nil {
		return err
	}
	dir, err := f.p.Stat(f.ctx, f.abs(path.Dir("/"+clean(link))))
	if err != nil {
		return pathErr("symlink", link, err)
	}
	if _, err := f.fs.Symlink(f.ctx, dir.Ino, path.Base("/"+clean(link)), target, 0, 0); err != nil {
		return pathErr("symlink", link, err)
	}
	return nil
}

// Readlink returns a symbolic link's target.
func (f *FS) Readlink(link string) (string, error) {
	a, err := f.p.Stat(f.ctx, f.abs(link))
	if err != nil {
		return "", pathErr("readlink", link, err)
	}
	t, err := f.fs.Readlink(f.ctx, a.Ino)
	if err != nil {
		return "", pathErr("readlink", link, err)
	}
	return t, nil
}

// Chmod sets a file's permission bits.
func (f *FS) Chmod(name string, mode os.FileMode) error {
	a, err := f.p.Stat(f.ctx, f.abs(name))
	if err != nil {
		return pathErr("chmod", name, err)
	}
	m := uint32(mode.Perm())
	if _, err := f.fs.SetAttr(f.ctx, a.Ino, files.SetAttrs{Mode: &m}); err != nil {
		return pathErr("chmod", name, err)
	}
	return nil
}

// Create makes or truncates a file for writing.
func (f *FS) Create(name string) (billy.File, error) {
	return f.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

// Open opens a file for reading.
func (f *FS) Open(name string) (billy.File, error) { return f.OpenFile(name, os.O_RDONLY, 0) }

// OpenFile opens a file with the os flags O_RDONLY, O_WRONLY, O_RDWR,
// O_CREATE, O_EXCL, O_TRUNC and O_APPEND.
func (f *FS) OpenFile(name string, flag int, perm os.FileMode) (billy.File, error) {
	p := f.abs(name)
	a, err := f.p.Stat(f.ctx, p)
	exists := err == nil
	switch {
	case err != nil && !files.IsNotFound(err):
		return nil, pathErr("open", name, err)
	case !exists && flag&os.O_CREATE == 0:
		return nil, pathErr("open", name, fs.ErrNotExist)
	case exists && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, pathErr("open", name, fs.ErrExist)
	case exists && a.IsDir():
		return nil, pathErr("open", name, syscall.EISDIR)
	case exists && a.Size > MaxFile:
		return nil, pathErr("open", name, syscall.EFBIG)
	}
	fl := &file{fs: f, name: name, path: p, flag: flag, perm: uint32(perm.Perm())}
	if !exists {
		if err := f.MkdirAll(path.Dir("/"+clean(name)), 0o755); err != nil {
			return nil, err
		}
		fl.dirty = true
		if err := fl.Sync(); err != nil {
			return nil, err
		}
	} else if flag&os.O_TRUNC != 0 {
		fl.dirty = true
	} else {
		data, err := f.p.ReadFile(f.ctx, p)
		if err != nil {
			return nil, pathErr("open", name, err)
		}
		fl.buf = data
	}
	if flag&os.O_APPEND != 0 {
		fl.off = int64(len(fl.buf))
	}
	return fl, nil
}

// TempFile makes a new file with a random name in dir.
func (f *FS) TempFile(dir, prefix string) (billy.File, error) {
	var b [6]byte
	rand.Read(b[:])
	return f.OpenFile(path.Join(dir, prefix+hex.EncodeToString(b[:])), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
}

// file is an open file: its whole content in memory, written back on
// Close when changed.
type file struct {
	fs     *FS
	name   string
	path   string
	flag   int
	perm   uint32
	buf    []byte
	off    int64
	dirty  bool
	closed bool
}

func (fl *file) Name() string { return fl.name }

func (fl *file) writable() bool { return fl.flag&(os.O_WRONLY|os.O_RDWR) != 0 }

func (fl *file) Read(p []byte) (int, error) {
	n, err := fl.ReadAt(p, fl.off)
	fl.off += int64(n)
	return n, err
}

func (fl *file) ReadAt(p []byte, off int64) (int, error) {
	if fl.closed {
		return 0, os.ErrClosed
	}
	if fl.flag&os.O_WRONLY != 0 {
		return 0, pathErr("read", fl.name, syscall.EBADF)
	}
	if off >= int64(len(fl.buf)) {
		return 0, io.EOF
	}
	n := copy(p, fl.buf[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (fl *file) Write(p []byte) (int, error) {
	if fl.closed {
		return 0, os.ErrClosed
	}
	if !fl.writable() {
		return 0, pathErr("write", fl.name, syscall.EBADF)
	}
	if fl.flag&os.O_APPEND != 0 {
		fl.off = int64(len(fl.buf))
	}
	end := fl.off + int64(len(p))
	if end > MaxFile {
		return 0, pathErr("write", fl.name, syscall.EFBIG)
	}
	if end > int64(len(fl.buf)) {
		fl.buf = append(fl.buf, make([]byte, end-int64(len(fl.buf)))...)
	}
	copy(fl.buf[fl.off:], p)
	fl.off = end
	fl.dirty = true
	return len(p), nil
}

func (fl *file) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += fl.off
	case io.SeekEnd:
		off += int64(len(fl.buf))
	default:
		return 0, fmt.Errorf("seek: bad whence %d", whence)
	}
	if off < 0 {
		return 0, pathErr("seek", fl.name, syscall.EINVAL)
	}
	fl.off = off
	return off, nil
}

func (fl *file) Truncate(size int64) error {
	if !fl.writable() {
		return pathErr("truncate", fl.name, syscall.EBADF)
	}
	if size < 0 || size > MaxFile {
		return pathErr("truncate", fl.name, syscall.EINVAL)
	}
	if size <= int64(len(fl.buf)) {
		fl.buf = fl.buf[:size]
	} else {
		fl.buf = append(fl.buf, make([]byte, size-int64(len(fl.buf)))...)
	}
	fl.dirty = true
	return nil
}

// Sync writes the content back if it changed.
func (fl *file) Sync() error {
	if !fl.dirty {
		return nil
	}
	perm := fl.perm
	if perm == 0 {
		perm = 0o644
	}
	if err := fl.fs.p.WriteFile(fl.fs.ctx, fl.path, bytes.Clone(fl.buf), perm); err != nil {
		return pathErr("write", fl.name, err)
	}
	fl.dirty = false
	return nil
}

func (fl *file) Close() error {
	if fl.closed {
		return os.ErrClosed
	}
	err := fl.Sync()
	fl.closed = true
	fl.buf = nil
	return err
}

func (fl *file) Lock() error   { return nil }
func (fl *file) Unlock() error { return nil }

// info is an os.FileInfo of a core inode.
type info struct {
	name string
	a    files.Attr
}

func (i info) Name() string       { return i.name }
func (i info) Size() int64        { return i.a.Size }
func (i info) ModTime() time.Time { return i.a.Mtime }
func (i info) IsDir() bool        { return i.a.IsDir() }
func (i info) Sys() any           { return i.a }
func (i info) Mode() os.FileMode {
	m := os.FileMode(i.a.Mode & 0o777)
	switch {
	case i.a.IsDir():
		m |= os.ModeDir
	case i.a.IsSymlink():
		m |= os.ModeSymlink
	}
	return m
}
