package natswire

import (
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"rewire/internal/testtool"
)

// cliNoise matches what differs by nature between two servers' CLI
// output: times, durations, rates, ids and server names; each is replaced
// by a placeholder.
var cliNoise = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\d{4}-\d{2}-\d{2}[T ][\d:.]+Z?`), "DATE"},
	{regexp.MustCompile(`\d{2}:\d{2}:\d{2}`), "TIME"},
	{regexp.MustCompile(`[\d.]+ ?[KMG]?i?B/s`), "RATE"},
	{regexp.MustCompile(`\b(\d+h)?(\d+m)?[\d.]+(ns|µs|ms|s)\b`), "DUR"},
	{regexp.MustCompile(`\bN[A-Z0-9]{55}\b`), "SERVER"},
	{regexp.MustCompile(`\brewire\b`), "SERVER"},
	{regexp.MustCompile(`\b[A-Za-z0-9]{22}\b`), "ID"},
	// Tables size their columns to the widest cell.
	{regexp.MustCompile(`[─━═]+`), "─"},
	// go-cmp's diffs (nats stream edit) pick spaces at random.
	{regexp.MustCompile(`[\s\x{00a0}]+`), " "},
}

func normalizeCLI(out string) []string {
	for _, n := range cliNoise {
		out = n.re.ReplaceAllString(out, n.with)
	}
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestCLIDifferential runs the same nats CLI commands against a
// standalone nats-server with a file store and against rewire, and
// compares their output line by line once times, rates and ids are
// masked: streams, message gets and deletes, pull and push consumers,
// KV buckets and an object store with a multi-megabyte object.
func TestCLIDifferential(t *testing.T) {
	e := newEnv(t, "acme")
	natsCLI(t, e, "acme") // skips without the CLI
	bin := testtool.Need(t, "nats")

	ref := startReference(t)

	obj := filepath.Join(t.TempDir(), "big.bin")
	data := make([]byte, 5<<20+3)
	rand.Read(data)
	if err := os.WriteFile(obj, data, 0o600); err != nil {
		t.Fatal(err)
	}

	home := t.TempDir()
	run := func(auth []string, args []string) string {
		full := append(append(auth, "--timeout", "10s"), args...)
		cmd := exec.CommandContext(t.Context(), bin, full...)
		cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "NO_COLOR=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			out = append(out, fmt.Sprintf("\nexit: %v", err)...)
		}
		return string(out)
	}
	refAuth := []string{"--server", ref.ClientURL()}
	rwAuth := []string{"--server", e.url(), "--user", "acme", "--password", "acme-pw"}

	cmds := [][]string{
		{"stream", "add", "ORD", "--subjects", "ord.>", "--defaults", "--max-msgs-per-subject", "3", "--allow-rollup"},
		{"pub", "ord.new", "m1"}, {"pub", "ord.new", "m2"}, {"pub", "ord.new", "m3"}, {"pub", "ord.x", "x1"},
		{"req", "ord.x", "x2", "-H", "Nats-Expected-Last-Subject-Sequence:1"},
		{"req", "ord.x", "x3", "-H", "Nats-Expected-Last-Subject-Sequence:4"},
		{"stream", "info", "ORD", "-j"},
		{"stream", "subjects", "ORD"},
		{"stream", "get", "ORD", "2"},
		{"stream", "get", "ORD", "-S", "ord.new"},
		{"stream", "rmm", "ORD", "2", "-f"},
		{"stream", "purge", "ORD", "--subject", "ord.x", "--keep", "1", "-f"},
		{"stream", "edit", "ORD", "--max-msgs", "100", "-f"},
		{"consumer", "add", "ORD", "PULL", "--pull", "--ack", "explicit", "--deliver", "all", "--defaults"},
		{"consumer", "next", "ORD", "PULL", "--count", "2"},
		{"consumer", "next", "ORD", "PULL", "--no-ack"},
		{"consumer", "info", "ORD", "PULL", "-j"},
		{"consumer", "add", "ORD", "PUSH", "--target", "out.p", "--ack", "explicit", "--deliver", "last",
			"--heartbeat", "5s", "--flow-control", "--defaults"},
		{"consumer", "info", "ORD", "PUSH", "-j"},
		{"consumer", "edit", "ORD", "PULL", "--description", "edited", "-f"},
		{"consumer", "ls", "ORD"},
		{"consumer", "rm", "ORD", "PUSH", "-f"},
		{"stream", "seal", "ORD", "-f"},
		{"stream", "info", "ORD"},
		{"kv", "add", "CFG", "--history", "3"},
		{"kv", "put", "CFG", "a", "1"}, {"kv", "put", "CFG", "a", "2"},
		{"kv", "create", "CFG", "a", "3"},
		{"kv", "update", "CFG", "a", "9", "1"},
		{"kv", "update", "CFG", "a", "9", "2"},
		{"kv", "get", "CFG", "a"},
		{"kv", "get", "CFG", "a", "--revision", "1"},
		{"kv", "del", "CFG", "a", "-f"},
		{"kv", "get", "CFG", "a"},
		{"kv", "put", "CFG", "b.c", "x"},
		{"kv", "ls", "CFG"},
		{"kv", "history", "CFG", "a"},
		{"kv", "purge", "CFG", "a", "-f"},
		{"kv", "compact", "CFG", "-f"},
		{"kv", "info", "CFG"},
		{"kv", "ls"},
		{"kv", "rm", "CFG", "-f"},
		{"object", "add", "OBJ"},
		{"object", "put", "OBJ", obj, "--name", "big", "-f"},
		{"object", "info", "OBJ", "big"},
		{"object", "ls", "OBJ"},
		{"object", "rm", "OBJ", "big", "-f"},
		{"object", "ls"},
		{"stream", "ls"},
		{"stream", "rm", "ORD", "-f"},
	}
	var diffs []string
	for _, args := range cmds {
		a := normalizeCLI(run(refAuth, args))
		b := normalizeCLI(run(rwAuth, args))
		for i := 0; i < max(len(a), len(b)); i++ {
			var la, lb string
			if i < len(a) {
				la = a[i]
			}
			if i < len(b) {
				lb = b[i]
			}
			if la != lb {
				diffs = append(diffs, fmt.Sprintf("nats %s, line %d:\n  nats-server: %s\n  rewire:      %s",
					strings.Join(args, " "), i+1, la, lb))
				break
			}
		}
	}
	if len(diffs) > 0 {
		t.Fatalf("CLI output differs:\n%s", strings.Join(diffs, "\n"))
	}
}
