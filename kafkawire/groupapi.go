package kafkawire

import (
	"context"
	"database/sql"
	"net"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"rewire/storage"
)

func (c *conn) clientHost() string {
	host, _, _ := net.SplitHostPort(c.nc.RemoteAddr().String())
	return "/" + host
}

func (c *conn) handleJoinGroup(ctx context.Context, h reqHeader, r *kmsg.JoinGroupRequest) kmsg.Response {
	ch := c.b.groups.join(r, h.clientID, c.clientHost())
	select {
	case resp := <-ch:
		resp.Version = r.Version
		return resp
	case <-ctx.Done():
		resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode, resp.Generation = errCoordinatorNotAvail, -1
		return resp
	}
}

func (c *conn) handleSyncGroup(ctx context.Context, r *kmsg.SyncGroupRequest) kmsg.Response {
	ch := c.b.groups.sync(r)
	select {
	case resp := <-ch:
		return resp
	case <-ctx.Done():
		resp := r.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.ErrorCode = errCoordinatorNotAvail
		return resp
	}
}

func (c *conn) handleHeartbeat(r *kmsg.HeartbeatRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.HeartbeatResponse)
	resp.ErrorCode = c.b.groups.heartbeat(r)
	return resp
}

func (c *conn) handleLeaveGroup(r *kmsg.LeaveGroupRequest) kmsg.Response {
	return c.b.groups.leave(r)
}

