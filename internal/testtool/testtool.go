// Package testtool finds the external programs that end-to-end tests
// drive (kcat, psql, the nats CLI, git, …).
package testtool

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RequiredEnv names the environment variable that turns a missing tool
// from a skip into a failure; CI sets it after installing every tool.
const RequiredEnv = "REWIRE_E2E_REQUIRED"

// Need returns the path of the named program, looked up in PATH and then
// in the Go tool directory ($GOPATH/bin, where `go install` puts the nats
// CLI). A missing program skips the test, or fails it when RequiredEnv is
// set.
func Need(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range goBinDirs() {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	if os.Getenv(RequiredEnv) != "" {
		t.Fatalf("%s is required but not installed", name)
	}
	t.Skipf("%s not installed", name)
	return ""
}

// Required reports whether missing tools fail tests instead of skipping.
func Required() bool { return os.Getenv(RequiredEnv) != "" }

func goBinDirs() []string {
	var dirs []string
	if d := os.Getenv("GOBIN"); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range filepath.SplitList(os.Getenv("GOPATH")) {
		if d != "" {
			dirs = append(dirs, filepath.Join(d, "bin"))
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	return dirs
}

// NeedFUSE skips the test, or fails it when RequiredEnv is set, unless
// the FUSE device, fusermount3 and the named programs are all present.
func NeedFUSE(t testing.TB, tools ...string) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		if Required() {
			t.Fatal("/dev/fuse is required but missing")
		}
		t.Skip("/dev/fuse missing")
	}
	for _, tool := range append([]string{"fusermount3"}, tools...) {
		Need(t, tool)
	}
}
