package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"rewire/api"
	"rewire/api/wire"
	"rewire/storage"
	"rewire/storage/gitstore"
)

// withGoGit runs fn on the go-git view of a repository and writes back
// what it changed.
func withGoGit(ctx context.Context, o *api.Ops, repo string, fn func(*goGit, *git.Worktree) (string, error)) (GitResult, error) {
	w, err := openWorktree(ctx, o, repo)
	if err != nil {
		return GitResult{}, err
	}
	defer w.close()
	g, err := openGoGit(ctx, o, w)
	if err != nil {
		return GitResult{}, err
	}
	wt, err := g.repo.Worktree()
	if err != nil {
		return GitResult{}, err
	}
	msg, err := fn(g, wt)
	if err != nil {
		return GitResult{}, gitErr(err)
	}
	if err := g.sync(ctx, o); err != nil {
		return GitResult{}, err
	}
	if err := w.reopen(ctx); err != nil {
		return GitResult{}, err
	}
	return w.result(msg), nil
}

// gitErr turns go-git's errors into tool errors of the right kind.
func gitErr(err error) error {
	switch {
	case errors.Is(err, git.ErrEmptyCommit):
		return wire.Errorf(wire.CodeInvalidOp, "nothing to commit (stage changes with git_add or pass all)")
	case errors.Is(err, git.ErrUnstagedChanges), errors.Is(err, git.ErrWorktreeNotClean):
		return wire.Errorf(wire.CodeInvalidOp, "the worktree has uncommitted changes; commit, stash or reset them first")
	case errors.Is(err, plumbing.ErrReferenceNotFound), errors.Is(err, plumbing.ErrObjectNotFound):
		return fmt.Errorf("%w: %v", storage.ErrNotFound, err)
	case errors.Is(err, git.ErrBranchExists):
		return fmt.Errorf("%w: %v", storage.ErrExists, err)
	}
	return err
}

var statusNames = map[git.StatusCode]string{
	git.Added: "added", git.Modified: "modified", git.Deleted: "deleted", git.Renamed: "renamed",
	git.Copied: "copied", git.Untracked: "untracked", git.UpdatedButUnmerged: "unmerged",
}

