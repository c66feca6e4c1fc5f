package natswire

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestKeyValue(t *testing.T) {
	e := newEnv(t, "acme")
	_, js := newJS(t, e, "acme")
	ctx := t.Context()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "cfg", History: 5})
	if err != nil {
		t.Fatal(err)
	}
	r1, err := kv.Put(ctx, "a", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "a", []byte("2")); err != nil {
		t.Fatal(err)
	}
	kv.Put(ctx, "b.c", []byte("x"))
	en, err := kv.Get(ctx, "a")
	if err != nil || string(en.Value()) != "2" || en.Revision() != 2 {
		t.Fatalf("get: %v %v", en, err)
	}
	if _, err := kv.Update(ctx, "a", []byte("3"), r1); err == nil {
		t.Fatal("update with stale revision succeeded")
	}
	if _, err := kv.Create(ctx, "a", []byte("3")); !errors.Is(err, jetstream.ErrKeyExists) {
		t.Fatalf("create existing: %v", err)
	}
	hist, err := kv.History(ctx, "a")
	if err != nil || len(hist) != 2 {
		t.Fatalf("history: %d %v", len(hist), err)
	}
	keys, err := kv.Keys(ctx)
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys: %v %v", keys, err)
	}
	if err := kv.Delete(ctx, "b.c"); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(ctx, "b.c"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("deleted key: %v", err)
	}

	w, err := kv.Watch(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	first := <-w.Updates()
	if first == nil || string(first.Value()) != "2" {
		t.Fatalf("watch initial: %v", first)
	}
	if nilMark := <-w.Updates(); nilMark != nil {
		t.Fatalf("expected end of initial values, got %v", nilMark)
	}
	kv.Put(ctx, "a", []byte("4"))
	select {
	case up := <-w.Updates():
		if string(up.Value()) != "4" {
			t.Fatalf("watch update %q", up.Value())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no watch update")
	}
	if err := kv.Purge(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(ctx, "a"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("purged key: %v", err)
	}
}

func TestObjectStore(t *testing.T) {
	e := newEnv(t, "acme")
	_, js := newJS(t, e, "acme")
	ctx := t.Context()
	obs, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: "files"})
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 5<<20+123)
	rand.Read(data)
	if _, err := obs.PutBytes(ctx, "blob.bin", data); err != nil {
		t.Fatal(err)
	}
	r, err := obs.Get(ctx, "blob.bin")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("object differs: %d bytes, want %d", len(got), len(data))
	}
	list, err := obs.List(ctx)
	if err != nil || len(list) != 1 || list[0].Size != uint64(len(data)) {
		t.Fatalf("list: %v %v", list, err)
	}
	if err := obs.Delete(ctx, "blob.bin"); err != nil {
		t.Fatal(err)
	}
	if _, err := obs.Get(ctx, "blob.bin"); !errors.Is(err, jetstream.ErrObjectNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

func TestPushConsumers(t *testing.T) {
	e := newEnv(t, "acme")
	nc, js := newJS(t, e, "acme")
	ctx := t.Context()
	js.CreateStream(ctx, jetstream.StreamConfig{Name: "PUSH", Subjects: []string{"push.>"}})
	fill(t, js, "push.a", 300)

	// Legacy push API: ordered consumer with flow control and heartbeats.
	ljs, _ := nc.JetStream()
	sub, err := ljs.SubscribeSync("push.a", nats.OrderedConsumer())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("ordered msg %d: %v", i, err)
		}
		md, _ := m.Metadata()
		if md.Sequence.Stream != uint64(i+1) || m.Subject != "push.a" {
			t.Fatalf("ordered msg %d: %+v %s", i, md.Sequence, m.Subject)
		}
	}
	sub.Unsubscribe()

	// Large messages make the server ask for flow control replies.
	big := make([]byte, 8<<10)
	for i := 0; i < 200; i++ {
		if _, err := js.Publish(ctx, "push.big", big); err != nil {
			t.Fatal(err)
		}
	}
	fsub, err := ljs.SubscribeSync("push.big", nats.OrderedConsumer())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		if _, err := fsub.NextMsg(5 * time.Second); err != nil {
			t.Fatalf("flow-controlled msg %d: %v", i, err)
		}
	}
	fsub.Unsubscribe()

	// Durable push consumer with explicit acks and a queue group.
	got := make(chan *nats.Msg, 300)
	qs, err := ljs.QueueSubscribe("push.a", "grp", func(m *nats.Msg) {
		m.Ack()
		got <- m
	}, nats.Durable("qd"), nats.ManualAck())
	if err != nil {
		t.Fatal(err)
	}
	defer qs.Unsubscribe()
	for i := 0; i < 300; i++ {
		select {
		case <-got:
		case <-time.After(5 * time.Second):
			t.Fatalf("push got %d of 300", i)
		}
	}
}

func TestOrderedPullConsumer(t *testing.T) {
	e := newEnv(t, "acme")
	_, js := newJS(t, e, "acme")
	ctx := t.Context()
	s, _ := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ORD", Subjects: []string{"ord.>"}})
	fill(t, js, "ord.a", 50)
	fill(t, js, "ord.b", 50)
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"ord.b"}})
	if err != nil {
		t.Fatal(err)
	}
	want := uint64(51)
	for i := 0; i < 50; i++ {
		m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatalf("msg %d: %v", i, err)
		}
		md, _ := m.Metadata()
		if md.Sequence.Stream != want || m.Subject() != "ord.b" {
			t.Fatalf("msg %d: seq %d subject %s", i, md.Sequence.Stream, m.Subject())
		}
		want++
	}
}
