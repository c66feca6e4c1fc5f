package natswire

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gonats "github.com/nats-io/nats.go"

	"rewire/internal/testtool"
)

// natsCLI returns a runner for the nats CLI against the tenant, skipping
// when the binary is missing and REWIRE_E2E_REQUIRED is unset.
func natsCLI(t *testing.T, e *testEnv, tenant string) func(stdin []byte, args ...string) string {
	t.Helper()
	bin := testtool.Need(t, "nats")
	home := t.TempDir()
	return func(stdin []byte, args ...string) string {
		t.Helper()
		full := append([]string{"--server", e.url(), "--user", tenant, "--password", tenant + "-pw", "--timeout", "10s"}, args...)
		cmd := exec.CommandContext(t.Context(), bin, full...)
		cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "NO_COLOR=1")
		if stdin != nil {
			cmd.Stdin = bytes.NewReader(stdin)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("nats %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
}

func mustContain(t *testing.T, out, want string) {
	t.Helper()
	if !strings.Contains(out, want) {
		t.Fatalf("output lacks %q:\n%s", want, out)
	}
}

func TestCLIStreamsAndConsumers(t *testing.T) {
	e := newEnv(t, "acme")
	nats := natsCLI(t, e, "acme")

	mustContain(t, nats(nil, "account", "info"), "JetStream")
	nats(nil, "stream", "add", "ORDERS", "--subjects", "orders.>", "--storage", "file", "--defaults")
	mustContain(t, nats(nil, "stream", "ls"), "ORDERS")
	for i := 0; i < 3; i++ {
		nats(nil, "publish", "orders.new", "hello", "--jetstream")
	}
	info := nats(nil, "stream", "info", "ORDERS", "--json")
	mustContain(t, info, `"messages": 3`)
	mustContain(t, nats(nil, "stream", "get", "ORDERS", "2"), "hello")
	nats(nil, "consumer", "add", "ORDERS", "C1", "--pull", "--defaults", "--ack", "explicit", "--deliver", "all")
	mustContain(t, nats(nil, "consumer", "next", "ORDERS", "C1", "--count", "2"), "hello")
	mustContain(t, nats(nil, "consumer", "info", "ORDERS", "C1", "--json"), `"num_pending": 1`)
	mustContain(t, nats(nil, "consumer", "report", "ORDERS"), "C1")
	mustContain(t, nats(nil, "stream", "subjects", "ORDERS"), "orders.new")
	mustContain(t, nats(nil, "stream", "report"), "ORDERS")
	nats(nil, "stream", "edit", "ORDERS", "--max-msgs", "100", "-f")
	mustContain(t, nats(nil, "stream", "info", "ORDERS", "--json"), `"max_msgs": 100`)
	nats(nil, "stream", "rmm", "ORDERS", "3", "-f")
	nats(nil, "stream", "purge", "ORDERS", "-f")
	mustContain(t, nats(nil, "stream", "info", "ORDERS", "--json"), `"messages": 0`)
	nats(nil, "stream", "rm", "ORDERS", "-f")
}

func TestCLIKeyValueAndObjects(t *testing.T) {
	e := newEnv(t, "acme")
	nats := natsCLI(t, e, "acme")

	nats(nil, "kv", "add", "CFG", "--history", "5")
	nats(nil, "kv", "put", "CFG", "color", "blue")
	nats(nil, "kv", "put", "CFG", "color", "red")
	mustContain(t, nats(nil, "kv", "get", "CFG", "color", "--raw"), "red")
	hist := nats(nil, "kv", "history", "CFG", "color")
	mustContain(t, hist, "blue")
	mustContain(t, hist, "red")
	mustContain(t, nats(nil, "kv", "ls"), "CFG")
	mustContain(t, nats(nil, "kv", "ls", "CFG"), "color")
	// kv watch prints updates as they happen.
	watch := natsStart(t, e, "acme", "kv", "watch", "CFG")
	nats(nil, "kv", "put", "CFG", "shape", "circle")
	watch.waitFor(t, "circle")

	nats(nil, "kv", "del", "CFG", "color", "-f")
	nats(nil, "kv", "purge", "CFG", "color", "-f")

	nats(nil, "object", "add", "FILES")
	data := make([]byte, 3<<20+17)
	rand.Read(data)
	src := filepath.Join(t.TempDir(), "big.bin")
	os.WriteFile(src, data, 0o600)
	nats(nil, "object", "put", "FILES", src, "--name", "big.bin", "-f")
	mustContain(t, nats(nil, "object", "ls", "FILES"), "big.bin")
	dst := filepath.Join(t.TempDir(), "out.bin")
	nats(nil, "object", "get", "FILES", "big.bin", "--output", dst)
	got, err := os.ReadFile(dst)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("object round trip: %d bytes, err %v", len(got), err)
	}
	nats(nil, "object", "rm", "FILES", "big.bin", "-f")
}

func TestCLICoreMessaging(t *testing.T) {
	e := newEnv(t, "acme")
	nats := natsCLI(t, e, "acme")
	nc := e.connect(t, "acme")
	nc.Subscribe("svc.time", func(m *gonats.Msg) { m.Respond([]byte("noon")) })
	nc.Flush()
	mustContain(t, nats(nil, "request", "svc.time", ""), "noon")

	// A wildcard subscriber in a queue group sees a plain publish.
	sub := natsStart(t, e, "acme", "sub", "events.>", "--queue", "q")
	waitInterest(t, nc, "events.x")
	nats(nil, "pub", "events.x", "ping-1")
	sub.waitFor(t, "ping-1")
}

// waitInterest waits until some client subscribes to subj.
func waitInterest(t *testing.T, nc *gonats.Conn, subj string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := nc.Request(subj, nil, 100*time.Millisecond); !errors.Is(err, gonats.ErrNoResponders) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("nobody subscribed to %s", subj)
}

func TestCLIRedelivery(t *testing.T) {
	e := newEnv(t, "acme")
	nats := natsCLI(t, e, "acme")
	nats(nil, "stream", "add", "JOBS", "--subjects", "jobs.*", "--defaults")
	nats(nil, "pub", "jobs.a", "job-1", "--jetstream")
	nats(nil, "consumer", "add", "JOBS", "W", "--pull", "--ack", "explicit", "--wait", "1s",
		"--max-deliver", "3", "--defaults")
	// Taken without an ack, the job comes back once the ack wait is over.
	mustContain(t, nats(nil, "consumer", "next", "JOBS", "W", "--no-ack"), "tries: 1")
	again := nats(nil, "consumer", "next", "JOBS", "W")
	mustContain(t, again, "tries: 2")
	mustContain(t, again, "job-1")
	mustContain(t, nats(nil, "consumer", "info", "JOBS", "W", "--json"), `"num_ack_pending": 0`)
}

// watcher is a long-running nats CLI command whose output is collected.
type watcher struct {
	mu  sync.Mutex
	out bytes.Buffer
}

func (w *watcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.Write(p)
}

func (w *watcher) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		w.mu.Lock()
		got := w.out.String()
		w.mu.Unlock()
		if strings.Contains(got, want) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	t.Fatalf("watch output lacks %q:\n%s", want, w.out.String())
}

// natsStart runs a nats CLI command in the background until the test ends.
func natsStart(t *testing.T, e *testEnv, tenant string, args ...string) *watcher {
	t.Helper()
	bin := testtool.Need(t, "nats")
	full := append([]string{"--server", e.url(), "--user", tenant, "--password", tenant + "-pw"}, args...)
	cmd := exec.Command(bin, full...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "NO_COLOR=1")
	w := &watcher{}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return w
}
