// Package mcpserver serves a rewire tenant to AI agents over the Model
// Context Protocol, with github.com/modelcontextprotocol/go-sdk (protocol
// revisions as that SDK negotiates them, 2025-06-18 and later).
//
// Two transports: streamable HTTP at /mcp (NewHTTPHandler), authenticated
// like the HTTP API of package api (basic auth as the tenant, or an API
// token), and stdio for `rewire mcp --tenant T` (ServeStdio). Each tenant
// has its own MCP server and its own session table, so a session id of
// one tenant means nothing to another.
//
// Message flow: the client initializes a session, lists the tools (each
// with a JSON schema inferred from its Go argument type; unknown members
// and wrong types are refused by the SDK before the tool runs) and calls
// them. A tool acquires the tenant, runs the same operation the JSON-RPC
// method of package api runs, and releases it; failures come back as tool
// results with isError set and a message naming the kind of failure
// (not found, invalid arguments, too large…), never as protocol errors.
//
// Tools: fs_read, fs_write, fs_append, fs_delete, fs_move, fs_copy,
// fs_list, fs_mkdir, fs_stat, fs_exists, fs_search, fs_tree; sql_query;
// kafka_produce, kafka_consume, kafka_admin; nats_stream, nats_consumer,
// nats_publish; git_init, git_status, git_add, git_commit, git_log,
// git_diff, git_branch, git_checkout, git_reset, git_merge, git_tag,
// git_stash. Paths never leave the tenant's tree (".." is refused) and
// payloads are bounded (8 MiB of content per call, 24 MiB per request).
//
// git tools work on a repository of the tenant (storage/gitstore, what
// git clone sees) with a worktree that is a directory of the tenant's
// files (storage/files, what the FUSE mount shows). git_status, git_add,
// git_commit, git_checkout and git_reset run go-git's own worktree code
// over that directory (through api/billyfs) with a storer that reads
// objects from gitstore and keeps new ones in memory; at the end of the
// call new objects are stored as one pack and changed references are
// moved by compare-and-swap through gitstore. The index and objects
// written by git_add but not yet committed are kept in the tenant's core
// key-value store between calls. git_merge (three-way at path level) and
// git_stash build their commits directly with go-git's object model, then
// point the index at the new HEAD.
//
// Left out: nats_publish returns an error (natswire exposes no publishing
// function); JetStream reads do not hide messages deleted through the
// JetStream API; git merges that need a content-level three-way merge
// are refused with the conflicting paths; symbolic links are not checked
// out; stash keeps one entry.
package mcpserver
