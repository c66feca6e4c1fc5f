package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"rewire/internal/testserver"
	"rewire/internal/testtool"
)

// writeSelfSigned writes a certificate for 127.0.0.1 and its key as PEM
// files in dir.
func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "rewire-test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

// TestPGTLSFlags serves PostgreSQL over TLS from `rewire serve` flags: psql
// with sslmode=require connects and reports SSL; cleartext passwords are
// accepted over TLS only.
func TestPGTLSFlags(t *testing.T) {
	psql := testtool.Need(t, "psql")
	cert, key := writeSelfSigned(t, t.TempDir())
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