func (c *conn) handleOffsetCommit(ctx context.Context, r *kmsg.OffsetCommitRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
	gen := r.Generation
	if r.Version == 0 {
		gen = -1
	}
	code := c.b.groups.commitCheck(r.Group, r.MemberID, gen)
	if r.Group == "" {
		code = errInvalidGroupID
	}
	type row struct {
		topic string
		part  int32
		off   int64
		epoch int32
		meta  *string
	}
	var rows []row
	for _, rt := range r.Topics {
		st := kmsg.NewOffsetCommitResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		tp := c.b.topic(rt.Topic)
		missing := errUnknownTopic
		if r.Version >= 10 {
			// Version 10 on addresses topics by id.
			tp, missing = c.b.topicByID(rt.TopicID), kerrUnknownTopicID
		}
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = code
			if code == 0 && (tp == nil || tp.partition(rp.Partition) == nil) {
				sp.ErrorCode = missing
			}
			if sp.ErrorCode == 0 {
				rows = append(rows, row{tp.name, rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata})
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if len(rows) == 0 {
		return resp
	}
	err := c.b.t.Update(ctx, func(tx *storage.Tx) error {
		for _, rw := range rows {
			_, err := tx.Exec(`INSERT INTO kafka_offsets(grp, topic, part, offset, epoch, metadata) VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT(grp, topic, part) DO UPDATE SET offset = excluded.offset, epoch = excluded.epoch,
				metadata = excluded.metadata`, r.Group, rw.topic, rw.part, rw.off, rw.epoch, rw.meta)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		c.log.Error("kafka offset commit failed", "group", r.Group, "err", err)
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				if resp.Topics[i].Partitions[j].ErrorCode == 0 {
					resp.Topics[i].Partitions[j].ErrorCode = errCode(err)
				}
			}
		}
	}
	return resp
}

// committed is one committed offset.
type committed struct {
	offset int64
	epoch  int32
	meta   *string
}

// loadOffsets reads a group's committed offsets, keyed by topic then
// partition.
func (b *broker) loadOffsets(ctx context.Context, grp string) (map[string]map[int32]committed, error) {
	rows, err := b.t.DB().QueryContext(ctx,
		`SELECT topic, part, offset, epoch, metadata FROM kafka_offsets WHERE grp = ? ORDER BY topic, part`, grp)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]map[int32]committed{}
	for rows.Next() {
		var topic string
		var part int32
		var cm committed
		var meta sql.NullString
		if err := rows.Scan(&topic, &part, &cm.offset, &cm.epoch, &meta); err != nil {
			return nil, err
		}
		if meta.Valid {
			cm.meta = &meta.String
		}
		if out[topic] == nil {
			out[topic] = map[int32]committed{}
		}
		out[topic][part] = cm
	}
	return out, rows.Err()
}

func (c *conn) handleOffsetFetch(ctx context.Context, r *kmsg.OffsetFetchRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.OffsetFetchResponse)
	if r.Version < 8 {
		var topics []kmsg.OffsetFetchRequestGroupTopic
		for _, t := range r.Topics {
			topics = append(topics, kmsg.OffsetFetchRequestGroupTopic{Topic: t.Topic, Partitions: t.Partitions})
		}
		if r.Topics == nil {
			topics = nil
		}
		g := c.offsetFetchGroup(ctx, r.Group, topics, r.Topics == nil)
		resp.ErrorCode = g.ErrorCode
		for _, t := range g.Topics {
			rt := kmsg.NewOffsetFetchResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetFetchResponseTopicPartition()
				rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata, rp.ErrorCode =
					p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	for _, rg := range r.Groups {
		topics := rg.Topics
		if r.Version >= 10 {
			// Version 10 on addresses topics by id; unknown ids get an
			// empty name and answer UNKNOWN_TOPIC_ID.
			topics = make([]kmsg.OffsetFetchRequestGroupTopic, len(rg.Topics))
			for i, t := range rg.Topics {
				topics[i] = t
				topics[i].Topic = ""
				if tp := c.b.topicByID(t.TopicID); tp != nil {
					topics[i].Topic = tp.name
				}
			}
		}
		resp.Groups = append(resp.Groups, c.offsetFetchGroup(ctx, rg.Group, topics, rg.Topics == nil))
	}
	return resp
}

func (c *conn) offsetFetchGroup(ctx context.Context, grp string, topics []kmsg.OffsetFetchRequestGroupTopic,
	all bool) kmsg.OffsetFetchResponseGroup {
	g := kmsg.NewOffsetFetchResponseGroup()
	g.Group = grp
	offs, err := c.b.loadOffsets(ctx, grp)
	if err != nil {
		g.ErrorCode = errCode(err)
		return g
	}
	if all {
		topics = nil
		for _, name := range slicesSortedKeys(offs) {
			t := kmsg.OffsetFetchRequestGroupTopic{Topic: name}
			for _, p := range slicesSortedKeys(offs[name]) {
				t.Partitions = append(t.Partitions, p)
			}
			topics = append(topics, t)
		}
	}
	for _, t := range topics {
		rt := kmsg.NewOffsetFetchResponseGroupTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		if tp := c.b.topic(t.Topic); tp != nil {
			rt.TopicID = tp.id
		}
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch = p, -1, -1
			if t.Topic == "" {
				rp.ErrorCode = kerrUnknownTopicID
			}
			if cm, ok := offs[t.Topic][p]; ok {
				rp.Offset, rp.LeaderEpoch, rp.Metadata = cm.offset, cm.epoch, cm.meta
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		g.Topics = append(g.Topics, rt)
	}
	return g
}

func slicesSortedKeys[K int32 | string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// offsetGroups lists groups that have committed offsets.
func (b *broker) offsetGroups(ctx context.Context) ([]string, error) {
	rows, err := b.t.DB().QueryContext(ctx, `SELECT DISTINCT grp FROM kafka_offsets ORDER BY grp`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

func (c *conn) handleListGroups(ctx context.Context, r *kmsg.ListGroupsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ListGroupsResponse)
	seen := map[string]bool{}
	add := func(name, ptype string, state groupState) {
		if seen[name] {
			return
		}
		seen[name] = true
		if len(r.StatesFilter) > 0 && !slices.Contains(r.StatesFilter, state.String()) {
			return
		}
		if len(r.TypesFilter) > 0 && !slices.Contains(r.TypesFilter, "classic") {
			return
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType, lg.GroupState, lg.GroupType = name, ptype, state.String(), "classic"
		resp.Groups = append(resp.Groups, lg)
	}
	for _, s := range c.b.groups.list() {
		add(s.name, s.protocolType, s.state)
	}
	names, err := c.b.offsetGroups(ctx)
	if err != nil {
		resp.ErrorCode = errCode(err)
		return resp
	}
	for _, n := range names {
		add(n, "consumer", groupEmpty)
	}
	return resp
}

func (c *conn) handleDescribeGroups(ctx context.Context, r *kmsg.DescribeGroupsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, name := range r.Groups {
		dg := kmsg.NewDescribeGroupsResponseGroup()
		dg.Group = name
		s, ok := c.b.groups.describe(name)
		if !ok {
			// A group known only by its committed offsets is Empty.
			if offs, err := c.b.loadOffsets(ctx, name); err == nil && len(offs) > 0 {
				s.state, s.protocolType = groupEmpty, "consumer"
			} else if r.Version >= 6 {
				// Older versions describe an unknown group as Dead.
				dg.ErrorCode = errGroupIDNotFound
				dg.ErrorMessage = ref("group " + name + " does not exist")
			}
		}
		dg.State, dg.ProtocolType, dg.Protocol, dg.Members = s.state.String(), s.protocolType, s.protocol, s.members
		resp.Groups = append(resp.Groups, dg)
	}
	return resp
}

func (c *conn) handleDeleteGroups(ctx context.Context, r *kmsg.DeleteGroupsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DeleteGroupsResponse)
	for _, name := range r.Groups {
		dg := kmsg.NewDeleteGroupsResponseGroup()
		dg.Group = name
		_, live := c.b.groups.describe(name)
		offs, err := c.b.loadOffsets(ctx, name)
		switch {
		case err != nil:
			dg.ErrorCode = errCode(err)
		case !live && len(offs) == 0:
			dg.ErrorCode = errGroupIDNotFound
		default:
			dg.ErrorCode = c.b.groups.deleteGroup(name)
		}
		if dg.ErrorCode == 0 {
			err := c.b.t.Update(ctx, func(tx *storage.Tx) error {
				_, err := tx.Exec(`DELETE FROM kafka_offsets WHERE grp = ?`, name)
				return err
			})
			dg.ErrorCode = errCode(err)
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return resp
}

func (c *conn) handleOffsetDelete(ctx context.Context, r *kmsg.OffsetDeleteRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.OffsetDeleteResponse)
	s, live := c.b.groups.describe(r.Group)
	offs, err := c.b.loadOffsets(ctx, r.Group)
	if err != nil {
		resp.ErrorCode = errCode(err)
		return resp
	}
	if !live && len(offs) == 0 {
		resp.ErrorCode = errGroupIDNotFound
		return resp
	}
	type key struct {
		topic string
		part  int32
	}
	var del []key
	for _, rt := range r.Topics {
		st := kmsg.NewOffsetDeleteResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetDeleteResponseTopicPartition()
			sp.Partition = rp.Partition
			switch {
			case live && s.state != groupEmpty && s.topics[rt.Topic]:
				sp.ErrorCode = errGroupSubscribedToTopic
			case c.b.topic(rt.Topic) == nil:
				sp.ErrorCode = errUnknownTopic
			default:
				del = append(del, key{rt.Topic, rp.Partition})
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if len(del) > 0 {
		err := c.b.t.Update(ctx, func(tx *storage.Tx) error {
			for _, k := range del {
				if _, err := tx.Exec(`DELETE FROM kafka_offsets WHERE grp = ? AND topic = ? AND part = ?`,
					r.Group, k.topic, k.part); err != nil {
					return err
				}
			}
			return nil
		})
		resp.ErrorCode = errCode(err)
	}
	return resp
}
