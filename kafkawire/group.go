package kafkawire

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupState is a classic consumer group's state, named as Kafka names it
// in DescribeGroups and ListGroups.
type groupState int

const (
	groupEmpty groupState = iota
	groupPreparingRebalance
	groupCompletingRebalance
	groupStable
	groupDead
)

func (s groupState) String() string {
	return [...]string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"}[s]
}

// Session timeout bounds (Kafka's group.min/max.session.timeout.ms are
// 6 s and 30 min; rewire allows shorter sessions for local use).
const (
	minSessionTimeout = 1 * time.Second
	maxSessionTimeout = 30 * time.Minute
)

// member is one group member.
type member struct {
	id, instanceID   string
	clientID, host   string
	protocols        []kmsg.JoinGroupRequestProtocol
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	assignment       []byte

	join     chan *kmsg.JoinGroupResponse // set while a JoinGroup waits
	joinVer  int16
	sync     chan *kmsg.SyncGroupResponse // set while a SyncGroup waits
	timer    *time.Timer                  // session expiry
	timerGen int                          // invalidates stale expiries
}

// group is one classic group.
type group struct {
	name         string
	state        groupState
	generation   int32
	protocolType string
	protocol     string
	leader       string
	members      map[string]*member
	static       map[string]string // instance id -> member id
	order        []string          // member ids in join order
	rebalance    *time.Timer
}

// coordinator runs the tenant's classic consumer groups. One mutex guards
// every group of the tenant: group operations are short and rare compared
// with produce and fetch.
type coordinator struct {
	b      *broker
	mu     sync.Mutex // guards groups, closed and everything inside groups
	groups map[string]*group
	closed bool
}

func newCoordinator(b *broker) *coordinator {
	return &coordinator{b: b, groups: make(map[string]*group)}
}

// close ends every group's timers and wakes every waiting request.
func (co *coordinator) close() {
	co.mu.Lock()
	defer co.mu.Unlock()
	co.closed = true
	for _, g := range co.groups {
		if g.rebalance != nil {
			g.rebalance.Stop()
		}
		for _, m := range g.members {
			co.dropMemberLocked(g, m)
		}
	}
}

func (co *coordinator) groupLocked(name string, create bool) *group {
	g := co.groups[name]
	if g == nil && create {
		g = &group{name: name, members: map[string]*member{}, static: map[string]string{}}
		co.groups[name] = g
	}
	return g
}

// ref returns a pointer to a copy of s. Responses are encoded after the
// coordinator's lock is released, so they must not point into a group.
func ref(s string) *string { return &s }

func newMemberID(clientID string) string {
	b := make([]byte, 16)
	rand.Read(b)
	return clientID + "-" + hex.EncodeToString(b)
}

// join handles JoinGroup. It returns a channel that yields the response
// once the rebalance completes.
func (co *coordinator) join(r *kmsg.JoinGroupRequest, clientID, host string) <-chan *kmsg.JoinGroupResponse {
	out := make(chan *kmsg.JoinGroupResponse, 1)
	fail := func(code int16) <-chan *kmsg.JoinGroupResponse {
		resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode, resp.Generation, resp.MemberID = code, -1, r.MemberID
		out <- resp
		return out
	}
	session := time.Duration(r.SessionTimeoutMillis) * time.Millisecond
	rebalance := time.Duration(r.RebalanceTimeoutMillis) * time.Millisecond
	if r.Version == 0 {
		rebalance = session
	}
	switch {
	case r.Group == "":
		return fail(errInvalidGroupID)
	case session < minSessionTimeout || session > maxSessionTimeout:
		return fail(errInvalidSessionTimeout)
	case r.ProtocolType == "" || len(r.Protocols) == 0:
		return fail(errInconsistentProtocol)
	}

	co.mu.Lock()
	defer co.mu.Unlock()
	if co.closed {
		return fail(errCoordinatorNotAvail)
	}
	g := co.groupLocked(r.Group, true)
	if len(g.members) > 0 && (g.protocolType != r.ProtocolType || !g.supportsLocked(r.Protocols)) {
		return fail(errInconsistentProtocol)
	}
	instance := ""
	if r.InstanceID != nil {
		instance = *r.InstanceID
	}

	var m *member
	switch {
	case r.MemberID == "" && instance != "" && g.static[instance] != "":
		// A static member restarting replaces its old identity. In a
		// stable group whose protocol choice it does not change, it
		// keeps its assignment without a rebalance (KIP-345).
		old := g.members[g.static[instance]]
		if old != nil && g.state == groupStable && g.keepsProtocolLocked(old, r.Protocols) {
			co.replaceStaticLocked(g, old, r, clientID, host, out)
			return out
		}
		if old != nil {
			co.removeMemberLocked(g, old, errFencedInstanceID)
		}
		m = &member{id: newMemberID(clientID), instanceID: instance}
	case r.MemberID == "":
		m = &member{id: newMemberID(clientID), instanceID: instance}
	default:
		m = g.members[r.MemberID]
		if m == nil {
			if instance != "" && g.static[instance] != "" {
				return fail(errFencedInstanceID)
			}
			return fail(errUnknownMember)
		}
		if instance != "" && g.static[instance] != m.id {
			return fail(errFencedInstanceID)
		}
	}
	if g.members[m.id] == nil {
		g.members[m.id] = m
		g.order = append(g.order, m.id)
		if instance != "" {
			g.static[instance] = m.id
		}
	}
	m.clientID, m.host = clientID, host
	m.protocols = r.Protocols
	m.sessionTimeout, m.rebalanceTimeout = session, rebalance
	if m.join != nil {
		// A repeated join replaces the one still waiting.
		resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode, resp.Generation = errRebalanceInProgress, -1
		m.join <- resp
	}
	m.join, m.joinVer = out, r.Version
	g.protocolType = r.ProtocolType
	if m.timer != nil {
		m.timer.Stop()
	}

	if g.state != groupPreparingRebalance {
		co.prepareRebalanceLocked(g)
	}
	co.maybeCompleteJoinLocked(g)
	return out
}

