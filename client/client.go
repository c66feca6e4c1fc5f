// Package client is the Go client of rewire's HTTP API: one Client per
// server and tenant, with typed methods per area (Files, Git, Streams,
// SQL, Tokens) over JSON-RPC 2.0 at /rpc and the streaming file endpoints
// under /v1/files/. Every method takes a context; calls that are safe to
// repeat (reads, and writes that replace whole values) are retried on
// network errors and 5xx responses. A Client is safe for concurrent use.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"rewire/api/wire"
)

// Options configure a Client. Give User and Password (the tenant's
// credentials) or Token (an API token).
type Options struct {
	User, Password string
	Token          string
	// HTTPClient is used for every request; http.DefaultClient if nil.
	HTTPClient *http.Client
	// Retries is how many times an idempotent call is repeated after a
	// transient failure (default 3; negative for none).
	Retries int
	// RetryWait is the first pause between attempts, doubled each time
	// (default 100ms).
	RetryWait time.Duration
}

// Client talks to one rewire server as one tenant.
type Client struct {
	base string
	opts Options
	hc   *http.Client
	id   atomic.Int64
}

// Error is an error returned by the server (a JSON-RPC error object).
type Error = wire.Error

// New returns a client of the server at baseURL (for example
// "http://127.0.0.1:8080").
func New(baseURL string, opts *Options) *Client {
	c := &Client{base: strings.TrimSuffix(baseURL, "/")}
	if opts != nil {
		c.opts = *opts
	}
	c.hc = c.opts.HTTPClient
	if c.hc == nil {
		c.hc = http.DefaultClient
	}
	if c.opts.Retries == 0 {
		c.opts.Retries = 3
	}
	if c.opts.RetryWait <= 0 {
		c.opts.RetryWait = 100 * time.Millisecond
	}
	return c
}

// ErrCode returns the JSON-RPC error code of err, or 0 if err is not an
// error returned by the server.
func ErrCode(err error) int {
	var e *wire.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// IsNotFound reports whether err says that the named thing does not exist.
func IsNotFound(err error) bool { return ErrCode(err) == wire.CodeNotFound }

// StatusError is an HTTP failure outside JSON-RPC (authentication,
// routing, a failed file transfer).
type StatusError struct {
	Status int
	Body   string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("rewire: HTTP %d: %s", e.Status, strings.TrimSpace(e.Body))
}

func (c *Client) auth(r *http.Request) {
	switch {
	case c.opts.Token != "" && c.opts.User == "":
		r.Header.Set("Authorization", "Bearer "+c.opts.Token)
	case c.opts.Token != "":
		r.SetBasicAuth(c.opts.User, c.opts.Token)
	case c.opts.User != "":
		r.SetBasicAuth(c.opts.User, c.opts.Password)
	}
}

// transient reports whether a failed attempt may succeed if repeated.
func transient(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status >= 500 || se.Status == http.StatusTooManyRequests
	}
	var we *wire.Error
	if errors.As(err, &we) {
		return false
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// retry runs attempt until it succeeds, fails for good, or the retries
// are used up. idempotent false means a single attempt.
func (c *Client) retry(ctx context.Context, idempotent bool, attempt func() error) error {
	wait := c.opts.RetryWait
	for i := 0; ; i++ {
		err := attempt()
		if err == nil || !idempotent || i >= c.opts.Retries || !transient(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait *= 2
	}
}

type rpcRequest struct {
	JSONRPC string `json:"jsonrpc"`
	ID      int64  `json:"id"`
	Method  string `json:"method"`
	Params  any    `json:"params,omitempty"`
}

type rpcResponse struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *wire.Error     `json:"error"`
}

// idempotent lists the methods that are safe to repeat.
var idempotent = map[string]bool{
	"files.read": true, "files.write": true, "files.list": true, "files.stat": true,
	"files.exists": true, "files.search": true, "files.tree": true, "files.mkdir": true,
	"git.list": true, "git.refs": true, "git.log": true, "git.read": true, "git.diff": true,
	"streams.list": true, "streams.read": true, "streams.offsets": true,
	"usage": true, "tokens.list": true,
}

// Call invokes a JSON-RPC method with params and decodes its result into
// result (which may be nil). Server errors are *Error values.
func (c *Client) Call(ctx context.Context, method string, params, result any) error {
	body, err := json.Marshal(rpcRequest{JSONRPC: "2.0", ID: c.id.Add(1), Method: method, Params: params})
	if err != nil {
		return fmt.Errorf("rewire: encode %s: %w", method, err)
	}
	return c.retry(ctx, idempotent[method], func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/rpc", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		c.auth(req)
		resp, err := c.hc.Do(req)
		if err != nil {
			return fmt.Errorf("rewire: %s: %w", method, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			return &StatusError{Status: resp.StatusCode, Body: string(b)}
		}
		var r rpcResponse
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			return fmt.Errorf("rewire: %s: decode response: %w", method, err)
		}
		if r.Error != nil {
			return r.Error
		}
		if result == nil {
			return nil
		}
		if err := json.Unmarshal(r.Result, result); err != nil {
			return fmt.Errorf("rewire: %s: decode result: %w", method, err)
		}
		return nil
	})
}

// call is Call with a typed result.
func call[R any](ctx context.Context, c *Client, method string, params any) (R, error) {
	var r R
	err := c.Call(ctx, method, params, &r)
	return r, err
}

// Usage returns the bytes the tenant keeps in each tier.
func (c *Client) Usage(ctx context.Context) (wire.Usage, error) {
	return call[wire.Usage](ctx, c, "usage", nil)
}
