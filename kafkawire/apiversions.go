package kafkawire

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// apiVersions lists every request rewire serves with its version range:
// ApiVersions advertises exactly these, and the request loop refuses
// anything else.
var apiVersions = []kmsg.ApiVersionsResponseApiKey{
	{ApiKey: 0, MinVersion: 3, MaxVersion: 13}, // Produce (record batches v2; v13 by topic id)
	{ApiKey: 1, MinVersion: 4, MaxVersion: 18}, // Fetch (v13+ by topic id)
	{ApiKey: 2, MinVersion: 0, MaxVersion: 10}, // ListOffsets (v11 adds -6, earliest pending upload)
	{ApiKey: 3, MinVersion: 0, MaxVersion: 13}, // Metadata
	{ApiKey: 8, MinVersion: 0, MaxVersion: 10}, // OffsetCommit (v10 by topic id)
	{ApiKey: 9, MinVersion: 0, MaxVersion: 10}, // OffsetFetch (v10 by topic id)
	{ApiKey: 10, MinVersion: 0, MaxVersion: 6}, // FindCoordinator
	{ApiKey: 11, MinVersion: 0, MaxVersion: 9}, // JoinGroup
	{ApiKey: 12, MinVersion: 0, MaxVersion: 4}, // Heartbeat
	{ApiKey: 13, MinVersion: 0, MaxVersion: 5}, // LeaveGroup
	{ApiKey: 14, MinVersion: 0, MaxVersion: 5}, // SyncGroup
	{ApiKey: 15, MinVersion: 0, MaxVersion: 6}, // DescribeGroups (v6: GROUP_ID_NOT_FOUND)
	{ApiKey: 16, MinVersion: 0, MaxVersion: 5}, // ListGroups
	{ApiKey: 17, MinVersion: 0, MaxVersion: 1}, // SaslHandshake
	{ApiKey: 18, MinVersion: 0, MaxVersion: 5}, // ApiVersions (v5 checks the cluster and node id)
	{ApiKey: 19, MinVersion: 0, MaxVersion: 7}, // CreateTopics
	{ApiKey: 20, MinVersion: 0, MaxVersion: 6}, // DeleteTopics
	{ApiKey: 21, MinVersion: 0, MaxVersion: 2}, // DeleteRecords
	{ApiKey: 22, MinVersion: 0, MaxVersion: 5}, // InitProducerId (v6+ is two-phase commit)
	{ApiKey: 23, MinVersion: 0, MaxVersion: 4}, // OffsetForLeaderEpoch
	{ApiKey: 24, MinVersion: 0, MaxVersion: 3}, // AddPartitionsToTxn (v4+ is broker-to-broker)
	{ApiKey: 25, MinVersion: 0, MaxVersion: 4}, // AddOffsetsToTxn
	{ApiKey: 26, MinVersion: 0, MaxVersion: 4}, // EndTxn (v5+ is transactions v2)
	{ApiKey: 28, MinVersion: 0, MaxVersion: 4}, // TxnOffsetCommit (v5+ is transactions v2)
	{ApiKey: 32, MinVersion: 0, MaxVersion: 4}, // DescribeConfigs
	{ApiKey: 33, MinVersion: 0, MaxVersion: 2}, // AlterConfigs
	{ApiKey: 36, MinVersion: 0, MaxVersion: 2}, // SaslAuthenticate
	{ApiKey: 37, MinVersion: 0, MaxVersion: 3}, // CreatePartitions
	{ApiKey: 42, MinVersion: 0, MaxVersion: 2}, // DeleteGroups
	{ApiKey: 44, MinVersion: 0, MaxVersion: 1}, // IncrementalAlterConfigs
	{ApiKey: 47, MinVersion: 0, MaxVersion: 0}, // OffsetDelete
	{ApiKey: 60, MinVersion: 0, MaxVersion: 2}, // DescribeCluster
	{ApiKey: 61, MinVersion: 0, MaxVersion: 0}, // DescribeProducers
}

var versionIndex = func() map[int16]kmsg.ApiVersionsResponseApiKey {
	m := make(map[int16]kmsg.ApiVersionsResponseApiKey, len(apiVersions))
	for _, k := range apiVersions {
		m[k.ApiKey] = k
	}
	return m
}()

func supportedVersions(key int16) (lo, hi int16, ok bool) {
	k, ok := versionIndex[key]
	return k.MinVersion, k.MaxVersion, ok
}

func apiVersionsResponse() *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.ApiKeys = append(resp.ApiKeys, apiVersions...)
	return resp
}

// handleApiVersions answers ApiVersions. From v5 a client may name the
// cluster and node it believes it reached; a mismatch is
// REBOOTSTRAP_REQUIRED, and naming only one of them INVALID_REQUEST.
func handleApiVersions(r *kmsg.ApiVersionsRequest) *kmsg.ApiVersionsResponse {
	resp := apiVersionsResponse()
	if r.Version < 5 {
		return resp
	}
	switch {
	case (r.ClusterID == nil) != (r.NodeID < 0):
		resp.ErrorCode = errInvalidRequest
	case r.ClusterID != nil && (*r.ClusterID != clusterID || r.NodeID != nodeID):
		resp.ErrorCode = errRebootstrapRequired
	}
	return resp
}
