// Package testserver builds the rewire binary once per test process and
// runs it as a child process on loopback port-0 listeners, for end-to-end
// and crash tests that must exercise the real server: its flags, its
// signal handling, its durability across kill -9.
//
//	srv := testserver.Start(t, testserver.Options{})
//	srv.CreateTenant(t, "acme", "secret")
//	// connect clients to srv.Addrs.Kafka, srv.Addrs.PG, …
//	srv.Kill(t)      // SIGKILL
//	srv.Restart(t)   // same data directory, new ports
//
// Every process started is stopped in t.Cleanup.
package testserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Addrs are the bound listener addresses of a running server.
type Addrs struct {
	Kafka string `json:"kafka"`
	NATS  string `json:"nats"`
	PG    string `json:"pg"`
	HTTP  string `json:"http"`
}

// Options choose what the server runs with.
type Options struct {
	// DataDir is reused across restarts; empty means a new t.TempDir().
	DataDir string
	// Args are extra `rewire serve` flags.
	Args []string
	// Env is extra environment for the server process.
	Env []string
}

// Server is a running rewire child process.
type Server struct {
	Addrs   Addrs
	DataDir string
	Bin     string

	opts   Options
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
}

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
)

// Binary returns the path of a rewire binary built from this checkout,
// building it on first use.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rewire-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildBin = filepath.Join(dir, "rewire")
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		cmd := exec.Command("go", "build", "-o", buildBin, "./cmd/rewire")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// Start runs `rewire serve` with every listener on 127.0.0.1:0 and waits
// until it is listening.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	s := &Server{DataDir: opts.DataDir, Bin: Binary(t), opts: opts}
	s.start(t)
	t.Cleanup(func() { s.Stop(t) })
	return s
}

func (s *Server) start(t testing.TB) {
	t.Helper()
	addrFile := filepath.Join(t.TempDir(), "addrs.json")
	args := []string{"serve",
		"--data", s.DataDir,
		"--kafka-addr", "127.0.0.1:0",
		"--nats-addr", "127.0.0.1:0",
		"--pg-addr", "127.0.0.1:0",
		"--http-addr", "127.0.0.1:0",
		"--addr-file", addrFile,
	}
	args = append(args, s.opts.Args...)
	s.cmd = exec.Command(s.Bin, args...)
	s.cmd.Env = append(os.Environ(), s.opts.Env...)
	s.stderr = &syncBuffer{}
	s.cmd.Stderr = s.stderr
	s.cmd.Stdout = s.stderr
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		cmd.Wait()
		close(done)
	}(s.cmd, s.done)

	deadline := time.Now().Add(60 * time.Second)
	for {
		if b, err := os.ReadFile(addrFile); err == nil {
			s.Addrs = Addrs{}
			if err := json.Unmarshal(b, &s.Addrs); err != nil {
				t.Fatalf("addr file: %v", err)
			}
			return
		}
		select {
		case <-s.done:
			t.Fatalf("rewire exited during start: %v\n%s", s.cmd.ProcessState, s.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("rewire did not start listening\n%s", s.stderr.String())
		}
	}
}

// Stop sends SIGTERM and waits for a clean exit, failing the test if the
// server does not exit 0 in time. Stopping a stopped server does nothing.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		if code := s.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("rewire exited with %d after SIGTERM\n%s", code, s.stderr.String())
		}
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		t.Errorf("rewire did not stop within 30s of SIGTERM\n%s", s.stderr.String())
	}
	s.cmd = nil
}

// Kill sends SIGKILL and waits for the process to be gone.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Restart starts the server again on the same data directory; the
// listeners get new ports.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if s.cmd != nil {
		s.Stop(t)
	}
	s.start(t)
}

// Log returns what the server has written to stdout and stderr.
func (s *Server) Log() string { return s.stderr.String() }

// Rewire runs a rewire subcommand against the server's data directory and
// returns its combined output, failing the test on error.
func (s *Server) Rewire(t testing.TB, args ...string) string {
	t.Helper()
	args = append(args, "--data", s.DataDir)
	out, err := exec.Command(s.Bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("rewire %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// CreateTenant creates a tenant with `rewire tenant create`, which works
// while the server runs.
func (s *Server) CreateTenant(t testing.TB, name, password string) {
	t.Helper()
	s.Rewire(t, "tenant", "create", name, "--password", password)
}

// syncBuffer collects process output from another goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
