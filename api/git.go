package api

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"rewire/api/wire"
	"rewire/storage"
	"rewire/storage/gitstore"
)

func init() {
	register("git.list", bind(func(o *Ops, ctx context.Context, _ struct{}) (wire.RepoList, error) {
		return o.GitList(ctx)
	}))
	register("git.create", bind((*Ops).GitCreate))
	register("git.delete", bind((*Ops).GitDelete))
	register("git.refs", bind((*Ops).GitRefs))
	register("git.log", bind((*Ops).GitLog))
	register("git.read", bind((*Ops).GitRead))
	register("git.diff", bind((*Ops).GitDiff))
}

// MaxGitRead bounds the blob git.read returns.
const MaxGitRead = MaxInline

// GitList lists the tenant's repositories.
func (o *Ops) GitList(ctx context.Context) (wire.RepoList, error) {
	names, err := gitstore.List(ctx, o.t)
	if err != nil {
		return wire.RepoList{}, err
	}
	if names == nil {
		names = []string{}
	}
	return wire.RepoList{Repos: names}, nil
}

func checkRepo(name string) error {
	if !gitstore.ValidName(strings.TrimSuffix(name, ".git")) {
		return invalid("invalid repository name %q", name)
	}
	return nil
}

// GitCreate makes an empty repository.
func (o *Ops) GitCreate(ctx context.Context, p wire.RepoParams) (wire.OK, error) {
	if err := checkRepo(p.Repo); err != nil {
		return wire.OK{}, err
	}
	if err := gitstore.Create(ctx, o.t, strings.TrimSuffix(p.Repo, ".git")); err != nil {
		return wire.OK{}, err
	}
	return wire.OK{OK: true}, nil
}

// GitDelete removes a repository.
func (o *Ops) GitDelete(ctx context.Context, p wire.RepoParams) (wire.OK, error) {
	if err := checkRepo(p.Repo); err != nil {
		return wire.OK{}, err
	}
	if err := gitstore.Delete(ctx, o.t, strings.TrimSuffix(p.Repo, ".git")); err != nil {
		return wire.OK{}, err
	}
	return wire.OK{OK: true}, nil
}

// openRepo opens a snapshot of a repository; the caller closes it.
func (o *Ops) openRepo(ctx context.Context, name string) (*gitstore.Repo, error) {
	if err := checkRepo(name); err != nil {
		return nil, err
	}
	return gitstore.Open(ctx, o.t, strings.TrimSuffix(name, ".git"))
}

// GitRefs lists a repository's references.
func (o *Ops) GitRefs(ctx context.Context, p wire.RepoParams) (wire.RefsResult, error) {
	r, err := o.openRepo(ctx, p.Repo)
	if err != nil {
		return wire.RefsResult{}, err
	}
	defer r.Close()
	out := wire.RefsResult{Head: r.Head, Refs: []wire.Ref{}}
	for _, ref := range r.Refs {
		out.Refs = append(out.Refs, wire.Ref{Name: ref.Name, Hash: ref.Hash.String()})
	}
	return out, nil
}

// ResolveRev finds the commit a revision names: HEAD, a full or
// abbreviated (at least 7 digits) hash, a full reference name, a branch or
// a tag. Annotated tags are peeled.
func ResolveRev(r *gitstore.Repo, rev string) (*object.Commit, error) {
	if rev == "" || rev == "HEAD" {
		rev = r.Head
	}
	var h plumbing.Hash
	found := false
	for _, cand := range []string{rev, "refs/heads/" + rev, "refs/tags/" + rev} {
		if x, ok := r.Ref(cand); ok {
			h, found = x, true
			break
		}
	}
	if !found && len(rev) == 40 {
		if _, err := hex.DecodeString(rev); err == nil {
			h, found = plumbing.NewHash(rev), true
		}
	}
	if !found && len(rev) >= 7 && len(rev) < 40 {
		if _, err := hex.DecodeString(rev + strings.Repeat("0", len(rev)%2)); err == nil {
			h, found = abbrev(r, rev)
		}
	}
	if !found {
		return nil, fmt.Errorf("%w: revision %q", storage.ErrNotFound, rev)
	}
	for range 10 {
		obj, err := r.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return nil, fmt.Errorf("%w: revision %q", storage.ErrNotFound, rev)
		}
		if obj.Type() != plumbing.TagObject {
			break
		}
		tag, err := object.DecodeTag(r, obj)
		if err != nil {
			return nil, err
		}
		h = tag.Target
	}
	c, err := object.GetCommit(r, h)
	if err != nil {
		return nil, fmt.Errorf("%w: revision %q is not a commit", storage.ErrNotFound, rev)
	}
	return c, nil
}

// abbrev finds the one reachable-from-a-ref commit whose hash starts with
// prefix, by walking history from every reference (bounded).
func abbrev(r *gitstore.Repo, prefix string) (plumbing.Hash, bool) {
	seen := 0
	var found plumbing.Hash
	n := 0
	for _, ref := range r.Refs {
		c, err := object.GetCommit(r, ref.Hash)
		if err != nil {
			continue
		}
		it := object.NewCommitPreorderIter(c, nil, nil)
		it.ForEach(func(c *object.Commit) error {
			if seen++; seen > 100000 {
				return io.EOF
			}
			if strings.HasPrefix(c.Hash.String(), prefix) && c.Hash != found {
				found = c.Hash
				n++
			}
			return nil
		})
	}
	return found, n == 1
}

