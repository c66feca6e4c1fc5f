// Package e2e holds end-to-end tests of the rewire binary as a whole; each
// protocol's own end-to-end tests live beside its package.
package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"rewire/internal/testserver"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeHealthMetricsAndShutdown(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	code, body := get(t, "http://"+srv.Addrs.HTTP+"/health")
	if code != 200 || !strings.Contains(body, `"status":"ok"`) {
		t.Fatalf("/health = %d %s", code, body)
	}
	code, body = get(t, "http://"+srv.Addrs.HTTP+"/metrics")
	for _, want := range []string{"rewire_tenants_open", "rewire_storage_commit_fsync_seconds",
		"rewire_storage_group_commit_writes", "rewire_protocol_bytes_total"} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The first start created the demo tenant and said how to connect.
	if !strings.Contains(srv.Log(), `created tenant "demo"`) {
		t.Errorf("no demo tenant message in:\n%s", srv.Log())
	}
	if out := srv.Rewire(t, "tenant", "list"); !strings.Contains(out, "demo") {
		t.Errorf("tenant list = %q", out)
	}
	srv.Stop(t) // fails the test unless SIGTERM leads to exit 0
	srv.Restart(t)
	if strings.Count(srv.Log(), `created tenant "demo"`) != 0 {
		t.Error("demo tenant created again on restart")
	}
}

func TestTenantCommands(t *testing.T) {
	bin := testserver.Binary(t)
	dir := t.TempDir()
	run := func(args ...string) (string, error) {
		out, err := exec.Command(bin, append(args, "--data", dir)...).CombinedOutput()
		return string(out), err
	}
	if out, err := run("tenant", "create", "acme", "--password", "pw"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, bad := range [][]string{
		{"tenant", "create", "acme", "--password", "pw"},  // duplicate
		{"tenant", "create", "admin", "--password", "pw"}, // reserved
		{"tenant", "create", "../../etc", "--password", "pw"},
		{"tenant", "create", "nopw"},
		{"tenant", "delete", "nobody"},
	} {
		if out, err := run(bad...); err == nil {
			t.Errorf("rewire %v succeeded: %s", bad, out)
		}
	}
	if out, _ := run("tenant", "list"); !strings.Contains(out, "acme") {
		t.Errorf("list = %q", out)
	}
	if out, err := run("tenant", "delete", "acme"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if out, _ := run("tenant", "list"); strings.Contains(out, "acme") {
		t.Errorf("deleted tenant listed: %q", out)
	}
	if out, err := exec.Command(bin, "version").CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "rewire ") {
		t.Errorf("version = %q, %v", out, err)
	}
}

func TestConfigSources(t *testing.T) {
	// A config file and the environment configure serve; flags win.
	dir := t.TempDir()
	cfg := filepath.Join(dir, "rewire.toml")
	os.WriteFile(cfg, []byte(`data = "`+filepath.Join(dir, "from-file")+`"`+"\n"), 0o600)
	srv := testserver.Start(t, testserver.Options{
		DataDir: filepath.Join(dir, "from-flag"),
		Env:     []string{"REWIRE_CONFIG=" + cfg, "REWIRE_LOG_LEVEL=debug"},
	})
	if _, err := os.Stat(filepath.Join(dir, "from-flag", "control.db")); err != nil {
		t.Errorf("flag did not win over config file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "from-file")); err == nil {
		t.Error("config file used although the flag was given")
	}
	if !strings.Contains(srv.Log(), "level=DEBUG") && !strings.Contains(srv.Log(), "level=INFO") {
		t.Errorf("no log output")
	}
	var addrs map[string]string
	b, _ := json.Marshal(srv.Addrs)
	json.Unmarshal(b, &addrs)
	if addrs["http"] == "" {
		t.Error("no HTTP address")
	}
}
