package natswire

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func newJS(t *testing.T, e *testEnv, tenant string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc := e.connect(t, tenant)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

func apiCode(err error) uint16 {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return uint16(apiErr.ErrorCode)
	}
	return 0
}

func TestStreamLifecycle(t *testing.T) {
	e := newEnv(t, "acme")
	_, js := newJS(t, e, "acme")
	ctx := t.Context()

	ai, err := js.AccountInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ai.Streams != 0 || ai.API.Level < 1 {
		t.Fatalf("account info %+v", ai)
	}

	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	if cfg.MaxMsgs != -1 || cfg.Duplicates != 2*time.Minute || cfg.Replicas != 1 || cfg.Retention != jetstream.LimitsPolicy {
		t.Fatalf("defaults not applied: %+v", cfg)
	}
	// Same config again is fine; a different one is refused.
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"x"}}); apiCode(err) != 10058 {
		t.Fatalf("conflicting create: %v", err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "OTHER", Subjects: []string{"orders.eu"}}); apiCode(err) != 10065 {
		t.Fatalf("overlap: %v", err)
	}

	for i := 1; i <= 5; i++ {
		ack, err := js.Publish(ctx, fmt.Sprintf("orders.%d", i%2), []byte(fmt.Sprintf("m%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		if ack.Stream != "ORDERS" || ack.Sequence != uint64(i) {
			t.Fatalf("ack %+v", ack)
		}
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 5 || info.State.FirstSeq != 1 || info.State.LastSeq != 5 {
		t.Fatalf("state %+v", info.State)
	}

	// Message get by sequence and last by subject; direct get.
	m, err := s.GetMsg(ctx, 2)
	if err != nil || string(m.Data) != "m2" || m.Subject != "orders.0" {
		t.Fatalf("get 2: %+v %v", m, err)
	}
	m, err = s.GetLastMsgForSubject(ctx, "orders.1")
	if err != nil || m.Sequence != 5 {
		t.Fatalf("last for orders.1: %+v %v", m, err)
	}
	if _, err := s.GetMsg(ctx, 99); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatalf("get missing: %v", err)
	}

	// Delete a message.
	if err := s.DeleteMsg(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetMsg(ctx, 3); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatalf("deleted message still there: %v", err)
	}
	if err := s.DeleteMsg(ctx, 3); err == nil {
		t.Fatal("second delete succeeded")
	}

	// Duplicate window.
	a1, err := js.Publish(ctx, "orders.1", []byte("d"), jetstream.WithMsgID("id-1"))
	if err != nil {
		t.Fatal(err)
	}
	a2, err := js.Publish(ctx, "orders.1", []byte("d"), jetstream.WithMsgID("id-1"))
	if err != nil || !a2.Duplicate || a2.Sequence != a1.Sequence {
		t.Fatalf("duplicate: %+v %v", a2, err)
	}

	// Expected last sequence / subject sequence.
	if _, err := js.Publish(ctx, "orders.1", nil, jetstream.WithExpectLastSequence(1)); apiCode(err) != 10071 {
		t.Fatalf("wrong last seq: %v", err)
	}
	if _, err := js.Publish(ctx, "orders.1", nil, jetstream.WithExpectLastSequence(a1.Sequence)); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "orders.0", nil, jetstream.WithExpectLastSequencePerSubject(4)); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "orders.0", nil, jetstream.WithExpectLastSequencePerSubject(4)); apiCode(err) != 10071 {
		t.Fatalf("wrong last subject seq: %v", err)
	}
	if _, err := js.Publish(ctx, "orders.1", nil, jetstream.WithExpectStream("NOPE")); apiCode(err) != 10060 {
		t.Fatalf("wrong stream: %v", err)
	}

	// Names and list.
	names := js.StreamNames(ctx)
	var got []string
	for n := range names.Name() {
		got = append(got, n)
	}
	if len(got) != 1 || got[0] != "ORDERS" {
		t.Fatalf("names %v", got)
	}

	// Purge with subject filter and keep.
	if err := s.Purge(ctx, jetstream.WithPurgeSubject("orders.1"), jetstream.WithPurgeKeep(1)); err != nil {
		t.Fatal(err)
	}
	info, _ = s.Info(ctx)
	if sub, err := s.GetLastMsgForSubject(ctx, "orders.1"); err != nil || sub.Sequence != 7 {
		t.Fatalf("after purge keep: %+v %v", sub, err)
	}
	if err := s.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	info, _ = s.Info(ctx)
	if info.State.Msgs != 0 || info.State.FirstSeq != info.State.LastSeq+1 {
		t.Fatalf("after purge: %+v", info.State)
	}

	// Update and delete.
	cfg = info.Config
	cfg.MaxMsgs = 2
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		js.Publish(ctx, "orders.x", nil)
	}
	info, _ = s.Info(ctx)
	if info.State.Msgs != 2 {
		t.Fatalf("max msgs: %+v", info.State)
	}
	// Sealing stops writes, deletes and purges for good.
	cfg = info.Config
	cfg.Sealed = true
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "orders.x", nil); apiCode(err) != 10109 {
		t.Fatalf("publish to sealed stream: %v", err)
	}
	if err := s.Purge(ctx); apiCode(err) != 10109 {
		t.Fatalf("purge sealed stream: %v", err)
	}
	cfg.Sealed = false
	if _, err := js.UpdateStream(ctx, cfg); err == nil {
		t.Fatal("unsealed a sealed stream")
	}
	if err := js.DeleteStream(ctx, "ORDERS"); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Stream(ctx, "ORDERS"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

func TestStreamLimits(t *testing.T) {
	e := newEnv(t, "acme")
	_, js := newJS(t, e, "acme")
	ctx := t.Context()

	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "PER", Subjects: []string{"per.>"}, MaxMsgsPerSubject: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		js.Publish(ctx, "per.a", []byte{byte(i)})
		js.Publish(ctx, "per.b", []byte{byte(i)})
	}
	info, _ := s.Info(ctx)
	if info.State.Msgs != 4 {
		t.Fatalf("per-subject limit: %+v", info.State)
	}

	n, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "NEW", Subjects: []string{"new"}, MaxMsgs: 2, Discard: jetstream.DiscardNew})
	if err != nil {
		t.Fatal(err)
	}
	js.Publish(ctx, "new", nil)
	js.Publish(ctx, "new", nil)
	if _, err := js.Publish(ctx, "new", nil); err == nil {
		t.Fatal("discard new accepted a third message")
	}
	info, _ = n.Info(ctx)
	if info.State.Msgs != 2 {
		t.Fatalf("discard new: %+v", info.State)
	}

	dn, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "DNP", Subjects: []string{"dnp.*"}, MaxMsgsPerSubject: 1,
		Discard: jetstream.DiscardNew, DiscardNewPerSubject: true, MaxMsgs: 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "dnp.a", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "dnp.a", nil); err == nil {
		t.Fatal("discard new per subject accepted a second message")
	}
	if _, err := js.Publish(ctx, "dnp.b", nil); err != nil {
		t.Fatal(err)
	}
	if info, _ := dn.Info(ctx); info.State.Msgs != 2 {
		t.Fatalf("discard new per subject: %+v", info.State)
	}

	sz, _ := js.CreateStream(ctx, jetstream.StreamConfig{Name: "SZ", Subjects: []string{"sz"}, MaxMsgSize: 10})
	if _, err := js.Publish(ctx, "sz", make([]byte, 11)); apiCode(err) != 10054 {
		t.Fatalf("msg size: %v", err)
	}
	_ = sz

	// Rollup.
	r, _ := js.CreateStream(ctx, jetstream.StreamConfig{Name: "R", Subjects: []string{"r.>"}, AllowRollup: true})
	js.Publish(ctx, "r.a", nil)
	js.Publish(ctx, "r.a", nil)
	js.Publish(ctx, "r.b", nil)
	msg := nats.NewMsg("r.a")
	msg.Header.Set("Nats-Rollup", "sub")
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
	info, _ = r.Info(ctx)
	if info.State.Msgs != 2 {
		t.Fatalf("rollup sub: %+v", info.State)
	}
	deny, _ := js.CreateStream(ctx, jetstream.StreamConfig{Name: "D", Subjects: []string{"d"}, DenyDelete: true, DenyPurge: true})
	js.Publish(ctx, "d", nil)
	if err := deny.DeleteMsg(ctx, 1); err == nil {
		t.Fatal("deny delete ignored")
	}
	if err := deny.Purge(ctx); err == nil {
		t.Fatal("deny purge ignored")
	}

	// Max age.
	age, _ := js.CreateStream(ctx, jetstream.StreamConfig{Name: "AGE", Subjects: []string{"age"}, MaxAge: time.Second})
	js.Publish(ctx, "age", nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, _ = age.Info(ctx)
		if info.State.Msgs == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("max age not applied: %+v", info.State)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
