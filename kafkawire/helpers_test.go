package kafkawire

import (
	"context"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"rewire/storage"
)

const (
	tenantA = "alpha"
	passA   = "alpha-secret"
	tenantB = "beta"
	passB   = "beta-secret"
)

type testServer struct {
	addr  string
	store *storage.Store
	srv   *Server
}

// startServer runs a server on a fresh store with tenants alpha and beta.
func startServer(t testing.TB, cfg Config) *testServer {
	t.Helper()
	ctx := context.Background()
	st, err := storage.Open(ctx, storage.Config{Dir: t.TempDir(), MoverInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range [][2]string{{tenantA, passA}, {tenantB, passB}} {
		if _, err := st.CreateTenant(ctx, tn[0], tn[1]); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	level := slog.LevelWarn
	if os.Getenv("KAFKAWIRE_DEBUG") != "" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	srv := NewServer(st, cfg, log)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		st.Close()
	})
	return &testServer{addr: ln.Addr().String(), store: st, srv: srv}
}

func defaultConfig() Config {
	return Config{AutoCreateTopics: true, DefaultPartitions: 1}
}

// client returns a franz-go client authenticated with SASL PLAIN.
func (ts *testServer) client(t testing.TB, user, pass string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{
		kgo.SeedBrokers(ts.addr),
		kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism()),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func (ts *testServer) scramClient(t testing.TB, user, pass string, sha512 bool, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	auth := scram.Auth{User: user, Pass: pass}
	mech := auth.AsSha256Mechanism()
	if sha512 {
		mech = auth.AsSha512Mechanism()
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(ts.addr), kgo.SASL(mech)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func (ts *testServer) admin(t testing.TB, user, pass string) *kadm.Client {
	return kadm.NewClient(ts.client(t, user, pass))
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
