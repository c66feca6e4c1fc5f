package billyfs_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"

	"rewire/api/billyfs"
	"rewire/gitsmart"
	"rewire/storage"
	"rewire/storage/files"
)

// TestGoGitWorktree: go-git's own worktree code runs over a directory of
// the tenant's files: init, add, commit, status, push to the tenant's
// repository through gitsmart, and a clone back into another directory.
func TestGoGitWorktree(t *testing.T) {
	ctx := context.Background()
	store, err := storage.Open(ctx, storage.Config{Dir: t.TempDir(), MoverInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := store.CreateTenant(ctx, "alice", "alice-pw"); err != nil {
		t.Fatal(err)
	}
	tn, err := store.Acquire(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Release()
	fs := files.New(tn)
	wt := billyfs.New(ctx, fs, "/src/app")

	repo, err := git.Init(memory.NewStorage(), wt)
	if err != nil {
		t.Fatal(err)
	}
	f, err := wt.Create("cmd/main.go")
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("package main\n"))
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	w, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Add("cmd/main.go"); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "Agent", Email: "a@example.com", When: time.Now()}
	h, err := w.Commit("first", &git.CommitOptions{Author: sig})
	if err != nil {
		t.Fatal(err)
	}
	st, err := w.Status()
	if err != nil || !st.IsClean() {
		t.Fatalf("status %v %v", st, err)
	}
	// The file is in the core tree, where FUSE and the API see it.
	data, err := fs.Paths().ReadFile(ctx, "src/app/cmd/main.go")
	if err != nil || string(data) != "package main\n" {
		t.Fatalf("core has %q %v", data, err)
	}

	srv := httptest.NewServer(gitsmart.NewHandler(store, nil))
	t.Cleanup(srv.Close)
	auth := &http.BasicAuth{Username: "alice", Password: "alice-pw"}
	url := srv.URL + "/git/alice/app.git"
	if _, err := repo.CreateRemote(gitConfigRemote{url}.config()); err != nil {
		t.Fatal(err)
	}
	if err := repo.Push(&git.PushOptions{RemoteName: "origin", Auth: auth,
		RefSpecs: []gitRefSpec{"refs/heads/master:refs/heads/main"}}); err != nil {
		t.Fatal(err)
	}
	clone, err := git.Clone(memory.NewStorage(), billyfs.New(ctx, fs, "/clones/app"),
		&git.CloneOptions{URL: url, Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	head, err := clone.Head()
	if err != nil || head.Hash() != h {
		t.Fatalf("clone head %v %v, want %s", head, err, h)
	}
	data, err = fs.Paths().ReadFile(ctx, "clones/app/cmd/main.go")
	if err != nil || string(data) != "package main\n" {
		t.Fatalf("clone checked out %q %v", data, err)
	}
	// ".." never leaves the root.
	if _, err := wt.Open("../../../clones/app/cmd/main.go"); err == nil {
		t.Fatal("escaped the root")
	}
}
