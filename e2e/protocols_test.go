package e2e

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"rewire/internal/testserver"
	"rewire/internal/testtool"
)

// run runs a client with a timeout and returns its combined output.
func run(t *testing.T, stdin string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), err
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s %v timed out:\n%s", name, args, out.String())
		return "", nil
	}
}

func mustRun(t *testing.T, stdin, name string, args ...string) string {
	t.Helper()
	out, err := run(t, stdin, name, args...)
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return out
}

func kcatArgs(addr, user, pw string, args ...string) []string {
	return append([]string{"-b", addr, "-X", "security.protocol=SASL_PLAINTEXT",
		"-X", "sasl.mechanisms=SCRAM-SHA-256", "-X", "sasl.username=" + user,
		"-X", "sasl.password=" + pw}, args...)
}

func psqlArgs(addr, user, pw string, args ...string) []string {
	host, port, _ := net.SplitHostPort(addr)
	return append([]string{"postgresql://" + user + ":" + pw + "@" + host + ":" + port + "/" + user,
		"-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t"}, args...)
}

// TestEveryProtocolInOneProcess drives all five front ends of one running
// binary with their stock clients, for two tenants that use the same names
// for everything, and checks that nothing crosses between them.
func TestEveryProtocolInOneProcess(t *testing.T) {
	kcat, psql, nats, git := testtool.Need(t, "kcat"), testtool.Need(t, "psql"), testtool.Need(t, "nats"), testtool.Need(t, "git")
	srv := testserver.Start(t, testserver.Options{})
	srv.CreateTenant(t, "alpha", "alpha-pw")
	srv.CreateTenant(t, "beta", "beta-pw")
	a := srv.Addrs

	for _, tn := range []struct{ name, pw string }{{"alpha", "alpha-pw"}, {"beta", "beta-pw"}} {
		// Kafka: produce one record to the same topic name.
		mustRun(t, "from-"+tn.name+"\n", kcat, kcatArgs(a.Kafka, tn.name, tn.pw, "-P", "-t", "shared")...)
		// PostgreSQL: same table name, own row.
		mustRun(t, "", psql, psqlArgs(a.PG, tn.name, tn.pw, "-c",
			"CREATE TABLE shared (v text)", "-c", "INSERT INTO shared VALUES ('from-"+tn.name+"')")...)
		// NATS JetStream: same stream name, own message.
		url := "nats://" + tn.name + ":" + tn.pw + "@" + a.NATS
		mustRun(t, "", nats, "-s", url, "stream", "add", "SHARED", "--subjects", "shared.>", "--defaults")
		mustRun(t, "", nats, "-s", url, "pub", "shared.x", "from-"+tn.name)
		// git: same repository name, own commit.
		work := t.TempDir()
		mustRun(t, "", git, "-C", work, "init", "-q", "-b", "main")
		os.WriteFile(filepath.Join(work, "owner"), []byte(tn.name+"\n"), 0o644)
		mustRun(t, "", git, "-C", work, "add", "owner")
		mustRun(t, "", git, "-C", work, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", tn.name)
		mustRun(t, "", git, "-C", work, "push", "-q",
			"http://"+tn.name+":"+tn.pw+"@"+a.HTTP+"/git/"+tn.name+"/shared.git", "main")
	}

	for _, tn := range []struct{ name, pw, other string }{{"alpha", "alpha-pw", "beta"}, {"beta", "beta-pw", "alpha"}} {
		out := mustRun(t, "", kcat, kcatArgs(a.Kafka, tn.name, tn.pw, "-C", "-t", "shared", "-o", "beginning", "-e", "-q")...)
		if strings.TrimSpace(out) != "from-"+tn.name {
			t.Errorf("%s's topic holds %q", tn.name, out)
		}
		out = mustRun(t, "", psql, psqlArgs(a.PG, tn.name, tn.pw, "-c", "SELECT v FROM shared")...)
		if strings.TrimSpace(out) != "from-"+tn.name {
			t.Errorf("%s's table holds %q", tn.name, out)
		}
		url := "nats://" + tn.name + ":" + tn.pw + "@" + a.NATS
		out = mustRun(t, "", nats, "-s", url, "stream", "get", "SHARED", "1")
		if !strings.Contains(out, "from-"+tn.name) || strings.Contains(out, "from-"+tn.other) {
			t.Errorf("%s's stream holds %q", tn.name, out)
		}
		clone := filepath.Join(t.TempDir(), "c")
		mustRun(t, "", git, "clone", "-q", "http://"+tn.name+":"+tn.pw+"@"+a.HTTP+"/git/"+tn.name+"/shared.git", clone)
		if b, _ := os.ReadFile(filepath.Join(clone, "owner")); strings.TrimSpace(string(b)) != tn.name {
			t.Errorf("%s's repository holds %q", tn.name, b)
		}

		// One tenant's credentials never reach the other's data.
		if out, err := run(t, "", git, "clone", "-q",
			"http://"+tn.name+":"+tn.pw+"@"+a.HTTP+"/git/"+tn.other+"/shared.git", filepath.Join(t.TempDir(), "x")); err == nil {
			t.Errorf("%s cloned %s's repository: %s", tn.name, tn.other, out)
		}
		if out, err := run(t, "", psql, psqlArgs(a.PG, tn.name, tn.pw+"-wrong", "-c", "SELECT 1")...); err == nil {
			t.Errorf("wrong password accepted by pgwire: %s", out)
		}
		if out, err := run(t, "", nats, "-s", "nats://"+tn.name+":wrong@"+a.NATS, "pub", "x", "y"); err == nil {
			t.Errorf("wrong password accepted by NATS: %s", out)
		}
	}

	// Every protocol's requests are counted.
	_, metrics := get(t, "http://"+a.HTTP+"/metrics")
	for _, proto := range []string{"kafka", "pg", "nats", "http"} {
		if v := metricValue(metrics, `rewire_requests_total{proto="`+proto+`"}`); v <= 0 {
			t.Errorf("rewire_requests_total for %s = %v", proto, v)
		}
	}
	if v := metricValue(metrics, `rewire_kafka_requests_total{api="Produce"}`); v < 2 {
		t.Errorf("Kafka Produce requests counted: %v", v)
	}

	// A tenant deleted while the server runs can no longer log in.
	srv.Rewire(t, "tenant", "delete", "beta")
	if out, err := run(t, "", psql, psqlArgs(a.PG, "beta", "beta-pw", "-c", "SELECT 1")...); err == nil {
		t.Errorf("deleted tenant logged in: %s", out)
	}

	// Everything acknowledged survives SIGKILL.
	srv.Kill(t)
	srv.Restart(t)
	a = srv.Addrs
	out := mustRun(t, "", psql, psqlArgs(a.PG, "alpha", "alpha-pw", "-c", "SELECT v FROM shared")...)
	if strings.TrimSpace(out) != "from-alpha" {
		t.Errorf("after kill -9 the table holds %q", out)
	}
	out = mustRun(t, "", kcat, kcatArgs(a.Kafka, "alpha", "alpha-pw", "-C", "-t", "shared", "-o", "beginning", "-e", "-q")...)
	if strings.TrimSpace(out) != "from-alpha" {
		t.Errorf("after kill -9 the topic holds %q", out)
	}
}

// TestMountFromServe mounts a tenant with serve --mount and sees a file
// written through the mount after a restart.
func TestMountFromServe(t *testing.T) {
	testtool.NeedFUSE(t)
	data := t.TempDir()
	mnt := t.TempDir()
	// The server must be told about the tenant before it mounts it.
	bin := testserver.Binary(t)
	if out, err := exec.Command(bin, "tenant", "create", "files", "--password", "pw", "--data", data).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	srv := testserver.Start(t, testserver.Options{DataDir: data, Args: []string{"--mount", "files=" + mnt}})
	if err := os.WriteFile(filepath.Join(mnt, "hello.txt"), []byte("through the mount\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv.Stop(t) // clean shutdown unmounts
	if b, _ := os.ReadFile(filepath.Join(mnt, "hello.txt")); len(b) != 0 {
		t.Fatalf("mount still present after shutdown")
	}
	srv.Restart(t)
	b, err := os.ReadFile(filepath.Join(mnt, "hello.txt"))
	if err != nil || string(b) != "through the mount\n" {
		t.Fatalf("after restart: %q, %v", b, err)
	}
}

// metricValue returns the value of one sample line of a Prometheus text
// exposition, or -1 when it is absent.
func metricValue(exposition, series string) float64 {
	for _, line := range strings.Split(exposition, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}
