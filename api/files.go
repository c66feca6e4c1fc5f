package api

import (
	"bytes"
	"context"
	"errors"
	"hash/fnv"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"

	"rewire/api/wire"
	"rewire/storage/files"
)

func typeName(a files.Attr) string {
	switch {
	case a.IsDir():
		return "dir"
	case a.IsSymlink():
		return "symlink"
	}
	return "file"
}

func statOf(p, name string, a files.Attr) wire.Stat {
	return wire.Stat{Path: p, Name: name, Type: typeName(a), Size: a.Size, Mode: a.Mode & 0o7777,
		ModTime: a.Mtime.UTC(), Version: a.Version}
}

// Stat describes the file at path.
func (o *Ops) Stat(ctx context.Context, p wire.PathParams) (wire.Stat, error) {
	cp, err := CleanPath(p.Path)
	if err != nil {
		return wire.Stat{}, err
	}
	a, err := o.paths.Stat(ctx, cp)
	if err != nil {
		return wire.Stat{}, pathErr(err, cp)
	}
	return statOf(cp, path.Base("/"+cp), a), nil
}

// pathErr adds the path to a file error.
func pathErr(err error, p string) error {
	e := ToError(err)
	if d, ok := e.Data.(*wire.ErrorData); ok {
		d.Path = "/" + p
	}
	return e
}

// Exists reports whether something is at path.
func (o *Ops) Exists(ctx context.Context, p wire.PathParams) (wire.ExistsResult, error) {
	cp, err := CleanPath(p.Path)
	if err != nil {
		return wire.ExistsResult{}, err
	}
	a, err := o.paths.Stat(ctx, cp)
	if files.IsNotFound(err) || errors.Is(err, syscall.ENOTDIR) {
		return wire.ExistsResult{}, nil
	}
	if err != nil {
		return wire.ExistsResult{}, pathErr(err, cp)
	}
	return wire.ExistsResult{Exists: true, Type: typeName(a)}, nil
}

// Read returns (part of) a file's content, at most MaxInline bytes.
func (o *Ops) Read(ctx context.Context, p wire.ReadParams) (wire.ReadResult, error) {
	cp, err := CleanPath(p.Path)
	if err != nil {
		return wire.ReadResult{}, err
	}
	if p.Offset < 0 || p.Length < 0 {
		return wire.ReadResult{}, invalid("offset and length must not be negative")
	}
	if p.Encoding != "" && p.Encoding != wire.EncodingUTF8 && p.Encoding != wire.EncodingBase64 {
		return wire.ReadResult{}, invalid("unknown encoding %q (utf8 or base64)", p.Encoding)
	}
	a, err := o.paths.Stat(ctx, cp)
	if err != nil {
		return wire.ReadResult{}, pathErr(err, cp)
	}
	if !a.IsRegular() {
		return wire.ReadResult{}, pathErr(syscall.EISDIR, cp)
	}
	n := a.Size - p.Offset
	if n < 0 {
		n = 0
	}
	if p.Length > 0 && p.Length < n {
		n = p.Length
	}
	if n > MaxInline {
		if p.Length > 0 {
			return wire.ReadResult{}, &wire.Error{Code: wire.CodeTooLarge,
				Message: "read larger than the inline limit; use GET /v1/files/ with a Range header"}
		}
		n = MaxInline
	}
	buf := make([]byte, n)
	got, err := o.fs.ReadAt(ctx, a.Ino, buf, p.Offset)
	if err != nil {
		return wire.ReadResult{}, pathErr(err, cp)
	}
	content, enc, err := encode(buf[:got], p.Encoding)
	if err != nil {
		return wire.ReadResult{}, err
	}
	return wire.ReadResult{Content: content, Encoding: enc, Size: a.Size,
		EOF: p.Offset+int64(got) >= a.Size}, nil
}

