package natswire

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"rewire/storage"
)

func fill(t *testing.T, js jetstream.JetStream, subj string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := js.Publish(t.Context(), subj, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPullConsumer(t *testing.T) {
	e := newEnv(t, "acme")
	_, js := newJS(t, e, "acme")
	ctx := t.Context()
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "EV", Subjects: []string{"ev.>"}})
	if err != nil {
		t.Fatal(err)
	}
	fill(t, js, "ev.a", 5)
	fill(t, js, "ev.b", 5)

	c, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "d", AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: 500 * time.Millisecond, FilterSubject: "ev.a"})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := c.Fetch(5, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var got []jetstream.Msg
	for m := range batch.Messages() {
		got = append(got, m)
	}
	if len(got) != 5 {
		t.Fatalf("fetched %d, want 5", len(got))
	}
	md, _ := got[0].Metadata()
	if md.Sequence.Stream != 1 || md.Sequence.Consumer != 1 || md.NumDelivered != 1 || md.Stream != "EV" {
		t.Fatalf("metadata %+v", md)
	}
	// Ack all but the first; it must come back after the ack wait.
	for _, m := range got[1:] {
		if err := m.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	md, _ = m.Metadata()
	if md.Sequence.Stream != 1 || md.NumDelivered != 2 {
		t.Fatalf("redelivery %+v", md)
	}
	if err := m.DoubleAck(ctx); err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 0 || info.NumPending != 0 || info.Delivered.Stream != 5 || info.AckFloor.Stream != 5 {
		t.Fatalf("info %+v", info)
	}

	// Nak redelivers at once; term stops redelivery.
	fill(t, js, "ev.a", 2)
	m, _ = c.Next(jetstream.FetchMaxWait(5 * time.Second))
	m.Nak()
	m2, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	md2, _ := m2.Metadata()
	if md2.Sequence.Stream != 11 || md2.NumDelivered != 2 {
		t.Fatalf("after nak %+v", md2)
	}
	m2.Term()
	m3, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	md3, _ := m3.Metadata()
	if md3.Sequence.Stream != 12 {
		t.Fatalf("after term %+v", md3)
	}
	m3.InProgress()
	m3.Ack()

	// No wait on an empty consumer ends at once.
	b, err := c.FetchNoWait(5)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range b.Messages() {
		n++
	}
	if n != 0 || b.Error() != nil {
		t.Fatalf("no wait: %d %v", n, b.Error())
	}

	// Deliver policies.
	for _, tc := range []struct {
		cfg   jetstream.ConsumerConfig
		first uint64
		count int
	}{
		{jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}, 1, 12},
		{jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverLastPolicy}, 12, 1},
		{jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: 8}, 8, 5},
		{jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy, FilterSubjects: []string{"ev.a", "ev.b"}}, 10, 2},
		{jetstream.ConsumerConfig{FilterSubjects: []string{"ev.b"}}, 6, 5},
	} {
		tc.cfg.AckPolicy = jetstream.AckNonePolicy
		c, err := s.CreateConsumer(ctx, tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		b, err := c.Fetch(100, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var seqs []uint64
		for m := range b.Messages() {
			md, _ := m.Metadata()
			seqs = append(seqs, md.Sequence.Stream)
		}
		if len(seqs) != tc.count || seqs[0] != tc.first {
			t.Fatalf("%+v: got %v", tc.cfg, seqs)
		}
	}

	// New only sees later messages.
	nc, _ := s.CreateConsumer(ctx, jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy})
	fill(t, js, "ev.c", 1)
	m, err = nc.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if md, _ := m.Metadata(); md.Sequence.Stream != 13 {
		t.Fatalf("deliver new got %d", md.Sequence.Stream)
	}

	// Errors carry nats-server's codes.
	if _, err := s.Consumer(ctx, "missing"); apiCode(err) != 10014 {
		t.Fatalf("consumer not found: %v", err)
	}
	if _, err := js.Stream(ctx, "missing"); apiCode(err) != 10059 {
		t.Fatalf("stream not found: %v", err)
	}
}

