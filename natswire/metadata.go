package natswire

import (
	"strconv"

	"github.com/nats-io/nats-server/v2/server"
)

// Versioning metadata, as nats-server keeps it on streams and consumers:
// the API level an asset requires is stored with its configuration; the
// server's version and API level are added to every answer only.
//
// rewire refuses every feature that needs an API level above 0 (message
// TTLs, counters, batch publish, schedules, priority groups, pausing), so
// the stored level is always "0".

// staticMetadata returns md without the answer-only keys and with the
// required API level.
func staticMetadata(md map[string]string) map[string]string {
	out := make(map[string]string, len(md)+1)
	for k, v := range md {
		out[k] = v
	}
	delete(out, server.JSServerVersionMetadataKey)
	delete(out, server.JSServerLevelMetadataKey)
	out[server.JSRequiredLevelMetadataKey] = "0"
	return out
}

// answerMetadata returns a copy of md with the server's version and API
// level, for a configuration sent to a client.
func answerMetadata(md map[string]string) map[string]string {
	out := make(map[string]string, len(md)+2)
	for k, v := range md {
		out[k] = v
	}
	out[server.JSServerVersionMetadataKey] = server.VERSION
	out[server.JSServerLevelMetadataKey] = strconv.Itoa(server.JSApiLevel)
	return out
}

// sameStreamConfig compares two stream configurations as nats-server
// does for an idempotent create: versioning metadata aside.
func sameStreamConfig(a, b server.StreamConfig) bool {
	a.Metadata, b.Metadata = staticMetadata(a.Metadata), staticMetadata(b.Metadata)
	return sameJSON(a, b)
}

// sameConsumerConfig compares two consumer configurations, versioning
// metadata aside.
func sameConsumerConfig(a, b server.ConsumerConfig) bool {
	a.Metadata, b.Metadata = staticMetadata(a.Metadata), staticMetadata(b.Metadata)
	return sameJSON(a, b)
}