// mkdirAll makes dir and its missing parents.
func (o *Ops) mkdirAll(ctx context.Context, dir string) error {
	if dir == "" {
		return nil
	}
	cur := ""
	for _, s := range strings.Split(dir, "/") {
		cur = path.Join(cur, s)
		a, err := o.paths.Stat(ctx, cur)
		if err == nil {
			if !a.IsDir() {
				return pathErr(syscall.ENOTDIR, cur)
			}
			continue
		}
		if !files.IsNotFound(err) {
			return pathErr(err, cur)
		}
		if err := o.paths.Mkdir(ctx, cur, 0o755); err != nil && !errors.Is(err, syscall.EEXIST) {
			return pathErr(err, cur)
		}
	}
	return nil
}

func parentOf(cp string) string {
	if i := strings.LastIndexByte(cp, '/'); i >= 0 {
		return cp[:i]
	}
	return ""
}

// Write replaces a file's content, creating the file if needed.
func (o *Ops) Write(ctx context.Context, p wire.WriteParams) (wire.WriteResult, error) {
	cp, data, err := o.prepareWrite(ctx, p)
	if err != nil {
		return wire.WriteResult{}, err
	}
	if err := o.paths.WriteFile(ctx, cp, data, 0o644); err != nil {
		return wire.WriteResult{}, pathErr(err, cp)
	}
	return wire.WriteResult{Size: int64(len(data))}, nil
}

func (o *Ops) prepareWrite(ctx context.Context, p wire.WriteParams) (string, []byte, error) {
	cp, err := CleanPath(p.Path)
	if err != nil {
		return "", nil, err
	}
	if cp == "" {
		return "", nil, pathErr(syscall.EISDIR, cp)
	}
	if len(p.Content) > MaxInline*4/3+4 {
		return "", nil, &wire.Error{Code: wire.CodeTooLarge, Message: "content larger than the inline limit; use PUT /v1/files/"}
	}
	data, err := decode(p.Content, p.Encoding)
	if err != nil {
		return "", nil, err
	}
	if len(data) > MaxInline {
		return "", nil, &wire.Error{Code: wire.CodeTooLarge, Message: "content larger than the inline limit; use PUT /v1/files/"}
	}
	if p.Parents {
		if err := o.mkdirAll(ctx, parentOf(cp)); err != nil {
			return "", nil, err
		}
	}
	return cp, data, nil
}

// Append adds data at the end of a file, creating it if needed. Only the
// last chunk of the file is rewritten.
func (o *Ops) Append(ctx context.Context, p wire.WriteParams) (wire.WriteResult, error) {
	cp, data, err := o.prepareWrite(ctx, p)
	if err != nil {
		return wire.WriteResult{}, err
	}
	// Appends read the file's end and then write past it, so two at once
	// on one file must not interleave.
	mu := appendLock(o.t.Dir(), cp)
	mu.Lock()
	defer mu.Unlock()
	a, err := o.paths.Stat(ctx, cp)
	if files.IsNotFound(err) {
		if err := o.paths.WriteFile(ctx, cp, data, 0o644); err != nil {
			return wire.WriteResult{}, pathErr(err, cp)
		}
		return wire.WriteResult{Size: int64(len(data))}, nil
	}
	if err != nil {
		return wire.WriteResult{}, pathErr(err, cp)
	}
	if !a.IsRegular() {
		return wire.WriteResult{}, pathErr(syscall.EISDIR, cp)
	}
	size, err := o.appendIno(ctx, a, data)
	if err != nil {
		return wire.WriteResult{}, pathErr(err, cp)
	}
	return wire.WriteResult{Size: size}, nil
}

// appendLocks serialise appends of this process by tenant and path.
// TODO: an append through the API racing a write through the FUSE mount
// of the same file can still lose one of them; the core has no
// compare-and-set on a file's size.
var appendLocks [64]sync.Mutex

func appendLock(tenantDir, path string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(tenantDir))
	h.Write([]byte{0})
	h.Write([]byte(path))
	return &appendLocks[h.Sum32()%uint32(len(appendLocks))]
}

