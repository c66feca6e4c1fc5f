// Package gitsmart serves git's smart HTTP protocol from repositories kept
// in the rewire core (package rewire/storage/gitstore), so that the git CLI
// and other stock clients clone, fetch and push over HTTP with basic
// authentication (user = tenant).
//
// # Protocol
//
// Protocol v0/v1 for fetches and pushes, and protocol v2 for fetches
// (requested with the Git-Protocol: version=2 header; pushes always use
// v0/v1, as in git itself). A client asking for version=1 gets a
// "version 1" line before the ref advertisement. All requests are
// stateless HTTP:
//
//	GET  /git/{tenant}/{repo}.git/info/refs?service=git-upload-pack
//	GET  /git/{tenant}/{repo}.git/info/refs?service=git-receive-pack
//	POST /git/{tenant}/{repo}.git/git-upload-pack
//	POST /git/{tenant}/{repo}.git/git-receive-pack
//
// Request bodies may be gzip-encoded and chunked.
//
// # Message flow
//
// Fetch, v0/v1: the ref advertisement (HEAD first with symref=, peeled
// tags) answers info/refs. Each upload-pack POST carries the wants (with
// capabilities), shallow/deepen lines and a flush, then haves ending in a
// flush or "done". The response is the shallow update when deepening, the
// acknowledgments (multi_ack_detailed with "common" and "ready", or
// multi_ack, or single ACK/NAK), and once the client is done (or, with
// no-done, once the server is ready) the pack on side-band-64k with progress
// on band 2 and errors on band 3.
//
// Fetch, v2: info/refs returns the capability list (ls-refs=unborn,
// fetch=shallow filter, object-format=sha1). ls-refs honours ref-prefix,
// symrefs, peel and unborn. fetch returns acknowledgments, then shallow-info
// and packfile sections.
//
// Push: the receive-pack advertisement lists the refs with report-status,
// report-status-v2, delete-refs, side-band-64k, quiet, atomic, ofs-delta,
// push-options and agent. The pushed pack is read to the end, completed
// when thin (the bases its deltas borrow from the repository are appended,
// as index-pack --fix-thin does), indexed and checked (object hashes,
// fsck-style format checks, every named object present) before any
// reference changes; references then change by compare-and-swap together
// with the pack becoming visible, atomically when the client asked for
// atomic, and the report is sent only after that transaction is durable.
// The first push to a missing repository creates it.
//
// Packs are written by copying stored pack entries (see
// gitstore.Repo.WritePackWith); a clone wanting every ref with no haves
// streams the stored packs whole. Once a repository holds 32 packs, the
// push that reached that number merges them into one (gitstore.Repack)
// after its report, as git's receive-pack runs gc --auto. A client that
// asks for thin-pack gets a stored delta whose base it holds (a tree or
// blob of the commits it shares with the server) as a reference delta on
// that base.
//
// Deltas are computed only for what would otherwise go out whole: blobs
// and trees stored as deltas on a base that is neither sent nor held by
// the client (a depth-1 clone, where the base is an older version outside
// the depth; the blobs a partial clone fetches later), and whole stored
// objects, against objects of other stored packs (those of their own pack
// were compared when it was made). Each is tried against the ten objects
// of the same type before it in an order by name hash (the last path
// element under which the walk met it) and size, and for a thin pack
// against the client's objects of the same name at the edge of what it
// holds; a delta is kept when at most half the object and smaller than it
// once compressed, within a chain depth of 50, with objects of 64 bytes to
// 1 MiB and 32 MiB of reading and comparing per request
// (gitstore.DeltaOptions). Stored deltas are never recomputed, and a full
// clone, or any fetch from a repository of one pack whose stored deltas
// all keep their base, computes nothing.
//
// Shallow fetches support deepen, deepen-since, deepen-not and
// deepen-relative; partial clone filters blob:none, blob:limit=N and tree:0.
//
// # Authentication and isolation
//
// Every request needs HTTP basic credentials; missing or wrong ones get 401
// with a WWW-Authenticate header so that git prompts. The user must equal
// the {tenant} path segment: valid credentials for another tenant get the
// same 404 as a missing repository.
//
// # Left out
//
// SHA-256 repositories; protocol v2 want-ref and packfile-uris; server-side
// hooks and receive.denyNonFastForwards (the client refuses non-fast-forward
// pushes without --force, and compare-and-swap refuses racing ones); bitmaps;
// computed deltas for commits and tags (only blobs and trees are tried).
package gitsmart
