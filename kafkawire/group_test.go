package kafkawire

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// assigned tracks which partitions a group consumer holds.
type assigned struct {
	mu    sync.Mutex
	parts map[int32]bool
}

func (a *assigned) set(m map[string][]int32, add bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, ps := range m {
		for _, p := range ps {
			if add {
				a.parts[p] = true
			} else {
				delete(a.parts, p)
			}
		}
	}
}

func (a *assigned) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.parts)
}

func groupConsumer(t *testing.T, ts *testServer, a *assigned) *kgo.Client {
	return ts.client(t, tenantA, passA,
		kgo.ConsumerGroup("split"), kgo.ConsumeTopics("gt"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.HeartbeatInterval(200*time.Millisecond),
		kgo.Balancers(kgo.RangeBalancer()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { a.set(m, true) }),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { a.set(m, false) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { a.set(m, false) }),
	)
}

// TestGroupSplitAndRebalance runs two consumers in one group: they split
// the partitions, and when one leaves the other takes them all.
func TestGroupSplitAndRebalance(t *testing.T) {
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	adm := ts.admin(t, tenantA, passA)
	if _, err := adm.CreateTopic(ctx, 4, 1, nil, "gt"); err != nil {
		t.Fatal(err)
	}
	prod := ts.client(t, tenantA, passA, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := range int32(4) {
		for range 10 {
			if err := prod.ProduceSync(ctx, &kgo.Record{Topic: "gt", Partition: p, Value: []byte("x")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}

	a1, a2 := &assigned{parts: map[int32]bool{}}, &assigned{parts: map[int32]bool{}}
	c1 := groupConsumer(t, ts, a1)
	c2 := groupConsumer(t, ts, a2)
	var mu sync.Mutex
	seen := map[[2]int64]bool{}
	poll := func(cl *kgo.Client) {
		pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		fs := cl.PollFetches(pctx)
		fs.EachRecord(func(r *kgo.Record) {
			mu.Lock()
			seen[[2]int64{int64(r.Partition), r.Offset}] = true
			mu.Unlock()
		})
		cl.CommitUncommittedOffsets(ctx)
	}
	waitFor(t, ctx, "both consumers hold two partitions and all records are read", func() bool {
		poll(c1)
		poll(c2)
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		return a1.count() == 2 && a2.count() == 2 && n == 40
	})

	d, err := adm.DescribeGroups(ctx, "split")
	if err != nil {
		t.Fatal(err)
	}
	if g := d["split"]; g.State != "Stable" || len(g.Members) != 2 || g.Protocol != "range" {
		t.Fatalf("described group: state %s, %d members, protocol %s", g.State, len(g.Members), g.Protocol)
	}

	c2.Close()
	waitFor(t, ctx, "the remaining consumer takes all partitions", func() bool {
		poll(c1)
		return a1.count() == 4
	})
	offs, err := adm.FetchOffsets(ctx, "split")
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	offs.Each(func(o kadm.OffsetResponse) { sum += o.At })
	if sum != 40 {
		t.Fatalf("committed offsets sum to %d, want 40", sum)
	}
	lg, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g, ok := lg["split"]; !ok || g.State != "Stable" {
		t.Fatalf("listed groups: %v", lg)
	}
	c1.Close()
	waitFor(t, ctx, "the group is empty", func() bool {
		d, err := adm.DescribeGroups(ctx, "split")
		return err == nil && d["split"].State == "Empty"
	})
	dg, err := adm.DeleteGroups(ctx, "split")
	if err != nil || dg["split"].Err != nil {
		t.Fatalf("delete group: %v %v", err, dg["split"].Err)
	}
	offs, _ = adm.FetchOffsets(ctx, "split")
	if len(offs) != 0 {
		t.Fatalf("offsets left after DeleteGroups: %v", offs)
	}
}

func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if ctx.Err() != nil {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// joinRaw joins a group with raw requests and returns the member id and
// generation.
func joinRaw(t *testing.T, ctx context.Context, cl *kgo.Client, group, memberID string, session int32) (string, int32) {
	t.Helper()
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = group, session, 5000
	req.ProtocolType, req.MemberID = "consumer", memberID
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = []string{"gt"}
	req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: meta.AppendTo(nil)}}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != 0 {
		t.Fatalf("join: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	return resp.MemberID, resp.Generation
}

// TestGroupSessionTimeout checks that a member that stops heartbeating is
// evicted, and that the coordinator answers stale members with the right
// errors.
func TestGroupSessionTimeout(t *testing.T) {
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	cl := ts.client(t, tenantA, passA)
	id, gen := joinRaw(t, ctx, cl, "lazy", "", 1000)

	sreq := kmsg.NewPtrSyncGroupRequest()
	sreq.Group, sreq.MemberID, sreq.Generation = "lazy", id, gen
	sreq.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: id, MemberAssignment: []byte{1}}}
	sresp, err := sreq.RequestWith(ctx, cl)
	if err != nil || sresp.ErrorCode != 0 || len(sresp.MemberAssignment) != 1 {
		t.Fatalf("sync: %v %+v", err, sresp)
	}

	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation = "lazy", id, gen+1
	if r, _ := hb.RequestWith(ctx, cl); r.ErrorCode != kerr.IllegalGeneration.Code {
		t.Fatalf("heartbeat with a wrong generation: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	// A commit from an unknown member is refused per partition.
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "gt"); err != nil {
		t.Fatal(err)
	}
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Group, commit.MemberID, commit.Generation = "lazy", "stranger", gen
	ct := kmsg.NewOffsetCommitRequestTopic()
	ct.Topic = "gt"
	ct.Partitions = []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1}}
	commit.Topics = append(commit.Topics, ct)
	if r, err := commit.RequestWith(ctx, cl); err != nil || r.Topics[0].Partitions[0].ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("commit from a stranger: %v %+v", err, r)
	}

	// Stop heartbeating: the member is evicted.
	adm := kadm.NewClient(cl)
	waitFor(t, ctx, "the silent member is evicted", func() bool {
		d, err := adm.DescribeGroups(ctx, "lazy")
		return err == nil && len(d["lazy"].Members) == 0 && d["lazy"].State == "Empty"
	})
	hb.Generation = gen
	if r, _ := hb.RequestWith(ctx, cl); r.ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("heartbeat after eviction: %v", kerr.ErrorForCode(r.ErrorCode))
	}
}

// TestGroupRebalanceErrors checks REBALANCE_IN_PROGRESS for a member whose
// group is rebalancing, and static membership fencing.
func TestGroupRebalanceErrors(t *testing.T) {
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	cl := ts.client(t, tenantA, passA)
	id1, gen := joinRaw(t, ctx, cl, "rb", "", 30000)

	// A second member joins in the background; the first must rejoin.
	cl2 := ts.client(t, tenantA, passA)
	done := make(chan struct{})
	go func() {
		defer close(done)
		joinRaw(t, ctx, cl2, "rb", "", 30000)
	}()
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation = "rb", id1, gen
	waitFor(t, ctx, "heartbeat reports the rebalance", func() bool {
		r, err := hb.RequestWith(ctx, cl)
		return err == nil && r.ErrorCode == kerr.RebalanceInProgress.Code
	})
	id1b, gen2 := joinRaw(t, ctx, cl, "rb", id1, 30000)
	<-done
	if id1b != id1 || gen2 != gen+1 {
		t.Fatalf("rejoin: member %s gen %d, want %s gen %d", id1b, gen2, id1, gen+1)
	}

	// Static members: a second join with the same instance id fences the
	// old member id.
	inst := "instance-1"
	jr := kmsg.NewPtrJoinGroupRequest()
	jr.Group, jr.SessionTimeoutMillis, jr.RebalanceTimeoutMillis = "static", 30000, 1000
	jr.InstanceID, jr.ProtocolType = &inst, "consumer"
	jr.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{}}}
	r1, err := jr.RequestWith(ctx, cl)
	if err != nil || r1.ErrorCode != 0 {
		t.Fatalf("static join: %v %v", err, r1)
	}
	sr := kmsg.NewPtrSyncGroupRequest()
	sr.Group, sr.MemberID, sr.Generation, sr.InstanceID = "static", r1.MemberID, r1.Generation, &inst
	sr.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: r1.MemberID, MemberAssignment: []byte("mine")}}
	if resp, err := sr.RequestWith(ctx, cl); err != nil || string(resp.MemberAssignment) != "mine" {
		t.Fatalf("static sync: %v %+v", err, resp)
	}
	// The restarted static member keeps generation and assignment, even
	// though its protocol metadata changed (clients put their owned
	// partitions and generation there).
	jr.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte("owned")}}
	r2, err := jr.RequestWith(ctx, cl2)
	if err != nil || r2.ErrorCode != 0 || r2.MemberID == r1.MemberID || r2.Generation != r1.Generation {
		t.Fatalf("static rejoin: %v %+v", err, r2)
	}
	sr.MemberID, sr.GroupAssignment = r2.MemberID, nil
	if resp, err := sr.RequestWith(ctx, cl2); err != nil || string(resp.MemberAssignment) != "mine" {
		t.Fatalf("static rejoin sync: %v %+v", err, resp)
	}
	hb.Group, hb.MemberID, hb.Generation, hb.InstanceID = "static", r1.MemberID, r1.Generation, &inst
	if r, _ := hb.RequestWith(ctx, cl); r.ErrorCode == 0 {
		t.Fatal("the replaced static member still heartbeats")
	}
}