// appendIno appends data to the regular file a.
func (o *Ops) appendIno(ctx context.Context, a files.Attr, data []byte) (int64, error) {
	idx := a.Size / files.ChunkSize
	head := make([]byte, a.Size-idx*files.ChunkSize)
	if len(head) > 0 {
		if _, err := o.fs.ReadAt(ctx, a.Ino, head, idx*files.ChunkSize); err != nil {
			return 0, err
		}
	}
	buf := append(head, data...)
	var chunks []files.Chunk
	for off := 0; off < len(buf); off += files.ChunkSize {
		chunks = append(chunks, files.Chunk{Idx: idx + int64(off/files.ChunkSize),
			Data: buf[off:min(off+files.ChunkSize, len(buf))]})
	}
	size := a.Size + int64(len(data))
	if err := o.fs.WriteChunks(ctx, a.Ino, chunks, size, time.Now()); err != nil {
		return 0, err
	}
	return size, nil
}

// Mkdir makes a directory.
func (o *Ops) Mkdir(ctx context.Context, p wire.MkdirParams) (wire.OK, error) {
	cp, err := CleanPath(p.Path)
	if err != nil {
		return wire.OK{}, err
	}
	if p.Parents {
		return wire.OK{OK: true}, o.mkdirAll(ctx, cp)
	}
	if err := o.paths.Mkdir(ctx, cp, 0o755); err != nil {
		return wire.OK{}, pathErr(err, cp)
	}
	return wire.OK{OK: true}, nil
}

// maxRecursive bounds the entries one recursive call visits.
const maxRecursive = 100000

// Delete removes a file or directory.
func (o *Ops) Delete(ctx context.Context, p wire.DeleteParams) (wire.OK, error) {
	cp, err := CleanPath(p.Path)
	if err != nil {
		return wire.OK{}, err
	}
	if cp == "" {
		return wire.OK{}, invalid("the root cannot be deleted")
	}
	if p.Recursive {
		budget := maxRecursive
		if err := o.removeAll(ctx, cp, &budget); err != nil {
			return wire.OK{}, err
		}
		return wire.OK{OK: true}, nil
	}
	if err := o.paths.Remove(ctx, cp); err != nil {
		return wire.OK{}, pathErr(err, cp)
	}
	return wire.OK{OK: true}, nil
}

func (o *Ops) removeAll(ctx context.Context, cp string, budget *int) error {
	a, err := o.paths.Stat(ctx, cp)
	if err != nil {
		return pathErr(err, cp)
	}
	if a.IsDir() {
		ents, err := o.paths.List(ctx, cp)
		if err != nil {
			return pathErr(err, cp)
		}
		for _, e := range ents {
			if *budget--; *budget < 0 {
				return &wire.Error{Code: wire.CodeTooLarge, Message: "too many entries for one recursive delete"}
			}
			if err := o.removeAll(ctx, path.Join(cp, e.Name), budget); err != nil {
				return err
			}
		}
	}
	if err := o.paths.Remove(ctx, cp); err != nil {
		return pathErr(err, cp)
	}
	return nil
}

// Move renames a file or directory.
func (o *Ops) Move(ctx context.Context, p wire.MoveParams) (wire.OK, error) {
	from, err := CleanPath(p.From)
	if err != nil {
		return wire.OK{}, err
	}
	to, err := CleanPath(p.To)
	if err != nil {
		return wire.OK{}, err
	}
	if from == "" || to == "" {
		return wire.OK{}, invalid("the root cannot be moved or replaced")
	}
	if err := o.paths.Rename(ctx, from, to); err != nil {
		return wire.OK{}, pathErr(err, from)
	}
	return wire.OK{OK: true}, nil
}

// Copy copies a file, or a directory recursively, chunk by chunk.
func (o *Ops) Copy(ctx context.Context, p wire.MoveParams) (wire.OK, error) {
	from, err := CleanPath(p.From)
	if err != nil {
		return wire.OK{}, err
	}
	to, err := CleanPath(p.To)
	if err != nil {
		return wire.OK{}, err
	}
	if to == "" {
		return wire.OK{}, invalid("the root cannot be replaced")
	}
	if to == from || strings.HasPrefix(to+"/", from+"/") || from == "" {
		return wire.OK{}, invalid("cannot copy %q into itself", p.From)
	}
	budget := maxRecursive
	if err := o.copyTree(ctx, from, to, &budget); err != nil {
		return wire.OK{}, err
	}
	return wire.OK{OK: true}, nil
}

