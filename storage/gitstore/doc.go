// Package gitstore is the git object kind of the rewire core: per-tenant
// repositories whose objects live in packs stored as core blobs (so they
// follow the tier policy like every other blob) and whose references live
// in the tenant's SQLite database.
//
// # Layout
//
// Four tables are added to every tenant database (see schema.go):
//
//	git_repos    id, name, head (the symbolic target of HEAD), created
//	git_refs     (repo, name) -> 20-byte object id
//	git_packs    id, repo, pack blob hash, idx blob hash, object count, size
//	git_pending  id, pack blob hash, idx blob hash, created: stored packs
//	             not yet applied or discarded
//
// A pack is stored exactly as received (after checking it) as one core
// blob, its version-2 index as another. The index is the object index by
// SHA-1: an object is found by asking each of the repository's pack
// indexes. A local copy of every pack in use is kept under the tenant's
// directory (git/packs/<sha256>.pack) so that objects can be read at random;
// the copy is rebuilt from the blob, which is hash-checked, when missing.
//
// # Visibility and durability
//
// A push writes the pack and index blobs first (durable, but not yet named
// by any repository), then in one tenant transaction inserts the git_packs
// row and changes the references by compare-and-swap. The objects thus
// become visible together with the references, and a crash before that
// transaction leaves the old references and no dangling reference. Before
// the blobs are written a git_pending row names them; the transaction that
// applies the pack deletes it. A row older than an hour is the leftover of
// a crash, and the next push to the tenant releases its blobs and local
// copy (when the copy shows both blobs were written and no pack row or
// other push names the same bytes; otherwise the blobs are left, never
// released twice).
//
// # Repacking
//
// Every push adds a pack. Repack merges a repository's packs into one by
// copying their stored entries (deltas kept), stores it like a pushed pack
// and swaps the pack rows in one transaction; the old blobs are released
// and their local copies removed once no open snapshot reads them.
//
// # Writing packs
//
// WritePackWith plans a pack before writing it: each object's stored entry
// is located and its header read; a stored delta is copied when its base
// is sent too (or, in a thin pack, held by the receiver), and every base
// is written before its deltas. With DeltaOptions, the objects that would
// go out whole get a delta computed against another object of the pack or
// one the receiver holds (deltify.go, with its own delta encoder in
// delta.go), within a window, a depth limit and a per-pack byte budget.
//
// TODO: drop unreachable objects when repacking.
package gitstore