// TestStaticMembersRestart runs two franz-go consumers with instance ids:
// one restarts within its session timeout and gets its partitions back
// while the other keeps its own without a rebalance.
func TestStaticMembersRestart(t *testing.T) {
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	adm := ts.admin(t, tenantA, passA)
	if _, err := adm.CreateTopic(ctx, 4, 1, nil, "gt"); err != nil {
		t.Fatal(err)
	}
	var revoked sync.Map // instance id -> revocation count
	member := func(id string, a *assigned) *kgo.Client {
		return ts.client(t, tenantA, passA,
			kgo.ConsumerGroup("static"), kgo.ConsumeTopics("gt"), kgo.InstanceID(id),
			kgo.SessionTimeout(30*time.Second), kgo.HeartbeatInterval(200*time.Millisecond),
			kgo.Balancers(kgo.RangeBalancer()),
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { a.set(m, true) }),
			kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
				if len(m) > 0 {
					n, _ := revoked.LoadOrStore(id, new(int))
					*n.(*int)++
				}
				a.set(m, false)
			}),
		)
	}
	poll := func(cl *kgo.Client) {
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		cl.PollFetches(pctx)
	}
	a1, a2 := &assigned{parts: map[int32]bool{}}, &assigned{parts: map[int32]bool{}}
	c1, c2 := member("one", a1), member("two", a2)
	waitFor(t, ctx, "both static members hold two partitions", func() bool {
		poll(c1)
		poll(c2)
		return a1.count() == 2 && a2.count() == 2
	})
	before := map[int32]bool{}
	a2.mu.Lock()
	for p := range a2.parts {
		before[p] = true
	}
	a2.mu.Unlock()
	revoked.Clear() // the first member gave up half when the second joined

	// A static member leaves no LeaveGroup behind when it closes; its
	// replacement with the same instance id takes its place.
	c2.Close()
	a3 := &assigned{parts: map[int32]bool{}}
	c3 := member("two", a3)
	waitFor(t, ctx, "the restarted static member holds its two partitions again", func() bool {
		poll(c1)
		poll(c3)
		return a3.count() == 2
	})
	a3.mu.Lock()
	for p := range before {
		if !a3.parts[p] {
			t.Errorf("restarted member holds %v, before %v", a3.parts, before)
		}
	}
	a3.mu.Unlock()
	if n, ok := revoked.Load("one"); ok {
		t.Fatalf("the other static member lost its partitions %d times", *n.(*int))
	}
	d, err := adm.DescribeGroups(ctx, "static")
	if err != nil {
		t.Fatal(err)
	}
	if g := d["static"]; g.State != "Stable" || len(g.Members) != 2 {
		t.Fatalf("group after the restart: %s with %d members", g.State, len(g.Members))
	}
}