func (o *Ops) copyTree(ctx context.Context, from, to string, budget *int) error {
	if *budget--; *budget < 0 {
		return &wire.Error{Code: wire.CodeTooLarge, Message: "too many entries for one copy"}
	}
	a, err := o.paths.Stat(ctx, from)
	if err != nil {
		return pathErr(err, from)
	}
	if !a.IsDir() {
		return o.copyFile(ctx, a, to)
	}
	if err := o.paths.Mkdir(ctx, to, a.Mode&0o7777); err != nil && !errors.Is(err, syscall.EEXIST) {
		return pathErr(err, to)
	}
	ents, err := o.paths.List(ctx, from)
	if err != nil {
		return pathErr(err, from)
	}
	for _, e := range ents {
		if err := o.copyTree(ctx, path.Join(from, e.Name), path.Join(to, e.Name), budget); err != nil {
			return err
		}
	}
	return nil
}

func (o *Ops) copyFile(ctx context.Context, a files.Attr, to string) error {
	if !a.IsRegular() {
		return invalid("only regular files and directories can be copied")
	}
	w, err := o.create(ctx, to)
	if err != nil {
		return err
	}
	for idx := int64(0); idx*files.ChunkSize < a.Size; idx++ {
		data, err := o.fs.ReadChunk(ctx, a.Ino, idx)
		if err != nil {
			return pathErr(err, to)
		}
		size := min(a.Size, (idx+1)*files.ChunkSize)
		if err := o.fs.WriteChunks(ctx, w.Ino, []files.Chunk{{Idx: idx, Data: data}}, size, time.Now()); err != nil {
			return pathErr(err, to)
		}
	}
	return nil
}

// create makes path an empty regular file (truncating what was there)
// and returns it.
func (o *Ops) create(ctx context.Context, cp string) (files.Attr, error) {
	if err := o.paths.WriteFile(ctx, cp, nil, 0o644); err != nil {
		return files.Attr{}, pathErr(err, cp)
	}
	a, err := o.paths.Stat(ctx, cp)
	if err != nil {
		return files.Attr{}, pathErr(err, cp)
	}
	return a, nil
}

// List lists a directory.
func (o *Ops) List(ctx context.Context, p wire.PathParams) (wire.ListResult, error) {
	cp, err := CleanPath(p.Path)
	if err != nil {
		return wire.ListResult{}, err
	}
	ents, err := o.paths.List(ctx, cp)
	if err != nil {
		return wire.ListResult{}, pathErr(err, cp)
	}
	out := wire.ListResult{Entries: make([]wire.Stat, 0, len(ents))}
	for _, e := range ents {
		out.Entries = append(out.Entries, statOf(path.Join(cp, e.Name), e.Name, e.Attr))
	}
	return out, nil
}

// search limits.
const (
	maxSearchResults = 1000
	maxSearchFile    = 8 << 20 // larger files are not searched for content
)

