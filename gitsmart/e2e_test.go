package gitsmart

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"rewire/internal/testtool"
	"rewire/storage"
)

// gitEnv is a git server in-process plus a place to run the git CLI.
type gitEnv struct {
	t     *testing.T
	store *storage.Store
	srv   *httptest.Server
	home  string
	proto string   // protocol.version
	env   []string // extra environment for the git CLI
}

func newGitEnv(t *testing.T, proto string) *gitEnv {
	t.Helper()
	testtool.Need(t, "git")
	ctx := context.Background()
	st, err := storage.Open(ctx, storage.Config{Dir: t.TempDir(), MoverInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	for name, pw := range map[string]string{"acme": "secret", "other": "pw2"} {
		if _, err := st.CreateTenant(ctx, name, pw); err != nil {
			t.Fatal(err)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/git/", NewHandler(st, nil))
	srv := httptest.NewUnstartedServer(mux)
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		st.Close()
	})
	return &gitEnv{t: t, store: st, srv: srv, home: t.TempDir(), proto: proto}
}

func (e *gitEnv) url(user, pw, tenant, repo string) string {
	host := strings.TrimPrefix(e.srv.URL, "http://")
	return fmt.Sprintf("http://%s:%s@%s/git/%s/%s.git", user, pw, host, tenant, repo)
}

func (e *gitEnv) acme(repo string) string { return e.url("acme", "secret", "acme", repo) }

// git runs the git CLI in dir and returns its output, failing the test on
// error.
func (e *gitEnv) git(dir string, args ...string) string {
	e.t.Helper()
	out, err := e.tryGit(dir, args...)
	if err != nil {
		e.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (e *gitEnv) tryGit(dir string, args ...string) (string, error) {
	full := append([]string{"-c", "protocol.version=" + e.proto, "-c", "user.name=T", "-c", "user.email=t@example.com",
		"-c", "init.defaultBranch=main", "-c", "advice.detachedHead=false"}, args...)
	cmd := exec.Command("git", full...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+e.home, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_DATE=2024-01-01T00:00:00Z", "LC_ALL=C", "GIT_TRACE_PACKET="+os.Getenv("TRACE_PKT"))
	cmd.Env = append(cmd.Env, e.env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// makeSource builds a repository with branches, tags, many small files and
// a large binary.
func (e *gitEnv) makeSource(smallFiles, bigBytes int) string {
	t := e.t
	dir := t.TempDir()
	e.git(dir, "init", "-q")
	for i := 0; i < smallFiles; i++ {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("d%02d/f%04d.txt", i%37, i)), []byte(fmt.Sprintf("file %d\n", i)))
	}
	e.git(dir, "add", ".")
	e.git(dir, "commit", "-qm", "small files")
	if bigBytes > 0 {
		big := make([]byte, bigBytes)
		rand.Read(big)
		writeFile(t, filepath.Join(dir, "big.bin"), big)
		e.git(dir, "add", "big.bin")
		e.git(dir, "commit", "-qm", "big binary")
	}
	for i := 0; i < 5; i++ {
		writeFile(t, filepath.Join(dir, "log.txt"), []byte(strings.Repeat(fmt.Sprintf("line %d\n", i), i+1)))
		e.git(dir, "add", "log.txt")
		e.git(dir, "commit", "-qm", fmt.Sprintf("change %d", i))
	}
	e.git(dir, "tag", "-a", "v1.0", "-m", "release 1.0")
	e.git(dir, "tag", "light")
	e.git(dir, "checkout", "-qb", "feature")
	writeFile(t, filepath.Join(dir, "feature.txt"), []byte("feature\n"))
	e.git(dir, "add", ".")
	e.git(dir, "commit", "-qm", "feature work")
	e.git(dir, "checkout", "-q", "main")
	return dir
}

// refs lists refs as "hash name" lines.
func (e *gitEnv) refs(dir string, args ...string) string {
	return e.git(dir, append([]string{"for-each-ref", "--format=%(objectname) %(refname)"}, args...)...)
}

func forEachProto(t *testing.T, f func(t *testing.T, e *gitEnv)) {
	for _, p := range []string{"0", "2"} {
		t.Run("v"+p, func(t *testing.T) { f(t, newGitEnv(t, p)) })
	}
}

func TestPushClone(t *testing.T) {
	forEachProto(t, func(t *testing.T, e *gitEnv) {
		big := 20 << 20
		if testing.Short() {
			big = 1 << 20
		}
		src := e.makeSource(3000, big)
		e.git(src, "push", "-q", e.acme("proj"), "--all")
		e.git(src, "push", "-q", e.acme("proj"), "--tags")

		dst := filepath.Join(t.TempDir(), "clone")
		e.git("", "clone", "-q", e.acme("proj"), dst)
		e.git(dst, "fsck", "--strict", "--no-progress")
		if got, want := strings.TrimSpace(e.git(dst, "symbolic-ref", "HEAD")), "refs/heads/main"; got != want {
			t.Errorf("HEAD %q, want %q", got, want)
		}
		want := e.refs(src, "refs/heads", "refs/tags")
		got := strings.ReplaceAll(e.refs(dst, "refs/remotes/origin", "refs/tags"), "refs/remotes/origin/", "refs/heads/")
		got = strings.Join(filterLines(got, "/HEAD"), "\n")
		if strings.TrimSpace(sortLines(got)) != strings.TrimSpace(sortLines(want)) {
			t.Errorf("refs differ:\nsource:\n%s\nclone:\n%s", want, got)
		}
		if a, b := e.git(src, "rev-parse", "HEAD^{tree}"), e.git(dst, "rev-parse", "HEAD^{tree}"); a != b {
			t.Errorf("tree %s != %s", a, b)
		}

		// Incremental fetch and pull.
		writeFile(t, filepath.Join(src, "new.txt"), []byte("new\n"))
		e.git(src, "add", ".")
		e.git(src, "commit", "-qm", "new")
		e.git(src, "push", "-q", e.acme("proj"), "main")
		e.git(dst, "pull", "-q", "--ff-only")
		if a, b := e.git(src, "rev-parse", "HEAD"), e.git(dst, "rev-parse", "HEAD"); a != b {
			t.Errorf("after pull %s != %s", b, a)
		}
		e.git(dst, "fsck", "--no-progress")

		// Non-fast-forward refused without --force, accepted with it.
		e.git(dst, "reset", "-q", "--hard", "HEAD~2")
		writeFile(t, filepath.Join(dst, "diverge.txt"), []byte("x\n"))
		e.git(dst, "add", ".")
		e.git(dst, "commit", "-qm", "diverge")
		if out, err := e.tryGit(dst, "push", e.acme("proj"), "main"); err == nil {
			t.Errorf("non-fast-forward push accepted:\n%s", out)
		}
		e.git(dst, "push", "-q", "--force", e.acme("proj"), "main")
		if a, b := e.git(dst, "rev-parse", "HEAD"), lsRemote(e, "proj", "refs/heads/main"); strings.TrimSpace(a) != b {
			t.Errorf("forced push: remote main %s, want %s", b, a)
		}

		// Branch deletion.
		e.git(dst, "push", "-q", e.acme("proj"), ":feature")
		if h := lsRemote(e, "proj", "refs/heads/feature"); h != "" {
			t.Errorf("deleted branch still there: %s", h)
		}

		// Single-branch clone.
		one := filepath.Join(t.TempDir(), "one")
		e.git("", "clone", "-q", "--single-branch", "--branch", "main", "--no-tags", e.acme("proj"), one)
		if r := filterLines(e.refs(one, "refs/remotes"), "/HEAD"); len(r) != 1 {
			t.Errorf("single-branch clone has refs:\n%s", r)
		}
		e.git(one, "fsck", "--no-progress")
	})
}

func TestShallowAndPartial(t *testing.T) {
	forEachProto(t, func(t *testing.T, e *gitEnv) {
		src := e.makeSource(50, 0)
		e.git(src, "push", "-q", e.acme("s"), "--all")
		e.git(src, "push", "-q", e.acme("s"), "--tags")

		sh := filepath.Join(t.TempDir(), "sh")
		e.git("", "clone", "-q", "--depth", "1", e.acme("s"), sh)
		if n := strings.TrimSpace(e.git(sh, "rev-list", "--count", "HEAD")); n != "1" {
			t.Errorf("depth 1 clone has %s commits", n)
		}
		e.git(sh, "fsck", "--no-progress")
		e.git(sh, "fetch", "-q", "--deepen=2")
		if n := strings.TrimSpace(e.git(sh, "rev-list", "--count", "HEAD")); n != "3" {
			t.Errorf("after --deepen=2: %s commits, want 3", n)
		}
		e.git(sh, "fsck", "--no-progress")
		e.git(sh, "fetch", "-q", "--unshallow")
		want := strings.TrimSpace(e.git(src, "rev-list", "--count", "main"))
		if n := strings.TrimSpace(e.git(sh, "rev-list", "--count", "HEAD")); n != want {
			t.Errorf("after --unshallow: %s commits, want %s", n, want)
		}

		since := filepath.Join(t.TempDir(), "since")
		e.git("", "clone", "-q", "--shallow-since=2000-01-01", e.acme("s"), since)
		e.git(since, "fsck", "--no-progress")
		not := filepath.Join(t.TempDir(), "not")
		e.git("", "clone", "-q", "--shallow-exclude=v1.0", "--branch", "feature", e.acme("s"), not)
		if n := strings.TrimSpace(e.git(not, "rev-list", "--count", "HEAD")); n != "1" {
			t.Errorf("--shallow-exclude=v1.0: %s commits, want 1", n)
		}

		part := filepath.Join(t.TempDir(), "part")
		e.git("", "clone", "-q", "--filter=blob:none", e.acme("s"), part)
		e.git(part, "fsck", "--no-progress")
		if a, b := e.git(src, "rev-parse", "main^{tree}"), e.git(part, "rev-parse", "HEAD^{tree}"); a != b {
			t.Errorf("partial clone tree %s != %s", b, a)
		}
		e.git(part, "log", "-p", "-3") // fetches missing blobs on demand

		for _, filter := range []string{"tree:0", "blob:limit=1k"} {
			d := filepath.Join(t.TempDir(), "f")
			e.git("", "clone", "-q", "--filter="+filter, e.acme("s"), d)
			e.git(d, "fsck", "--no-progress")
			if a, b := e.git(src, "rev-parse", "main^{tree}"), e.git(d, "rev-parse", "HEAD^{tree}"); a != b {
				t.Errorf("--filter=%s clone tree %s != %s", filter, b, a)
			}
		}
	})
}

func TestConcurrentPushes(t *testing.T) {
	e := newGitEnv(t, "2")
	src := e.makeSource(10, 0)
	e.git(src, "push", "-q", e.acme("c"), "main")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		dir := t.TempDir()
		e.git("", "clone", "-q", e.acme("c"), dir)
		e.git(dir, "checkout", "-qb", fmt.Sprintf("b%d", i))
		writeFile(t, filepath.Join(dir, "x.txt"), []byte(fmt.Sprint(i)))
		e.git(dir, "add", ".")
		e.git(dir, "commit", "-qm", "x")
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := e.tryGit(dir, "push", "-q", "origin", fmt.Sprintf("b%d", i)); err != nil {
				errs[i] = fmt.Errorf("%v: %s", err, out)
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("push %d: %v", i, err)
		}
		if lsRemote(e, "c", fmt.Sprintf("refs/heads/b%d", i)) == "" {
			t.Errorf("branch b%d missing", i)
		}
	}

	// Concurrent clones share the stored packs' readers.
	dirs := make([]string, 4)
	for i := range dirs {
		dirs[i] = filepath.Join(t.TempDir(), "c")
		args := []string{"clone", "-q", e.acme("c"), dirs[i]}
		if i%2 == 1 {
			args = append(args, "--depth=1", "--no-single-branch")
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := e.tryGit("", args...); err != nil {
				errs[i] = fmt.Errorf("%v: %s", err, out)
			}
		}()
	}
	wg.Wait()
	for i, d := range dirs {
		if errs[i] != nil {
			t.Fatalf("clone %d: %v", i, errs[i])
		}
		e.git(d, "fsck", "--no-progress")
	}
}

func TestAuthAndIsolation(t *testing.T) {
	e := newGitEnv(t, "2")
	src := e.makeSource(3, 0)
	e.git(src, "push", "-q", e.acme("secret-repo"), "main")
	base := e.srv.URL + "/git/acme/secret-repo.git/info/refs?service=git-upload-pack"
	cases := []struct {
		name, user, pw, url string
		code                int
	}{
		{"no credentials", "", "", base, 401},
		{"wrong password", "acme", "nope", base, 401},
		{"unknown tenant", "ghost", "x", base, 401},
		{"right credentials", "acme", "secret", base, 200},
		{"missing repo", "acme", "secret", e.srv.URL + "/git/acme/nothing.git/info/refs?service=git-upload-pack", 404},
		{"other tenant's repo", "other", "pw2", base, 404},
		{"other tenant's name, own password", "acme", "pw2", base, 401},
		{"other tenant, push", "other", "pw2", e.srv.URL + "/git/acme/secret-repo.git/info/refs?service=git-receive-pack", 404},
	}
	for _, c := range cases {
		req, _ := http.NewRequest("GET", c.url, nil)
		if c.user != "" {
			req.SetBasicAuth(c.user, c.pw)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Errorf("%s: status %d, want %d", c.name, resp.StatusCode, c.code)
		}
		if c.code == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("%s: no WWW-Authenticate header", c.name)
		}
	}
	// The git CLI sees the same: another tenant cannot clone or push.
	if out, err := e.tryGit("", "clone", e.url("other", "pw2", "acme", "secret-repo"), t.TempDir()); err == nil {
		t.Errorf("cross-tenant clone succeeded:\n%s", out)
	}
	if out, err := e.tryGit(src, "push", e.url("other", "pw2", "acme", "secret-repo"), "main:x"); err == nil {
		t.Errorf("cross-tenant push succeeded:\n%s", out)
	}
	// A push under the other tenant's own path creates its own repository.
	e.git(src, "push", "-q", e.url("other", "pw2", "other", "secret-repo"), "main")
	if h := lsRemote(e, "secret-repo", "refs/heads/x"); h != "" {
		t.Errorf("cross-tenant push changed acme's repository")
	}
}

func lsRemote(e *gitEnv, repo, ref string) string {
	out := e.git("", "ls-remote", e.acme(repo), ref)
	f := strings.Fields(out)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

func sortLines(s string) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	for i := range l {
		for j := i + 1; j < len(l); j++ {
			if l[j] < l[i] {
				l[i], l[j] = l[j], l[i]
			}
		}
	}
	return strings.Join(l, "\n")
}

func filterLines(s, drop string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if !strings.HasSuffix(l, drop) {
			out = append(out, l)
		}
	}
	return out
}

// TestAuthPrompt checks that the 401 answer makes the git CLI ask for the
// password (through GIT_ASKPASS, as a terminal prompt would) and retry
// with it, and that a wrong answer fails the clone.
func TestAuthPrompt(t *testing.T) {
	forEachProto(t, func(t *testing.T, e *gitEnv) {
		src := e.makeSource(3, 0)
		e.git(src, "push", "-q", e.acme("p"), "main")
		host := strings.TrimPrefix(e.srv.URL, "http://")
		noPassword := "http://acme@" + host + "/git/acme/p.git"

		dir := t.TempDir()
		asked := filepath.Join(dir, "asked")
		askpass := filepath.Join(dir, "askpass.sh")
		script := "#!/bin/sh\necho \"$1\" >> " + asked + "\ncat " + filepath.Join(dir, "answer") + "\n"
		if err := os.WriteFile(askpass, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		e.env = []string{"GIT_ASKPASS=" + askpass}

		writeFile(t, filepath.Join(dir, "answer"), []byte("secret\n"))
		e.git("", "clone", "-q", noPassword, filepath.Join(dir, "ok"))
		prompts, _ := os.ReadFile(asked)
		if !strings.Contains(string(prompts), "Password for 'http://acme@") {
			t.Errorf("git did not prompt for the password; prompts:\n%s", prompts)
		}
		e.git(filepath.Join(dir, "ok"), "fsck", "--no-progress")

		writeFile(t, filepath.Join(dir, "answer"), []byte("wrong\n"))
		out, err := e.tryGit("", "clone", "-q", noPassword, filepath.Join(dir, "bad"))
		if err == nil || !strings.Contains(out, "Authentication failed") {
			t.Errorf("clone with a wrong password: %v\n%s", err, out)
		}
		out, err = e.tryGit(src, "push", noPassword, "main:refs/heads/x")
		if err == nil || !strings.Contains(out, "Authentication failed") {
			t.Errorf("push with a wrong password: %v\n%s", err, out)
		}
	})
}
