package gitstore

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"

	"rewire/storage"
)

// Pack is one stored pack of a repository, open for reading. Its methods
// are safe for concurrent use.
type Pack struct {
	ID      int64
	Blob    storage.Hash // the pack's bytes
	IdxBlob storage.Hash // its version-2 index
	Objects int64
	Size    int64
	Path    string // local copy of the pack
	Index   *idxfile.MemoryIndex

	cache cache.Object // delta bases, shared by the readers

	offsetsOnce sync.Once
	offsets     []int64 // entry offsets in file order, then the trailer's
	offsetsErr  error

	mu   sync.Mutex // guards free
	free []*packfile.Packfile
	refs int    // guarded by packCache.mu
	key  string // in packCache.packs
	dead bool   // guarded by packCache.mu: remove the local copy when unused
}

// reader takes a pack reader for the caller's exclusive use; put gives it
// back. Readers are not safe for concurrent use, so concurrent requests
// each get their own file handle.
func (p *Pack) reader() (*packfile.Packfile, error) {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		pf := p.free[n-1]
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return pf, nil
	}
	p.mu.Unlock()
	f, err := osfs.New(filepath.Dir(p.Path)).Open(filepath.Base(p.Path))
	if err != nil {
		return nil, fmt.Errorf("open pack: %w", err)
	}
	return packfile.NewPackfileWithCache(p.Index, nil, f, p.cache, 0), nil
}

const maxFreeReaders = 4

func (p *Pack) put(pf *packfile.Packfile) {
	p.mu.Lock()
	if len(p.free) < maxFreeReaders {
		p.free = append(p.free, pf)
		pf = nil
	}
	p.mu.Unlock()
	if pf != nil {
		pf.Close()
	}
}

func (p *Pack) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pf := range p.free {
		pf.Close()
	}
	p.free = nil
}

// get reads one object, resolving deltas.
func (p *Pack) get(h plumbing.Hash) (plumbing.EncodedObject, error) {
	pf, err := p.reader()
	if err != nil {
		return nil, err
	}
	defer p.put(pf)
	return pf.Get(h)
}

func (p *Pack) size(h plumbing.Hash) (int64, error) {
	off, err := p.Index.FindOffset(h)
	if err != nil {
		return 0, err
	}
	pf, err := p.reader()
	if err != nil {
		return 0, err
	}
	defer p.put(pf)
	return pf.GetSizeByOffset(off)
}

func (p *Pack) has(h plumbing.Hash) bool {
	ok, _ := p.Index.Contains(h)
	return ok
}

// packCache keeps packs open across requests. Packs are keyed by tenant id
// and pack blob hash, so one tenant can never reach another's handle.
type packCache struct {
	mu    sync.Mutex // guards packs
	packs map[string]*Pack
}

var openPacks = &packCache{packs: make(map[string]*Pack)}

const maxIdlePacks = 256

func packDir(t *storage.Tenant) string { return filepath.Join(t.Dir(), "git", "packs") }

// acquire returns an open handle on a stored pack, fetching its local copy
// from the blob store if needed.
func (c *packCache) acquire(ctx context.Context, t *storage.Tenant, row packRow) (*Pack, error) {
	key := t.ID() + "/" + row.blob.String()
	c.mu.Lock()
	if p, ok := c.packs[key]; ok {
		p.refs++
		c.mu.Unlock()
		return p, nil
	}
	c.mu.Unlock()

	p, err := openPack(ctx, t, row)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if q, ok := c.packs[key]; ok {
		p.close()
		q.refs++
		return q, nil
	}
	p.refs = 1
	p.key = key
	c.packs[key] = p
	if len(c.packs) > maxIdlePacks {
		for _, q := range c.packs {
			if q.refs == 0 {
				c.dropLocked(q)
				if len(c.packs) <= maxIdlePacks {
					break
				}
			}
		}
	}
	return p, nil
}

func (c *packCache) release(p *Pack) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p.refs--
	if p.refs == 0 && p.dead {
		c.dropLocked(p)
	}
}

// dropLocked closes an unused pack and forgets it, removing its local copy
// if the pack was retired. The caller holds c.mu.
func (c *packCache) dropLocked(p *Pack) {
	p.close()
	if c.packs[p.key] == p {
		delete(c.packs, p.key)
	}
	if p.dead {
		os.Remove(p.Path)
	}
}

// retire marks a tenant's pack whose blob is gone: its local copy is
// removed now if no snapshot reads it, otherwise when the last one closes.
func (c *packCache) retire(t *storage.Tenant, blob storage.Hash) {
	key := t.ID() + "/" + blob.String()
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.packs[key]
	if !ok {
		os.Remove(filepath.Join(packDir(t), blob.String()+".pack"))
		return
	}
	p.dead = true
	if p.refs == 0 {
		c.dropLocked(p)
	}
}

// forget drops the handles of a tenant's pack (after a failed push).
func (c *packCache) forget(t *storage.Tenant, blob storage.Hash) {
	key := t.ID() + "/" + blob.String()
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.packs[key]; ok && p.refs == 0 {
		c.dropLocked(p)
	}
}

func openPack(ctx context.Context, t *storage.Tenant, row packRow) (*Pack, error) {
	dir := packDir(t)
	name := row.blob.String() + ".pack"
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err != nil {
		if err := restorePack(ctx, t, row.blob, path); err != nil {
			return nil, err
		}
	}
	raw, err := t.Blobs().Get(ctx, row.idx)
	if err != nil {
		return nil, fmt.Errorf("read pack index %s: %w", row.idx, err)
	}
	idx := idxfile.NewMemoryIndex()
	if err := idxfile.NewDecoder(bytes.NewReader(raw)).Decode(idx); err != nil {
		return nil, fmt.Errorf("%w: pack index %s: %w", storage.ErrCorrupt, row.idx, err)
	}
	p := &Pack{
		ID: row.id, Blob: row.blob, IdxBlob: row.idx, Objects: row.objects, Size: row.size,
		Path: path, Index: idx, cache: cache.NewObjectLRU(32 * cache.MiByte),
	}
	pf, err := p.reader() // fail early on an unreadable copy
	if err != nil {
		return nil, err
	}
	p.put(pf)
	return p, nil
}

// restorePack writes the local copy of a pack from its (hash-checked) blob.
func restorePack(ctx context.Context, t *storage.Tenant, blob storage.Hash, path string) error {
	data, err := t.Blobs().Get(ctx, blob)
	if err != nil {
		return fmt.Errorf("read pack %s: %w", blob, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "restore-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// entryOffsets returns the offsets of the pack's entries in file order,
// then the trailer's offset, computed once per open pack. The slice is
// shared: callers must not change it.
func (p *Pack) entryOffsets() ([]int64, error) {
	p.offsetsOnce.Do(func() {
		st, err := os.Stat(p.Path)
		if err != nil {
			p.offsetsErr = err
			return
		}
		it, err := p.Index.EntriesByOffset()
		if err != nil {
			p.offsetsErr = err
			return
		}
		defer it.Close()
		var offs []int64
		for {
			e, err := it.Next()
			if err != nil {
				break
			}
			offs = append(offs, int64(e.Offset))
		}
		sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
		p.offsets = append(offs, st.Size()-20)
	})
	return p.offsets, p.offsetsErr
}