// supportsLocked reports whether protocols share one with every member.
func (g *group) supportsLocked(protocols []kmsg.JoinGroupRequestProtocol) bool {
	for _, p := range protocols {
		all := true
		for _, m := range g.members {
			if !m.supports(p.Name) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func (m *member) supports(name string) bool {
	for _, p := range m.protocols {
		if p.Name == name {
			return true
		}
	}
	return false
}

func (m *member) metadata(name string) []byte {
	for _, p := range m.protocols {
		if p.Name == name {
			return p.Metadata
		}
	}
	return nil
}

// prepareRebalanceLocked starts a rebalance: members must rejoin within
// the longest rebalance timeout or be removed.
func (co *coordinator) prepareRebalanceLocked(g *group) {
	g.state = groupPreparingRebalance
	for _, m := range g.members {
		if m.sync != nil {
			resp := kmsg.NewPtrSyncGroupResponse()
			resp.ErrorCode = errRebalanceInProgress
			m.sync <- resp
			m.sync = nil
		}
	}
	var longest time.Duration
	for _, m := range g.members {
		longest = max(longest, m.rebalanceTimeout)
	}
	if g.rebalance != nil {
		g.rebalance.Stop()
	}
	g.rebalance = time.AfterFunc(longest, func() {
		co.mu.Lock()
		defer co.mu.Unlock()
		if g.state == groupPreparingRebalance && !co.closed {
			co.completeJoinLocked(g)
		}
	})
}

func (co *coordinator) maybeCompleteJoinLocked(g *group) {
	if g.state != groupPreparingRebalance {
		return
	}
	for _, m := range g.members {
		if m.join == nil {
			return
		}
	}
	co.completeJoinLocked(g)
}

// completeJoinLocked ends the join phase: members that did not rejoin are
// dropped, the generation advances, a protocol is chosen, and every waiting
// JoinGroup is answered (the leader with the member list).
func (co *coordinator) completeJoinLocked(g *group) {
	if g.rebalance != nil {
		g.rebalance.Stop()
		g.rebalance = nil
	}
	for _, m := range g.members {
		if m.join == nil {
			co.dropMemberLocked(g, m)
		}
	}
	g.generation++
	if len(g.members) == 0 {
		g.state, g.protocol, g.leader = groupEmpty, "", ""
		return
	}
	g.protocol = g.chooseProtocolLocked()
	if g.members[g.leader] == nil {
		for _, id := range g.order {
			if g.members[id] != nil {
				g.leader = id
				break
			}
		}
	}
	g.state = groupCompletingRebalance
	for _, m := range g.members {
		resp := kmsg.NewPtrJoinGroupResponse()
		resp.Version = m.joinVer
		resp.Generation = g.generation
		resp.ProtocolType = ref(g.protocolType)
		resp.Protocol = ref(g.protocol)
		resp.LeaderID = g.leader
		resp.MemberID = m.id
		if m.id == g.leader {
			for _, id := range g.order {
				o := g.members[id]
				if o == nil {
					continue
				}
				jm := kmsg.NewJoinGroupResponseMember()
				jm.MemberID = o.id
				if o.instanceID != "" {
					jm.InstanceID = ref(o.instanceID)
				}
				jm.ProtocolMetadata = o.metadata(g.protocol)
				resp.Members = append(resp.Members, jm)
			}
		}
		m.join <- resp
		m.join = nil
		co.resetSessionLocked(g, m)
	}
}

// chooseProtocolLocked picks the protocol every member supports that most
// members prefer, ties going to the earlier one in the leader's order.
func (g *group) chooseProtocolLocked() string {
	var first *member
	for _, id := range g.order {
		if m := g.members[id]; m != nil {
			first = m
			break
		}
	}
	votes := map[string]int{}
	for _, m := range g.members {
		for _, p := range m.protocols {
			if g.allSupportLocked(p.Name) {
				votes[p.Name]++
				break
			}
		}
	}
	best, bestVotes := "", -1
	for _, p := range first.protocols {
		if v, ok := votes[p.Name]; ok && v > bestVotes && g.allSupportLocked(p.Name) {
			best, bestVotes = p.Name, v
		}
	}
	return best
}

func (g *group) allSupportLocked(name string) bool {
	for _, m := range g.members {
		if !m.supports(name) {
			return false
		}
	}
	return true
}

// resetSessionLocked restarts a member's session timer.
func (co *coordinator) resetSessionLocked(g *group, m *member) {
	if m.timer != nil {
		m.timer.Stop()
	}
	m.timerGen++
	gen := m.timerGen
	m.timer = time.AfterFunc(m.sessionTimeout, func() {
		co.mu.Lock()
		defer co.mu.Unlock()
		if co.closed || g.members[m.id] != m || m.timerGen != gen || m.join != nil {
			return
		}
		co.b.s.log.Debug("kafka group member session expired", logTenant, co.b.name, "group", g.name, "member", m.id)
		co.removeMemberLocked(g, m, errUnknownMember)
	})
}

// removeMemberLocked removes a member and rebalances the rest.
func (co *coordinator) removeMemberLocked(g *group, m *member, code int16) {
	if m.join != nil {
		resp := kmsg.NewPtrJoinGroupResponse()
		resp.Version = m.joinVer
		resp.ErrorCode, resp.Generation = code, -1
		m.join <- resp
		m.join = nil
	}
	co.dropMemberLocked(g, m)
	switch {
	case len(g.members) == 0 && g.state != groupPreparingRebalance:
		g.generation++
		g.state, g.protocol, g.leader = groupEmpty, "", ""
	case g.state == groupPreparingRebalance:
		co.maybeCompleteJoinLocked(g)
	default:
		co.prepareRebalanceLocked(g)
	}
}

// dropMemberLocked deletes a member and wakes its waiting requests.
func (co *coordinator) dropMemberLocked(g *group, m *member) {
	if m.timer != nil {
		m.timer.Stop()
	}
	m.timerGen++
	if m.join != nil {
		resp := kmsg.NewPtrJoinGroupResponse()
		resp.Version = m.joinVer
		resp.ErrorCode, resp.Generation = errUnknownMember, -1
		m.join <- resp
		m.join = nil
	}
	if m.sync != nil {
		resp := kmsg.NewPtrSyncGroupResponse()
		resp.ErrorCode = errRebalanceInProgress
		m.sync <- resp
		m.sync = nil
	}
	delete(g.members, m.id)
	if m.instanceID != "" && g.static[m.instanceID] == m.id {
		delete(g.static, m.instanceID)
	}
	for i, id := range g.order {
		if id == m.id {
			g.order = append(g.order[:i:i], g.order[i+1:]...)
			break
		}
	}
}

// memberLocked validates a member id and generation.
func (g *group) memberLocked(id string, generation int32) (*member, int16) {
	m := g.members[id]
	if m == nil {
		return nil, errUnknownMember
	}
	if generation != g.generation {
		return m, errIllegalGeneration
	}
	return m, 0
}

// sync handles SyncGroup; the returned channel yields the response.
func (co *coordinator) sync(r *kmsg.SyncGroupRequest) <-chan *kmsg.SyncGroupResponse {
	out := make(chan *kmsg.SyncGroupResponse, 1)
	resp := r.ResponseKind().(*kmsg.SyncGroupResponse)
	co.mu.Lock()
	defer co.mu.Unlock()
	g := co.groupLocked(r.Group, false)
	if g == nil || co.closed {
		resp.ErrorCode = errUnknownMember
		out <- resp
		return out
	}
	m, code := g.memberLocked(r.MemberID, r.Generation)
	if code == 0 && g.state == groupPreparingRebalance {
		code = errRebalanceInProgress
	}
	if code != 0 {
		resp.ErrorCode = code
		out <- resp
		return out
	}
	co.resetSessionLocked(g, m)
	resp.ProtocolType, resp.Protocol = ref(g.protocolType), ref(g.protocol)
	if g.state == groupStable {
		resp.MemberAssignment = m.assignment
		out <- resp
		return out
	}
	// CompletingRebalance: wait for the leader's assignment.
	m.sync = out
	if m.id == g.leader {
		assigned := map[string][]byte{}
		for _, a := range r.GroupAssignment {
			assigned[a.MemberID] = a.MemberAssignment
		}
		g.state = groupStable
		for _, o := range g.members {
			o.assignment = assigned[o.id]
			if o.sync != nil {
				sr := kmsg.NewPtrSyncGroupResponse()
				sr.ProtocolType, sr.Protocol = ref(g.protocolType), ref(g.protocol)
				sr.MemberAssignment = o.assignment
				o.sync <- sr
				o.sync = nil
			}
		}
	}
	return out
}

// heartbeat handles Heartbeat and returns its error code.
func (co *coordinator) heartbeat(r *kmsg.HeartbeatRequest) int16 {
	co.mu.Lock()
	defer co.mu.Unlock()
	g := co.groupLocked(r.Group, false)
	if g == nil || co.closed {
		return errUnknownMember
	}
	m, code := g.memberLocked(r.MemberID, r.Generation)
	if m != nil {
		co.resetSessionLocked(g, m)
	}
	if code != 0 {
		return code
	}
	if g.state == groupPreparingRebalance {
		return errRebalanceInProgress
	}
	return 0
}

// leave handles LeaveGroup for members named by id or instance id.
func (co *coordinator) leave(r *kmsg.LeaveGroupRequest) *kmsg.LeaveGroupResponse {
	resp := r.ResponseKind().(*kmsg.LeaveGroupResponse)
	leaving := r.Members
	if r.Version < 3 {
		leaving = []kmsg.LeaveGroupRequestMember{{MemberID: r.MemberID}}
	}
	co.mu.Lock()
	defer co.mu.Unlock()
	g := co.groupLocked(r.Group, false)
	for _, lm := range leaving {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID = lm.MemberID, lm.InstanceID
		id := lm.MemberID
		if g != nil && lm.InstanceID != nil {
			if sid := g.static[*lm.InstanceID]; sid == "" {
				rm.ErrorCode = errUnknownMember
			} else if id != "" && id != sid {
				rm.ErrorCode = errFencedInstanceID
			} else {
				id = sid
			}
		}
		var m *member
		if g != nil {
			m = g.members[id]
		}
		if m == nil && rm.ErrorCode == 0 {
			rm.ErrorCode = errUnknownMember
		}
		if rm.ErrorCode == 0 {
			co.removeMemberLocked(g, m, errUnknownMember)
		}
		resp.Members = append(resp.Members, rm)
	}
	if r.Version < 3 && len(resp.Members) == 1 {
		resp.ErrorCode = resp.Members[0].ErrorCode
		resp.Members = nil
	}
	return resp
}

// commitCheck validates an OffsetCommit against the group's state as
// Kafka does: simple commits (negative generation) only to groups without
// members.
func (co *coordinator) commitCheck(name, memberID string, generation int32) int16 {
	co.mu.Lock()
	defer co.mu.Unlock()
	g := co.groupLocked(name, false)
	if g == nil || len(g.members) == 0 && generation < 0 {
		return 0
	}
	if g.state == groupCompletingRebalance {
		return errRebalanceInProgress
	}
	m, code := g.memberLocked(memberID, generation)
	if code == errUnknownMember || code != 0 {
		return code
	}
	co.resetSessionLocked(g, m)
	return 0
}

// groupSummary is a snapshot of one group for List/Describe.
type groupSummary struct {
	name, protocolType, protocol string
	state                        groupState
	members                      []kmsg.DescribeGroupsResponseGroupMember
	topics                       map[string]bool // subscribed, from consumer metadata
}

func (co *coordinator) describe(name string) (groupSummary, bool) {
	co.mu.Lock()
	defer co.mu.Unlock()
	g := co.groupLocked(name, false)
	if g == nil {
		return groupSummary{name: name, state: groupDead}, false
	}
	s := groupSummary{name: name, protocolType: g.protocolType, protocol: g.protocol, state: g.state,
		topics: map[string]bool{}}
	for _, id := range g.order {
		m := g.members[id]
		if m == nil {
			continue
		}
		dm := kmsg.NewDescribeGroupsResponseGroupMember()
		dm.MemberID, dm.ClientID, dm.ClientHost = m.id, m.clientID, m.host
		if m.instanceID != "" {
			dm.InstanceID = ref(m.instanceID)
		}
		dm.ProtocolMetadata = m.metadata(g.protocol)
		dm.MemberAssignment = m.assignment
		s.members = append(s.members, dm)
		if g.protocolType == "consumer" {
			var meta kmsg.ConsumerMemberMetadata
			if meta.ReadFrom(dm.ProtocolMetadata) == nil {
				for _, t := range meta.Topics {
					s.topics[t] = true
				}
			}
		}
	}
	return s, true
}

func (co *coordinator) list() []groupSummary {
	co.mu.Lock()
	names := make([]string, 0, len(co.groups))
	for n := range co.groups {
		names = append(names, n)
	}
	co.mu.Unlock()
	var out []groupSummary
	for _, n := range names {
		if s, ok := co.describe(n); ok {
			out = append(out, s)
		}
	}
	return out
}

// deleteGroup removes an empty group's in-memory state; it returns the
// error code for a group that still has members.
func (co *coordinator) deleteGroup(name string) int16 {
	co.mu.Lock()
	defer co.mu.Unlock()
	g := co.groupLocked(name, false)
	if g == nil {
		return 0
	}
	if len(g.members) > 0 {
		return errNonEmptyGroup
	}
	if g.rebalance != nil {
		g.rebalance.Stop()
	}
	delete(co.groups, name)
	return 0
}

// keepsProtocolLocked reports whether the group would choose the protocol
// it has now if m offered protocols instead of its own. As in Kafka, the
// metadata inside a protocol does not matter: clients put their owned
// partitions and generation there, which change with every restart.
func (g *group) keepsProtocolLocked(m *member, protocols []kmsg.JoinGroupRequestProtocol) bool {
	saved := m.protocols
	m.protocols = protocols
	defer func() { m.protocols = saved }()
	return g.chooseProtocolLocked() == g.protocol
}

// replaceStaticLocked gives a restarted static member a new member id in
// place of its old one, keeping the generation and its assignment.
func (co *coordinator) replaceStaticLocked(g *group, old *member, r *kmsg.JoinGroupRequest, clientID, host string,
	out chan *kmsg.JoinGroupResponse) {
	if old.timer != nil {
		old.timer.Stop()
	}
	old.timerGen++
	if old.sync != nil {
		resp := kmsg.NewPtrSyncGroupResponse()
		resp.ErrorCode = errFencedInstanceID
		old.sync <- resp
		old.sync = nil
	}
	m := &member{id: newMemberID(clientID), instanceID: old.instanceID, clientID: clientID, host: host,
		protocols: r.Protocols, assignment: old.assignment,
		sessionTimeout:   time.Duration(r.SessionTimeoutMillis) * time.Millisecond,
		rebalanceTimeout: time.Duration(r.RebalanceTimeoutMillis) * time.Millisecond}
	delete(g.members, old.id)
	g.members[m.id] = m
	for i, id := range g.order {
		if id == old.id {
			g.order[i] = m.id
		}
	}
	g.static[m.instanceID] = m.id
	if g.leader == old.id {
		g.leader = m.id
	}
	resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.Generation, resp.MemberID, resp.LeaderID = g.generation, m.id, g.leader
	resp.ProtocolType, resp.Protocol = ref(g.protocolType), ref(g.protocol)
	if m.id == g.leader && r.Version >= 9 {
		// The leader need not assign again; it still learns the members.
		resp.SkipAssignment = true
		for _, id := range g.order {
			o := g.members[id]
			jm := kmsg.NewJoinGroupResponseMember()
			jm.MemberID, jm.ProtocolMetadata = o.id, o.metadata(g.protocol)
			if o.instanceID != "" {
				jm.InstanceID = ref(o.instanceID)
			}
			resp.Members = append(resp.Members, jm)
		}
	}
	co.resetSessionLocked(g, m)
	out <- resp
}
