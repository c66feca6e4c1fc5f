package gitsmart

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"rewire/storage/gitstore"
)

func TestTagsAtomicOptions(t *testing.T) {
	forEachProto(t, func(t *testing.T, e *gitEnv) {
		src := e.makeSource(5, 0)
		e.git(src, "push", "-q", e.acme("t"), "main", "feature")
		dst := filepath.Join(t.TempDir(), "d")
		e.git("", "clone", "-q", e.acme("t"), dst)

		// include-tag: a fetch of main follows the annotated tag on it.
		writeFile(t, filepath.Join(src, "t.txt"), []byte("t\n"))
		e.git(src, "add", ".")
		e.git(src, "commit", "-qm", "tagged")
		e.git(src, "tag", "-a", "v2.0", "-m", "two")
		e.git(src, "push", "-q", e.acme("t"), "main", "v2.0")
		e.git(dst, "fetch", "-q")
		if out := e.git(dst, "tag", "-l"); !strings.Contains(out, "v2.0") {
			t.Errorf("tag not followed on fetch; tags:\n%s", out)
		}

		// Atomic push: one stale ref rejects the whole push.
		e.git(src, "checkout", "-q", "feature")
		e.git(src, "commit", "-q", "--allow-empty", "-m", "f2")
		e.git(src, "checkout", "-q", "main")
		e.git(src, "reset", "-q", "--hard", "HEAD~1")
		before := lsRemote(e, "t", "refs/heads/feature")
		if out, err := e.tryGit(src, "push", "--atomic", e.acme("t"), "main", "feature"); err == nil {
			t.Errorf("atomic push with a non-fast-forward succeeded:\n%s", out)
		}
		if after := lsRemote(e, "t", "refs/heads/feature"); after != before {
			t.Errorf("atomic push moved feature from %s to %s", before, after)
		}
		// Push options are accepted.
		e.git(src, "push", "-q", "-o", "ci.skip", e.acme("t"), "feature")
		if after := lsRemote(e, "t", "refs/heads/feature"); after == before {
			t.Errorf("push with options did not update feature")
		}
	})
}

// TestGzipRequest sends a gzip-encoded, chunked upload-pack request as git
// does for large negotiations.
func TestGzipRequest(t *testing.T) {
	e := newGitEnv(t, "0")
	src := e.makeSource(5, 0)
	e.git(src, "push", "-q", e.acme("g"), "main")
	head := strings.TrimSpace(e.git(src, "rev-parse", "HEAD"))

	var raw bytes.Buffer
	pw := &pktWriter{w: &raw}
	pw.linef("want %s side-band-64k ofs-delta\n", head)
	pw.flush()
	pw.linef("done\n")
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(raw.Bytes())
	zw.Close()

	req, _ := http.NewRequest("POST", e.srv.URL+"/git/acme/g.git/git-upload-pack", io.MultiReader(&z))
	req.SetBasicAuth("acme", "secret")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Content-Type", "application/x-git-upload-pack-request")
	req.ContentLength = -1 // chunked
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	pr := newPktReader(resp.Body)
	k, line, err := pr.line()
	if err != nil || k != pktData || line != "NAK" {
		t.Fatalf("first line %q %v", line, err)
	}
	var pack bytes.Buffer
	for {
		k, b, err := pr.next()
		if err != nil {
			t.Fatal(err)
		}
		if k == pktFlush {
			break
		}
		if b[0] == 1 {
			pack.Write(b[1:])
		}
	}
	if !bytes.HasPrefix(pack.Bytes(), []byte("PACK")) {
		t.Fatalf("no pack in response (%d bytes)", pack.Len())
	}
}

// TestReusePacks checks that a full clone of a repository pushed in several
// pieces streams the stored packs and yields a valid repository.
func TestReusePacks(t *testing.T) {
	e := newGitEnv(t, "2")
	src := e.makeSource(20, 0)
	e.git(src, "push", "-q", e.acme("r"), "main~3:refs/heads/main")
	e.git(src, "push", "-q", e.acme("r"), "main")
	e.git(src, "push", "-q", e.acme("r"), "feature", "--tags")
	out := e.git("", "clone", "--progress", e.acme("r"), filepath.Join(t.TempDir(), "c"))
	if !strings.Contains(out, "Reusing") || !strings.Contains(out, "from 3 stored packs") {
		t.Errorf("clone did not reuse the stored packs:\n%s", out)
	}
	dst := filepath.Join(t.TempDir(), "c2")
	e.git("", "clone", "-q", e.acme("r"), dst)
	e.git(dst, "fsck", "--strict", "--no-progress")
	if a, b := e.git(src, "rev-parse", "feature"), e.git(dst, "rev-parse", "origin/feature"); a != b {
		t.Errorf("feature %s != %s", b, a)
	}
	fmt.Fprint(io.Discard, out)
}

