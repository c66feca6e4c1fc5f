package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"

	"rewire/storage"
	"rewire/storage/files"
	"rewire/storage/gitstore"
)

// MaxCommitFile bounds one file snapshotted into a commit.
const MaxCommitFile = 64 << 20

// Snapshot is a commit to make from a directory of the tenant's files.
type Snapshot struct {
	Repo    string
	Branch  string // full reference name, e.g. refs/heads/main
	Dir     string // the worktree: a directory of the tenant's tree
	Author  string
	Email   string
	Message string
	// Parents are extra parents after the branch's current commit (for
	// merges).
	Parents []plumbing.Hash
	// Tree, if not zero, is used instead of snapshotting Dir; its new
	// objects must be in Objects.
	Tree    plumbing.Hash
	Objects *memory.Storage
}

// SnapshotTree writes the git objects of the directory dir (recursively:
// blobs and trees; ".git" and empty directories are skipped) into mem and
// returns the root tree's hash. Objects base already holds are named but
// not written again.
func (o *Ops) SnapshotTree(ctx context.Context, dir string, mem *memory.Storage) (plumbing.Hash, error) {
	ents, err := o.paths.List(ctx, dir)
	if err != nil {
		return plumbing.ZeroHash, pathErr(err, dir)
	}
	var tree object.Tree
	for _, e := range ents {
		if e.Name == ".git" || strings.HasPrefix(e.Name, ".rewire-upload-") {
			continue
		}
		fp := path.Join(dir, e.Name)
		var h plumbing.Hash
		var mode filemode.FileMode
		switch {
		case e.Attr.IsDir():
			h, err = o.SnapshotTree(ctx, fp, mem)
			if err != nil {
				return plumbing.ZeroHash, err
			}
			if h == emptyTree {
				continue
			}
			mode = filemode.Dir
		case e.Attr.IsSymlink():
			target, err := o.fs.Readlink(ctx, e.Attr.Ino)
			if err != nil {
				return plumbing.ZeroHash, pathErr(err, fp)
			}
			h, mode = putBlob(mem, []byte(target)), filemode.Symlink
		case e.Attr.IsRegular():
			if e.Attr.Size > MaxCommitFile {
				return plumbing.ZeroHash, invalid("%s is larger than %d bytes", fp, MaxCommitFile)
			}
			buf := make([]byte, e.Attr.Size)
			n, err := o.fs.ReadAt(ctx, e.Attr.Ino, buf, 0)
			if err != nil {
				return plumbing.ZeroHash, pathErr(err, fp)
			}
			h, mode = putBlob(mem, buf[:n]), filemode.Regular
			if e.Attr.Mode&0o111 != 0 {
				mode = filemode.Executable
			}
		default:
			continue
		}
		tree.Entries = append(tree.Entries, object.TreeEntry{Name: e.Name, Mode: mode, Hash: h})
	}
	return putTree(mem, &tree)
}

var emptyTree = plumbing.NewHash("4b825dc642cb6eb9a060e54bf8d69288fbee4904")

// PutBlob stores a blob in mem and returns its hash.
func PutBlob(mem *memory.Storage, data []byte) plumbing.Hash { return putBlob(mem, data) }

// PutTree stores a tree in mem, sorting its entries into git's order.
func PutTree(mem *memory.Storage, t *object.Tree) (plumbing.Hash, error) { return putTree(mem, t) }

func putBlob(mem *memory.Storage, data []byte) plumbing.Hash {
	obj := mem.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	obj.SetSize(int64(len(data)))
	w, _ := obj.Writer()
	w.Write(data)
	w.Close()
	h, _ := mem.SetEncodedObject(obj)
	return h
}

// putTree stores a tree with its entries in git's order (directories
// sort as if their name ended in "/").
func putTree(mem *memory.Storage, t *object.Tree) (plumbing.Hash, error) {
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(t.Entries, func(i, j int) bool { return key(t.Entries[i]) < key(t.Entries[j]) })
	obj := mem.NewEncodedObject()
	if err := t.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return mem.SetEncodedObject(obj)
}

// ErrStale is returned when a branch moved while a commit was being made.
var ErrStale = errors.New("branch moved concurrently")

