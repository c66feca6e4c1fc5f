package gitsmart

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"

	"rewire/storage"
	"rewire/storage/gitstore"
)

// Log keys used on every request line.
const (
	keyTenant = "tenant"
	keyProto  = "proto"
	keyRemote = "remote"
	keyRepo   = "repo"
)

// agent is what rewire announces in the agent capability.
const agent = "rewire/1"

// maxRequestBytes caps negotiation request bodies (not pushed packs).
const maxRequestBytes = 64 << 20

type handler struct {
	store *storage.Store
	log   *slog.Logger
}

// NewHandler returns the git smart HTTP handler. It serves every path under
// /git/{tenant}/{repo}.git/ — GET info/refs?service=git-upload-pack or
// git-receive-pack, POST git-upload-pack and POST git-receive-pack — with
// HTTP basic authentication: the user is the tenant, which must equal the
// tenant path segment, and the password is checked with the control
// database. It is safe for concurrent use.
func NewHandler(store *storage.Store, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &handler{store: store, log: log}
}

// request is one parsed and authenticated request.
type request struct {
	w      http.ResponseWriter
	r      *http.Request
	t      *storage.Tenant
	repo   string
	log    *slog.Logger
	v2     bool
	v1     bool // protocol v1: v0 with a version line before the advertisement
	ctx    context.Context
	header bool // response headers sent
}

// parsePath splits /git/{tenant}/{repo}.git/{op}.
func parsePath(p string) (tenant, repo, op string, ok bool) {
	p = strings.TrimPrefix(p, "/")
	p, found := strings.CutPrefix(p, "git/")
	if !found {
		return "", "", "", false
	}
	tenant, rest, found := strings.Cut(p, "/")
	if !found || tenant == "" {
		return "", "", "", false
	}
	repo, op, found = strings.Cut(rest, "/")
	if !found {
		return "", "", "", false
	}
	repo = strings.TrimSuffix(repo, ".git")
	switch op {
	case "info/refs", "git-upload-pack", "git-receive-pack":
	default:
		return "", "", "", false
	}
	return tenant, repo, op, gitstore.ValidName(repo)
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := h.log.With(keyProto, "git", keyRemote, r.RemoteAddr)
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			log.Error("git request panicked", "panic", p, "stack", string(debug.Stack()))
			panic(http.ErrAbortHandler) // closes only this connection
		}
	}()

	user, pw, hasAuth := r.BasicAuth()
	if !hasAuth {
		unauthorized(w)
		return
	}
	if _, err := h.store.Control().Authenticate(r.Context(), user, pw); err != nil {
		if !errors.Is(err, storage.ErrAuthFailed) && !errors.Is(err, storage.ErrNoTenant) {
			log.Error("authenticate", keyTenant, user, "err", err)
		} else {
			log.Warn("git authentication failed", keyTenant, user)
		}
		unauthorized(w)
		return
	}
	log = log.With(keyTenant, user)
	tenant, repo, op, ok := parsePath(r.URL.Path)
	if !ok || tenant != user {
		// Another tenant's repositories look exactly like missing ones.
		http.NotFound(w, r)
		return
	}
	t, err := h.store.Acquire(r.Context(), tenant)
	if err != nil {
		log.Error("acquire tenant", "err", err)
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	defer t.Release()
	req := &request{w: w, r: r, t: t, repo: repo, log: log.With(keyRepo, repo), ctx: r.Context()}
	req.v2, req.v1 = protocolVersion(r.Header.Get("Git-Protocol"))

	switch {
	case op == "info/refs" && r.Method == http.MethodGet:
		h.infoRefs(req)
	case op == "git-upload-pack" && r.Method == http.MethodPost:
		h.uploadPack(req)
	case op == "git-receive-pack" && r.Method == http.MethodPost:
		h.receivePack(req)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// protocolVersion reads the Git-Protocol header: colon-separated
// key=value parameters, of which version= picks the highest the client
// offers.
func protocolVersion(h string) (v2, v1 bool) {
	for _, p := range strings.Split(h, ":") {
		switch strings.TrimSpace(p) {
		case "version=2":
			v2 = true
		case "version=1":
			v1 = true
		}
	}
	return v2, v1 && !v2
}

func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="rewire"`)
	http.Error(w, "authentication required", http.StatusUnauthorized)
}

// body returns the request body, inflating gzip.
func (q *request) body() (io.ReadCloser, error) {
	switch q.r.Header.Get("Content-Encoding") {
	case "", "identity":
		return q.r.Body, nil
	case "gzip", "x-gzip":
		z, err := gzip.NewReader(q.r.Body)
		if err != nil {
			return nil, fmt.Errorf("gzip body: %w", err)
		}
		return z, nil
	}
	return nil, fmt.Errorf("unsupported content encoding %q", q.r.Header.Get("Content-Encoding"))
}

// start sends the response headers.
func (q *request) start(contentType string) {
	h := q.w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-cache, max-age=0, must-revalidate")
	h.Set("Expires", "Fri, 01 Jan 1980 00:00:00 GMT")
	h.Set("Pragma", "no-cache")
	q.w.WriteHeader(http.StatusOK)
	q.header = true
}

// openRepo returns the repository snapshot, answering 404 when missing.
func (q *request) openRepo() (*gitstore.Repo, bool) {
	repo, err := gitstore.Open(q.ctx, q.t, q.repo)
	if errors.Is(err, storage.ErrNotFound) {
		http.NotFound(q.w, q.r)
		return nil, false
	}
	if err != nil {
		q.log.Error("open repository", "err", err)
		http.Error(q.w, "internal error", http.StatusInternalServerError)
		return nil, false
	}
	return repo, true
}

func (h *handler) infoRefs(q *request) {
	service := q.r.URL.Query().Get("service")
	switch service {
	case "git-upload-pack":
		repo, ok := q.openRepo()
		if !ok {
			return
		}
		defer repo.Close()
		q.start("application/x-git-upload-pack-advertisement")
		pw := &pktWriter{w: q.w}
		pw.linef("# service=%s\n", service)
		pw.flush()
		switch {
		case q.v2:
			advertiseV2(pw)
		case q.v1:
			pw.linef("version 1\n")
			fallthrough
		default:
			advertiseUpload(pw, repo)
		}
	case "git-receive-pack":
		repo, err := gitstore.Open(q.ctx, q.t, q.repo)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			q.log.Error("open repository", "err", err)
			http.Error(q.w, "internal error", http.StatusInternalServerError)
			return
		}
		// A missing repository advertises no refs: the first push creates it.
		if repo != nil {
			defer repo.Close()
		}
		q.start("application/x-git-receive-pack-advertisement")
		pw := &pktWriter{w: q.w}
		pw.linef("# service=%s\n", service)
		pw.flush()
		if q.v1 {
			pw.linef("version 1\n") // v2 has no push: a v2 client gets v0
		}
		advertiseReceive(pw, repo)
	default:
		http.Error(q.w, "smart HTTP clients only: service parameter required", http.StatusForbidden)
	}
}