func TestRepoAdmin(t *testing.T) {
	forEachProto(t, func(t *testing.T, e *gitEnv) {
		ctx := t.Context()
		ten, err := e.store.Acquire(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		defer ten.Release()
		if err := CreateRepo(ctx, ten, "empty"); err != nil {
			t.Fatal(err)
		}
		if err := CreateRepo(ctx, ten, "empty"); err == nil {
			t.Errorf("created a repository twice")
		}
		if err := CreateRepo(ctx, ten, "../x"); err == nil {
			t.Errorf("created a repository with a bad name")
		}
		d := filepath.Join(t.TempDir(), "e")
		out := e.git("", "clone", e.acme("empty"), d)
		if !strings.Contains(out, "empty repository") {
			t.Errorf("clone of an empty repository said:\n%s", out)
		}
		src := e.makeSource(3, 0)
		e.git(src, "push", "-q", e.acme("second"), "main")
		names, err := ListRepos(ctx, ten)
		if err != nil || strings.Join(names, ",") != "empty,second" {
			t.Errorf("ListRepos = %v, %v", names, err)
		}
		if err := DeleteRepo(ctx, ten, "second"); err != nil {
			t.Fatal(err)
		}
		if out, err := e.tryGit("", "ls-remote", e.acme("second")); err == nil {
			t.Errorf("deleted repository still served:\n%s", out)
		}
	})
}

// TestRejectMalformedPush pushes objects git fsck would reject (made with
// hash-object --literally, which the client does not check) and expects
// the push refused as a whole with the references unchanged.
func TestRejectMalformedPush(t *testing.T) {
	forEachProto(t, func(t *testing.T, e *gitEnv) {
		src := e.makeSource(3, 0)
		e.git(src, "push", "-q", e.acme("m"), "main")
		before := lsRemote(e, "m", "refs/heads/main")
		tree := strings.TrimSpace(e.git(src, "rev-parse", "HEAD^{tree}"))
		bad := map[string]string{
			"bad author date": "tree " + tree + "\nparent " + before + "\nauthor A <a@example.com> soon +0000\n" +
				"committer A <a@example.com> 1700000000 +0000\n\nbad\n",
			"no committer": "tree " + tree + "\nparent " + before + "\nauthor A <a@example.com> 1700000000 +0000\n\nbad\n",
		}
		for name, body := range bad {
			obj := filepath.Join(t.TempDir(), "obj")
			writeFile(t, obj, []byte(body))
			h := strings.TrimSpace(e.git(src, "hash-object", "--literally", "-w", "-t", "commit", obj))
			out, err := e.tryGit(src, "push", e.acme("m"), h+":refs/heads/main", h+":refs/heads/other")
			if err == nil {
				t.Errorf("%s: push accepted:\n%s", name, out)
			}
			if !strings.Contains(out, "malformed") {
				t.Errorf("%s: push output does not name the problem:\n%s", name, out)
			}
			if after := lsRemote(e, "m", "refs/heads/main"); after != before {
				t.Errorf("%s: main moved to %s", name, after)
			}
			if other := lsRemote(e, "m", "refs/heads/other"); other != "" {
				t.Errorf("%s: other created at %s", name, other)
			}
		}
		clone := filepath.Join(t.TempDir(), "c")
		e.git("", "clone", "-q", e.acme("m"), clone)
		e.git(clone, "fsck", "--strict", "--no-progress")
	})
}

// TestAutoRepack lowers the repack threshold, pushes until it is passed,
// and checks that the packs were merged into one that a clone streams
// whole and that git fsck accepts.
func TestAutoRepack(t *testing.T) {
	defer func(n int) { autoRepackPacks = n }(autoRepackPacks)
	autoRepackPacks = 3
	e := newGitEnv(t, "2")
	src := e.makeSource(20, 0)
	e.git(src, "push", "-q", e.acme("ar"), "main~3:refs/heads/main")
	e.git(src, "push", "-q", e.acme("ar"), "main~1:refs/heads/main")
	out := e.git(src, "push", "--progress", e.acme("ar"), "main", "feature", "--tags")
	if !strings.Contains(out, "merged 3 packs") {
		t.Errorf("third push did not repack:\n%s", out)
	}
	dst := filepath.Join(t.TempDir(), "c")
	out = e.git("", "clone", "--progress", e.acme("ar"), dst)
	if !strings.Contains(out, "from 1 stored packs") {
		t.Errorf("clone after repack:\n%s", out)
	}
	e.git(dst, "fsck", "--strict", "--no-progress")
	want := e.refs(src, "refs/heads", "refs/tags")
	got := strings.ReplaceAll(e.refs(dst, "refs/remotes/origin", "refs/tags"), "refs/remotes/origin/", "refs/heads/")
	got = strings.Join(filterLines(got, "/HEAD"), "\n")
	if sortLines(got) != sortLines(want) {
		t.Errorf("refs differ:\nsource:\n%s\nclone:\n%s", want, got)
	}
	// Fetches and pushes go on over the merged pack.
	writeFile(t, filepath.Join(src, "more.txt"), []byte("more\n"))
	e.git(src, "add", ".")
	e.git(src, "commit", "-qm", "more")
	e.git(src, "push", "-q", e.acme("ar"), "main")
	e.git(dst, "pull", "-q", "--ff-only")
	e.git(dst, "fsck", "--no-progress")
}

// TestProtocolV1 runs a push, clone and fetch with protocol.version=1,
// whose advertisements start with a version line.
func TestProtocolV1(t *testing.T) {
	e := newGitEnv(t, "1")
	e.env = []string{"GIT_TRACE_PACKET=" + filepath.Join(t.TempDir(), "trace")}
	src := e.makeSource(20, 0)
	e.git(src, "push", "-q", e.acme("v1"), "--all")
	e.git(src, "push", "-q", e.acme("v1"), "--tags")
	dst := filepath.Join(t.TempDir(), "c")
	e.git("", "clone", "-q", e.acme("v1"), dst)
	e.git(dst, "fsck", "--strict", "--no-progress")
	writeFile(t, filepath.Join(src, "v1.txt"), []byte("v1\n"))
	e.git(src, "add", ".")
	e.git(src, "commit", "-qm", "v1")
	e.git(src, "push", "-q", e.acme("v1"), "main")
	e.git(dst, "fetch", "-q")
	if a, b := e.git(src, "rev-parse", "main"), e.git(dst, "rev-parse", "origin/main"); a != b {
		t.Errorf("fetched %s, want %s", b, a)
	}
	trace, err := os.ReadFile(strings.TrimPrefix(e.env[0], "GIT_TRACE_PACKET="))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(trace), "< version 1"); n < 3 {
		t.Errorf("%d advertisements said version 1, want one per request", n)
	}
}

