package gitsmart

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-billy/v5/memfs"
	gogit "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"
)

// TestGoGitClient drives rewire with go-git v5 as the client (protocol v0):
// clone of a repository the git CLI pushed, shallow clone, push of new
// commits and a tag, fetch, branch deletion, a refused non-fast-forward,
// and authentication errors.
func TestGoGitClient(t *testing.T) {
	e := newGitEnv(t, "0")
	src := e.makeSource(40, 0)
	e.git(src, "push", "-q", e.acme("gg"), "--all")
	e.git(src, "push", "-q", e.acme("gg"), "--tags")
	url := e.srv.URL + "/git/acme/gg.git"
	auth := &githttp.BasicAuth{Username: "acme", Password: "secret"}

	// Full clone: every ref the CLI pushed arrives.
	repo, err := gogit.Clone(memory.NewStorage(), memfs.New(), &gogit.CloneOptions{URL: url, Auth: auth, Tags: gogit.AllTags})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"refs/heads/main", "refs/heads/feature", "refs/tags/v1.0", "refs/tags/light"} {
		want := strings.TrimSpace(e.git(src, "rev-parse", name))
		local := name
		if strings.HasPrefix(name, "refs/heads/") {
			local = "refs/remotes/origin/" + strings.TrimPrefix(name, "refs/heads/")
		}
		ref, err := repo.Reference(plumbing.ReferenceName(local), true)
		if err != nil || ref.Hash().String() != want {
			t.Errorf("%s: %v %v, want %s", local, ref, err, want)
		}
	}
	if _, err := repo.TagObject(plumbing.NewHash(strings.TrimSpace(e.git(src, "rev-parse", "v1.0")))); err != nil {
		t.Errorf("annotated tag object: %v", err)
	}
	commits := countCommits(t, repo, plumbing.NewHash(strings.TrimSpace(e.git(src, "rev-parse", "main"))))
	if want := strings.TrimSpace(e.git(src, "rev-list", "--count", "main")); fmt.Sprint(commits) != want {
		t.Errorf("clone walks %d commits, want %s", commits, want)
	}

	// Shallow clone.
	sh, err := gogit.Clone(memory.NewStorage(), memfs.New(), &gogit.CloneOptions{URL: url, Auth: auth, Depth: 1, SingleBranch: true})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := sh.Storer.Shallow(); err != nil || len(s) != 1 {
		t.Errorf("depth 1 clone: shallow %v %v", s, err)
	}

	// Push a new commit and a new branch, then see it with the CLI.
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	f, _ := wt.Filesystem.Create("gogit.txt")
	f.Write([]byte("from go-git\n"))
	f.Close()
	if _, err := wt.Add("gogit.txt"); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "G", Email: "g@example.com", When: time.Unix(1700000000, 0)}
	h, err := wt.Commit("go-git commit", &gogit.CommitOptions{Author: sig})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.CreateTag("gg-tag", h, &gogit.CreateTagOptions{Tagger: sig, Message: "annotated by go-git"}); err != nil {
		t.Fatal(err)
	}
	err = repo.Push(&gogit.PushOptions{Auth: auth, RefSpecs: []gitconfig.RefSpec{
		"refs/heads/main:refs/heads/main", "refs/heads/main:refs/heads/gg", "refs/tags/gg-tag:refs/tags/gg-tag"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := lsRemote(e, "gg", "refs/heads/gg"); got != h.String() {
		t.Errorf("pushed gg = %q, want %s", got, h)
	}
	cli := filepath.Join(t.TempDir(), "cli")
	e.git("", "clone", "-q", e.acme("gg"), cli)
	e.git(cli, "fsck", "--strict", "--no-progress")
	if got := strings.TrimSpace(e.git(cli, "cat-file", "-t", "gg-tag")); got != "tag" {
		t.Errorf("gg-tag is a %q", got)
	}

	// The CLI adds a commit; go-git fetches it.
	writeFile(t, filepath.Join(cli, "cli.txt"), []byte("cli\n"))
	e.git(cli, "add", ".")
	e.git(cli, "commit", "-qm", "from the CLI")
	e.git(cli, "push", "-q", "origin", "main")
	if err := repo.Fetch(&gogit.FetchOptions{Auth: auth}); err != nil {
		t.Fatal(err)
	}
	ref, err := repo.Reference("refs/remotes/origin/main", true)
	if want := strings.TrimSpace(e.git(cli, "rev-parse", "HEAD")); err != nil || ref.Hash().String() != want {
		t.Errorf("fetched main %v %v, want %s", ref, err, want)
	}
	if err := repo.Fetch(&gogit.FetchOptions{Auth: auth}); !errors.Is(err, gogit.NoErrAlreadyUpToDate) {
		t.Errorf("second fetch: %v", err)
	}

	// Non-fast-forward: refused unless forced; deletion.
	old := strings.TrimSpace(e.git(src, "rev-parse", "light"))
	err = repo.Push(&gogit.PushOptions{Auth: auth, RefSpecs: []gitconfig.RefSpec{"refs/tags/light:refs/heads/main"}})
	if err == nil {
		t.Errorf("non-fast-forward push accepted")
	}
	err = repo.Push(&gogit.PushOptions{Auth: auth, RefSpecs: []gitconfig.RefSpec{"+refs/tags/light:refs/heads/main"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := lsRemote(e, "gg", "refs/heads/main"); got != old {
		t.Errorf("forced main = %q, want %s", got, old)
	}
	err = repo.Push(&gogit.PushOptions{Auth: auth, RefSpecs: []gitconfig.RefSpec{":refs/heads/gg"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := lsRemote(e, "gg", "refs/heads/gg"); got != "" {
		t.Errorf("deleted branch still there: %s", got)
	}

	// Wrong password and another tenant's repository.
	_, err = gogit.Clone(memory.NewStorage(), nil, &gogit.CloneOptions{URL: url,
		Auth: &githttp.BasicAuth{Username: "acme", Password: "wrong"}})
	if !errors.Is(err, transport.ErrAuthenticationRequired) {
		t.Errorf("wrong password: %v", err)
	}
	_, err = gogit.Clone(memory.NewStorage(), nil, &gogit.CloneOptions{URL: url,
		Auth: &githttp.BasicAuth{Username: "other", Password: "pw2"}})
	if !errors.Is(err, transport.ErrRepositoryNotFound) {
		t.Errorf("other tenant: %v", err)
	}
}

func countCommits(t *testing.T, repo *gogit.Repository, from plumbing.Hash) int {
	t.Helper()
	it, err := repo.Log(&gogit.LogOptions{From: from})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := it.ForEach(func(*object.Commit) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}
