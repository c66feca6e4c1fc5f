// Package storage is rewire's per-tenant object core. Every protocol keeps
// its data here, so what one protocol writes another can see.
//
// # Data directory
//
//	control.db            tenants and their SCRAM verifiers (see Control)
//	tenants/ID/core.db    one SQLite database per tenant, WAL mode
//	tenants/ID/…          files a protocol keeps beside it (SQL databases)
//	warm/ID/…             warm tier when no bucket URL is configured
//	cold/ID/…             cold tier likewise
//
// ID is a random 16-hex-digit id given at creation; tenant names never
// become paths, and a tenant deleted and created again under the same name
// starts empty.
//
// # Tenant database
//
//	blobs(hash, size, tier, data, refs, created, accessed)
//	    content-addressed bytes; data is inline for the hot tier and NULL
//	    otherwise. refs counts owners; the row and its copies go with the
//	    last reference. accessed drives demotion.
//	logs(id, name, start_offset, next_offset, config, created)
//	    one row per log; offsets [start_offset, next_offset) exist.
//	log_batches(log_id, base, last, max_ts, added, data, jfile, jpos, jlen, jcrc)
//	    the hot tail of each log: one row per appended batch, covering
//	    offsets base..last, stored exactly as appended, inline in data or
//	    (batches of 8 KiB and more, fsync durability) as jlen bytes at
//	    jpos of journal file jfile with CRC-32C jcrc (journal.go).
//	log_segments(log_id, base, last, max_ts, size, blob)
//	    sealed runs of batches, each an object in the warm tier named
//	    ID/logs/LOGID/BASE.seg (framing in segment.go).
//	kv(ns, key, value)
//	    small state owned by protocols (committed offsets, consumers).
//
// Protocol packages add tables with RegisterSchema. PRAGMA user_version
// holds a hash of all DDL, so an unchanged tenant reopens without writing.
//
// # Writes and durability
//
// All writes of a tenant go through one connection owned by a committer
// goroutine (Tenant.Update). Writes queued while a commit is in progress
// form the next group, each under its own savepoint so that one failing
// write does not undo the others, and the group costs one COMMIT. With
// DurabilityFsync the WAL is fsynced by every COMMIT before any write of
// the group is acknowledged. Statements a write repeats run prepared on
// the writer connection (Tx's query methods), and so do the reader pool's
// (Reader). Appends to one log that queue together become one write
// (Log.Append), so a busy log costs one savepoint and one insert per
// batch rather than four statements.
//
// Lazy writes (Tenant.UpdateLazy) are for callers that, like a file
// system, promise durability only at an explicit sync: a group made only
// of lazy writes commits with synchronous=NORMAL, without its own fsync.
// It is visible and survives a kill of the process at once, and reaches
// the disk with the next synced commit (whose fsync covers every earlier
// WAL frame), at Tenant.Sync, or within lazySyncDelay (one second).
//
// Measured limits (BenchmarkLogAppend, bench/core): the group commit is
// bound by CPU in SQLite (about 7-11 µs per appended batch, half of it in
// COMMIT writing WAL frames) and by the double write of WAL and
// checkpoint. Two alternatives measured slower here: syncing the WAL from
// a second goroutine while the next group runs (groups shrank and more
// COMMITs cost more than the overlap saved), and keeping batch data in an
// append file beside the database (two fsyncs per group).
//
// # Tiers
//
// Blobs up to Policy.HotMaxBytes live inline (hot); larger ones go to the
// warm bucket before their row is written. The mover (Tenant.RunMover, run
// by the Store every MoverInterval for open tenants) applies log retention,
// compacts logs that name a registered Compactor (compact.go: the latest
// record of each key stays at its offset; warm segments are rewritten in
// place) once they have grown by half since the last pass, seals old or
// large log tails into warm segments, and demotes blobs not
// read for WarmAfter (hot→warm) or ColdAfter (warm→cold, zstd). Reading a
// blob promotes it to the tier its size calls for. Every move writes the
// new copy durably, switches the row in a transaction that checks the old
// placement, and only then deletes the old copy. Sealed segments read back
// are kept decoded in a store-wide cache (64 MiB, LRU) that forgets a key
// whenever the warm bucket's object under it is written or deleted.
package storage
