// Package kafkawire serves the Kafka binary protocol on top of the rewire
// storage core, so that stock Kafka clients (franz-go, sarama, librdkafka,
// kafka-python) produce, consume and coordinate against a tenant's logs.
//
// # Protocol
//
// Requests and responses are framed as Kafka does (a 4-byte big-endian
// size, then a request header and body) and decoded and encoded with
// github.com/twmb/franz-go/pkg/kmsg, flexible versions included. The
// versions rewire serves are listed in apiVersions (see apiversions.go);
// ApiVersions advertises exactly those. An ApiVersions request at a version
// above the supported range gets a v0 response carrying
// UNSUPPORTED_VERSION and the supported ranges, as Kafka answers; any other
// request with an unknown key or an unsupported version closes the
// connection, which is what a Kafka broker does, with a log line.
//
// # Message flow
//
// A connection starts with ApiVersions and SaslHandshake/SaslAuthenticate
// (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512; the user name is the tenant). Once
// authenticated, the connection holds its tenant for its lifetime; every
// other request is served from that tenant's core only. Requests of one
// connection are answered in order, one at a time, as Kafka does.
//
// Each topic partition is a core log named kafka/<topic>/<partition>.
// Produced record batches (magic v2) are validated (length, CRC-32C, record
// count, size limit) and stored as received with the base offset stamped in;
// Fetch returns the stored bytes without re-encoding, so every codec
// (none, gzip, snappy, lz4, zstd) passes through untouched. Topic metadata,
// committed group offsets and idempotent-producer state live in tables of
// the tenant database (see schema.go). Consumer groups (classic protocol)
// are coordinated in memory per tenant; their committed offsets are durable.
//
// The server presents itself as a single broker, node 0, which leads every
// partition at leader epoch 0 and coordinates every group.
//
// # Left out
//
// Transactions (AddPartitionsToTxn, EndTxn, read_committed filtering of
// aborted data) are not implemented: InitProducerId with a transactional id
// is refused. Fetch sessions are refused by answering session id 0, which
// makes clients send full fetches. cleanup.policy=compact is stored but not
// enforced. ACLs, quotas, delegation tokens, KRaft and share-group APIs are
// not served.
package kafkawire
