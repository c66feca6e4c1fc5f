// Package gateway wires rewire's process together: it opens the storage
// core, starts one listener per configured protocol, serves the HTTP
// address (health, Prometheus metrics, git smart HTTP), mounts tenant
// filesystems, and shuts everything down in phases: stop accepting, let
// in-flight requests finish within a deadline, close connections, unmount,
// and close the tenants so their last commits are flushed.
//
// Protocol packages never import each other or this package; the gateway
// is the only place that knows all of them.
package gateway