// TestWantBySHAAndDefaultHead fetches a commit that no ref names the tip
// of (allow-reachable-sha1-in-want), and checks that a repository created
// by a push of one non-main branch names it in HEAD, which clones check
// out.
func TestWantBySHAAndDefaultHead(t *testing.T) {
	forEachProto(t, func(t *testing.T, e *gitEnv) {
		src := e.makeSource(5, 0)
		e.git(src, "push", "-q", e.acme("w"), "main")
		inner := strings.TrimSpace(e.git(src, "rev-parse", "main~2"))
		dst := t.TempDir()
		e.git(dst, "init", "-q")
		e.git(dst, "fetch", "-q", e.acme("w"), inner)
		if got := strings.TrimSpace(e.git(dst, "rev-parse", "FETCH_HEAD")); got != inner {
			t.Errorf("FETCH_HEAD %s, want %s", got, inner)
		}
		e.git(dst, "fsck", "--no-progress")
		if out, err := e.tryGit(dst, "fetch", e.acme("w"), strings.Repeat("ab", 20)); err == nil {
			t.Errorf("fetch of an object the repository lacks succeeded:\n%s", out)
		}

		e.git(src, "push", "-q", e.acme("trunk"), "main:refs/heads/trunk")
		if out := e.git("", "ls-remote", "--symref", e.acme("trunk"), "HEAD"); !strings.Contains(out, "ref: refs/heads/trunk\tHEAD") {
			t.Errorf("HEAD of a repository created by pushing trunk:\n%s", out)
		}
		c := filepath.Join(t.TempDir(), "c")
		e.git("", "clone", "-q", e.acme("trunk"), c)
		if b := strings.TrimSpace(e.git(c, "branch", "--show-current")); b != "trunk" {
			t.Errorf("clone checked out %q, want trunk", b)
		}
	})
}

