package mcpserver_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"rewire/mcpserver"
	"rewire/natswire"
)

// TestNATSTools: messages published with nats.go into a JetStream stream
// served by natswire are read with nats_stream, and its consumers are
// listed with nats_consumer.
func TestNATSTools(t *testing.T) {
	e := newEnv(t)
	srv, err := natswire.NewServer(e.store, natswire.Config{Addr: "127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	nc, err := nats.Connect("nats://"+srv.Addr(), nats.UserInfo("alice", "alice-pw"), nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AddStream(&nats.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"one", "two", "three"} {
		if _, err := js.Publish("orders.new", []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := js.AddConsumer("ORDERS", &nats.ConsumerConfig{Durable: "billing", AckPolicy: nats.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}

	// The MCP endpoint publishes through this NATS server.
	hs := httptest.NewServer(mcpserver.NewHTTPHandler(e.store, mcpserver.Options{NATS: srv}))
	t.Cleanup(hs.Close)
	e.url = hs.URL + "/mcp"

	cs, err := e.connect(t, authRT{user: "alice", pass: "alice-pw"})
	if err != nil {
		t.Fatal(err)
	}
	if out := call(t, cs, "nats_stream", map[string]any{"action": "list"}, false); !strings.Contains(out, `"name":"ORDERS"`) {
		t.Fatalf("list %s", out)
	}
	out := call(t, cs, "nats_stream", map[string]any{"action": "read", "stream": "ORDERS", "seq": 2}, false)
	if !strings.Contains(out, `"data":"two"`) || !strings.Contains(out, `"data":"three"`) || strings.Contains(out, `"one"`) ||
		!strings.Contains(out, `"subject":"orders.new"`) {
		t.Fatalf("read %s", out)
	}
	// A message deleted through JetStream is not read.
	if err := js.DeleteMsg("ORDERS", 2); err != nil {
		t.Fatal(err)
	}
	out = call(t, cs, "nats_stream", map[string]any{"action": "read", "stream": "ORDERS", "seq": 1, "max": 2}, false)
	if !strings.Contains(out, `"data":"one"`) || strings.Contains(out, `"two"`) || !strings.Contains(out, `"data":"three"`) {
		t.Fatalf("read after delete %s", out)
	}
	if out := call(t, cs, "nats_stream", map[string]any{"action": "info", "stream": "ORDERS"}, false); !strings.Contains(out, "orders.\\u003e") && !strings.Contains(out, "orders.>") {
		t.Fatalf("info %s", out)
	}
	if out := call(t, cs, "nats_consumer", map[string]any{"action": "list", "stream": "ORDERS"}, false); !strings.Contains(out, `"billing"`) {
		t.Fatalf("consumers %s", out)
	}
	call(t, cs, "nats_stream", map[string]any{"action": "read", "stream": "../x"}, true)

	// nats_publish: a stream captures the message and acknowledges it.
	out = call(t, cs, "nats_publish", map[string]any{"subject": "orders.new", "data": "four",
		"headers": map[string]any{"Nats-Msg-Id": "m4"}}, false)
	if !strings.Contains(out, `"stream":"ORDERS"`) || !strings.Contains(out, `"seq":4`) {
		t.Fatalf("nats_publish %s", out)
	}
	if m, err := js.GetMsg("ORDERS", 4); err != nil || string(m.Data) != "four" || m.Header.Get("Nats-Msg-Id") != "m4" {
		t.Fatalf("stored message: %v %+v", err, m)
	}
	out = call(t, cs, "nats_publish", map[string]any{"subject": "orders.new", "data": "four",
		"headers": map[string]any{"Nats-Msg-Id": "m4"}}, false)
	if !strings.Contains(out, `"duplicate":true`) {
		t.Fatalf("duplicate publish %s", out)
	}
	// Without a stream the message reaches the tenant's subscribers only.
	sub, err := nc.SubscribeSync("chat.>")
	if err != nil {
		t.Fatal(err)
	}
	bobNC, err := nats.Connect("nats://"+srv.Addr(), nats.UserInfo("bob", "bob-pw"), nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	defer bobNC.Close()
	bobSub, err := bobNC.SubscribeSync("chat.>")
	if err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	bobNC.Flush()
	if out := call(t, cs, "nats_publish", map[string]any{"subject": "chat.room", "data": "for alice"}, false); out != "{}" {
		t.Fatalf("core publish result %s", out)
	}
	if m, err := sub.NextMsg(10 * time.Second); err != nil || string(m.Data) != "for alice" {
		t.Fatalf("subscriber got %v %v", m, err)
	}
	call(t, cs, "nats_publish", map[string]any{"subject": "orders.*", "data": "x"}, true)
	call(t, cs, "nats_publish", map[string]any{"subject": "", "data": "x"}, true)

	// Bob sees no stream of alice's, and none of her messages.
	bob, err := e.connect(t, authRT{user: "bob", pass: "bob-pw"})
	if err != nil {
		t.Fatal(err)
	}
	call(t, bob, "nats_stream", map[string]any{"action": "read", "stream": "ORDERS"}, true)
	call(t, bob, "nats_publish", map[string]any{"subject": "chat.room", "data": "for bob"}, false)
	if m, err := bobSub.NextMsg(10 * time.Second); err != nil || string(m.Data) != "for bob" {
		t.Fatalf("bob's subscriber got %v %v (alice's message must never reach it)", m, err)
	}
}