// Search finds files by name pattern and content.
func (o *Ops) Search(ctx context.Context, p wire.SearchParams) (wire.SearchResult, error) {
	cp, err := CleanPath(p.Path)
	if err != nil {
		return wire.SearchResult{}, err
	}
	if p.Name == "" && p.Content == "" {
		return wire.SearchResult{}, invalid("give name, content or both")
	}
	if _, err := path.Match(p.Name, ""); err != nil {
		return wire.SearchResult{}, invalid("bad name pattern: %v", err)
	}
	max := p.MaxResults
	if max <= 0 {
		max = 100
	}
	max = min(max, maxSearchResults)
	res := wire.SearchResult{Matches: []wire.SearchMatch{}}
	budget := maxRecursive
	err = o.walk(ctx, cp, &budget, func(fp string, a files.Attr) (bool, error) {
		if !a.IsRegular() || (p.Name != "" && !matchName(p.Name, path.Base(fp))) {
			return true, nil
		}
		m := wire.SearchMatch{Path: "/" + fp, Size: a.Size}
		if p.Content != "" {
			if a.Size > maxSearchFile || a.Size < int64(len(p.Content)) {
				return true, nil
			}
			buf := make([]byte, a.Size)
			n, err := o.fs.ReadAt(ctx, a.Ino, buf, 0)
			if err != nil {
				return false, pathErr(err, fp)
			}
			i := bytes.Index(buf[:n], []byte(p.Content))
			if i < 0 {
				return true, nil
			}
			m.Line = bytes.Count(buf[:i], []byte("\n")) + 1
			start := bytes.LastIndexByte(buf[:i], '\n') + 1
			end := bytes.IndexByte(buf[i:n], '\n')
			if end < 0 {
				end = n
			} else {
				end += i
			}
			m.Text = string(buf[start:min(end, start+200)])
		}
		if len(res.Matches) == max {
			res.Truncated = true
			return false, nil
		}
		res.Matches = append(res.Matches, m)
		return true, nil
	})
	if err != nil {
		return wire.SearchResult{}, err
	}
	if budget < 0 {
		res.Truncated = true
	}
	return res, nil
}

func matchName(pattern, name string) bool {
	ok, _ := path.Match(pattern, name)
	return ok
}

// walk calls fn for every entry under dir, depth first, in listing order;
// fn returns false to stop. It visits at most *budget entries.
func (o *Ops) walk(ctx context.Context, dir string, budget *int, fn func(p string, a files.Attr) (bool, error)) error {
	_, err := o.walkDir(ctx, dir, budget, fn)
	return err
}

func (o *Ops) walkDir(ctx context.Context, dir string, budget *int, fn func(string, files.Attr) (bool, error)) (bool, error) {
	ents, err := o.paths.List(ctx, dir)
	if err != nil {
		return false, pathErr(err, dir)
	}
	for _, e := range ents {
		if *budget--; *budget < 0 {
			return false, nil
		}
		fp := path.Join(dir, e.Name)
		more, err := fn(fp, e.Attr)
		if err != nil || !more {
			return false, err
		}
		if e.Attr.IsDir() {
			more, err := o.walkDir(ctx, fp, budget, fn)
			if err != nil || !more {
				return false, err
			}
		}
	}
	return true, nil
}

// Tree returns the directory tree under path to a bounded depth.
func (o *Ops) Tree(ctx context.Context, p wire.TreeParams) (wire.TreeResult, error) {
	cp, err := CleanPath(p.Path)
	if err != nil {
		return wire.TreeResult{}, err
	}
	depth := p.Depth
	if depth <= 0 {
		depth = 3
	}
	depth = min(depth, 16)
	a, err := o.paths.Stat(ctx, cp)
	if err != nil {
		return wire.TreeResult{}, pathErr(err, cp)
	}
	root := &wire.TreeNode{Name: "/" + cp, Type: typeName(a), Size: a.Size}
	if cp != "" {
		root.Name = path.Base(cp)
	}
	budget := 10000
	res := wire.TreeResult{Root: root}
	if a.IsDir() {
		if err := o.treeDir(ctx, cp, root, depth, &budget); err != nil {
			return wire.TreeResult{}, err
		}
	}
	res.Truncated = budget < 0
	return res, nil
}

func (o *Ops) treeDir(ctx context.Context, dir string, n *wire.TreeNode, depth int, budget *int) error {
	if depth == 0 {
		return nil
	}
	ents, err := o.paths.List(ctx, dir)
	if err != nil {
		return pathErr(err, dir)
	}
	for _, e := range ents {
		if *budget--; *budget < 0 {
			return nil
		}
		c := &wire.TreeNode{Name: e.Name, Type: typeName(e.Attr)}
		if !e.Attr.IsDir() {
			c.Size = e.Attr.Size
		}
		n.Children = append(n.Children, c)
		if e.Attr.IsDir() {
			if err := o.treeDir(ctx, path.Join(dir, e.Name), c, depth-1, budget); err != nil {
				return err
			}
		}
	}
	return nil
}
