package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"rewire/client"
)

// TestRetries: idempotent calls are repeated after a 503, others are not,
// and a cancelled context stops the retries.
func TestRetries(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1)%3 != 0 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{"exists":true,"type":"file"}}`))
	}))
	defer srv.Close()
	c := client.New(srv.URL, &client.Options{User: "u", Password: "p", RetryWait: time.Millisecond})
	ok, err := c.Files().Exists(context.Background(), "/x")
	if err != nil || !ok || calls.Load() != 3 {
		t.Fatalf("exists: %v %v after %d calls", ok, err, calls.Load())
	}
	calls.Store(0)
	_, err = c.Files().Append(context.Background(), "/x", []byte("y"))
	if se, isSE := err.(*client.StatusError); !isSE || se.Status != 503 || calls.Load() != 1 {
		t.Fatalf("append retried: %v after %d calls", err, calls.Load())
	}
	calls.Store(0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Files().Exists(ctx, "/x"); err == nil || calls.Load() > 1 {
		t.Fatalf("cancelled call: %v after %d calls", err, calls.Load())
	}
}
