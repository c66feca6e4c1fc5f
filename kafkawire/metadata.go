package kafkawire

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// nodeID is the single broker rewire presents.
const nodeID = 0

const clusterID = "rewire"

func (c *conn) handleMetadata(ctx context.Context, r *kmsg.MetadataRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.MetadataResponse)
	br := kmsg.NewMetadataResponseBroker()
	br.NodeID, br.Host, br.Port = nodeID, c.host, c.port
	resp.Brokers = append(resp.Brokers, br)
	cid := clusterID
	resp.ClusterID = &cid
	resp.ControllerID = nodeID

	// Version 0 asks for every topic with an empty list; later versions
	// with a null one.
	all := r.Topics == nil || r.Version == 0 && len(r.Topics) == 0
	if all {
		for _, name := range c.b.topicNames() {
			if tp := c.b.topic(name); tp != nil {
				resp.Topics = append(resp.Topics, topicMetadata(tp, 0, name))
			}
		}
		return resp
	}
	autoCreate := r.AllowAutoTopicCreation || r.Version < 4
	for _, rt := range r.Topics {
		var tp *topic
		var code int16
		var name string
		switch {
		case rt.Topic != nil:
			name = *rt.Topic
			if autoCreate {
				tp, code = c.b.autoCreate(ctx, name)
			} else if tp = c.b.topic(name); tp == nil {
				code = errUnknownTopic
				if validTopicName(name) != nil {
					code = errInvalidTopic
				}
			}
		default:
			if tp = c.b.topicByID(rt.TopicID); tp == nil {
				code = kerrUnknownTopicID
			}
		}
		if tp != nil {
			name = tp.name
		}
		resp.Topics = append(resp.Topics, topicMetadata(tp, code, name))
	}
	return resp
}

func topicMetadata(tp *topic, code int16, name string) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	mt.Topic = &name
	mt.ErrorCode = code
	if tp == nil {
		return mt
	}
	mt.TopicID = tp.id
	for _, p := range tp.parts {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = p.index
		mp.Leader = nodeID
		mp.LeaderEpoch = 0
		mp.Replicas = []int32{nodeID}
		mp.ISR = []int32{nodeID}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}

func (c *conn) handleDescribeCluster(r *kmsg.DescribeClusterRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.ClusterID = clusterID
	resp.ControllerID = nodeID
	resp.EndpointType = 1
	br := kmsg.NewDescribeClusterResponseBroker()
	br.NodeID, br.Host, br.Port = nodeID, c.host, c.port
	resp.Brokers = append(resp.Brokers, br)
	return resp
}

func (c *conn) handleFindCoordinator(r *kmsg.FindCoordinatorRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.FindCoordinatorResponse)
	if r.Version < 4 {
		resp.NodeID, resp.Host, resp.Port = nodeID, c.host, c.port
		return resp
	}
	for _, key := range r.CoordinatorKeys {
		co := kmsg.NewFindCoordinatorResponseCoordinator()
		co.Key = key
		co.NodeID, co.Host, co.Port = nodeID, c.host, c.port
		resp.Coordinators = append(resp.Coordinators, co)
	}
	return resp
}
