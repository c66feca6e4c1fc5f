package gitsmart

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-git/go-billy/v5/memfs"
	gogit "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"

	"rewire/storage"
	"rewire/storage/gitstore"
)

// fuzzRepo makes a store with tenant acme and a repository "f" of two
// commits and an annotated tag, pushed by go-git; it returns the store and
// the two commits.
func fuzzRepo(f *testing.F) (*storage.Store, [2]plumbing.Hash) {
	ctx := context.Background()
	st, err := storage.Open(ctx, storage.Config{Dir: f.TempDir(), MoverInterval: -1})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	if _, err := st.CreateTenant(ctx, "acme", "secret"); err != nil {
		f.Fatal(err)
	}
	srv := httptest.NewServer(NewHandler(st, nil))
	defer srv.Close()

	repo, err := gogit.Init(memory.NewStorage(), memfs.New())
	if err != nil {
		f.Fatal(err)
	}
	wt, _ := repo.Worktree()
	sig := &object.Signature{Name: "F", Email: "f@example.com", When: time.Unix(1700000000, 0)}
	var commits [2]plumbing.Hash
	for i := range commits {
		fh, _ := wt.Filesystem.Create("a.txt")
		fh.Write(bytes.Repeat([]byte{'a' + byte(i)}, 100))
		fh.Close()
		wt.Add("a.txt")
		if commits[i], err = wt.Commit("c", &gogit.CommitOptions{Author: sig}); err != nil {
			f.Fatal(err)
		}
	}
	if _, err := repo.CreateTag("v1", commits[0], &gogit.CreateTagOptions{Tagger: sig, Message: "t"}); err != nil {
		f.Fatal(err)
	}
	repo.CreateRemote(&gitconfig.RemoteConfig{Name: "origin", URLs: []string{srv.URL + "/git/acme/f.git"}})
	err = repo.Push(&gogit.PushOptions{Auth: &githttp.BasicAuth{Username: "acme", Password: "secret"},
		RefSpecs: []gitconfig.RefSpec{"refs/heads/master:refs/heads/main", "refs/tags/v1:refs/tags/v1"}})
	if err != nil {
		f.Fatal(err)
	}
	return st, commits
}

// fuzzEndpoints are the POST requests FuzzHandler sends its bodies to.
var fuzzEndpoints = []struct {
	path, proto, encoding string
}{
	{"git-upload-pack", "", ""},
	{"git-upload-pack", "version=2", ""},
	{"git-receive-pack", "", ""},
	{"git-upload-pack", "", "gzip"},
}

// FuzzHandler sends arbitrary request bodies to the upload-pack (v0 and
// v2) and receive-pack endpoints of a real repository through the whole
// HTTP handler: it must answer with a status a git client understands,
// never panic, and never leave a reference naming a missing object.
func FuzzHandler(f *testing.F) {
	st, c := fuzzRepo(f)
	zero := plumbing.ZeroHash.String()
	one, two := c[0].String(), c[1].String()
	f.Add(uint8(0), pkts("want "+two+" multi_ack_detailed no-done side-band-64k ofs-delta include-tag\n", "0000", "have "+one+"\n", "done\n"))
	f.Add(uint8(0), pkts("want "+two+" side-band-64k\n", "shallow "+two+"\n", "deepen 1\n", "0000"))
	f.Add(uint8(0), pkts("want "+two+" multi_ack\n", "deepen-not v1\n", "filter blob:none\n", "0000", "have "+one+"\n", "0000"))
	f.Add(uint8(1), pkts("command=ls-refs\n", "object-format=sha1\n", "0001", "peel\n", "symrefs\n", "unborn\n", "ref-prefix HEAD\n", "0000"))
	f.Add(uint8(1), pkts("command=fetch\n", "0001", "want "+two+"\n", "have "+one+"\n", "ofs-delta\n", "deepen 1\n", "deepen-relative\n", "done\n", "0000"))
	f.Add(uint8(1), pkts("command=fetch\n", "0001", "want "+one+"\n", "filter tree:0\n", "thin-pack\n", "include-tag\n", "0000"))
	f.Add(uint8(2), pkts(two+" "+zero+" refs/heads/main\x00report-status-v2 side-band-64k atomic push-options\n", "0000", "opt\n", "0000"))
	f.Add(uint8(2), pkts(zero+" "+one+" refs/heads/b\x00report-status\n", "0000"))
	f.Add(uint8(2), append(pkts(zero+" "+one+" refs/heads/c\x00report-status quiet\n", "0000"), "PACK\x00\x00\x00\x02\x00\x00\x00\x00"...))
	f.Add(uint8(3), []byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"))

	h := NewHandler(st, nil)
	f.Fuzz(func(t *testing.T, ep uint8, body []byte) {
		e := fuzzEndpoints[int(ep)%len(fuzzEndpoints)]
		req := httptest.NewRequest("POST", "/git/acme/f.git/"+e.path, bytes.NewReader(body))
		req.SetBasicAuth("acme", "secret")
		if e.proto != "" {
			req.Header.Set("Git-Protocol", e.proto)
		}
		if e.encoding != "" {
			req.Header.Set("Content-Encoding", e.encoding)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("status %d: %s", rec.Code, rec.Body.Bytes())
		}

		ctx := context.Background()
		ten, err := st.Acquire(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		defer ten.Release()
		repo, err := gitstore.Open(ctx, ten, "f")
		if err != nil {
			t.Fatal(err)
		}
		defer repo.Close()
		for _, r := range repo.Refs {
			if !repo.Has(r.Hash) {
				t.Fatalf("%s names missing object %s", r.Name, r.Hash)
			}
		}
	})
}
