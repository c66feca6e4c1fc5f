package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"rewire/api"
	"rewire/client"
	"rewire/storage"
)

// env is a store with two tenants behind an API server on 127.0.0.1:0.
type env struct {
	store *storage.Store
	srv   *httptest.Server
	alice *client.Client
	bob   *client.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	store, err := storage.Open(ctx, storage.Config{Dir: t.TempDir(), MoverInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	for _, n := range []string{"alice", "bob"} {
		if _, err := store.CreateTenant(ctx, n, n+"-pw"); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv := httptest.NewServer(api.NewHandler(store, log))
	t.Cleanup(srv.Close)
	return &env{
		store: store,
		srv:   srv,
		alice: client.New(srv.URL, &client.Options{User: "alice", Password: "alice-pw"}),
		bob:   client.New(srv.URL, &client.Options{User: "bob", Password: "bob-pw"}),
	}
}

// post sends a raw body to /rpc as alice and returns the status and body.
func (e *env) post(t *testing.T, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/rpc", bytes.NewBufferString(body))
	req.SetBasicAuth("alice", "alice-pw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

type rpcResp struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   *struct {
		Code    int             `json:"code"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	} `json:"error"`
}
