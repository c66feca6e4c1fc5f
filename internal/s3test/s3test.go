// Package s3test starts a real S3-compatible server for tests.
package s3test

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"rewire/internal/testtool"
)

// Start runs versitygw, a real S3-compatible server, on a loopback port
// with a fresh bucket and returns a gocloud URL for it. It skips the test
// when versitygw is not installed, unless REWIRE_E2E_REQUIRED is set.
func Start(t testing.TB) string {
	t.Helper()
	bin := testtool.Need(t, "versitygw")
	root := t.TempDir()
	os.Mkdir(filepath.Join(root, "rewire"), 0o755)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "--access", "rewiretest", "--secret", "rewiretestsecret",
		"--port", addr, "posix", "--nometa", root)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if i > 200 {
			t.Fatalf("versitygw did not start: %s", out.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "rewiretest")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "rewiretestsecret")
	return "s3://rewire?endpoint=http://" + addr + "&region=us-east-1&use_path_style=true&disable_https=true"
}
