package pgwire

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"rewire/internal/testtool"
)

// nodePG returns a node_modules directory holding node-postgres at the
// version testdata/node/package.json pins, installed with npm into the
// user's cache directory on first use (outside the repository).
func nodePG(t *testing.T) string {
	t.Helper()
	npm := testtool.Need(t, "npm")
	pkg, err := os.ReadFile(filepath.Join("testdata", "node", "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "rewire-test", "node-pg")
	mods := filepath.Join(dir, "node_modules")
	old, _ := os.ReadFile(filepath.Join(dir, "package.json"))
	if _, err := os.Stat(filepath.Join(mods, "pg", "package.json")); err == nil && bytes.Equal(old, pkg) {
		return mods
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "package.json"), pkg, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(npm, "install", "--no-audit", "--no-fund", "--omit=dev", "--no-package-lock")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		if os.Getenv("REWIRE_E2E_REQUIRED") != "" {
			t.Fatalf("npm install pg: %v\n%s", err, out)
		}
		t.Skipf("npm install pg: %v\n%s", err, out)
	}
	return mods
}

// TestNodePostgres runs testdata/node/client.js with node-postgres (pg):
// a multi-statement simple query, parameters and result types of every
// kind, a named prepared statement, transactions and savepoints, errors
// and their SQLSTATEs, a pool of two sessions, a wrong password.
func TestNodePostgres(t *testing.T) {
	node := testtool.Need(t, "node")
	mods := nodePG(t)
	ts := startServer(t)
	script, err := filepath.Abs(filepath.Join("testdata", "node", "client.js"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, script)
	cmd.Env = append(ts.toolEnv("acme"), "PGDATABASE=acme", "NODE_PATH="+mods, "TZ=UTC")
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("node-postgres: ok")) {
		t.Fatalf("node client.js: %v\n%s", err, out)
	}
}