// TestGroupProtocolSelection runs franz-go members that offer different
// balancers: the group picks the one every member supports, and a member
// that shares none is refused with INCONSISTENT_GROUP_PROTOCOL.
func TestGroupProtocolSelection(t *testing.T) {
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	adm := ts.admin(t, tenantA, passA)
	if _, err := adm.CreateTopic(ctx, 4, 1, nil, "gt"); err != nil {
		t.Fatal(err)
	}
	a1, a2 := &assigned{parts: map[int32]bool{}}, &assigned{parts: map[int32]bool{}}
	member := func(a *assigned, balancers ...kgo.GroupBalancer) *kgo.Client {
		return ts.client(t, tenantA, passA, kgo.ConsumerGroup("choose"), kgo.ConsumeTopics("gt"),
			kgo.HeartbeatInterval(200*time.Millisecond), kgo.Balancers(balancers...),
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { a.set(m, true) }),
			kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { a.set(m, false) }))
	}
	c1 := member(a1, kgo.RangeBalancer(), kgo.RoundRobinBalancer())
	c2 := member(a2, kgo.RoundRobinBalancer())
	poll := func(cl *kgo.Client) {
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		cl.PollFetches(pctx)
	}
	waitFor(t, ctx, "both members hold two partitions", func() bool {
		poll(c1)
		poll(c2)
		return a1.count() == 2 && a2.count() == 2
	})
	d, err := adm.DescribeGroups(ctx, "choose")
	if err != nil {
		t.Fatal(err)
	}
	if p := d["choose"].Protocol; p != "roundrobin" {
		t.Fatalf("group protocol %q, want roundrobin (the only one both offer)", p)
	}

	req := kmsg.NewPtrJoinGroupRequest()
	req.Group, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = "choose", 10000, 5000
	req.ProtocolType = "consumer"
	req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "sticky", Metadata: []byte{}}}
	resp, err := req.RequestWith(ctx, ts.client(t, tenantA, passA))
	if err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != kerr.InconsistentGroupProtocol.Code {
		t.Fatalf("join offering only sticky: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
}
