package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"rewire/api"
	"rewire/api/wire"
	"rewire/storage"
	"rewire/storage/files"
	"rewire/storage/gitstore"
)

// gitNS is the core kv namespace holding each repository's worktree
// state, keyed by repository name.
const gitNS = "mcpserver.git"

// wtState is a repository's worktree: where it is, which branch it has
// checked out and which paths are staged for the next commit.
type wtState struct {
	Worktree string   `json:"worktree"`
	Branch   string   `json:"branch"`
	Staged   []string `json:"staged,omitempty"` // "" stages everything
}

// worktree is an open repository with its worktree state.
type worktree struct {
	o    *api.Ops
	repo *gitstore.Repo
	st   wtState
}

func openWorktree(ctx context.Context, o *api.Ops, name string) (*worktree, error) {
	if !gitstore.ValidName(name) {
		return nil, wire.Errorf(wire.CodeInvalidParams, "invalid repository name %q", name)
	}
	r, err := gitstore.Open(ctx, o.Tenant(), name)
	if err != nil {
		return nil, err
	}
	w := &worktree{o: o, repo: r, st: wtState{Worktree: "worktrees/" + name, Branch: r.Head}}
	raw, err := o.Tenant().KVGet(ctx, gitNS, name)
	if err == nil {
		err = json.Unmarshal(raw, &w.st)
	} else if errors.Is(err, storage.ErrNotFound) {
		err = nil
	}
	if err != nil {
		r.Close()
		return nil, err
	}
	return w, nil
}

func (w *worktree) close() { w.repo.Close() }

func (w *worktree) save(ctx context.Context) error {
	raw, _ := json.Marshal(w.st)
	return w.o.Tenant().Update(ctx, func(tx *storage.Tx) error {
		return storage.KVPut(tx, gitNS, w.repo.Name, raw)
	})
}

// reopen refreshes the repository snapshot after a change of references.
func (w *worktree) reopen(ctx context.Context) error {
	r, err := gitstore.Open(ctx, w.o.Tenant(), w.repo.Name)
	if err != nil {
		return err
	}
	w.repo.Close()
	w.repo = r
	return nil
}

// head returns the commit of the checked-out branch, or nil before the
// first commit.
func (w *worktree) head() (*object.Commit, error) {
	h, ok := w.repo.Ref(w.st.Branch)
	if !ok {
		return nil, nil
	}
	return object.GetCommit(w.repo, h)
}

func (w *worktree) headTree() (*object.Tree, error) {
	c, err := w.head()
	if c == nil || err != nil {
		return nil, err
	}
	return c.Tree()
}

type flatEntry struct {
	mode filemode.FileMode
	hash plumbing.Hash
}

// flatten lists a tree's files by path.
func flatten(t *object.Tree) (map[string]flatEntry, error) {
	out := map[string]flatEntry{}
	if t == nil {
		return out, nil
	}
	walker := object.NewTreeWalker(t, true, nil)
	defer walker.Close()
	for {
		name, e, err := walker.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if e.Mode != filemode.Dir {
			out[name] = flatEntry{e.Mode, e.Hash}
		}
	}
}

// snapshot writes the worktree's objects into mem and lists its files.
func (w *worktree) snapshot(ctx context.Context, mem *memory.Storage) (plumbing.Hash, map[string]flatEntry, error) {
	if err := w.o.EnsureDir(ctx, w.st.Worktree); err != nil {
		return plumbing.ZeroHash, nil, err
	}
	h, err := w.o.SnapshotTree(ctx, w.st.Worktree, mem)
	if err != nil {
		return plumbing.ZeroHash, nil, err
	}
	t, err := object.GetTree(mem, h)
	if err != nil {
		return plumbing.ZeroHash, nil, err
	}
	flat, err := flatten(t)
	return h, flat, err
}

func (w *worktree) staged(p string) bool {
	for _, s := range w.st.Staged {
		if s == "" || s == p || strings.HasPrefix(p, s+"/") {
			return true
		}
	}
	return false
}

