package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"

	"rewire/api/wire"
)

// Request is one decoded JSON-RPC 2.0 call. ID is nil for a notification
// and otherwise holds the raw id (a string, a number or null).
type Request struct {
	ID     json.RawMessage
	Method string
	Params json.RawMessage
	// Err is set when the call is not a valid request; it is answered with
	// this error and never run.
	Err *wire.Error
}

// Notification reports whether the call expects no response.
func (r *Request) Notification() bool { return r.ID == nil && r.Err == nil }

// response is one JSON-RPC 2.0 response object.
type response struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  any             `json:"result,omitempty"`
	Error   *wire.Error     `json:"error,omitempty"`
}

var nullID = json.RawMessage("null")

// DecodeRequests parses a JSON-RPC 2.0 request body: one call object or a
// batch (array) of them. A body that is not JSON yields a parse error; an
// empty batch or a non-object yields an invalid-request error; within a
// batch, each invalid member gets its own Request with Err set.
func DecodeRequests(body []byte) (reqs []Request, batch bool, perr *wire.Error) {
	body = bytes.TrimSpace(body)
	if !json.Valid(body) {
		return nil, false, wire.Errorf(wire.CodeParseError, "parse error: body is not valid JSON")
	}
	if len(body) > 0 && body[0] == '[' {
		var raws []json.RawMessage
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, false, wire.Errorf(wire.CodeParseError, "parse error: %v", err)
		}
		if len(raws) == 0 {
			return nil, false, wire.Errorf(wire.CodeInvalidRequest, "invalid request: empty batch")
		}
		if len(raws) > maxBatchSize {
			return nil, false, wire.Errorf(wire.CodeInvalidRequest, "invalid request: batch of more than %d calls", maxBatchSize)
		}
		reqs = make([]Request, len(raws))
		for i, raw := range raws {
			reqs[i] = decodeOne(raw)
		}
		return reqs, true, nil
	}
	return []Request{decodeOne(body)}, false, nil
}

// decodeOne checks one call object.
func decodeOne(raw json.RawMessage) Request {
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&fields); err != nil || fields == nil {
		return Request{ID: nullID, Err: wire.Errorf(wire.CodeInvalidRequest, "invalid request: not a JSON object")}
	}
	var r Request
	bad := func(format string, args ...any) Request {
		r.Err = wire.Errorf(wire.CodeInvalidRequest, "invalid request: "+format, args...)
		if r.ID == nil {
			r.ID = nullID
		}
		return r
	}
	if id, ok := fields["id"]; ok {
		switch firstByte(id) {
		case '"', 'n', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			r.ID = id
		default:
			return bad("id must be a string, a number or null")
		}
	}
	var version string
	if err := json.Unmarshal(fields["jsonrpc"], &version); err != nil || version != "2.0" {
		return bad(`"jsonrpc" must be "2.0"`)
	}
	m, ok := fields["method"]
	if !ok || json.Unmarshal(m, &r.Method) != nil {
		return bad(`"method" must be a string`)
	}
	for k := range fields {
		switch k {
		case "jsonrpc", "id", "method", "params":
		default:
			return bad("unknown member %q", k)
		}
	}
	if p, ok := fields["params"]; ok {
		switch firstByte(p) {
		case '{', '[':
			r.Params = p
		default:
			return bad(`"params" must be an object or an array`)
		}
	}
	return r
}

