// Command git measures rewire's git smart HTTP server beside the reference,
// the real `git http-backend` behind a small CGI server (net/http/cgi), on
// the same generated repository in the same run:
//
//   - push of the whole history into an empty repository;
//   - full clone (bare);
//   - --depth 1 clone;
//   - incremental fetch after new commits;
//   - --depth 1 clone after a commit edits 300 files (their tips are
//     stored as deltas on the previous versions, which are not sent).
//
// It prints seconds per operation and rewire's time as a multiple of the
// reference's (lower is better; the goal is at most 1.5x, and 1x for clones).
//
// Run: go run ./bench/git [-commits 2000] [-files 3000] [-big 4] [-bigmb 4] [-proto 2]
//
// or, for a real history: go run ./bench/git -repo /path/to/repository
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"rewire/gitsmart"
	"rewire/internal/benchtool"
	"rewire/storage"
)

var (
	commits = flag.Int("commits", 2000, "commits in the generated history")
	files   = flag.Int("files", 3000, "small files in the tree")
	bigN    = flag.Int("big", 4, "large binary blobs added along the history")
	bigMB   = flag.Int("bigmb", 4, "size of each large blob in MiB")
	proto   = flag.String("proto", "2", "git protocol.version for the clients")
	keep    = flag.Bool("keep", false, "keep the scratch directory")
	cpuProf = flag.String("cpuprofile", "", "write a CPU profile of the whole run (rewire runs in-process)")
	repo    = flag.String("repo", "", "an existing repository to serve instead of a generated one")
	only    = flag.String("only", "", "run only operations whose name contains this")
	runs    = flag.Int("runs", 3, "runs per operation and server; the fastest counts")
)