// GitLog lists commits reachable from a revision, newest first.
func (o *Ops) GitLog(ctx context.Context, p wire.LogParams) (wire.LogResult, error) {
	r, err := o.openRepo(ctx, p.Repo)
	if err != nil {
		return wire.LogResult{}, err
	}
	defer r.Close()
	max := p.Max
	if max <= 0 {
		max = 50
	}
	max = min(max, 1000)
	c, err := ResolveRev(r, p.Rev)
	if err != nil {
		return wire.LogResult{}, err
	}
	out := wire.LogResult{Commits: []wire.Commit{}}
	it := object.NewCommitPreorderIter(c, nil, nil)
	err = it.ForEach(func(c *object.Commit) error {
		if len(out.Commits) >= max {
			return io.EOF
		}
		out.Commits = append(out.Commits, commitOf(c))
		return ctx.Err()
	})
	if err != nil && err != io.EOF {
		return wire.LogResult{}, err
	}
	return out, nil
}

func commitOf(c *object.Commit) wire.Commit {
	wc := wire.Commit{Hash: c.Hash.String(), Author: c.Author.Name, Email: c.Author.Email,
		Time: c.Author.When.UTC(), Message: c.Message, Parents: []string{}}
	for _, p := range c.ParentHashes {
		wc.Parents = append(wc.Parents, p.String())
	}
	return wc
}

// GitRead returns a file of the tree at a revision.
func (o *Ops) GitRead(ctx context.Context, p wire.GitReadParams) (wire.ReadResult, error) {
	cp, err := CleanPath(p.Path)
	if err != nil {
		return wire.ReadResult{}, err
	}
	r, err := o.openRepo(ctx, p.Repo)
	if err != nil {
		return wire.ReadResult{}, err
	}
	defer r.Close()
	c, err := ResolveRev(r, p.Rev)
	if err != nil {
		return wire.ReadResult{}, err
	}
	tree, err := c.Tree()
	if err != nil {
		return wire.ReadResult{}, err
	}
	f, err := tree.File(cp)
	if err != nil {
		return wire.ReadResult{}, fmt.Errorf("%w: %s at %s", storage.ErrNotFound, cp, c.Hash)
	}
	if f.Size > MaxGitRead {
		return wire.ReadResult{}, &wire.Error{Code: wire.CodeTooLarge, Message: "file larger than the inline limit"}
	}
	rd, err := f.Reader()
	if err != nil {
		return wire.ReadResult{}, err
	}
	defer rd.Close()
	data, err := io.ReadAll(rd)
	if err != nil {
		return wire.ReadResult{}, err
	}
	content, enc, err := encode(data, p.Encoding)
	if err != nil {
		return wire.ReadResult{}, err
	}
	return wire.ReadResult{Content: content, Encoding: enc, Size: int64(len(data)), EOF: true}, nil
}

// MaxPatch bounds the unified diff git.diff returns.
const MaxPatch = 4 << 20

// GitDiff compares the trees of two revisions.
func (o *Ops) GitDiff(ctx context.Context, p wire.DiffParams) (wire.DiffResult, error) {
	r, err := o.openRepo(ctx, p.Repo)
	if err != nil {
		return wire.DiffResult{}, err
	}
	defer r.Close()
	from, err := ResolveRev(r, p.From)
	if err != nil {
		return wire.DiffResult{}, err
	}
	to, err := ResolveRev(r, p.To)
	if err != nil {
		return wire.DiffResult{}, err
	}
	return DiffCommits(ctx, from, to)
}

// DiffCommits returns the changed files and the unified diff between two
// commits.
func DiffCommits(ctx context.Context, from, to *object.Commit) (wire.DiffResult, error) {
	ft, err := from.Tree()
	if err != nil {
		return wire.DiffResult{}, err
	}
	tt, err := to.Tree()
	if err != nil {
		return wire.DiffResult{}, err
	}
	return DiffTrees(ctx, ft, tt)
}

// DiffTrees returns the changed files and the unified diff between two
// trees (either may be nil for an empty tree).
func DiffTrees(ctx context.Context, ft, tt *object.Tree) (wire.DiffResult, error) {
	changes, err := object.DiffTreeWithOptions(ctx, ft, tt, object.DefaultDiffTreeOptions)
	if err != nil {
		return wire.DiffResult{}, err
	}
	out := wire.DiffResult{Files: []wire.FileChange{}}
	for _, ch := range changes {
		action, err := ch.Action()
		if err != nil {
			return wire.DiffResult{}, err
		}
		out.Files = append(out.Files, wire.FileChange{Action: strings.ToLower(action.String()),
			From: ch.From.Name, To: ch.To.Name})
	}
	patch, err := changes.PatchContext(ctx)
	if err != nil {
		return wire.DiffResult{}, err
	}
	s := patch.String()
	if len(s) > MaxPatch {
		s = s[:MaxPatch] + "\n[patch truncated]\n"
	}
	out.Patch = s
	return out, nil
}
