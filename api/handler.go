package api

import (
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"

	"rewire/storage"
)

// handler serves /rpc and /v1/files/.
type handler struct {
	store  *storage.Store
	log    *slog.Logger
	tokens *Authenticator
}

// NewHandler returns the HTTP API: JSON-RPC 2.0 at /rpc and streaming file
// transfer under /v1/files/. It expects full URL paths (mount it at the
// server's root or on those two prefixes). Every request is authenticated
// (basic auth as a tenant, or an API token) and acts on that tenant only.
func NewHandler(store *storage.Store, log *slog.Logger) http.Handler {
	return NewHandlerWith(store, NewAuthenticator(store), log)
}

// NewHandlerWith is NewHandler sharing an Authenticator (and its cache)
// with another handler, such as the MCP server's.
func NewHandlerWith(store *storage.Store, auth *Authenticator, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	return &handler{store: store, log: log, tokens: auth}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := h.log.With("proto", "http-api", "remote", r.RemoteAddr)
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			log.Error("api handler panicked", "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
	}()
	isRPC := r.URL.Path == "/rpc"
	isFiles := strings.HasPrefix(r.URL.Path, FilesPrefix) || r.URL.Path == strings.TrimSuffix(FilesPrefix, "/")
	if !isRPC && !isFiles {
		http.NotFound(w, r)
		return
	}
	tenant, err := h.tokens.Tenant(r)
	if err != nil {
		if !errors.Is(err, ErrUnauthorized) {
			log.Warn("api authentication", "err", err)
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="rewire", charset="UTF-8"`)
		http.Error(w, "unauthorized: give the tenant's name and password or an API token", http.StatusUnauthorized)
		return
	}
	log = log.With("tenant", tenant)
	log.Debug("api request", "method", r.Method, "path", r.URL.Path)
	if isRPC {
		h.serveRPC(w, r, tenant, log)
		return
	}
	h.serveFiles(w, r, tenant, log)
}
