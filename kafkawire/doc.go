// Package kafkawire serves the Kafka binary protocol on top of the rewire
// storage core, so that stock Kafka clients (franz-go, sarama, librdkafka,
// kafka-python) produce, consume and coordinate against a tenant's logs.
//
// # Protocol
//
// Requests and responses are framed as Kafka does (a 4-byte big-endian
// size, then a request header and body) and decoded and encoded with
// github.com/twmb/franz-go/pkg/kmsg, flexible versions included. The
// versions rewire serves are listed in apiVersions (apiversions.go), and
// ApiVersions advertises exactly those. An ApiVersions request above the
// supported range gets a v0 response carrying UNSUPPORTED_VERSION and the
// supported ranges, as Kafka answers; any other request with an unknown key
// or an unsupported version closes the connection, which is what a Kafka
// broker does, with a log line. Requests larger than 100 MiB are refused
// before they are read.
//
// # Message flow
//
// A connection starts with ApiVersions and SaslHandshake/SaslAuthenticate
// (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512; the user name is the tenant;
// handshake v0 with bare tokens and v1 with SaslAuthenticate). Requests
// before authentication close the connection unless the server has an
// anonymous tenant. Once authenticated, the connection holds its tenant for
// its lifetime and every request is served from that tenant's core only.
//
// Responses go out in request order. Produce requests are pipelined: their
// batches are queued on per-partition appenders in request order and the
// next request is read while they become durable; batches that queue up
// meanwhile share one core append. Every other request waits until the
// earlier responses are written.
//
// Each topic partition is a core log named kafka/<topic>/<partition>.
// Produced record batches (magic v2) are validated (length, CRC-32C, record
// count, max.message.bytes, and every record parsed after decompression,
// as Kafka does) and stored as received with the base offset stamped in;
// one core batch may hold several Kafka batches back to back.
// Fetch returns the stored bytes without re-encoding, so every codec
// (none, gzip, snappy, lz4, zstd) passes through untouched, and a fetch
// from the middle of a batch returns the whole batch, as Kafka does.
// Topic metadata, committed group offsets, idempotent-producer state and
// transactions live in the tenant database (schema in broker.go, txn.go).
// Classic consumer groups are coordinated in memory per tenant; their
// committed offsets are durable. Transactions write control-batch markers
// and keep aborted ranges for read_committed fetches.
//
// The server presents itself as a single broker, node 0, which leads every
// partition at leader epoch 0 and coordinates every group and transaction.
//
// A Fetch gives each partition at most min(PartitionMaxBytes, MaxBytes)
// bytes and the response at most MaxBytes, except that a partition's first
// batch is always returned whole (KIP-74), so oversized records never
// stall a consumer. Empty partitions carry an empty record set, never a
// null one, which librdkafka rejects. Batches are decompressed to validate
// a produce and to look up offsets by timestamp, never beyond 128 MiB.
//
// # Left out
//
// Fetch sessions are refused by answering session id 0, which makes clients
// send full fetches. cleanup.policy=compact: a compacted
// topic refuses records without a key (INVALID_RECORD), and the core's
// mover rewrites its stored batches, hot and warm, keeping the latest
// record of each key at its offset (compact.go) once the log has grown
// by half since the last pass; batches left without records stay, as
// Kafka's cleaner leaves them. A tombstone (a key with a null value)
// goes in the first pass after it is delete.retention.ms old.
// A restarted static member keeps its assignment only in a stable group
// whose protocol choice it does not change; otherwise it triggers a
// rebalance. JoinGroup never asks for MEMBER_ID_REQUIRED. The
// next-generation consumer group protocol (KIP-848), ACLs, quotas,
// delegation tokens, KRaft and share-group APIs are not served, nor the
// versions that bring transactions v2 (EndTxn v5+, TxnOffsetCommit v5+,
// InitProducerId v6+), broker-side AddPartitionsToTxn (v4+), ListOffsets
// v11 and DeleteGroups v3.
package kafkawire
