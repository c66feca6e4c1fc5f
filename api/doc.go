// Package api is rewire's HTTP API for programs: JSON-RPC 2.0 at /rpc and
// streaming file transfer under /v1/files/, over the same tenant core that
// the native protocols serve.
//
// # Protocol
//
// /rpc takes POSTed JSON-RPC 2.0 (https://www.jsonrpc.org/specification):
// one call object or a batch array of up to 100. Notifications (calls
// without an id) run and get no response; a request of notifications only
// is answered with 204 No Content. Errors follow the specification: -32700
// for a body that is not JSON, -32600 for an invalid call object or an
// empty batch, -32601 for an unknown method, -32602 for params that are not
// an object of the method's members with the right types. Application
// errors use -32001 (not found), -32002 (exists), -32003 (operation does
// not apply, with the POSIX errno name in data), -32004 (too large),
// -32005 (offset out of range) and -32000 (internal). Params are always
// named (an object); the member names are those of package api/wire.
//
// Methods: files.{read,write,append,delete,move,copy,list,mkdir,stat,
// exists,search,tree}; git.{list,create,delete,refs,log,read,diff};
// streams.{list,create,delete,produce,read,offsets}; sql.query; usage;
// tokens.{create,list,revoke}.
//
// /v1/files/<path> streams file content: GET and HEAD with Range,
// If-Range and ETag (http.ServeContent), PUT to replace a file from a
// body of any length (chunked transfer encoding or Content-Length;
// ?parents=1 makes missing directories), POST to append, DELETE
// (?recursive=1 for directories). A GET on a directory returns its
// listing as JSON.
//
// # Authentication
//
// Basic auth with the tenant's name and password, or an API token
// (rw_<tenant>_<id>_<secret>) as a Bearer token or as the basic-auth
// password. Tokens are created and revoked with tokens.*, stored as a
// SHA-256 hash in the tenant's own database, so a token can only open the
// tenant that holds its hash. Every operation acts on the authenticated
// tenant; no method takes a tenant name.
//
// # Shared core
//
// Files go through rewire/storage/files (what the FUSE mount shows), git
// through rewire/storage/gitstore, Kafka topics are the core logs
// kafka/<topic>/<partition> registered in kafkawire's kafka_topics table,
// JetStream streams the logs nats/stream/<name>, and SQL databases the
// SQLite files that pgwire serves.
//
// sql.query runs one SQLite statement by default; with dialect
// "postgres" the text goes through pgwire's translator (pgwire/sqltrans)
// as psql's would, without transaction control, SET or COPY, since each
// call is its own transaction.
//
// Left out: positional (array) params; JetStream publishing; git
// revisions beyond names and hashes (no ~ or ^ suffixes); the pg_catalog
// views pgwire emulates are not visible to sql.query.
package api
