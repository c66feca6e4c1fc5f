package tier

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Local is a Bucket in a directory of this machine. Objects are written to
// a temporary file, fsynced, renamed into place, and the directory is
// fsynced, so an object that Put acknowledged survives a power loss and a
// crash never leaves a partial object under its key.
type Local struct {
	root string
}

var _ Bucket = (*Local)(nil)

// NewLocal opens (creating if needed) a directory bucket.
func NewLocal(root string) (*Local, error) {
	if err := os.MkdirAll(filepath.Join(root, ".tmp"), 0o700); err != nil {
		return nil, fmt.Errorf("tier: %w", err)
	}
	return &Local{root: root}, nil
}

func (l *Local) path(key string) (string, error) {
	if err := validKey(key); err != nil {
		return "", err
	}
	return filepath.Join(l.root, filepath.FromSlash(key)), nil
}

// Put implements Bucket.
func (l *Local) Put(ctx context.Context, key string, data []byte) error {
	p, err := l.path(key)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("tier: %w", err)
	}
	f, err := os.CreateTemp(filepath.Join(l.root, ".tmp"), "put-*")
	if err != nil {
		return fmt.Errorf("tier: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("tier: put %s: %w", key, err)
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory, so that the names created in it are
// durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("tier: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("tier: sync %s: %w", dir, err)
	}
	return nil
}

// Get implements Bucket.
func (l *Local) Get(ctx context.Context, key string) ([]byte, error) {
	p, err := l.path(key)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return b, err
}

// GetRange implements Bucket.
func (l *Local) GetRange(ctx context.Context, key string, offset, length int64) ([]byte, error) {
	p, err := l.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, key)
	} else if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, length)
	n, err := f.ReadAt(buf, offset)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return buf[:n], nil
}

// Delete implements Bucket.
func (l *Local) Delete(ctx context.Context, key string) error {
	p, err := l.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("tier: delete %s: %w", key, err)
	}
	return nil
}

// List implements Bucket.
func (l *Local) List(ctx context.Context, prefix string, fn func(string, int64) error) error {
	err := filepath.WalkDir(l.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(l.root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == ".tmp" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(rel, prefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return fn(rel, info.Size())
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// Close implements Bucket.
func (l *Local) Close() error { return nil }

// Version identifies one state of a file: writing to it, truncating it or
// replacing it changes the version.
type Version struct {
	Dev, Ino           uint64
	Size, Mtime, Ctime int64
}

// Versioned is implemented by buckets that can report, with an object's
// bytes, the version of the file they came from (Local).
type Versioned interface {
	GetVersion(ctx context.Context, key string) ([]byte, Version, error)
	StatVersion(ctx context.Context, key string) (Version, error)
}

var _ Versioned = (*Local)(nil)

// GetVersion is Get that also returns the version of the file read. The
// bytes and the version come from one open file, so they belong together.
func (l *Local) GetVersion(ctx context.Context, key string) ([]byte, Version, error) {
	p, err := l.path(key)
	if err != nil {
		return nil, Version{}, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Version{}, fmt.Errorf("%w: %s", ErrNotFound, key)
	} else if err != nil {
		return nil, Version{}, err
	}
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return nil, Version{}, err
	}
	v := versionOf(&st)
	buf := make([]byte, st.Size)
	n, err := io.ReadFull(f, buf)
	if err != nil && err != io.ErrUnexpectedEOF {
		return nil, Version{}, err
	}
	if int64(n) != st.Size {
		v = Version{} // changed while read: never equal to a remembered one
	}
	return buf[:n], v, nil
}

// StatVersion returns the version of the file under key.
func (l *Local) StatVersion(ctx context.Context, key string) (Version, error) {
	p, err := l.path(key)
	if err != nil {
		return Version{}, err
	}
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		return Version{}, err
	}
	return versionOf(&st), nil
}

func versionOf(st *syscall.Stat_t) Version {
	return Version{
		Dev: st.Dev, Ino: st.Ino, Size: st.Size,
		Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano(),
	}
}
