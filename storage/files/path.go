package files

import (
	"context"
	"strings"
	"syscall"
	"time"
)

// Paths is the path-level view of a tenant's tree, for interfaces that
// name files by path (the HTTP API, git worktrees). Paths are slash
// separated and relative to the root; a leading slash is allowed.
// Symbolic links are not followed.
type Paths struct{ fs *FS }

// Paths returns the path-level view of the tree.
func (fs *FS) Paths() *Paths { return &Paths{fs: fs} }

func splitPath(p string) ([]string, error) {
	var parts []string
	for _, s := range strings.Split(p, "/") {
		switch s {
		case "", ".":
			continue
		case "..":
			return nil, syscall.EINVAL
		}
		if len(s) > MaxNameLen {
			return nil, syscall.ENAMETOOLONG
		}
		if strings.IndexByte(s, 0) >= 0 {
			return nil, syscall.EINVAL
		}
		parts = append(parts, s)
	}
	return parts, nil
}

// resolve walks to the directory holding the last element of p and
// returns it with that element's name ("" for the root).
func (p *Paths) resolve(ctx context.Context, path string) (parent uint64, name string, err error) {
	parts, err := splitPath(path)
	if err != nil {
		return 0, "", err
	}
	if len(parts) == 0 {
		return RootIno, "", nil
	}
	dir := uint64(RootIno)
	for _, s := range parts[:len(parts)-1] {
		a, err := p.fs.Lookup(ctx, dir, s)
		if err != nil {
			return 0, "", err
		}
		if !a.IsDir() {
			return 0, "", syscall.ENOTDIR
		}
		dir = a.Ino
	}
	return dir, parts[len(parts)-1], nil
}

// Stat returns the attributes of the file at path.
func (p *Paths) Stat(ctx context.Context, path string) (Attr, error) {
	parent, name, err := p.resolve(ctx, path)
	if err != nil {
		return Attr{}, err
	}
	if name == "" {
		return p.fs.GetAttr(ctx, RootIno)
	}
	return p.fs.Lookup(ctx, parent, name)
}

// ReadFile returns the content of the regular file at path.
func (p *Paths) ReadFile(ctx context.Context, path string) ([]byte, error) {
	a, err := p.Stat(ctx, path)
	if err != nil {
		return nil, err
	}
	if a.IsDir() {
		return nil, syscall.EISDIR
	}
	buf := make([]byte, a.Size)
	n, err := p.fs.ReadAt(ctx, a.Ino, buf, 0)
	return buf[:n], err
}

// WriteFile replaces the content of the file at path, creating it with
// perm if needed. The write is durable on return.
func (p *Paths) WriteFile(ctx context.Context, path string, data []byte, perm uint32) error {
	parent, name, err := p.resolve(ctx, path)
	if err != nil {
		return err
	}
	if name == "" {
		return syscall.EISDIR
	}
	a, err := p.fs.Lookup(ctx, parent, name)
	if IsNotFound(err) {
		a, err = p.fs.Create(ctx, parent, name, ModeRegular|perm&0o7777, 0, 0, 0)
	}
	if err != nil {
		return err
	}
	if a.IsDir() {
		return syscall.EISDIR
	}
	var chunks []Chunk
	for off := 0; off < len(data); off += ChunkSize {
		chunks = append(chunks, Chunk{Idx: int64(off / ChunkSize), Data: data[off:min(off+ChunkSize, len(data))]})
	}
	return p.fs.WriteChunks(ctx, a.Ino, chunks, int64(len(data)), time.Now())
}

// Mkdir makes a directory at path.
func (p *Paths) Mkdir(ctx context.Context, path string, perm uint32) error {
	parent, name, err := p.resolve(ctx, path)
	if err != nil {
		return err
	}
	if name == "" {
		return syscall.EEXIST
	}
	_, err = p.fs.Mkdir(ctx, parent, name, perm&0o7777, 0, 0)
	return err
}

// Remove removes the file, symbolic link or empty directory at path.
func (p *Paths) Remove(ctx context.Context, path string) error {
	parent, name, err := p.resolve(ctx, path)
	if err != nil {
		return err
	}
	if name == "" {
		return syscall.EBUSY
	}
	a, err := p.fs.Lookup(ctx, parent, name)
	if err != nil {
		return err
	}
	if a.IsDir() {
		return p.fs.Rmdir(ctx, parent, name)
	}
	return p.fs.Unlink(ctx, parent, name)
}

// Rename moves the entry at from to to, replacing what to named.
func (p *Paths) Rename(ctx context.Context, from, to string) error {
	op, on, err := p.resolve(ctx, from)
	if err != nil {
		return err
	}
	np, nn, err := p.resolve(ctx, to)
	if err != nil {
		return err
	}
	if on == "" || nn == "" {
		return syscall.EBUSY
	}
	return p.fs.Rename(ctx, op, on, np, nn, 0)
}

// List returns every entry of the directory at path.
func (p *Paths) List(ctx context.Context, path string) ([]DirEntry, error) {
	a, err := p.Stat(ctx, path)
	if err != nil {
		return nil, err
	}
	if !a.IsDir() {
		return nil, syscall.ENOTDIR
	}
	var out []DirEntry
	var cookie int64
	for {
		page, err := p.fs.ReadDir(ctx, a.Ino, cookie, 1024)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < 1024 {
			return out, nil
		}
		cookie = page[len(page)-1].Cookie
	}
}
