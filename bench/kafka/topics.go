package main

import "github.com/twmb/franz-go/pkg/kmsg"

func kmsgCreateTopics(name string, n int32) *kmsg.CreateTopicsRequest {
	req := kmsg.NewPtrCreateTopicsRequest()
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic, t.NumPartitions, t.ReplicationFactor = name, n, 1
	req.Topics = append(req.Topics, t)
	req.TimeoutMillis = 5000
	return req
}