func main() {
	flag.Parse()
	dir, err := os.MkdirTemp("", "rewire-bench-git-")
	if err != nil {
		log.Fatal(err)
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}
	defer benchtool.StartCPUProfile(*cpuProf)()
	src := filepath.Join(dir, "src")
	start := time.Now()
	if *repo != "" {
		mustGit("", "clone", "-q", "--no-local", *repo, src)
		for _, b := range strings.Fields(mustGit(src, "for-each-ref", "--format=%(refname:lstrip=3)", "refs/remotes/origin")) {
			if b != "HEAD" && b != strings.TrimSpace(mustGit(src, "branch", "--show-current")) {
				mustGit(src, "branch", "-f", b, "origin/"+b)
			}
		}
		fmt.Printf("copied %s: %s commits (%s)\n", *repo,
			strings.TrimSpace(mustGit(src, "rev-list", "--all", "--count")), du(filepath.Join(src, ".git")))
	} else {
		generate(src)
		fmt.Printf("generated %d commits, %d files, %d x %d MiB blobs in %.1fs (%s)\n",
			*commits, *files, *bigN, *bigMB, time.Since(start).Seconds(), du(filepath.Join(src, ".git")))
	}

	rewireURL, stopRewire := startRewire(filepath.Join(dir, "rewire"))
	defer stopRewire()
	refURL := startReference(filepath.Join(dir, "ref"))

	type op struct {
		name string
		run  func(base, tag string) time.Duration
	}
	ops := []op{
		{"push whole history", func(base, tag string) time.Duration {
			// A fresh empty repository per run.
			repo := fmt.Sprintf("push%d", time.Now().UnixNano())
			if tag == "ref" {
				bare := filepath.Join(dir, "ref", repo+".git")
				mustGit("", "init", "-q", "--bare", "-b", "main", bare)
				mustGit(bare, "config", "http.receivepack", "true")
			}
			return timeGit(src, "push", "-q", base+"/"+repo+".git", "--all")
		}},
		{"full clone (bare)", func(base, tag string) time.Duration {
			os.RemoveAll(filepath.Join(dir, "full-"+tag))
			return timeGit(dir, "clone", "-q", "--bare", base+"/bench.git", filepath.Join(dir, "full-"+tag))
		}},
		{"clone --depth 1", func(base, tag string) time.Duration {
			os.RemoveAll(filepath.Join(dir, "shallow-"+tag))
			return timeGit(dir, "clone", "-q", "--bare", "--depth", "1", base+"/bench.git", filepath.Join(dir, "shallow-"+tag))
		}},
		{"incremental fetch (20 commits)", func(base, tag string) time.Duration {
			clone := filepath.Join(dir, "fetch-"+tag)
			os.RemoveAll(clone)
			mustGit("", "clone", "-q", "--bare", filepath.Join(dir, "full-"+tag), clone)
			return timeGit(clone, "fetch", "-q", base+"/bench.git", "+refs/heads/*:refs/heads/*")
		}},
		{"clone --depth 1 after edits", func(base, tag string) time.Duration {
			// The edited files' tips are stored as deltas on their
			// previous versions, which a depth-1 clone does not send.
			os.RemoveAll(filepath.Join(dir, "edited-"+tag))
			return timeGit(dir, "clone", "-q", "--bare", "--depth", "1", base+"/bench.git", filepath.Join(dir, "edited-"+tag))
		}},
	}
	mustGit(src, "push", "-q", rewireURL+"/bench.git", "--all")
	mustGit(src, "push", "-q", refURL+"/bench.git", "--all")
	results := make([][2]time.Duration, len(ops))
	for i, o := range ops {
		if i == 3 {
			// The clones of the previous step are the fetching side.
			addCommits(src, 20)
			mustGit(src, "push", "-q", rewireURL+"/bench.git", "--all")
			mustGit(src, "push", "-q", refURL+"/bench.git", "--all")
		}
		if i == 4 {
			editFiles(src, 300)
			mustGit(src, "push", "-q", rewireURL+"/bench.git", "--all")
			mustGit(src, "push", "-q", refURL+"/bench.git", "--all")
		}
		if *only != "" && !strings.Contains(o.name, *only) && i != 1 {
			continue
		}
		for r := 0; r < *runs; r++ {
			for k, srv := range []struct{ url, tag string }{{rewireURL, "rewire"}, {refURL, "ref"}} {
				d := o.run(srv.url, srv.tag)
				if r == 0 || d < results[i][k] {
					results[i][k] = d
				}
			}
		}
	}
	fmt.Printf("\n%-32s %12s %14s %8s\n", "operation (protocol v"+*proto+")", "rewire s", "http-backend s", "ratio")
	for i, o := range ops {
		r, ref := results[i][0].Seconds(), results[i][1].Seconds()
		if ref == 0 {
			continue // left out by -only
		}
		fmt.Printf("%-32s %12.3f %14.3f %7.2fx\n", o.name, r, ref, r/ref)
	}
	// The depth-1 packs' sizes show what computed deltas save.
	fmt.Println()
	for _, c := range []string{"shallow", "edited"} {
		if _, err := os.Stat(filepath.Join(dir, c+"-rewire")); err == nil {
			fmt.Printf("%s depth-1 clone on disk: rewire %s, http-backend %s\n", c,
				du(filepath.Join(dir, c+"-rewire")), du(filepath.Join(dir, c+"-ref")))
		}
	}
}

// editFiles appends a line to n tracked files under 1 MiB and commits.
func editFiles(src string, n int) {
	for _, rel := range strings.Split(strings.TrimSpace(mustGit(src, "ls-files")), "\n") {
		path := filepath.Join(src, rel)
		st, err := os.Lstat(path)
		if err != nil || !st.Mode().IsRegular() || st.Size() > 1<<20 {
			continue
		}
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Fprintf(f, "edited for the benchmark\n")
		f.Close()
		if n--; n == 0 {
			break
		}
	}
	mustGit(src, "commit", "-qam", "edit files")
}