func firstByte(b []byte) byte {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// method is a JSON-RPC method: it decodes its params and runs on the
// caller's tenant.
type method func(ctx context.Context, o *Ops, params json.RawMessage) (any, error)

// bind turns a typed operation into a method. Params must be an object
// whose members are the fields of P; unknown members and wrong types are
// invalid params.
func bind[P, R any](f func(*Ops, context.Context, P) (R, error)) method {
	return func(ctx context.Context, o *Ops, raw json.RawMessage) (any, error) {
		var p P
		if len(raw) == 0 {
			raw = json.RawMessage("{}")
		}
		if firstByte(raw) != '{' {
			return nil, invalid("params must be an object with named members")
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return nil, invalid("invalid params: %v", err)
		}
		return f(o, ctx, p)
	}
}

// methods is the table of every JSON-RPC method.
var methods = map[string]method{
	"files.read":   bind((*Ops).Read),
	"files.write":  bind((*Ops).Write),
	"files.append": bind((*Ops).Append),
	"files.delete": bind((*Ops).Delete),
	"files.move":   bind((*Ops).Move),
	"files.copy":   bind((*Ops).Copy),
	"files.list":   bind((*Ops).List),
	"files.mkdir":  bind((*Ops).Mkdir),
	"files.stat":   bind((*Ops).Stat),
	"files.exists": bind((*Ops).Exists),
	"files.search": bind((*Ops).Search),
	"files.tree":   bind((*Ops).Tree),
}

// register adds methods at init time from the other files.
func register(name string, m method) {
	if _, dup := methods[name]; dup {
		panic("api: duplicate method " + name)
	}
	methods[name] = m
}

// serveRPC answers POST /rpc for an authenticated tenant.
func (h *handler) serveRPC(w http.ResponseWriter, r *http.Request, tenant string, log *slog.Logger) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "JSON-RPC requests are POSTed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeJSON(w, response{JSONRPC: "2.0", ID: nullID,
				Error: wire.Errorf(wire.CodeInvalidRequest, "invalid request: body larger than %d bytes", MaxBody)})
			return
		}
		log.Debug("read rpc body", "err", err)
		return
	}
	reqs, batch, perr := DecodeRequests(body)
	if perr != nil {
		writeJSON(w, response{JSONRPC: "2.0", ID: nullID, Error: perr})
		return
	}
	t, err := h.store.Acquire(r.Context(), tenant)
	if err != nil {
		writeJSON(w, response{JSONRPC: "2.0", ID: nullID, Error: ToError(err)})
		return
	}
	defer t.Release()
	ops := NewOps(t)
	var out []response
	for _, req := range reqs {
		res, rerr := h.call(r.Context(), ops, req, log)
		if req.Notification() {
			continue
		}
		resp := response{JSONRPC: "2.0", ID: req.ID, Result: res, Error: rerr}
		if rerr == nil && res == nil {
			resp.Result = struct{}{}
		}
		out = append(out, resp)
	}
	switch {
	case len(out) == 0:
		w.WriteHeader(http.StatusNoContent)
	case batch:
		writeJSON(w, out)
	default:
		writeJSON(w, out[0])
	}
}

// call runs one request, turning panics into internal errors.
func (h *handler) call(ctx context.Context, o *Ops, req Request, log *slog.Logger) (res any, rerr *wire.Error) {
	if req.Err != nil {
		return nil, req.Err
	}
	m, ok := methods[req.Method]
	if !ok {
		return nil, wire.Errorf(wire.CodeMethodNotFound, "method not found: %q", req.Method)
	}
	defer func() {
		if p := recover(); p != nil {
			log.Error("rpc method panicked", "method", req.Method, "panic", p, "stack", string(debug.Stack()))
			res, rerr = nil, wire.Errorf(wire.CodeInternal, "internal error")
		}
	}()
	res, err := m(ctx, o, req.Params)
	if err != nil {
		e := ToError(err)
		if e.Code == wire.CodeServerError {
			log.Warn("rpc method failed", "method", req.Method, "err", err)
		}
		return nil, e
	}
	return res, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(response{JSONRPC: "2.0", ID: nullID,
			Error: wire.Errorf(wire.CodeInternal, "internal error: %v", fmt.Sprint(err))})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n'))
}

func writeJSONBody(w io.Writer, v any) {
	b, _ := json.Marshal(v)
	w.Write(append(b, '\n'))
}
