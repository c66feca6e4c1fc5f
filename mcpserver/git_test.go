package mcpserver_test

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"rewire/gitsmart"
	"rewire/internal/testtool"
)

func gitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestGitTools(t *testing.T) {
	e := newEnv(t)
	cs, err := e.connect(t, authRT{user: "alice", pass: "alice-pw"})
	if err != nil {
		t.Fatal(err)
	}
	r := map[string]any{"repo": "site"}
	with := func(kv ...any) map[string]any {
		m := map[string]any{"repo": "site"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	if out := call(t, cs, "git_init", with("worktree", "/work/site"), false); !strings.Contains(out, `"worktree":"/work/site"`) {
		t.Fatalf("git_init %s", out)
	}
	call(t, cs, "fs_write", map[string]any{"path": "/work/site/index.html", "content": "<h1>v1</h1>\n"}, false)
	call(t, cs, "fs_write", map[string]any{"path": "/work/site/css/a.css", "content": "body{}\n", "parents": true}, false)
	if out := call(t, cs, "git_status", r, false); !strings.Contains(out, `"path":"index.html","staged":false,"status":"untracked"`) {
		t.Fatalf("git_status %s", out)
	}
	call(t, cs, "git_commit", with("message", "nothing staged"), true)
	call(t, cs, "git_add", with("paths", []any{"index.html"}), false)
	call(t, cs, "git_add", with("paths", []any{"../escape"}), true)
	out := call(t, cs, "git_commit", with("message", "first page", "author", "Agent", "email", "agent@example.com"), false)
	if !strings.Contains(out, "committed 1 change") {
		t.Fatalf("git_commit %s", out)
	}
	// css is still untracked; commit it with all.
	call(t, cs, "git_commit", with("message", "styles", "all", true), false)
	if out := call(t, cs, "git_status", r, false); !strings.Contains(out, "working tree clean") {
		t.Fatalf("status after commit %s", out)
	}
	if out := call(t, cs, "git_log", r, false); strings.Count(out, `"hash"`) != 2 || !strings.Contains(out, "Agent") {
		t.Fatalf("git_log %s", out)
	}
	// A feature branch, changed and merged back by fast-forward.
	call(t, cs, "git_checkout", with("branch", "feature", "create", true), false)
	call(t, cs, "fs_write", map[string]any{"path": "/work/site/index.html", "content": "<h1>v2</h1>\n"}, false)
	if out := call(t, cs, "git_diff", r, false); !strings.Contains(out, `-\u003ch1\u003ev1`) && !strings.Contains(out, "-<h1>v1") {
		t.Fatalf("git_diff %s", out)
	}
	call(t, cs, "git_checkout", with("branch", "main"), true) // dirty worktree refused
	call(t, cs, "git_commit", with("message", "v2", "all", true), false)
	call(t, cs, "git_checkout", with("branch", "main"), false)
	if out := call(t, cs, "fs_read", map[string]any{"path": "/work/site/index.html"}, false); !strings.Contains(out, "v1") {
		t.Fatalf("checkout main did not restore v1: %s", out)
	}
	if out := call(t, cs, "git_merge", with("branch", "feature"), false); !strings.Contains(out, "fast-forward") {
		t.Fatalf("git_merge %s", out)
	}
	if out := call(t, cs, "fs_read", map[string]any{"path": "/work/site/index.html"}, false); !strings.Contains(out, "v2") {
		t.Fatalf("merge did not update the worktree: %s", out)
	}
	// Diverging branches touching different files: a merge commit.
	call(t, cs, "git_checkout", with("branch", "feature"), false)
	call(t, cs, "fs_write", map[string]any{"path": "/work/site/feature.txt", "content": "f\n"}, false)
	call(t, cs, "git_commit", with("message", "feature file", "all", true), false)
	call(t, cs, "git_checkout", with("branch", "main"), false)
	call(t, cs, "fs_write", map[string]any{"path": "/work/site/main.txt", "content": "m\n"}, false)
	call(t, cs, "git_commit", with("message", "main file", "all", true), false)
	if out := call(t, cs, "git_merge", with("branch", "feature"), false); !strings.Contains(out, "merged feature") {
		t.Fatalf("merge commit %s", out)
	}
	if out := call(t, cs, "fs_exists", map[string]any{"path": "/work/site/feature.txt"}, false); !strings.Contains(out, `"exists":true`) {
		t.Fatalf("merged file missing: %s", out)
	}
	// Tags and branches.
	call(t, cs, "git_tag", with("name", "v1.0"), false)
	if out := call(t, cs, "git_tag", r, false); !strings.Contains(out, `"v1.0"`) {
		t.Fatalf("git_tag list %s", out)
	}
	if out := call(t, cs, "git_branch", r, false); !strings.Contains(out, `"feature"`) || !strings.Contains(out, `"main"`) {
		t.Fatalf("git_branch %s", out)
	}
	call(t, cs, "git_branch", with("name", "main", "delete", true), true)
	// Stash: save a change, the worktree is clean, pop brings it back.
	call(t, cs, "fs_write", map[string]any{"path": "/work/site/index.html", "content": "wip\n"}, false)
	call(t, cs, "git_stash", with("action", "push"), false)
	if out := call(t, cs, "fs_read", map[string]any{"path": "/work/site/index.html"}, false); !strings.Contains(out, "v2") {
		t.Fatalf("stash push did not restore: %s", out)
	}
	call(t, cs, "git_stash", with("action", "pop"), false)
	if out := call(t, cs, "fs_read", map[string]any{"path": "/work/site/index.html"}, false); !strings.Contains(out, "wip") {
		t.Fatalf("stash pop: %s", out)
	}
	// Reset --hard drops it again.
	call(t, cs, "git_reset", with("mode", "hard"), false)
	if out := call(t, cs, "fs_read", map[string]any{"path": "/work/site/index.html"}, false); !strings.Contains(out, "v2") {
		t.Fatalf("reset hard: %s", out)
	}

	// The stock git client clones what git_commit stored.
	testtool.Need(t, "git")
	gs := httptest.NewServer(gitsmart.NewHandler(e.store, nil))
	t.Cleanup(gs.Close)
	dir := t.TempDir()
	u := strings.Replace(gs.URL, "http://", "http://alice:alice-pw@", 1) + "/git/alice/site.git"
	gitRun(t, dir, "clone", "-q", u, "clone")
	got, err := os.ReadFile(filepath.Join(dir, "clone", "index.html"))
	if err != nil || string(got) != "<h1>v2</h1>\n" {
		t.Fatalf("cloned index.html %q %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "clone", "feature.txt")); err != nil {
		t.Fatal(err)
	}
	log := gitRun(t, filepath.Join(dir, "clone"), "log", "--format=%an %s")
	if !strings.Contains(log, "Agent first page") || !strings.Contains(log, "Merge feature") {
		t.Fatalf("git log of the clone:\n%s", log)
	}
	gitRun(t, filepath.Join(dir, "clone"), "fsck", "--strict")
}

func TestGitToolsRefuse(t *testing.T) {
	e := newEnv(t)
	cs, err := e.connect(t, authRT{user: "alice", pass: "alice-pw"})
	if err != nil {
		t.Fatal(err)
	}
	call(t, cs, "git_init", map[string]any{"repo": "r"}, false)
	call(t, cs, "git_init", map[string]any{"repo": "bad/name"}, true)
	call(t, cs, "git_init", map[string]any{"repo": "r2", "worktree": "../../outside"}, true)
	call(t, cs, "fs_write", map[string]any{"path": "/worktrees/r/f.txt", "content": "base\n"}, false)
	if out := call(t, cs, "git_diff", map[string]any{"repo": "r"}, false); !strings.Contains(out, "+base") {
		t.Fatalf("diff before the first commit: %s", out)
	}
	call(t, cs, "git_commit", map[string]any{"repo": "r", "message": "base", "all": true}, false)
	call(t, cs, "git_checkout", map[string]any{"repo": "r", "branch": "other", "create": true}, false)
	call(t, cs, "fs_write", map[string]any{"path": "/worktrees/r/f.txt", "content": "theirs\n"}, false)
	call(t, cs, "git_commit", map[string]any{"repo": "r", "message": "theirs", "all": true}, false)
	call(t, cs, "git_checkout", map[string]any{"repo": "r", "branch": "main"}, false)
	call(t, cs, "fs_write", map[string]any{"path": "/worktrees/r/f.txt", "content": "ours\n"}, false)
	head := call(t, cs, "git_commit", map[string]any{"repo": "r", "message": "ours", "all": true}, false)
	if out := call(t, cs, "git_merge", map[string]any{"repo": "r", "branch": "other"}, true); !strings.Contains(out, "merge conflict in f.txt") {
		t.Fatalf("conflict: %s", out)
	}
	// Nothing changed: same head, same file.
	if out := call(t, cs, "git_status", map[string]any{"repo": "r"}, false); !strings.Contains(out, "clean") ||
		!strings.Contains(out, head[strings.Index(head, `"head"`):strings.Index(head, `"head"`)+50]) {
		t.Fatalf("after conflict: %s / %s", out, head)
	}
	call(t, cs, "git_branch", map[string]any{"repo": "r", "name": "a..b"}, true)
	call(t, cs, "git_checkout", map[string]any{"repo": "r", "branch": "nosuch"}, true)
	call(t, cs, "git_reset", map[string]any{"repo": "r", "mode": "sideways"}, true)
	call(t, cs, "git_stash", map[string]any{"repo": "r", "action": "pop"}, true)
	// Bob cannot reach alice's repository.
	bob, err := e.connect(t, authRT{user: "bob", pass: "bob-pw"})
	if err != nil {
		t.Fatal(err)
	}
	if out := call(t, bob, "git_log", map[string]any{"repo": "r"}, true); !strings.Contains(out, "not found") {
		t.Fatalf("bob's git_log: %s", out)
	}
}

// TestGitMergeLines: branches that change separate lines of one file
// merge into a commit holding both changes.
func TestGitMergeLines(t *testing.T) {
	e := newEnv(t)
	cs, err := e.connect(t, authRT{user: "alice", pass: "alice-pw"})
	if err != nil {
		t.Fatal(err)
	}
	r := map[string]any{"repo": "r"}
	with := func(kv ...any) map[string]any {
		m := map[string]any{"repo": "r"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	write := func(content string) {
		call(t, cs, "fs_write", map[string]any{"path": "/worktrees/r/list.txt", "content": content}, false)
	}
	call(t, cs, "git_init", r, false)
	write("one\ntwo\nthree\nfour\nfive\nsix\n")
	call(t, cs, "git_commit", with("message", "base", "all", true), false)
	call(t, cs, "git_checkout", with("branch", "other", "create", true), false)
	write("one\ntwo\nthree\nfour\nfive\nSIX\n")
	call(t, cs, "git_commit", with("message", "theirs", "all", true), false)
	call(t, cs, "git_checkout", with("branch", "main"), false)
	write("ONE\ntwo\nthree\nfour\nfive\nsix\n")
	call(t, cs, "git_commit", with("message", "ours", "all", true), false)
	if out := call(t, cs, "git_merge", with("branch", "other"), false); !strings.Contains(out, "merged other") {
		t.Fatalf("git_merge %s", out)
	}
	out := call(t, cs, "fs_read", map[string]any{"path": "/worktrees/r/list.txt"}, false)
	if !strings.Contains(out, `ONE\ntwo\nthree\nfour\nfive\nSIX\n`) {
		t.Fatalf("merged file %s", out)
	}
	if out := call(t, cs, "git_status", r, false); !strings.Contains(out, "clean") {
		t.Fatalf("status after merge %s", out)
	}
}
