package natswire

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"rewire/storage"
)

// testEnv is a store with tenants and a running server.
type testEnv struct {
	dir   string
	store *storage.Store
	srv   *Server
}

func newEnv(t testing.TB, tenants ...string) *testEnv {
	t.Helper()
	e := &testEnv{dir: t.TempDir()}
	e.open(t)
	for _, n := range tenants {
		if _, err := e.store.CreateTenant(t.Context(), n, n+"-pw"); err != nil {
			t.Fatal(err)
		}
	}
	e.start(t, "127.0.0.1:0")
	return e
}

func (e *testEnv) open(t testing.TB) {
	t.Helper()
	st, err := storage.Open(context.Background(), storage.Config{Dir: e.dir, MoverInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	e.store = st
	t.Cleanup(func() { st.Close() })
}

func (e *testEnv) start(t testing.TB, addr string) {
	t.Helper()
	e.startWith(t, Config{Addr: addr})
}

func (e *testEnv) startWith(t testing.TB, cfg Config) {
	t.Helper()
	var log *slog.Logger
	if os.Getenv("NATSWIRE_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := NewServer(e.store, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
}

// restart stops the server and the store and opens both again on the same
// directory and address.
func (e *testEnv) restart(t *testing.T) {
	t.Helper()
	addr := e.srv.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	e.store.Close()
	e.open(t)
	e.start(t, addr)
}

func (e *testEnv) url() string { return "nats://" + e.srv.Addr() }

func (e *testEnv) connect(t testing.TB, tenant string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	opts = append([]nats.Option{nats.UserInfo(tenant, tenant+"-pw"), nats.MaxReconnects(0)}, opts...)
	nc, err := nats.Connect(e.url(), opts...)
	if err != nil {
		t.Fatalf("connect %s: %v", tenant, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func TestCoreMessaging(t *testing.T) {
	e := newEnv(t, "acme")
	pub := e.connect(t, "acme")
	sub := e.connect(t, "acme")

	// Wildcards.
	star, _ := sub.SubscribeSync("orders.*")
	gt, _ := sub.SubscribeSync("orders.>")
	sub.Flush()
	pub.Publish("orders.new", []byte("a"))
	pub.Publish("orders.eu.new", []byte("b"))
	pub.Flush()
	m, err := star.NextMsg(5 * time.Second)
	if err != nil || string(m.Data) != "a" || m.Subject != "orders.new" {
		t.Fatalf("star: %v %v", m, err)
	}
	if _, err := star.NextMsg(100 * time.Millisecond); err == nil {
		t.Fatal("orders.* matched two tokens")
	}
	for _, want := range []string{"a", "b"} {
		m, err := gt.NextMsg(5 * time.Second)
		if err != nil || string(m.Data) != want {
			t.Fatalf("gt: %v %v", m, err)
		}
	}

	// Queue group: each message to exactly one member.
	q1, _ := sub.QueueSubscribeSync("work", "g")
	q2, _ := sub.QueueSubscribeSync("work", "g")
	sub.Flush()
	for i := 0; i < 20; i++ {
		pub.Publish("work", []byte("x"))
	}
	pub.Flush()
	time.Sleep(200 * time.Millisecond)
	n1, _, _ := q1.Pending()
	n2, _, _ := q2.Pending()
	if n1+n2 != 20 {
		t.Fatalf("queue group got %d+%d, want 20", n1, n2)
	}

	// Request/reply with headers.
	sub.Subscribe("svc.echo", func(m *nats.Msg) {
		r := nats.NewMsg(m.Reply)
		r.Header.Set("X-Echo", m.Header.Get("X-In"))
		r.Data = m.Data
		m.RespondMsg(r)
	})
	sub.Flush()
	req := nats.NewMsg("svc.echo")
	req.Header.Set("X-In", "hello")
	req.Data = []byte("ping")
	resp, err := pub.RequestMsg(req, 5*time.Second)
	if err != nil || string(resp.Data) != "ping" || resp.Header.Get("X-Echo") != "hello" {
		t.Fatalf("request: %v %v", resp, err)
	}

	// No responders.
	if _, err := pub.Request("nobody.home", nil, 2*time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("no responders: %v", err)
	}

	// Max payload.
	if pub.MaxPayload() != 1<<20 {
		t.Fatalf("max payload %d", pub.MaxPayload())
	}
	if err := pub.Publish("big", make([]byte, 1<<20+1)); !errors.Is(err, nats.ErrMaxPayload) {
		t.Fatalf("oversize publish: %v", err)
	}
}

func TestAuthAndIsolation(t *testing.T) {
	e := newEnv(t, "alpha", "beta")

	// Wrong password, unknown tenant, no user.
	for _, opt := range []nats.Option{
		nats.UserInfo("alpha", "nope"),
		nats.UserInfo("gamma", "gamma-pw"),
		nats.UserInfo("", ""),
		nats.UserInfo("$SYS", "x"),
	} {
		nc, err := nats.Connect(e.url(), opt, nats.MaxReconnects(0))
		if err == nil {
			nc.Close()
			t.Fatal("connect with bad credentials succeeded")
		}
		if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
			t.Fatalf("unexpected error %v", err)
		}
	}

	a := e.connect(t, "alpha")
	b := e.connect(t, "beta")
	spy, _ := b.SubscribeSync(">")
	b.Flush()
	a.Publish("secret", []byte("x"))
	a.Flush()
	if m, err := spy.NextMsg(300 * time.Millisecond); err == nil {
		t.Fatalf("beta saw alpha's message %q", m.Subject)
	}

	// JetStream: beta cannot see alpha's streams.
	ja, _ := a.JetStream()
	if _, err := ja.AddStream(&nats.StreamConfig{Name: "PRIV", Subjects: []string{"priv.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ja.Publish("priv.1", []byte("x")); err != nil {
		t.Fatal(err)
	}
	jb, _ := b.JetStream()
	if _, err := jb.StreamInfo("PRIV"); !errors.Is(err, nats.ErrStreamNotFound) {
		t.Fatalf("beta stream info: %v", err)
	}
	for name := range jb.StreamNames() {
		t.Fatalf("beta lists %s", name)
	}
	if ack, err := jb.Publish("priv.1", []byte("x"), nats.AckWait(500*time.Millisecond)); err == nil {
		t.Fatalf("beta publish to alpha's subject acked: %+v", ack)
	}

	// A tenant deleted meanwhile cannot connect again.
	if err := e.store.DeleteTenant(t.Context(), "beta"); err != nil {
		t.Fatal(err)
	}
	if nc, err := nats.Connect(e.url(), nats.UserInfo("beta", "beta-pw"), nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("deleted tenant connected")
	}
}

func TestIdleHostReleasesTenant(t *testing.T) {
	e := newEnv(t, "acme")
	e.srv.mu.Lock()
	e.srv.hostIdle, e.srv.idleCheck = 100*time.Millisecond, 50*time.Millisecond
	e.srv.mu.Unlock()

	nc := e.connect(t, "acme")
	js, _ := nc.JetStream()
	if _, err := js.AddStream(&nats.StreamConfig{Name: "S", Subjects: []string{"s"}}); err != nil {
		t.Fatal(err)
	}
	js.Publish("s", []byte("kept"))
	if _, err := js.AddConsumer("S", &nats.ConsumerConfig{Durable: "d", AckPolicy: nats.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	nc.Close()

	// The janitor may still be in the wait it began with the default
	// interval, before the test shortened it; run its check here too.
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.srv.closeIdleHosts()
		e.srv.mu.Lock()
		n := len(e.srv.hosts)
		e.srv.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("idle host not closed")
		}
		time.Sleep(20 * time.Millisecond)
	}

	nc = e.connect(t, "acme")
	js, _ = nc.JetStream()
	sub, err := js.PullSubscribe("s", "d")
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := sub.Fetch(1, nats.MaxWait(5*time.Second))
	if err != nil || string(msgs[0].Data) != "kept" {
		t.Fatalf("after idle close: %v %v", msgs, err)
	}
}

// TestInternalJetStreamClientBinds guards the nats-server internals that
// deliveries depend on (jsclient.go): an upgrade that moves them must fail
// here rather than silently drop deliveries.
func TestInternalJetStreamClientBinds(t *testing.T) {
	e := newEnv(t, "acme")
	e.connect(t, "acme")
	info, err := e.store.Control().Tenant(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	h, err := e.srv.hostFor(info)
	if err != nil {
		t.Fatal(err)
	}
	if h.jc == nil {
		t.Fatal("internal JetStream client unavailable: nats-server internals changed")
	}
}

// TestConfiguredMaxPayload checks that a configured max payload is what
// clients are told and what the server enforces.
func TestConfiguredMaxPayload(t *testing.T) {
	e := &testEnv{dir: t.TempDir()}
	e.open(t)
	if _, err := e.store.CreateTenant(t.Context(), "acme", "acme-pw"); err != nil {
		t.Fatal(err)
	}
	e.startWith(t, Config{Addr: "127.0.0.1:0", MaxPayload: 4096})
	nc := e.connect(t, "acme")
	if nc.MaxPayload() != 4096 {
		t.Fatalf("max payload %d, want 4096", nc.MaxPayload())
	}
	if err := nc.Publish("big", make([]byte, 4097)); !errors.Is(err, nats.ErrMaxPayload) {
		t.Fatalf("oversized publish: %v", err)
	}
	if err := nc.Publish("fits", make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil || nc.IsClosed() {
		t.Fatalf("publish at the limit: %v", err)
	}
}
