// Package natswire serves the NATS client protocol (protocol 1, with
// headers, as spoken by nats-server 2.15) and the JetStream API on top of
// rewire's storage core.
//
// # Core messaging
//
// nats-server v2.15.3 runs embedded with JetStream off. Every tenant is a
// NATS account, created on demand; a client authenticates with user =
// tenant name and the tenant's password, checked against the control
// database at every connect (so tenants created or deleted by another
// process take effect for new connections). No subject crosses accounts
// and the system account is disabled, so nothing outside a tenant's own
// account is reachable.
//
// # JetStream
//
// On a tenant's first connection rewire starts a host for it: an internal
// client inside the tenant's account (an in-process connection that
// presents a per-server secret) subscribed to $JS.API.>, $JS.ACK.> and
// $JS.FC.>, and to the subjects of every stream. Message flow:
//
//	publish to a stream subject -> captured by the host's subscription ->
//	queued per stream -> appended as one core log batch per group of
//	messages (durable, group-committed) with the subject index rows in the
//	same transaction -> PubAck {stream, seq} to the reply subject.
//
//	MSG.NEXT / push consumer -> consumer goroutine reads the subject index
//	for the next live sequences, reads the message bytes from the log and
//	publishes them with a $JS.ACK reply subject -> acks update the
//	consumer's pending set, saved in the tenant core's kv table.
//
// A host holds its tenant open while the tenant has clients and closes
// (saving consumer positions) after two idle minutes; the next connect
// reopens it.
//
// Each stream is a core log named "nats/stream/<name>" whose offsets are
// sequence-1; the table natswire_msgs indexes live messages by stream,
// sequence and subject (last-per-subject, filters, per-subject limits,
// deletes, purges). Request and response bodies are nats-server's own
// exported types (server.StreamConfig, server.StreamInfo,
// server.ConsumerInfo, server.ApiError constructors, ...) so field names,
// defaults and error codes match. Requests are decoded as nats-server
// does in its default strict mode (unknown fields are refused), and
// configurations are defaulted and checked in nats-server's order
// (streamcfg.go, consumercfg.go). The differential tests in diff_test.go
// send the same requests to a standalone nats-server and compare the
// answers field by field.
//
// # Left out
//
// Mirrors and sources, republish, subject transforms, message TTLs,
// counters, atomic batch publish, scheduled messages, priority groups and
// the flow-control ack policy (all refused with a config error), consumer
// pause and reset, stream snapshots and restores, clustering and domains.
// Consumer positions are written at most every 200 ms, so a crash may
// redeliver recent acks.
//
// Deliveries need two things a client connection cannot do: route on the
// deliver subject while presenting the original subject, and carry a
// $JS.ACK reply subject. rewire uses nats-server's internal JETSTREAM
// client for them (jsclient.go, bound to nats-server v2.15.3 internals).
package natswire
