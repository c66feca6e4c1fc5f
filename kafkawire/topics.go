package kafkawire

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kmsg"

	"rewire/storage"
)

// maxPartitions bounds one topic's partitions.
const maxPartitions = 10000

func (c *conn) handleCreateTopics(ctx context.Context, r *kmsg.CreateTopicsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.CreateTopicsResponse)
	seen := map[string]int{}
	for _, rt := range r.Topics {
		seen[rt.Topic]++
	}
	for _, rt := range r.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		st.NumPartitions, st.ReplicationFactor = -1, -1
		n := rt.NumPartitions
		if n == -1 {
			n = c.s.cfg.DefaultPartitions
		}
		configs := map[string]string{}
		var err error
		switch {
		case seen[rt.Topic] > 1:
			err = &codedError{errInvalidRequest, "topic " + rt.Topic + " appears twice in the request"}
		case validTopicName(rt.Topic) != nil:
			err = &codedError{errInvalidTopic, validTopicName(rt.Topic).Error()}
		case c.b.topic(rt.Topic) != nil:
			err = &codedError{errTopicExists, "topic " + rt.Topic + " already exists"}
		case len(rt.ReplicaAssignment) > 0:
			err = &codedError{errInvalidRequest, "manual replica assignment is not supported"}
		case n <= 0 || n > maxPartitions:
			err = &codedError{errInvalidPartitions, fmt.Sprintf("invalid partition count %d", n)}
		case rt.ReplicationFactor != -1 && rt.ReplicationFactor != 1:
			err = &codedError{errInvalidReplication,
				fmt.Sprintf("replication factor %d is larger than the 1 available broker", rt.ReplicationFactor)}
		}
		for _, cfg := range rt.Configs {
			if err != nil {
				break
			}
			if cfg.Value == nil {
				continue
			}
			if verr := validateConfig(cfg.Name, *cfg.Value); verr != nil {
				err = &codedError{errInvalidConfig, verr.Error()}
			}
			configs[cfg.Name] = *cfg.Value
		}
		if err == nil && !r.ValidateOnly {
			var tp *topic
			tp, err = c.b.createTopic(ctx, rt.Topic, n, configs)
			if tp != nil {
				st.TopicID = tp.id
			}
		}
		if err != nil {
			st.ErrorCode, st.ErrorMessage = errCode(err), errMsg(err)
		} else {
			st.NumPartitions, st.ReplicationFactor = n, 1
			for k, def := range topicConfigDefaults {
				v, set := configs[k]
				if !set {
					v = def
				}
				rc := kmsg.NewCreateTopicsResponseTopicConfig()
				rc.Name, rc.Value, rc.Source = k, &v, int8(kmsg.ConfigSourceDefaultConfig)
				if set {
					rc.Source = int8(kmsg.ConfigSourceDynamicTopicConfig)
				}
				st.Configs = append(st.Configs, rc)
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func (c *conn) handleDeleteTopics(ctx context.Context, r *kmsg.DeleteTopicsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DeleteTopicsResponse)
	type target struct {
		name string
		id   [16]byte
		byID bool
	}
	var targets []target
	for _, n := range r.TopicNames {
		targets = append(targets, target{name: n})
	}
	for _, t := range r.Topics {
		if t.Topic != nil {
			targets = append(targets, target{name: *t.Topic})
		} else {
			targets = append(targets, target{id: t.TopicID, byID: true})
		}
	}
	for _, t := range targets {
		st := kmsg.NewDeleteTopicsResponseTopic()
		name := t.name
		if t.byID {
			if tp := c.b.topicByID(t.id); tp != nil {
				name = tp.name
			} else {
				st.TopicID = t.id
				st.ErrorCode = kerrUnknownTopicID
				resp.Topics = append(resp.Topics, st)
				continue
			}
		}
		st.Topic = &name
		if tp := c.b.topic(name); tp != nil {
			st.TopicID = tp.id
		}
		if err := c.b.deleteTopic(ctx, name); err != nil {
			st.ErrorCode, st.ErrorMessage = errCode(err), errMsg(err)
			if !errors.Is(err, storage.ErrNotFound) {
				c.log.Error("kafka delete topic failed", "topic", name, "err", err)
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func (c *conn) handleCreatePartitions(ctx context.Context, r *kmsg.CreatePartitionsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.CreatePartitionsResponse)
	for _, rt := range r.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		var err error
		tp := c.b.topic(rt.Topic)
		switch {
		case tp == nil:
			err = fmt.Errorf("%w: topic %s", storage.ErrNotFound, rt.Topic)
		case len(rt.Assignment) > 0:
			err = &codedError{errInvalidRequest, "manual replica assignment is not supported"}
		case rt.Count > maxPartitions:
			err = &codedError{errInvalidPartitions, "too many partitions: " + strconv.Itoa(int(rt.Count))}
		case int(rt.Count) <= len(tp.parts):
			err = &codedError{errInvalidPartitions, fmt.Sprintf("topic currently has %d partitions, %d would not be an increase",
				len(tp.parts), rt.Count)}
		case !r.ValidateOnly:
			err = c.b.addPartitions(ctx, rt.Topic, rt.Count)
		}
		st.ErrorCode, st.ErrorMessage = errCode(err), errMsg(err)
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