// buildTree stores the trees of a flat file list in mem and returns the
// root's hash.
func buildTree(mem *memory.Storage, flat map[string]flatEntry) (plumbing.Hash, error) {
	type dir struct {
		files map[string]flatEntry
		dirs  map[string]*dir
	}
	newDir := func() *dir { return &dir{files: map[string]flatEntry{}, dirs: map[string]*dir{}} }
	root := newDir()
	for p, e := range flat {
		d := root
		parts := strings.Split(p, "/")
		for _, s := range parts[:len(parts)-1] {
			if d.dirs[s] == nil {
				d.dirs[s] = newDir()
			}
			d = d.dirs[s]
		}
		d.files[parts[len(parts)-1]] = e
	}
	var put func(d *dir) (plumbing.Hash, error)
	put = func(d *dir) (plumbing.Hash, error) {
		var t object.Tree
		for n, e := range d.files {
			t.Entries = append(t.Entries, object.TreeEntry{Name: n, Mode: e.mode, Hash: e.hash})
		}
		for n, sub := range d.dirs {
			h, err := put(sub)
			if err != nil {
				return plumbing.ZeroHash, err
			}
			t.Entries = append(t.Entries, object.TreeEntry{Name: n, Mode: filemode.Dir, Hash: h})
		}
		return api.PutTree(mem, &t)
	}
	return put(root)
}

// Change is one path that differs between two states.
type Change struct {
	Path   string `json:"path"`
	Status string `json:"status" jsonschema:"added, modified or deleted"`
	Staged bool   `json:"staged"`
}

