package e2e

import (
	"net"
	"strings"
	"testing"

	"rewire/internal/testserver"
	"rewire/internal/testtool"
)

// TestPGTLSFlags serves PostgreSQL over TLS from `rewire serve` flags: psql
// with sslmode=require connects and reports SSL; cleartext passwords are
// accepted over TLS only.
func TestPGTLSFlags(t *testing.T) {
	psql := testtool.Need(t, "psql")
	cert, key := testtool.NewSelfSigned(t).WritePEM(t, t.TempDir())
	srv := testserver.Start(t, testserver.Options{Args: []string{
		"--pg-tls-cert", cert, "--pg-tls-key", key, "--pg-password-over-tls=true"}})
	srv.CreateTenant(t, "acme", "acme-pw")
	host, port, _ := net.SplitHostPort(srv.Addrs.PG)
	url := "postgresql://acme:acme-pw@" + host + ":" + port + "/acme?sslmode=require"
	out := mustRun(t, "", psql, url, "-X", "-q", "-A", "-t", "-c", "SELECT 41 + 1", "-c", `\conninfo`)
	if !strings.Contains(out, "42") || !strings.Contains(out, "SSL connection") {
		t.Fatalf("psql over TLS: %s", out)
	}
	if out, err := run(t, "", psql, strings.Replace(url, "acme-pw", "wrong", 1), "-c", "SELECT 1"); err == nil {
		t.Fatalf("wrong password accepted over TLS: %s", out)
	}
	// Without TLS the same server still runs SCRAM.
	out = mustRun(t, "", psql, strings.Replace(url, "sslmode=require", "sslmode=disable", 1), "-X", "-A", "-t", "-c", "SELECT 7")
	if strings.TrimSpace(out) != "7" {
		t.Fatalf("psql without TLS: %q", out)
	}
	// A key without its certificate is refused at start.
	if out, err := run(t, "", srv.Bin, "serve", "--data", t.TempDir(), "--pg-tls-key", key, "--kafka-addr", "",
		"--nats-addr", "", "--pg-addr", "127.0.0.1:0", "--http-addr", ""); err == nil {
		t.Fatalf("serve with a key alone started: %s", out)
	}
}
