package mcpserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/memory"

	"rewire/api"
	"rewire/api/billyfs"
	"rewire/storage"
	"rewire/storage/files"
	"rewire/storage/gitstore"
)

// coreStorer is the go-git storer of one tool call: objects are read from
// the gitstore snapshot and written to memory; references start as the
// repository's and are written back by compare-and-swap in sync; the
// index is kept in the tenant's kv store between calls.
type coreStorer struct {
	*memory.Storage
	base *gitstore.Repo
}

func (s *coreStorer) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	if o, err := s.Storage.EncodedObject(t, h); err == nil {
		return o, nil
	}
	return s.base.EncodedObject(t, h)
}

func (s *coreStorer) HasEncodedObject(h plumbing.Hash) error {
	if s.Storage.HasEncodedObject(h) == nil {
		return nil
	}
	return s.base.HasEncodedObject(h)
}

func (s *coreStorer) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	if n, err := s.Storage.EncodedObjectSize(h); err == nil {
		return n, nil
	}
	return s.base.EncodedObjectSize(h)
}

var _ storer.EncodedObjectStorer = (*coreStorer)(nil)

// goGit is a go-git repository over a tenant repository (objects and
// references in gitstore) with its worktree in the tenant's files
// (through billyfs).
type goGit struct {
	w    *worktree
	s    *coreStorer
	repo *git.Repository
	refs map[string]plumbing.Hash // references as read, for compare-and-swap
}

const (
	indexKeySuffix = "\x00index"
	// pendingPrefix keys objects written (by git_add) but not yet named
	// by any reference; the next commit packs them.
	pendingPrefix = "\x00obj\x00"
)

// openGoGit opens the go-git view of w.
func openGoGit(ctx context.Context, o *api.Ops, w *worktree) (*goGit, error) {
	s := &coreStorer{Storage: memory.NewStorage(), base: w.repo}
	g := &goGit{w: w, s: s, refs: map[string]plumbing.Hash{}}
	for _, r := range w.repo.Refs {
		g.refs[r.Name] = r.Hash
		if err := s.SetReference(plumbing.NewHashReference(plumbing.ReferenceName(r.Name), r.Hash)); err != nil {
			return nil, err
		}
	}
	if err := s.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, plumbing.ReferenceName(w.st.Branch))); err != nil {
		return nil, err
	}
	raw, err := o.Tenant().KVGet(ctx, gitNS, w.repo.Name+indexKeySuffix)
	switch {
	case err == nil:
		var idx index.Index
		if err := index.NewDecoder(bytes.NewReader(raw)).Decode(&idx); err != nil {
			return nil, fmt.Errorf("decode index: %w", err)
		}
		if err := s.SetIndex(&idx); err != nil {
			return nil, err
		}
	case !errors.Is(err, storage.ErrNotFound):
		return nil, err
	}
	err = o.Tenant().KVList(ctx, gitNS, w.repo.Name+pendingPrefix, func(_ string, v []byte) error {
		if len(v) < 1 {
			return nil
		}
		obj := s.Storage.NewEncodedObject()
		obj.SetType(plumbing.ObjectType(v[0]))
		obj.SetSize(int64(len(v) - 1))
		wr, err := obj.Writer()
		if err != nil {
			return err
		}
		wr.Write(v[1:])
		wr.Close()
		_, err = s.Storage.SetEncodedObject(obj)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load pending objects: %w", err)
	}
	if err := o.EnsureDir(ctx, w.st.Worktree); err != nil {
		return nil, err
	}
	fs := billyfs.New(ctx, files.New(o.Tenant()), w.st.Worktree)
	g.repo, err = git.Open(s, fs)
	if err != nil {
		return nil, fmt.Errorf("open worktree: %w", err)
	}
	return g, nil
}

// sync stores new objects, moves changed references by compare-and-swap,
// and saves HEAD's branch and the index.
func (g *goGit) sync(ctx context.Context, o *api.Ops) error {
	var cmds []gitstore.Command
	iter, err := g.s.Storage.IterReferences()
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	err = iter.ForEach(func(r *plumbing.Reference) error {
		name := r.Name().String()
		if r.Type() == plumbing.SymbolicReference {
			if r.Name() == plumbing.HEAD {
				g.w.st.Branch = r.Target().String()
			}
			return nil
		}
		seen[name] = true
		if old := g.refs[name]; old != r.Hash() {
			cmds = append(cmds, gitstore.Command{Name: name, Old: old, New: r.Hash()})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for name, old := range g.refs {
		if !seen[name] {
			cmds = append(cmds, gitstore.Command{Name: name, Old: old})
		}
	}
	pending := map[string][]byte{}
	if len(cmds) > 0 {
		if err := o.StoreRefs(ctx, g.w.repo, g.s.Storage, cmds); err != nil {
			return err
		}
		for _, c := range cmds {
			g.refs[c.Name] = c.New
		}
	} else {
		for h, obj := range g.s.Storage.ObjectStorage.Objects {
			if g.w.repo.Has(h) {
				continue
			}
			rd, err := obj.Reader()
			if err != nil {
				return err
			}
			data, err := io.ReadAll(rd)
			rd.Close()
			if err != nil {
				return err
			}
			pending[h.String()] = append([]byte{byte(obj.Type())}, data...)
		}
	}
	var buf bytes.Buffer
	idx, err := g.s.Index()
	if err != nil {
		return err
	}
	if err := index.NewEncoder(&buf).Encode(idx); err != nil {
		return fmt.Errorf("encode index: %w", err)
	}
	if err := g.w.save(ctx); err != nil {
		return err
	}
	name := g.w.repo.Name
	var stored []string // pending objects now in a pack
	if len(cmds) > 0 {
		err := o.Tenant().KVList(ctx, gitNS, name+pendingPrefix, func(key string, _ []byte) error {
			stored = append(stored, key)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return o.Tenant().Update(ctx, func(tx *storage.Tx) error {
		for _, k := range stored {
			if err := storage.KVDelete(tx, gitNS, k); err != nil {
				return err
			}
		}
		for h, v := range pending {
			if err := storage.KVPut(tx, gitNS, name+pendingPrefix+h, v); err != nil {
				return err
			}
		}
		return storage.KVPut(tx, gitNS, name+indexKeySuffix, buf.Bytes())
	})
}