// Commit makes a commit of s on its branch and returns its hash. The
// branch is updated by compare-and-swap, so a concurrent push fails one
// of the two writers cleanly.
func (o *Ops) Commit(ctx context.Context, s Snapshot) (plumbing.Hash, error) {
	base, err := gitstore.Open(ctx, o.t, s.Repo)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	defer base.Close()
	if s.Branch == "" {
		s.Branch = base.Head
	}
	mem := s.Objects
	if mem == nil {
		mem = memory.NewStorage()
	}
	tree := s.Tree
	if tree.IsZero() {
		if tree, err = o.SnapshotTree(ctx, s.Dir, mem); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	old, _ := base.Ref(s.Branch)
	sig := object.Signature{Name: s.Author, Email: s.Email, When: time.Now()}
	if sig.Name == "" {
		sig.Name = o.t.Name()
	}
	if sig.Email == "" {
		sig.Email = o.t.Name() + "@rewire"
	}
	c := &object.Commit{Author: sig, Committer: sig, Message: s.Message, TreeHash: tree}
	if !old.IsZero() {
		c.ParentHashes = append(c.ParentHashes, old)
	}
	c.ParentHashes = append(c.ParentHashes, s.Parents...)
	obj := mem.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	ch, err := mem.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if err := o.StoreObjects(ctx, base, mem, s.Branch, old, ch); err != nil {
		return plumbing.ZeroHash, err
	}
	return ch, nil
}

// StoreObjects packs the objects of mem that base lacks, stores the pack
// and moves ref from old to new in one transaction.
func (o *Ops) StoreObjects(ctx context.Context, base *gitstore.Repo, mem *memory.Storage, ref string, old, new plumbing.Hash) error {
	return o.StoreRefs(ctx, base, mem, []gitstore.Command{{Name: ref, Old: old, New: new}})
}

// StoreRefs packs the objects of mem that base lacks and applies the
// reference commands atomically, each a compare-and-swap.
func (o *Ops) StoreRefs(ctx context.Context, base *gitstore.Repo, mem *memory.Storage, cmds []gitstore.Command) error {
	var hashes []plumbing.Hash
	for h := range mem.ObjectStorage.Objects {
		if !base.Has(h) {
			hashes = append(hashes, h)
		}
	}
	var in *gitstore.Incoming
	if len(hashes) > 0 {
		var buf bytes.Buffer
		// The new objects are deltified against each other (a window of
		// deltaWindow, as git's pack-objects uses), so a stored pack is
		// compact and clones reuse its deltas rather than computing any.
		if _, err := packfile.NewEncoder(&buf, mem, false).Encode(hashes, deltaWindow); err != nil {
			return fmt.Errorf("encode pack: %w", err)
		}
		var err error
		if in, err = gitstore.ReadPack(ctx, o.t, base, &buf); err != nil {
			return fmt.Errorf("store pack: %w", err)
		}
	}
	view, err := gitstore.View(ctx, o.t, base, in)
	if err != nil {
		in.Discard(ctx)
		return err
	}
	defer view.Close()
	res, err := gitstore.Apply(ctx, o.t, base.Name, in, cmds, view.ObjectType, true)
	if err != nil {
		return err
	}
	for _, r := range res {
		if r != nil {
			return fmt.Errorf("%w: %v", ErrStale, r)
		}
	}
	if in != nil {
		// Every write adds a pack; merge them once there are many, as a
		// push through git smart HTTP does. The write itself stands
		// whatever happens here.
		gitstore.Repack(ctx, o.t, base.Name, RepackPacks)
	}
	return nil
}

// deltaWindow is how many similar objects each new object is compared
// with when a write's pack is made.
const deltaWindow = 10

// RepackPacks is the pack count at which a write merges a repository's
// packs into one.
const RepackPacks = 32

// SetRef moves (or with new zero, deletes) a reference by compare-and-swap.
func (o *Ops) SetRef(ctx context.Context, repo, ref string, old, new plumbing.Hash) error {
	base, err := gitstore.Open(ctx, o.t, repo)
	if err != nil {
		return err
	}
	defer base.Close()
	res, err := gitstore.Apply(ctx, o.t, repo, nil, []gitstore.Command{{Name: ref, Old: old, New: new}},
		base.ObjectType, true)
	if err != nil {
		return err
	}
	if res[0] != nil {
		return fmt.Errorf("%w: %v", ErrStale, res[0])
	}
	return nil
}

// Checkout writes the tree of commit c into the directory dir of the
// tenant's files, replacing tracked files, and removes files that prev
// (the tree checked out before, may be nil) had and c lacks. Untracked
// files are left alone.
func (o *Ops) Checkout(ctx context.Context, dir string, prev, next *object.Tree) error {
	if prev != nil {
		err := prev.Files().ForEach(func(f *object.File) error {
			if next != nil {
				if _, err := next.File(f.Name); err == nil {
					return nil
				}
			}
			err := o.paths.Remove(ctx, path.Join(dir, f.Name))
			if err != nil && !files.IsNotFound(err) {
				return pathErr(err, path.Join(dir, f.Name))
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if next == nil {
		return nil
	}
	return next.Files().ForEach(func(f *object.File) error {
		fp := path.Join(dir, f.Name)
		if err := o.mkdirAll(ctx, parentOf(fp)); err != nil {
			return err
		}
		rd, err := f.Reader()
		if err != nil {
			return err
		}
		defer rd.Close()
		data, err := io.ReadAll(io.LimitReader(rd, MaxCommitFile+1))
		if err != nil {
			return err
		}
		if f.Mode == filemode.Symlink {
			return invalid("symbolic links cannot be checked out through the API (%s)", f.Name)
		}
		perm := uint32(0o644)
		if f.Mode == filemode.Executable {
			perm = 0o755
		}
		if err := o.paths.WriteFile(ctx, fp, data, perm); err != nil {
			return pathErr(err, fp)
		}
		return nil
	})
}

var _ = storage.ErrNotFound

// EnsureDir makes the directory cp and its parents if missing.
func (o *Ops) EnsureDir(ctx context.Context, cp string) error {
	cp, err := CleanPath(cp)
	if err != nil {
		return err
	}
	return o.mkdirAll(ctx, cp)
}
