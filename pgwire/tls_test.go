package pgwire

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"

	"rewire/internal/testtool"
)

// selfSignedTLS returns a server TLS configuration for 127.0.0.1.
func selfSignedTLS(t *testing.T) *tls.Config {
	c := testtool.NewSelfSigned(t)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{c.DER}, PrivateKey: c.Key}}}
}

// TestTLS connects over TLS with psql (sslmode=require) and pgx, and
// checks that a server without a certificate refuses SSL so that
// sslmode=require fails and sslmode=prefer falls back.
func TestTLS(t *testing.T) {
	ts := startServerWith(t, Config{TLS: selfSignedTLS(t)})
	psql := testtool.Need(t, "psql")
	cmd := exec.Command(psql, "-X", "-At", "-d", "acme", "-c", "SELECT 1")
	cmd.Env = append(ts.toolEnv("acme"), "PGSSLMODE=require")
	if out, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "1" {
		t.Fatalf("psql over TLS: %v\n%s", err, out)
	}
	c, err := pgx.Connect(context.Background(), strings.Replace(ts.url("acme", "acme"), "sslmode=disable", "sslmode=require", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if _, ok := c.PgConn().Conn().(*tls.Conn); !ok {
		t.Fatalf("pgx connection is %T, not TLS", c.PgConn().Conn())
	}
	var n int
	if err := c.QueryRow(context.Background(), "SELECT 2").Scan(&n); err != nil || n != 2 {
		t.Fatalf("query over TLS: %d %v", n, err)
	}

	plain := startServer(t)
	cmd = exec.Command(psql, "-X", "-At", "-d", "acme", "-c", "SELECT 1")
	cmd.Env = append(plain.toolEnv("acme"), "PGSSLMODE=require")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "does not support SSL") {
		t.Fatalf("sslmode=require without a certificate: %v\n%s", err, out)
	}
	cmd = exec.Command(psql, "-X", "-At", "-d", "acme", "-c", "SELECT 1")
	cmd.Env = append(plain.toolEnv("acme"), "PGSSLMODE=prefer")
	if out, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "1" {
		t.Fatalf("sslmode=prefer without a certificate: %v\n%s", err, out)
	}
}

// TestPasswordOverTLS checks cleartext password authentication, offered
// only on TLS connections: psql logs in with the right password and is
// refused with a wrong one; a plain connection still runs SCRAM.
func TestPasswordOverTLS(t *testing.T) {
	ts := startServerWith(t, Config{TLS: selfSignedTLS(t), PasswordOverTLS: true})
	psql := testtool.Need(t, "psql")
	run := func(env ...string) (string, error) {
		cmd := exec.Command(psql, "-X", "-At", "-d", "acme", "-c", "SELECT 1")
		cmd.Env = append(ts.toolEnv("acme"), env...)
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if out, err := run("PGSSLMODE=require"); err != nil || out != "1" {
		t.Fatalf("cleartext over TLS: %v %s", err, out)
	}
	if out, err := run("PGSSLMODE=require", "PGPASSWORD=wrong"); err == nil || !strings.Contains(out, "password authentication failed") {
		t.Fatalf("wrong password over TLS: %v %s", err, out)
	}
	if out, err := run("PGSSLMODE=disable"); err != nil || out != "1" {
		t.Fatalf("plain connection: %v %s", err, out)
	}
	// The method the server asks for, on each kind of connection.
	for _, useTLS := range []bool{true, false} {
		nc, err := net.Dial("tcp", ts.addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		var conn net.Conn = nc
		if useTLS {
			var b [8]byte
			binary.BigEndian.PutUint32(b[0:], 8)
			binary.BigEndian.PutUint32(b[4:], 80877103) // SSLRequest
			nc.Write(b[:])
			var reply [1]byte
			if _, err := nc.Read(reply[:]); err != nil || reply[0] != 'S' {
				t.Fatalf("SSLRequest answered %q, %v", reply[0], err)
			}
			tc := tls.Client(nc, &tls.Config{InsecureSkipVerify: true})
			if err := tc.Handshake(); err != nil {
				t.Fatal(err)
			}
			conn = tc
		}
		fe := pgproto3.NewFrontend(conn, conn)
		fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
			Parameters: map[string]string{"user": "acme", "database": "acme"}})
		if err := fe.Flush(); err != nil {
			t.Fatal(err)
		}
		msg, err := fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		_, cleartext := msg.(*pgproto3.AuthenticationCleartextPassword)
		_, sasl := msg.(*pgproto3.AuthenticationSASL)
		if useTLS && !cleartext || !useTLS && !sasl {
			t.Fatalf("TLS %v: server asked %T", useTLS, msg)
		}
	}
}

// TestGSSEncRequest sends GSSENCRequest, then SSLRequest, then a normal
// startup on one connection: both requests are answered 'N'.
func TestGSSEncRequest(t *testing.T) {
	ts := startServer(t)
	nc, err := net.Dial("tcp", ts.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(nc)
	for _, code := range []uint32{80877104, 80877103} { // GSSENCRequest, SSLRequest
		var b [8]byte
		binary.BigEndian.PutUint32(b[0:], 8)
		binary.BigEndian.PutUint32(b[4:], code)
		if _, err := nc.Write(b[:]); err != nil {
			t.Fatal(err)
		}
		if reply, err := r.ReadByte(); err != nil || reply != 'N' {
			t.Fatalf("request %d answered %q, %v", code, reply, err)
		}
	}
	fe := pgproto3.NewFrontend(r, nc)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
		Parameters: map[string]string{"user": "acme", "database": "acme"}})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	msg, err := fe.Receive()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := msg.(*pgproto3.AuthenticationSASL); !ok {
		t.Fatalf("after the requests: %T", msg)
	}
}