func compare(from, to map[string]flatEntry) []Change {
	var out []Change
	for p, e := range to {
		if f, ok := from[p]; !ok {
			out = append(out, Change{Path: p, Status: "added"})
		} else if f != e {
			out = append(out, Change{Path: p, Status: "modified"})
		}
	}
	for p := range from {
		if _, ok := to[p]; !ok {
			out = append(out, Change{Path: p, Status: "deleted"})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// status compares the worktree with the branch's commit.
func (w *worktree) status(ctx context.Context) ([]Change, error) {
	ht, err := w.headTree()
	if err != nil {
		return nil, err
	}
	hf, err := flatten(ht)
	if err != nil {
		return nil, err
	}
	_, wf, err := w.snapshot(ctx, memory.NewStorage())
	if err != nil {
		return nil, err
	}
	ch := compare(hf, wf)
	for i := range ch {
		ch[i].Staged = w.staged(ch[i].Path)
	}
	return ch, nil
}

// requireClean refuses to go on while tracked files have changes.
func (w *worktree) requireClean(ctx context.Context) error {
	ch, err := w.status(ctx)
	if err != nil {
		return err
	}
	var dirty []string
	for _, c := range ch {
		if c.Status != "added" || c.Staged {
			dirty = append(dirty, c.Path)
		}
	}
	if len(dirty) > 0 {
		return wire.Errorf(wire.CodeInvalidOp, "the worktree has uncommitted changes (%s); commit, stash or reset them first",
			strings.Join(dirty, ", "))
	}
	return nil
}

// RepoArg names a repository.
type RepoArg struct {
	Repo string `json:"repo" jsonschema:"repository name"`
}

// InitArgs are the arguments of git_init.
type InitArgs struct {
	Repo     string `json:"repo" jsonschema:"repository name"`
	Worktree string `json:"worktree,omitempty" jsonschema:"directory of the tenant's files to use as worktree (default /worktrees/<repo>)"`
}

// GitResult is the result of the git tools that change state.
type GitResult struct {
	Repo     string   `json:"repo"`
	Worktree string   `json:"worktree"`
	Branch   string   `json:"branch"`
	Head     string   `json:"head,omitempty" jsonschema:"commit of the branch"`
	Message  string   `json:"message,omitempty"`
	Changes  []Change `json:"changes,omitempty"`
	Names    []string `json:"names,omitempty"`
}

func (w *worktree) result(msg string) GitResult {
	r := GitResult{Repo: w.repo.Name, Worktree: "/" + w.st.Worktree, Branch: w.st.Branch, Message: msg}
	if h, ok := w.repo.Ref(w.st.Branch); ok {
		r.Head = h.String()
	}
	return r
}

func gitInit(o *api.Ops, ctx context.Context, a InitArgs) (GitResult, error) {
	wt := a.Worktree
	if wt == "" {
		wt = "worktrees/" + a.Repo
	}
	wt, err := api.CleanPath(wt)
	if err != nil {
		return GitResult{}, err
	}
	if wt == "" {
		return GitResult{}, wire.Errorf(wire.CodeInvalidParams, "the worktree cannot be the root")
	}
	if _, err := o.GitCreate(ctx, wire.RepoParams{Repo: a.Repo}); err != nil && !errors.Is(err, storage.ErrExists) {
		return GitResult{}, err
	}
	w, err := openWorktree(ctx, o, a.Repo)
	if err != nil {
		return GitResult{}, err
	}
	defer w.close()
	w.st.Worktree = wt
	if err := o.EnsureDir(ctx, wt); err != nil {
		return GitResult{}, err
	}
	if err := w.save(ctx); err != nil {
		return GitResult{}, err
	}
	return w.result("initialized"), nil
}

// AddArgs are the arguments of git_add.
type AddArgs struct {
	Repo  string   `json:"repo"`
	Paths []string `json:"paths" jsonschema:"paths relative to the worktree to stage (\".\" for everything); deletions are staged too"`
}

// CommitArgs are the arguments of git_commit.
type CommitArgs struct {
	Repo    string `json:"repo"`
	Message string `json:"message"`
	All     bool   `json:"all,omitempty" jsonschema:"commit every change of the worktree, staged or not"`
	Author  string `json:"author,omitempty"`
	Email   string `json:"email,omitempty"`
}

// LogArgs are the arguments of git_log.
type LogArgs struct {
	Repo string `json:"repo"`
	Rev  string `json:"rev,omitempty" jsonschema:"revision (default: the checked-out branch)"`
	Max  int    `json:"max,omitempty" jsonschema:"at most this many commits (default 20)"`
}

func gitLog(o *api.Ops, ctx context.Context, a LogArgs) (wire.LogResult, error) {
	w, err := openWorktree(ctx, o, a.Repo)
	if err != nil {
		return wire.LogResult{}, err
	}
	defer w.close()
	rev := a.Rev
	if rev == "" {
		rev = w.st.Branch
	}
	if a.Max == 0 {
		a.Max = 20
	}
	return o.GitLog(ctx, wire.LogParams{Repo: a.Repo, Rev: rev, Max: a.Max})
}

// DiffArgs are the arguments of git_diff.
type DiffArgs struct {
	Repo string `json:"repo"`
	From string `json:"from,omitempty" jsonschema:"older revision (default: the checked-out branch)"`
	To   string `json:"to,omitempty" jsonschema:"newer revision (default: the worktree as it is now)"`
}

func gitDiff(o *api.Ops, ctx context.Context, a DiffArgs) (wire.DiffResult, error) {
	w, err := openWorktree(ctx, o, a.Repo)
	if err != nil {
		return wire.DiffResult{}, err
	}
	defer w.close()
	var from *object.Tree
	if a.From != "" || w.hasHead() {
		rev := a.From
		if rev == "" {
			rev = w.st.Branch
		}
		c, err := api.ResolveRev(w.repo, rev)
		if err != nil {
			return wire.DiffResult{}, err
		}
		if from, err = c.Tree(); err != nil {
			return wire.DiffResult{}, err
		}
	}
	var to *object.Tree
	if a.To != "" {
		c, err := api.ResolveRev(w.repo, a.To)
		if err != nil {
			return wire.DiffResult{}, err
		}
		if to, err = c.Tree(); err != nil {
			return wire.DiffResult{}, err
		}
	} else {
		mem := memory.NewStorage()
		h, _, err := w.snapshot(ctx, mem)
		if err != nil {
			return wire.DiffResult{}, err
		}
		if to, err = object.GetTree(mem, h); err != nil {
			return wire.DiffResult{}, err
		}
	}
	return api.DiffTrees(ctx, from, to)
}

func (w *worktree) hasHead() bool {
	_, ok := w.repo.Ref(w.st.Branch)
	return ok
}

// RefArgs are the arguments of git_branch and git_tag.
type RefArgs struct {
	Repo   string `json:"repo"`
	Name   string `json:"name,omitempty" jsonschema:"branch or tag to create or delete; empty to list"`
	Rev    string `json:"rev,omitempty" jsonschema:"where a new branch or tag points (default: the checked-out branch)"`
	Delete bool   `json:"delete,omitempty"`
}

func refTool(prefix string) func(*api.Ops, context.Context, RefArgs) (GitResult, error) {
	return func(o *api.Ops, ctx context.Context, a RefArgs) (GitResult, error) {
		w, err := openWorktree(ctx, o, a.Repo)
		if err != nil {
			return GitResult{}, err
		}
		defer w.close()
		if a.Name == "" {
			r := w.result("")
			r.Names = []string{}
			for _, ref := range w.repo.Refs {
				if strings.HasPrefix(ref.Name, prefix) {
					r.Names = append(r.Names, strings.TrimPrefix(ref.Name, prefix))
				}
			}
			return r, nil
		}
		ref := prefix + a.Name
		if !gitstore.ValidRefName(ref) {
			return GitResult{}, wire.Errorf(wire.CodeInvalidParams, "invalid name %q", a.Name)
		}
		cur, exists := w.repo.Ref(ref)
		if a.Delete {
			if !exists {
				return GitResult{}, fmt.Errorf("%w: %s", storage.ErrNotFound, ref)
			}
			if ref == w.st.Branch {
				return GitResult{}, wire.Errorf(wire.CodeInvalidOp, "cannot delete the checked-out branch %q", a.Name)
			}
			if err := o.SetRef(ctx, a.Repo, ref, cur, plumbing.ZeroHash); err != nil {
				return GitResult{}, err
			}
			return w.result("deleted " + ref), nil
		}
		if exists {
			return GitResult{}, fmt.Errorf("%w: %s", storage.ErrExists, ref)
		}
		rev := a.Rev
		if rev == "" {
			rev = w.st.Branch
		}
		c, err := api.ResolveRev(w.repo, rev)
		if err != nil {
			return GitResult{}, err
		}
		if err := o.SetRef(ctx, a.Repo, ref, plumbing.ZeroHash, c.Hash); err != nil {
			return GitResult{}, err
		}
		return w.result("created " + ref + " at " + c.Hash.String()), nil
	}
}

// CheckoutArgs are the arguments of git_checkout.
type CheckoutArgs struct {
	Repo   string `json:"repo"`
	Branch string `json:"branch"`
	Create bool   `json:"create,omitempty" jsonschema:"create the branch at the current commit first"`
}

// ResetArgs are the arguments of git_reset.
type ResetArgs struct {
	Repo string `json:"repo"`
	Rev  string `json:"rev,omitempty" jsonschema:"commit to reset the branch to (default: its current commit)"`
	Mode string `json:"mode,omitempty" jsonschema:"soft (move the branch), mixed (also unstage; default) or hard (also overwrite the worktree)"`
}

// MergeArgs are the arguments of git_merge.
type MergeArgs struct {
	Repo    string `json:"repo"`
	Branch  string `json:"branch" jsonschema:"branch or revision to merge into the checked-out branch"`
	Message string `json:"message,omitempty"`
}

func gitMergeRaw(o *api.Ops, ctx context.Context, a MergeArgs) (GitResult, error) {
	w, err := openWorktree(ctx, o, a.Repo)
	if err != nil {
		return GitResult{}, err
	}
	defer w.close()
	if err := w.requireClean(ctx); err != nil {
		return GitResult{}, err
	}
	ours, err := w.head()
	if err != nil || ours == nil {
		return GitResult{}, wire.Errorf(wire.CodeInvalidOp, "the checked-out branch has no commits")
	}
	theirs, err := api.ResolveRev(w.repo, a.Branch)
	if err != nil {
		return GitResult{}, err
	}
	if theirs.Hash == ours.Hash {
		return w.result("already up to date"), nil
	}
	if ok, _ := theirs.IsAncestor(ours); ok {
		return w.result("already up to date"), nil
	}
	ourTree, err := ours.Tree()
	if err != nil {
		return GitResult{}, err
	}
	if ok, _ := ours.IsAncestor(theirs); ok {
		next, err := theirs.Tree()
		if err != nil {
			return GitResult{}, err
		}
		if err := o.SetRef(ctx, a.Repo, w.st.Branch, ours.Hash, theirs.Hash); err != nil {
			return GitResult{}, err
		}
		if err := o.Checkout(ctx, w.st.Worktree, ourTree, next); err != nil {
			return GitResult{}, err
		}
		w.reopen(ctx)
		return w.result("fast-forward to " + theirs.Hash.String()), nil
	}
	bases, err := ours.MergeBase(theirs)
	if err != nil {
		return GitResult{}, err
	}
	var baseFlat map[string]flatEntry
	if len(bases) > 0 {
		bt, err := bases[0].Tree()
		if err != nil {
			return GitResult{}, err
		}
		if baseFlat, err = flatten(bt); err != nil {
			return GitResult{}, err
		}
	}
	theirTree, err := theirs.Tree()
	if err != nil {
		return GitResult{}, err
	}
	of, err := flatten(ourTree)
	if err != nil {
		return GitResult{}, err
	}
	tf, err := flatten(theirTree)
	if err != nil {
		return GitResult{}, err
	}
	merged, conflicts := mergeFlat(baseFlat, of, tf)
	mem := memory.NewStorage()
	// Files both sides changed merge line by line when their changes
	// touch separate regions.
	var unresolved []string
	for _, p := range conflicts {
		e, ok, err := w.mergeFile(mem, baseFlat[p], of[p], tf[p])
		if err != nil {
			return GitResult{}, err
		}
		if !ok {
			unresolved = append(unresolved, p)
			continue
		}
		merged[p] = e
	}
	if len(unresolved) > 0 {
		return GitResult{}, wire.Errorf(wire.CodeInvalidOp, "merge conflict in %s; nothing was changed",
			strings.Join(unresolved, ", "))
	}
	root, err := buildTree(mem, merged)
	if err != nil {
		return GitResult{}, err
	}
	msg := a.Message
	if msg == "" {
		msg = "Merge " + a.Branch + "\n"
	}
	h, err := o.Commit(ctx, api.Snapshot{Repo: a.Repo, Branch: w.st.Branch, Message: msg, Tree: root,
		Objects: mem, Parents: []plumbing.Hash{theirs.Hash}})
	if err != nil {
		return GitResult{}, err
	}
	w.reopen(ctx)
	c, err := object.GetCommit(w.repo, h)
	if err != nil {
		return GitResult{}, err
	}
	next, err := c.Tree()
	if err != nil {
		return GitResult{}, err
	}
	// ourTree was read through the repository handle reopen closed.
	prev, err := object.GetTree(w.repo, ourTree.Hash)
	if err != nil {
		return GitResult{}, err
	}
	if err := o.Checkout(ctx, w.st.Worktree, prev, next); err != nil {
		return GitResult{}, err
	}
	return w.result("merged " + a.Branch), nil
}

// mergeFile merges one regular file both sides changed from a common
// base; ok is false when it cannot (no base, a side deleted it, modes
// differ, binary content, overlapping changes). The merged blob is put
// in mem.
func (w *worktree) mergeFile(mem *memory.Storage, base, ours, theirs flatEntry) (flatEntry, bool, error) {
	regular := func(m filemode.FileMode) bool { return m == filemode.Regular || m == filemode.Executable }
	if base.hash.IsZero() || ours.hash.IsZero() || theirs.hash.IsZero() ||
		ours.mode != theirs.mode || !regular(ours.mode) {
		return flatEntry{}, false, nil
	}
	var texts [3][]byte
	for i, h := range []plumbing.Hash{base.hash, ours.hash, theirs.hash} {
		b, err := object.GetBlob(w.repo, h)
		if err != nil {
			return flatEntry{}, false, err
		}
		if b.Size > maxMergeBytes {
			return flatEntry{}, false, nil
		}
		r, err := b.Reader()
		if err != nil {
			return flatEntry{}, false, err
		}
		texts[i], err = io.ReadAll(r)
		r.Close()
		if err != nil {
			return flatEntry{}, false, err
		}
	}
	out, ok := mergeText(texts[0], texts[1], texts[2])
	if !ok {
		return flatEntry{}, false, nil
	}
	obj := mem.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	obj.SetSize(int64(len(out)))
	wr, err := obj.Writer()
	if err != nil {
		return flatEntry{}, false, err
	}
	if _, err := wr.Write(out); err != nil {
		return flatEntry{}, false, err
	}
	wr.Close()
	h, err := mem.SetEncodedObject(obj)
	if err != nil {
		return flatEntry{}, false, err
	}
	return flatEntry{mode: ours.mode, hash: h}, true, nil
}

// maxMergeBytes bounds a file merged line by line.
const maxMergeBytes = 8 << 20

// mergeFlat merges two file lists against their base path by path; a
// path both sides changed differently is a conflict.
func mergeFlat(base, ours, theirs map[string]flatEntry) (map[string]flatEntry, []string) {
	out := map[string]flatEntry{}
	var conflicts []string
	paths := map[string]bool{}
	for _, m := range []map[string]flatEntry{base, ours, theirs} {
		for p := range m {
			paths[p] = true
		}
	}
	for p := range paths {
		b, inB := base[p]
		o, inO := ours[p]
		t, inT := theirs[p]
		switch {
		case inO == inT && o == t:
			if inO {
				out[p] = o
			}
		case inO == inB && o == b:
			if inT {
				out[p] = t
			}
		case inT == inB && t == b:
			if inO {
				out[p] = o
			}
		default:
			conflicts = append(conflicts, p)
		}
	}
	sort.Strings(conflicts)
	return out, conflicts
}

// StashArgs are the arguments of git_stash.
type StashArgs struct {
	Repo   string `json:"repo"`
	Action string `json:"action,omitempty" jsonschema:"push (default), pop, list or drop"`
}

const stashRef = "refs/stash"

func gitStashRaw(o *api.Ops, ctx context.Context, a StashArgs) (GitResult, error) {
	w, err := openWorktree(ctx, o, a.Repo)
	if err != nil {
		return GitResult{}, err
	}
	defer w.close()
	cur, has := w.repo.Ref(stashRef)
	switch a.Action {
	case "", "push":
		if has {
			return GitResult{}, wire.Errorf(wire.CodeInvalidOp, "a stash entry exists; pop or drop it first (one entry is kept)")
		}
		head, err := w.head()
		if err != nil || head == nil {
			return GitResult{}, wire.Errorf(wire.CodeInvalidOp, "nothing to stash on a branch without commits")
		}
		ch, err := w.status(ctx)
		if err != nil {
			return GitResult{}, err
		}
		if len(ch) == 0 {
			return GitResult{}, wire.Errorf(wire.CodeInvalidOp, "no local changes to save")
		}
		mem := memory.NewStorage()
		root, _, err := w.snapshot(ctx, mem)
		if err != nil {
			return GitResult{}, err
		}
		sig := head.Author
		sig.When = head.Committer.When
		c := &object.Commit{Author: sig, Committer: sig, TreeHash: root, ParentHashes: []plumbing.Hash{head.Hash},
			Message: "WIP on " + strings.TrimPrefix(w.st.Branch, "refs/heads/") + "\n"}
		obj := mem.NewEncodedObject()
		if err := c.Encode(obj); err != nil {
			return GitResult{}, err
		}
		ch2, err := mem.SetEncodedObject(obj)
		if err != nil {
			return GitResult{}, err
		}
		if err := o.StoreObjects(ctx, w.repo, mem, stashRef, plumbing.ZeroHash, ch2); err != nil {
			return GitResult{}, err
		}
		wt, err := object.GetTree(mem, root)
		if err != nil {
			return GitResult{}, err
		}
		ht, err := head.Tree()
		if err != nil {
			return GitResult{}, err
		}
		if err := o.Checkout(ctx, w.st.Worktree, wt, ht); err != nil {
			return GitResult{}, err
		}
		w.st.Staged = nil
		if err := w.save(ctx); err != nil {
			return GitResult{}, err
		}
		return w.result("saved working directory to " + stashRef), nil
	case "list":
		r := w.result("")
		r.Names = []string{}
		if has {
			r.Names = append(r.Names, "stash@{0}: "+cur.String())
		}
		return r, nil
	case "pop", "drop":
		if !has {
			return GitResult{}, fmt.Errorf("%w: no stash entries", storage.ErrNotFound)
		}
		if a.Action == "pop" {
			c, err := object.GetCommit(w.repo, cur)
			if err != nil {
				return GitResult{}, err
			}
			st, err := c.Tree()
			if err != nil {
				return GitResult{}, err
			}
			ht, err := w.headTree()
			if err != nil {
				return GitResult{}, err
			}
			if err := w.requireClean(ctx); err != nil {
				return GitResult{}, err
			}
			if err := o.Checkout(ctx, w.st.Worktree, ht, st); err != nil {
				return GitResult{}, err
			}
		}
		if err := o.SetRef(ctx, a.Repo, stashRef, cur, plumbing.ZeroHash); err != nil {
			return GitResult{}, err
		}
		return w.result(a.Action + "ped " + stashRef), nil
	}
	return GitResult{}, wire.Errorf(wire.CodeInvalidParams, "unknown action %q (push, pop, list, drop)", a.Action)
}

func (s *server) addGitTools(ms *mcp.Server) {
	addTool(s, ms, "git_init", "Create a repository (if missing) with a worktree directory in the tenant's files.", gitInit)
	addTool(s, ms, "git_status", "Show the worktree's changes against the checked-out branch, and which are staged.", gitStatus)
	addTool(s, ms, "git_add", "Stage worktree paths (files or directories, \".\" for all) for the next commit.", gitAdd)
	addTool(s, ms, "git_commit", "Commit the staged changes (or all, with all) on the checked-out branch.", gitCommit)
	addTool(s, ms, "git_log", "List commits, newest first.", gitLog)
	addTool(s, ms, "git_diff", "Show changed files and a unified diff between revisions, or of the worktree.", gitDiff)
	addTool(s, ms, "git_branch", "List, create or delete branches.", refTool("refs/heads/"))
	addTool(s, ms, "git_checkout", "Switch the worktree to a branch (create: make it first).", gitCheckout)
	addTool(s, ms, "git_reset", "Move the checked-out branch to a commit (soft, mixed or hard).", gitReset)
	addTool(s, ms, "git_merge", "Merge a branch into the checked-out branch (fast-forward or a merge commit "+
		"when no file changed on both sides).", gitMerge)
	addTool(s, ms, "git_tag", "List, create (lightweight) or delete tags.", refTool("refs/tags/"))
	addTool(s, ms, "git_stash", "Save worktree changes and restore the branch's files (push), re-apply them (pop), "+
		"list or drop the saved entry.", gitStash)
}

var _ = files.IsNotFound

// gitMerge merges and then points the index at the new HEAD.
func gitMerge(o *api.Ops, ctx context.Context, a MergeArgs) (GitResult, error) {
	r, err := gitMergeRaw(o, ctx, a)
	if err != nil {
		return r, err
	}
	return r, resetIndex(ctx, o, a.Repo)
}

// gitStash stashes and then points the index at HEAD.
func gitStash(o *api.Ops, ctx context.Context, a StashArgs) (GitResult, error) {
	r, err := gitStashRaw(o, ctx, a)
	if err != nil || a.Action == "list" {
		return r, err
	}
	return r, resetIndex(ctx, o, a.Repo)
}
