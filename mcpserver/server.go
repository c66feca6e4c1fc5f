package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"rewire/api"
	"rewire/api/wire"
	"rewire/natswire"
	"rewire/storage"
)

// Version is reported to MCP clients as the server's version.
const Version = "0.1.0"

// MaxBody bounds one HTTP request to /mcp.
const MaxBody = api.MaxBody

// sessionTimeout closes MCP sessions idle for this long.
const sessionTimeout = 30 * time.Minute

// Options configure the MCP server. Every field is optional.
type Options struct {
	// Log receives connection and tool lines; slog.Default() if nil.
	Log *slog.Logger
	// Auth authenticates /mcp requests; sharing the HTTP API's makes a
	// revoked token stop working in both at once. A new one if nil.
	Auth *api.Authenticator
	// NATS is the server nats_publish publishes through, so that streams
	// capture and subscribers receive the message; without it the tool
	// reports that NATS is not served.
	NATS *natswire.Server
}

// server is one tenant's MCP tool set.
type server struct {
	store  *storage.Store
	tenant string
	log    *slog.Logger
	nats   *natswire.Server
}

// newMCPServer builds the MCP server of one tenant with every tool.
func newMCPServer(store *storage.Store, tenant string, log *slog.Logger, nats *natswire.Server) *mcp.Server {
	s := &server{store: store, tenant: tenant, log: log, nats: nats}
	ms := mcp.NewServer(&mcp.Implementation{Name: "rewire", Version: Version}, &mcp.ServerOptions{
		Instructions: "Tools over one rewire tenant: its files (the same tree as its FUSE mount), git " +
			"repositories with a worktree in those files, Kafka topics, JetStream streams and SQL databases.",
		Logger: log,
	})
	s.addFileTools(ms)
	s.addStreamTools(ms)
	s.addGitTools(ms)
	return ms
}

// addTool registers a tool whose handler runs on the acquired tenant.
// Errors become tool errors (isError results with the message), panics
// too, so a bad call never takes the session down.
func addTool[In, Out any](s *server, ms *mcp.Server, name, desc string, f func(*api.Ops, context.Context, In) (Out, error)) {
	mcp.AddTool(ms, &mcp.Tool{Name: name, Description: desc},
		func(ctx context.Context, _ *mcp.CallToolRequest, in In) (res *mcp.CallToolResult, out Out, err error) {
			defer func() {
				if p := recover(); p != nil {
					s.log.Error("mcp tool panicked", "tool", name, "panic", p, "stack", string(debug.Stack()))
					err = errors.New("internal error")
				}
			}()
			t, err := s.store.Acquire(ctx, s.tenant)
			if err != nil {
				return nil, out, toolError(err)
			}
			defer t.Release()
			out, err = f(api.NewOps(t), ctx, in)
			if err != nil {
				e := api.ToError(err)
				if e.Code == wire.CodeServerError {
					s.log.Warn("mcp tool failed", "tool", name, "err", err)
				}
				return nil, out, toolError(err)
			}
			return nil, out, nil
		})
}

// toolError phrases an error for the model: the category, the message and
// the POSIX errno of file errors.
func toolError(err error) error {
	e := api.ToError(err)
	kind := map[int]string{
		wire.CodeNotFound: "not found", wire.CodeExists: "already exists", wire.CodeInvalidOp: "invalid operation",
		wire.CodeTooLarge: "too large", wire.CodeOutOfRange: "out of range", wire.CodeInvalidParams: "invalid arguments",
		wire.CodeForbidden: "forbidden",
	}[e.Code]
	if kind == "" {
		kind = "error"
	}
	msg := kind + ": " + e.Message
	if d, ok := e.Data.(*wire.ErrorData); ok && d.Errno != "" {
		msg += " (" + d.Errno + ")"
	}
	return errors.New(msg)
}

// httpHandler serves /mcp: it authenticates each request like the API
// and hands it to the tenant's own streamable HTTP handler, so sessions
// of one tenant are unknown to every other.
type httpHandler struct {
	store *storage.Store
	auth  *api.Authenticator
	log   *slog.Logger
	nats  *natswire.Server

	mu      sync.Mutex // guards tenants
	tenants map[string]*mcp.StreamableHTTPHandler
}

// NewHTTPHandler returns the MCP server over streamable HTTP, for /mcp.
// Requests authenticate like the HTTP API (basic auth as the tenant, or
// an API token) and act on that tenant only.
func NewHTTPHandler(store *storage.Store, opts Options) http.Handler {
	opts = opts.withDefaults(store)
	return &httpHandler{store: store, auth: opts.Auth, log: opts.Log, nats: opts.NATS,
		tenants: map[string]*mcp.StreamableHTTPHandler{}}
}

func (h *httpHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := h.log.With("proto", "mcp", "remote", r.RemoteAddr)
	tenant, err := h.auth.Tenant(r)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Basic realm="rewire", charset="UTF-8"`)
		http.Error(w, "unauthorized: give the tenant's name and password or an API token", http.StatusUnauthorized)
		return
	}
	h.tenantHandler(tenant, log.With("tenant", tenant)).ServeHTTP(w, r)
}

func (h *httpHandler) tenantHandler(tenant string, log *slog.Logger) *mcp.StreamableHTTPHandler {
	h.mu.Lock()
	defer h.mu.Unlock()
	if th, ok := h.tenants[tenant]; ok {
		return th
	}
	ms := newMCPServer(h.store, tenant, log, h.nats)
	th := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return ms },
		&mcp.StreamableHTTPOptions{SessionTimeout: sessionTimeout, MaxRequestBodyBytes: MaxBody})
	h.tenants[tenant] = th
	return th
}

// ServeStdio serves the MCP tools of tenant over stdin and stdout until
// ctx ends or the client closes its side. It is `rewire mcp --tenant T`:
// whoever runs the process may act as the tenant, so no password is asked.
func ServeStdio(ctx context.Context, store *storage.Store, tenant string, opts Options) error {
	return serve(ctx, store, tenant, opts, &mcp.StdioTransport{})
}

func serve(ctx context.Context, store *storage.Store, tenant string, opts Options, t mcp.Transport) error {
	opts = opts.withDefaults(store)
	log := opts.Log
	if _, err := store.Control().Tenant(ctx, tenant); err != nil {
		return fmt.Errorf("mcp: tenant %q: %w", tenant, err)
	}
	log = log.With("proto", "mcp", "tenant", tenant, "remote", "stdio")
	return newMCPServer(store, tenant, log, opts.NATS).Run(ctx, t)
}

func (o Options) withDefaults(store *storage.Store) Options {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Auth == nil {
		o.Auth = api.NewAuthenticator(store)
	}
	return o
}