// TestConcurrentPushesRepack pushes to different branches at once while
// every push repacks, and clones meanwhile: every branch must arrive and
// every clone pass git fsck.
func TestConcurrentPushesRepack(t *testing.T) {
	defer func(n int) { autoRepackPacks = n }(autoRepackPacks)
	autoRepackPacks = 2
	e := newGitEnv(t, "2")
	src := e.makeSource(30, 0)
	e.git(src, "push", "-q", e.acme("cr"), "--all")
	const n = 4
	dirs := make([]string, n)
	for i := range dirs {
		dirs[i] = t.TempDir()
		e.git("", "clone", "-q", e.acme("cr"), dirs[i])
		e.git(dirs[i], "checkout", "-qb", fmt.Sprintf("b%d", i))
		for k := 0; k < 3; k++ {
			writeFile(t, filepath.Join(dirs[i], fmt.Sprintf("f%d.txt", k)), []byte(fmt.Sprint(i, k)))
			e.git(dirs[i], "add", ".")
			e.git(dirs[i], "commit", "-qm", fmt.Sprint(i, k))
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, 2*n)
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for k := 2; k >= 0; k-- { // three pushes, three packs
				ref := fmt.Sprintf("b%d~%d:refs/heads/b%d", i, k, i)
				if out, err := e.tryGit(dirs[i], "push", "-q", "origin", ref); err != nil {
					errs[i] = fmt.Errorf("%v: %s", err, out)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			c := filepath.Join(t.TempDir(), "c")
			if out, err := e.tryGit("", "clone", "-q", e.acme("cr"), c); err != nil {
				errs[n+i] = fmt.Errorf("clone: %v: %s", err, out)
				return
			}
			if out, err := e.tryGit(c, "fsck", "--no-progress"); err != nil {
				errs[n+i] = fmt.Errorf("fsck: %v: %s", err, out)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	ten, err := e.store.Acquire(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	defer ten.Release()
	repo, err := gitstore.Open(t.Context(), ten, "cr")
	if err != nil {
		t.Fatal(err)
	}
	if len(repo.Packs) > n {
		t.Errorf("%d packs left after %d pushes that repack", len(repo.Packs), 3*n+1)
	}
	repo.Close()
	final := filepath.Join(t.TempDir(), "final")
	e.git("", "clone", "-q", e.acme("cr"), final)
	e.git(final, "fsck", "--strict", "--no-progress")
	for i := range n {
		want := strings.TrimSpace(e.git(dirs[i], "rev-parse", fmt.Sprintf("b%d", i)))
		if got := lsRemote(e, "cr", fmt.Sprintf("refs/heads/b%d", i)); got != want {
			t.Errorf("b%d = %q, want %s", i, got, want)
		}
	}
}

// TestThinPush changes a few bytes of a large file and pushes: the client
// sends a thin pack whose delta borrows the old version from the
// repository, which completes it. The clone reuses the stored packs,
// leaving out the borrowed base that the first pack already holds.
func TestThinPush(t *testing.T) {
	forEachProto(t, func(t *testing.T, e *gitEnv) {
		src := e.makeSource(5, 2<<20)
		e.git(src, "push", "-q", e.acme("thin"), "main")
		big, err := os.ReadFile(filepath.Join(src, "big.bin"))
		if err != nil {
			t.Fatal(err)
		}
		copy(big[1000:], "changed")
		writeFile(t, filepath.Join(src, "big.bin"), big)
		e.git(src, "add", ".")
		e.git(src, "commit", "-qm", "change the big file")
		out := e.git(src, "push", "--progress", e.acme("thin"), "main")
		if !regexp.MustCompile(`Total \d+ \(delta [1-9]`).MatchString(out) || !strings.Contains(out, " bytes |") {
			t.Errorf("the push did not send the big file as a delta:\n%s", out)
		}
		c := filepath.Join(t.TempDir(), "c")
		out = e.git("", "clone", "--progress", e.acme("thin"), c)
		if !strings.Contains(out, "from 2 stored packs") {
			t.Errorf("clone did not reuse the stored packs:\n%s", out)
		}
		e.git(c, "fsck", "--strict", "--no-progress")
		if a, b := e.git(src, "rev-parse", "HEAD:big.bin"), e.git(c, "rev-parse", "HEAD:big.bin"); a != b {
			t.Errorf("big.bin %s, want %s", b, a)
		}
		got, err := os.ReadFile(filepath.Join(c, "big.bin"))
		if err != nil || !bytes.Equal(got, big) {
			t.Errorf("cloned big.bin differs: %v", err)
		}

		// Merging the completed pack with the first keeps one copy of the
		// borrowed base.
		ten, err := e.store.Acquire(t.Context(), "acme")
		if err != nil {
			t.Fatal(err)
		}
		defer ten.Release()
		if n, err := gitstore.Repack(t.Context(), ten, "thin", 2); n != 2 || err != nil {
			t.Fatalf("repack: %d %v", n, err)
		}
		c2 := filepath.Join(t.TempDir(), "c2")
		e.git("", "clone", "-q", e.acme("thin"), c2)
		e.git(c2, "fsck", "--strict", "--no-progress")
		if got, err := os.ReadFile(filepath.Join(c2, "big.bin")); err != nil || !bytes.Equal(got, big) {
			t.Errorf("big.bin after repack differs: %v", err)
		}
	})
}

// TestThinFetch pushes a small change to a large file and fetches it into
// a clone that has the old version: the clone asked for a thin pack and
// gets the stored delta on the old version instead of the whole file.
func TestThinFetch(t *testing.T) {
	forEachProto(t, func(t *testing.T, e *gitEnv) {
		src := e.makeSource(5, 2<<20)
		e.git(src, "push", "-q", e.acme("tf"), "main")
		c := filepath.Join(t.TempDir(), "c")
		e.git("", "clone", "-q", e.acme("tf"), c)

		big, err := os.ReadFile(filepath.Join(src, "big.bin"))
		if err != nil {
			t.Fatal(err)
		}
		copy(big[5000:], "changed again")
		writeFile(t, filepath.Join(src, "big.bin"), big)
		e.git(src, "add", ".")
		e.git(src, "commit", "-qm", "change the big file")
		e.git(src, "push", "-q", e.acme("tf"), "main")

		trace := filepath.Join(t.TempDir(), "pack")
		e.env = []string{"GIT_TRACE_PACKFILE=" + trace}
		e.git(c, "fetch", "-q")
		e.env = nil
		if st, err := os.Stat(trace); err != nil || st.Size() > 64<<10 {
			t.Errorf("fetched pack: %v, want a thin pack of a few KiB", err)
		}
		e.git(c, "merge", "-q", "--ff-only", "origin/main")
		e.git(c, "fsck", "--strict", "--no-progress")
		got, err := os.ReadFile(filepath.Join(c, "big.bin"))
		if err != nil || !bytes.Equal(got, big) {
			t.Errorf("fetched big.bin differs: %v", err)
		}

		// A partial clone lacks old blobs: its fetch must work without them.
		part := filepath.Join(t.TempDir(), "part")
		e.git("", "clone", "-q", "--filter=blob:none", "--no-checkout", e.acme("tf"), part)
		copy(big[9000:], "and again")
		writeFile(t, filepath.Join(src, "big.bin"), big)
		e.git(src, "add", ".")
		e.git(src, "commit", "-qm", "change it once more")
		e.git(src, "push", "-q", e.acme("tf"), "main")
		e.git(part, "fetch", "-q")
		e.git(part, "checkout", "-q", "-B", "main", "origin/main")
		e.git(part, "fsck", "--no-progress")
		if got, err := os.ReadFile(filepath.Join(part, "big.bin")); err != nil || !bytes.Equal(got, big) {
			t.Errorf("partial clone's big.bin differs: %v", err)
		}
	})
}