// generate builds the source repository with git fast-import.
func generate(src string) {
	mustGit("", "init", "-q", "-b", "main", src)
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	rng := rand.New(rand.NewPCG(1, 2))
	mark := 0
	fileMark := make([]int, *files)
	for i := range fileMark {
		mark++
		fileMark[i] = mark
		data := fmt.Sprintf("file %d\n%s\n", i, strings.Repeat(fmt.Sprintf("line of file %d\n", i), 1+i%40))
		fmt.Fprintf(w, "blob\nmark :%d\ndata %d\n%s\n", mark, len(data), data)
	}
	bigEvery := *commits / max(*bigN, 1)
	when := int64(1700000000)
	for c := 0; c < *commits; c++ {
		when += 600
		msg := fmt.Sprintf("commit %d\n", c)
		fmt.Fprintf(w, "commit refs/heads/main\ncommitter Bench <bench@example.com> %d +0000\ndata %d\n%s", when, len(msg), msg)
		if c == 0 {
			for i := range fileMark {
				fmt.Fprintf(w, "M 100644 :%d dir%02d/file%05d.txt\n", fileMark[i], i%50, i)
			}
		} else {
			for k := 0; k < 3; k++ {
				i := rng.IntN(*files)
				data := fmt.Sprintf("file %d changed in %d\n%s", i, c, strings.Repeat(fmt.Sprintf("line of file %d\n", i), 1+i%40))
				fmt.Fprintf(w, "M 100644 inline dir%02d/file%05d.txt\ndata %d\n%s\n", i%50, i, len(data), data)
			}
		}
		if *bigN > 0 && bigEvery > 0 && c%bigEvery == bigEvery/2 {
			big := make([]byte, *bigMB<<20)
			for j := range big {
				big[j] = byte(rng.Uint32())
			}
			fmt.Fprintf(w, "M 100644 inline assets/blob%d.bin\ndata %d\n", c, len(big))
			w.Write(big)
			w.WriteString("\n")
		}
		if c == *commits/2 {
			fmt.Fprintf(w, "reset refs/heads/side\nfrom refs/heads/main\n\n")
			fmt.Fprintf(w, "tag v0.5\nfrom refs/heads/main\ntagger Bench <bench@example.com> %d +0000\ndata 5\nhalf\n", when)
		}
	}
	w.Flush()
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = src
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		log.Fatalf("fast-import: %v\n%s", err, out)
	}
	mustGit(src, "checkout", "-q", "-f", "main")
	mustGit(src, "gc", "-q")
}

func addCommits(src string, n int) {
	for i := 0; i < n; i++ {
		rel := fmt.Sprintf("dir%02d/file%05d.txt", i%50, i)
		os.MkdirAll(filepath.Join(src, filepath.Dir(rel)), 0o755)
		os.WriteFile(filepath.Join(src, rel), []byte(fmt.Sprintf("incremental %d\n", i)), 0o644)
		mustGit(src, "add", rel)
		mustGit(src, "commit", "-qm", fmt.Sprintf("incremental %d", i))
	}
}

func startRewire(dir string) (string, func()) {
	ctx := context.Background()
	st, err := storage.Open(ctx, storage.Config{Dir: dir, MoverInterval: -1})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := st.CreateTenant(ctx, "bench", "secret"); err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/git/", gitsmart.NewHandler(st, nil))
	addr := serve(mux)
	return "http://bench:secret@" + addr + "/git/bench", func() { st.Close() }
}

func startReference(dir string) string {
	os.MkdirAll(dir, 0o755)
	bare := filepath.Join(dir, "bench.git")
	mustGit("", "init", "-q", "--bare", "-b", "main", bare)
	mustGit(bare, "config", "http.receivepack", "true")
	execPath := strings.TrimSpace(mustGit("", "--exec-path"))
	h := &cgi.Handler{
		Path: filepath.Join(execPath, "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + dir, "GIT_HTTP_EXPORT_ALL=1", "REMOTE_USER=bench"},
	}
	mux := http.NewServeMux()
	mux.Handle("/git/", http.StripPrefix("/git", withLength(h)))
	return "http://bench:secret@" + serve(mux) + "/git"
}

// withLength buffers chunked request bodies, because CGI passes the body
// length in CONTENT_LENGTH (as a front-end web server would do).
func withLength(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength < 0 {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			r.TransferEncoding = nil
		}
		h.ServeHTTP(w, r)
	})
}

func serve(h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(ln, h)
	return ln.Addr().String()
}

func gitCmd(dir string, args ...string) *exec.Cmd {
	full := append([]string{"-c", "protocol.version=" + *proto, "-c", "user.name=Bench", "-c", "user.email=b@example.com"}, args...)
	cmd := exec.Command("git", full...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1")
	return cmd
}

func mustGit(dir string, args ...string) string {
	out, err := gitCmd(dir, args...).CombinedOutput()
	if err != nil {
		log.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func timeGit(dir string, args ...string) time.Duration {
	start := time.Now()
	mustGit(dir, args...)
	return time.Since(start)
}

func du(path string) string {
	var n int64
	filepath.Walk(path, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
}
