package natswire

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestLegacyJetStreamAPI drives rewire through nats.go's older JetStream
// API (nats.JetStreamContext): push, queue, pull and ordered
// subscriptions and a KV watcher.
func TestLegacyJetStreamAPI(t *testing.T) {
	e := newEnv(t, "acme")
	nc := e.connect(t, "acme")
	js, _ := nc.JetStream()
	if _, err := js.AddStream(&nats.StreamConfig{Name: "L", Subjects: []string{"l.>"}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if _, err := js.Publish("l.a", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan *nats.Msg, 100)
	sub, err := js.Subscribe("l.>", func(m *nats.Msg) { m.Ack(); got <- m }, nats.ManualAck())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		select {
		case <-got:
		case <-time.After(5 * time.Second):
			t.Fatalf("push subscription got %d of 5", i)
		}
	}
	sub.Unsubscribe()
	q1, err := js.QueueSubscribeSync("l.>", "grp", nats.Durable("qd"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q1.NextMsg(5 * time.Second); err != nil {
		t.Fatalf("queue subscription: %v", err)
	}
	ps, err := js.PullSubscribe("l.a", "pd")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := ps.Fetch(3, nats.MaxWait(3*time.Second))
	if err != nil || len(ms) != 3 {
		t.Fatalf("fetch: %d messages, %v", len(ms), err)
	}
	for _, m := range ms {
		m.AckSync()
	}
	oc, err := js.SubscribeSync("l.>", nats.OrderedConsumer())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if _, err := oc.NextMsg(5 * time.Second); err != nil {
			t.Fatalf("ordered consumer after %d: %v", i, err)
		}
	}
	ci, err := ps.ConsumerInfo()
	if err != nil || ci.NumAckPending != 0 || ci.NumPending != 2 {
		t.Fatalf("%+v %v", ci, err)
	}
	kv, err := js.CreateKeyValue(&nats.KeyValueConfig{Bucket: "LK"})
	if err != nil {
		t.Fatal(err)
	}
	kv.Put("a", []byte("1"))
	w, _ := kv.WatchAll()
	n := 0
	for e := range w.Updates() {
		if e == nil {
			break
		}
		n++
	}
	if n != 1 {
		t.Fatalf("watch saw %d initial values, want 1", n)
	}
}