func changesOf(st git.Status) []Change {
	var out []Change
	for p, fs := range st {
		switch {
		case fs.Staging != git.Unmodified && fs.Staging != git.Untracked:
			out = append(out, Change{Path: p, Status: statusNames[fs.Staging], Staged: true})
		case fs.Worktree != git.Unmodified:
			out = append(out, Change{Path: p, Status: statusNames[fs.Worktree]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func gitStatus(o *api.Ops, ctx context.Context, a RepoArg) (GitResult, error) {
	var changes []Change
	r, err := withGoGit(ctx, o, a.Repo, func(g *goGit, wt *git.Worktree) (string, error) {
		st, err := wt.Status()
		if err != nil {
			return "", err
		}
		changes = changesOf(st)
		if len(changes) == 0 {
			return "nothing to commit, working tree clean", nil
		}
		return "", nil
	})
	r.Changes = changes
	return r, err
}

func gitAdd(o *api.Ops, ctx context.Context, a AddArgs) (GitResult, error) {
	if len(a.Paths) == 0 || len(a.Paths) > 1000 {
		return GitResult{}, wire.Errorf(wire.CodeInvalidParams, "give 1 to 1000 paths")
	}
	var paths []string
	for _, p := range a.Paths {
		cp, err := api.CleanPath(p)
		if err != nil {
			return GitResult{}, err
		}
		paths = append(paths, cp)
	}
	if _, err := withGoGit(ctx, o, a.Repo, func(g *goGit, wt *git.Worktree) (string, error) {
		for _, p := range paths {
			var err error
			if p == "" {
				err = wt.AddWithOptions(&git.AddOptions{All: true})
			} else {
				_, err = wt.Add(p)
			}
			if err != nil {
				return "", fmt.Errorf("%w: pathspec %q: %v", storage.ErrNotFound, p, err)
			}
		}
		return "", nil
	}); err != nil {
		return GitResult{}, err
	}
	return gitStatus(o, ctx, RepoArg{Repo: a.Repo})
}

func gitCommit(o *api.Ops, ctx context.Context, a CommitArgs) (GitResult, error) {
	if strings.TrimSpace(a.Message) == "" || len(a.Message) > 64<<10 {
		return GitResult{}, wire.Errorf(wire.CodeInvalidParams, "give a commit message (at most 64 KiB)")
	}
	return withGoGit(ctx, o, a.Repo, func(g *goGit, wt *git.Worktree) (string, error) {
		if a.All {
			if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
				return "", err
			}
		}
		st, err := wt.Status()
		if err != nil {
			return "", err
		}
		n := 0
		for _, c := range changesOf(st) {
			if c.Staged {
				n++
			}
		}
		sig := &object.Signature{Name: a.Author, Email: a.Email, When: time.Now()}
		if sig.Name == "" {
			sig.Name = o.Tenant().Name()
		}
		if sig.Email == "" {
			sig.Email = o.Tenant().Name() + "@rewire"
		}
		h, err := wt.Commit(a.Message, &git.CommitOptions{Author: sig})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("committed %d change(s) as %s", n, h), nil
	})
}

func gitCheckout(o *api.Ops, ctx context.Context, a CheckoutArgs) (GitResult, error) {
	ref := "refs/heads/" + a.Branch
	if !gitstore.ValidRefName(ref) {
		return GitResult{}, wire.Errorf(wire.CodeInvalidParams, "invalid branch name %q", a.Branch)
	}
	w, err := openWorktree(ctx, o, a.Repo)
	if err != nil {
		return GitResult{}, err
	}
	err = w.requireClean(ctx)
	w.close()
	if err != nil {
		return GitResult{}, err
	}
	return withGoGit(ctx, o, a.Repo, func(g *goGit, wt *git.Worktree) (string, error) {
		if _, err := g.repo.Head(); err != nil && a.Create {
			// No commit yet: only HEAD's branch changes.
			return "switched to a new branch " + a.Branch,
				g.s.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, plumbing.ReferenceName(ref)))
		}
		err := wt.Checkout(&git.CheckoutOptions{Branch: plumbing.ReferenceName(ref), Create: a.Create})
		if err != nil {
			return "", err
		}
		if a.Create {
			return "switched to a new branch " + a.Branch, nil
		}
		return "switched to branch " + a.Branch, nil
	})
}

func gitReset(o *api.Ops, ctx context.Context, a ResetArgs) (GitResult, error) {
	modes := map[string]git.ResetMode{"": git.MixedReset, "mixed": git.MixedReset, "soft": git.SoftReset, "hard": git.HardReset}
	mode, ok := modes[a.Mode]
	if !ok {
		return GitResult{}, wire.Errorf(wire.CodeInvalidParams, "mode must be soft, mixed or hard")
	}
	return withGoGit(ctx, o, a.Repo, func(g *goGit, wt *git.Worktree) (string, error) {
		head, err := g.repo.Head()
		if err != nil {
			return "", wire.Errorf(wire.CodeInvalidOp, "the branch has no commits yet")
		}
		target := head.Hash()
		if a.Rev != "" {
			c, err := api.ResolveRev(g.w.repo, a.Rev)
			if err != nil {
				return "", err
			}
			target = c.Hash
		}
		if err := wt.Reset(&git.ResetOptions{Commit: target, Mode: mode}); err != nil {
			return "", err
		}
		return "reset to " + target.String(), nil
	})
}

// resetIndex makes the index match HEAD after a tool changed HEAD or the
// worktree without go-git (merge, stash).
func resetIndex(ctx context.Context, o *api.Ops, repo string) error {
	_, err := withGoGit(ctx, o, repo, func(g *goGit, wt *git.Worktree) (string, error) {
		head, err := g.repo.Head()
		if err != nil {
			return "", nil
		}
		return "", wt.Reset(&git.ResetOptions{Commit: head.Hash(), Mode: git.MixedReset})
	})
	return err
}
