package natswire

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"rewire/internal/testserver"
)

// TestRewireBinaryRestart drives the real `rewire serve` process: streams,
// KV values and consumer positions survive a clean stop and a SIGKILL.
func TestRewireBinaryRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the rewire binary")
	}
	srv := testserver.Start(t, testserver.Options{})
	srv.CreateTenant(t, "acme", "acme-pw")
	connect := func() jetstream.JetStream {
		nc, err := nats.Connect("nats://"+srv.Addrs.NATS, nats.UserInfo("acme", "acme-pw"), nats.MaxReconnects(0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, _ := jetstream.New(nc)
		return js
	}
	ctx := t.Context()
	js := connect()
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "R", Subjects: []string{"r.>"}})
	if err != nil {
		t.Fatal(err)
	}
	fill(t, js, "r.x", 10)
	c, _ := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "d", AckPolicy: jetstream.AckExplicitPolicy})
	b, _ := c.Fetch(3, jetstream.FetchMaxWait(2*time.Second))
	for m := range b.Messages() {
		m.DoubleAck(ctx)
	}
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "K"})
	if err != nil {
		t.Fatal(err)
	}
	kv.Put(ctx, "k", []byte("v1"))

	// A clean stop writes consumer positions.
	srv.Stop(t)
	srv.Restart(t)
	js = connect()
	c, err = js.Consumer(ctx, "R", "d")
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if md, _ := m.Metadata(); md.Sequence.Stream != 4 {
		t.Fatalf("after stop: resumed at %d, want 4", md.Sequence.Stream)
	}
	m.DoubleAck(ctx)

	// SIGKILL: acknowledged data stays.
	kv, _ = js.KeyValue(ctx, "K")
	if _, err := kv.Put(ctx, "k", []byte("v2")); err != nil {
		t.Fatal(err)
	}
	srv.Kill(t)
	srv.Restart(t)
	js = connect()
	kv, err = js.KeyValue(ctx, "K")
	if err != nil {
		t.Fatal(err)
	}
	en, err := kv.Get(ctx, "k")
	if err != nil || string(en.Value()) != "v2" {
		t.Fatalf("kv after kill: %v %v", en, err)
	}
	s, _ = js.Stream(ctx, "R")
	if info, _ := s.Info(ctx); info.State.Msgs != 10 {
		t.Fatalf("stream after kill: %+v", info.State)
	}
}