func TestConsumeAndMaxDeliver(t *testing.T) {
	e := newEnv(t, "acme")
	_, js := newJS(t, e, "acme")
	ctx := t.Context()
	s, _ := js.CreateStream(ctx, jetstream.StreamConfig{Name: "Q", Subjects: []string{"q"}, Retention: jetstream.WorkQueuePolicy})
	fill(t, js, "q", 200)
	c, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "w", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	n := 0
	cc, err := c.Consume(func(m jetstream.Msg) {
		m.Ack()
		n++
		if n == 200 {
			close(done)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("consumed %d of 200", n)
	}
	cc.Stop()
	// Work queue: acked messages leave the stream.
	deadline := time.Now().Add(5 * time.Second)
	for {
		info, _ := s.Info(ctx)
		if info.State.Msgs == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("work queue kept %d messages", info.State.Msgs)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Max deliver with backoff.
	s2, _ := js.CreateStream(ctx, jetstream.StreamConfig{Name: "MD", Subjects: []string{"md"}})
	fill(t, js, "md", 1)
	c2, err := s2.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "x", AckPolicy: jetstream.AckExplicitPolicy,
		MaxDeliver: 2, BackOff: []time.Duration{100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		m, err := c2.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
		if md, _ := m.Metadata(); md.NumDelivered != uint64(i) {
			t.Fatalf("delivery %d: %+v", i, md)
		}
	}
	if _, err := c2.Next(jetstream.FetchMaxWait(time.Second)); err == nil {
		t.Fatal("delivered past max_deliver")
	}
}

func TestRestartKeepsStreamsAndConsumers(t *testing.T) {
	e := newEnv(t, "acme")
	_, js := newJS(t, e, "acme")
	ctx := t.Context()
	s, _ := js.CreateStream(ctx, jetstream.StreamConfig{Name: "P", Subjects: []string{"p.*"}})
	fill(t, js, "p.x", 10)
	c, _ := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "keep", AckPolicy: jetstream.AckExplicitPolicy})
	b, _ := c.Fetch(4, jetstream.FetchMaxWait(2*time.Second))
	for m := range b.Messages() {
		m.Ack()
	}
	time.Sleep(100 * time.Millisecond)

	e.restart(t)
	_, js = newJS(t, e, "acme")
	s, err := js.Stream(ctx, "P")
	if err != nil {
		t.Fatal(err)
	}
	info := s.CachedInfo()
	if info.State.Msgs != 10 || info.State.LastSeq != 10 {
		t.Fatalf("after restart: %+v", info.State)
	}
	c, err = s.Consumer(ctx, "keep")
	if err != nil {
		t.Fatal(err)
	}
	if ci := c.CachedInfo(); ci.Delivered.Last == nil || ci.AckFloor.Last == nil {
		t.Fatalf("last delivery and ack times lost: %+v %+v", ci.Delivered, ci.AckFloor)
	}
	m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if md, _ := m.Metadata(); md.Sequence.Stream != 5 {
		t.Fatalf("resumed at %d, want 5", md.Sequence.Stream)
	}
	ack, err := js.Publish(ctx, "p.y", nil)
	if err != nil || ack.Sequence != 11 {
		t.Fatalf("publish after restart: %+v %v", ack, err)
	}
}

func TestRetentionAndAckAll(t *testing.T) {
	e := newEnv(t, "acme")
	_, js := newJS(t, e, "acme")
	ctx := t.Context()
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "I", Subjects: []string{"i.>"}, Retention: jetstream.InterestPolicy})
	if err != nil {
		t.Fatal(err)
	}
	// Without consumers an interest stream keeps nothing.
	fill(t, js, "i.x", 2)
	if si, _ := s.Info(ctx); si.State.Msgs != 0 || si.State.LastSeq != 2 {
		t.Fatalf("interest without consumers: %+v", si.State)
	}
	c1, _ := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "one", AckPolicy: jetstream.AckExplicitPolicy})
	c2, _ := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "two", AckPolicy: jetstream.AckAllPolicy})
	start := time.Now()
	fill(t, js, "i.x", 4)

	// Ack all: acking the third acknowledges the first three.
	b, _ := c2.Fetch(3, jetstream.FetchMaxWait(2*time.Second))
	var last jetstream.Msg
	for m := range b.Messages() {
		last = m
	}
	if err := last.DoubleAck(ctx); err != nil {
		t.Fatal(err)
	}
	info, _ := c2.Info(ctx)
	if info.AckFloor.Stream != 5 || info.NumAckPending != 0 {
		t.Fatalf("ack all: %+v", info)
	}
	// Interest: messages stay until consumer one acks them too.
	if si, _ := s.Info(ctx); si.State.Msgs != 4 {
		t.Fatalf("interest dropped early: %+v", si.State)
	}
	b, _ = c1.Fetch(2, jetstream.FetchMaxWait(2*time.Second))
	for m := range b.Messages() {
		m.DoubleAck(ctx)
	}
	if si, _ := s.Info(ctx); si.State.Msgs != 2 || si.State.FirstSeq != 5 {
		t.Fatalf("interest retention: %+v", si.State)
	}

	// Deliver by start time.
	c3, err := s.CreateConsumer(ctx, jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverByStartTimePolicy,
		OptStartTime: &start, AckPolicy: jetstream.AckNonePolicy})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c3.Next(jetstream.FetchMaxWait(2 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if md, _ := m.Metadata(); md.Sequence.Stream != 5 {
		t.Fatalf("by start time got %d", md.Sequence.Stream)
	}
}

func TestPullHeartbeatsAndMaxBytes(t *testing.T) {
	e := newEnv(t, "acme")
	_, js := newJS(t, e, "acme")
	ctx := t.Context()
	s, _ := js.CreateStream(ctx, jetstream.StreamConfig{Name: "HB", Subjects: []string{"hb"}})
	c, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "d", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	// An idle fetch with heartbeats ends at its deadline without a
	// missing-heartbeat error.
	b, err := c.Fetch(5, jetstream.FetchMaxWait(2*time.Second), jetstream.FetchHeartbeat(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	for range b.Messages() {
	}
	if err := b.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
		t.Fatalf("heartbeat fetch: %v", err)
	}

	// max_bytes stops a batch once the byte budget is used.
	for i := 0; i < 10; i++ {
		js.Publish(ctx, "hb", make([]byte, 100))
	}
	b, err = c.FetchBytes(350, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for m := range b.Messages() {
		m.Ack()
		n++
	}
	if n == 0 || n > 3 {
		t.Fatalf("max_bytes 350 delivered %d messages of 100 bytes", n)
	}
}

// TestUnreadableStreamSkipped checks that a stream log whose stored
// configuration cannot be read (as streams created without a storage type
// were once left) does not keep the tenant's other streams from loading.
func TestUnreadableStreamSkipped(t *testing.T) {
	e := newEnv(t, "acme")
	_, js := newJS(t, e, "acme")
	ctx := t.Context()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "OK", Subjects: []string{"ok"}}); err != nil {
		t.Fatal(err)
	}
	fill(t, js, "ok", 3)

	tn, err := e.store.Acquire(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	_, err = tn.Logs().Create(ctx, logPrefix+"BROKEN", storage.LogConfig{})
	tn.Release()
	if err != nil {
		t.Fatal(err)
	}

	e.restart(t)
	_, js = newJS(t, e, "acme")
	s, err := js.Stream(ctx, "OK")
	if err != nil {
		t.Fatal(err)
	}
	if n := s.CachedInfo().State.Msgs; n != 3 {
		t.Fatalf("OK holds %d messages after restart, want 3", n)
	}
	if _, err := js.Publish(ctx, "ok", nil); err != nil {
		t.Fatal(err)
	}
}

// TestEphemeralKeptWhileAckPending checks that an ephemeral consumer is
// not removed for inactivity while a delivered message is still within
// its ack wait, and that the late ack is still taken.
func TestEphemeralKeptWhileAckPending(t *testing.T) {
	e := newEnv(t, "acme")
	_, js := newJS(t, e, "acme")
	ctx := t.Context()
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "EPH", Subjects: []string{"eph"}})
	if err != nil {
		t.Fatal(err)
	}
	fill(t, js, "eph", 1)
	c, err := s.CreateConsumer(ctx, jetstream.ConsumerConfig{AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: 4 * time.Second, InactiveThreshold: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	// Well past the inactive threshold, well within the ack wait.
	time.Sleep(1500 * time.Millisecond)
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatalf("consumer removed while a message awaited its ack: %v", err)
	}
	if err := m.DoubleAck(ctx); err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 1 {
		t.Fatalf("ack pending %d, want 1", info.NumAckPending)
	}
}

// TestNumPendingFollowsAppendsAndDeletes checks num_pending as messages
// are appended, delivered and removed around a filtered consumer.
func TestNumPendingFollowsAppendsAndDeletes(t *testing.T) {
	e := newEnv(t, "acme")
	_, js := newJS(t, e, "acme")
	ctx := t.Context()
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "NP", Subjects: []string{"np.*"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		fill(t, js, "np.a", 1)
		fill(t, js, "np.b", 1)
	}
	c, err := s.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: "np", FilterSubject: "np.a",
		AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Fetch(10, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range b.Messages() {
		m.Ack()
	}
	want := func(n uint64) {
		t.Helper()
		info, err := c.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.NumPending != n {
			t.Fatalf("num_pending %d, want %d", info.NumPending, n)
		}
	}
	want(40)
	for i := 0; i < 25; i++ {
		fill(t, js, "np.a", 1)
		fill(t, js, "np.b", 1)
	}
	want(65)
	// Sequence 99 is an undelivered np.a; 1 was delivered; 100 is np.b.
	for _, seq := range []uint64{99, 1, 100} {
		if err := s.DeleteMsg(ctx, seq); err != nil {
			t.Fatal(err)
		}
	}
	want(64)
	b, err = c.Fetch(4, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range b.Messages() {
		m.Ack()
	}
	want(60)
}

// TestDuplicateWindowSurvivesRestart checks that a publish retried with
// the same Nats-Msg-Id after a restart is still recognised as a
// duplicate.
func TestDuplicateWindowSurvivesRestart(t *testing.T) {
	e := newEnv(t, "acme")
	_, js := newJS(t, e, "acme")
	ctx := t.Context()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "DD", Subjects: []string{"dd"}}); err != nil {
		t.Fatal(err)
	}
	ack, err := js.Publish(ctx, "dd", []byte("once"), jetstream.WithMsgID("order-1"))
	if err != nil || ack.Duplicate {
		t.Fatalf("first publish: %+v %v", ack, err)
	}

	e.restart(t)
	_, js = newJS(t, e, "acme")
	again, err := js.Publish(ctx, "dd", []byte("once"), jetstream.WithMsgID("order-1"))
	if err != nil {
		t.Fatal(err)
	}
	if !again.Duplicate || again.Sequence != ack.Sequence {
		t.Fatalf("retry after restart: %+v, want duplicate of %d", again, ack.Sequence)
	}
	s, err := js.Stream(ctx, "DD")
	if err != nil {
		t.Fatal(err)
	}
	if n := s.CachedInfo().State.Msgs; n != 1 {
		t.Fatalf("%d messages, want 1", n)
	}
}
