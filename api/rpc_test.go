package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestRPCErrorConformance(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name, body string
		code       int
		id         string
	}{
		{"parse error", `{"jsonrpc":"2.0","method":"files.list","id":1`, -32700, "null"},
		{"parse error garbage", `xyz`, -32700, "null"},
		{"not an object", `42`, -32600, "null"},
		{"empty batch", `[]`, -32600, "null"},
		{"missing version", `{"method":"files.list","id":1}`, -32600, "1"},
		{"wrong version", `{"jsonrpc":"1.0","method":"files.list","id":1}`, -32600, "1"},
		{"method not string", `{"jsonrpc":"2.0","method":5,"id":"a"}`, -32600, `"a"`},
		{"bad id", `{"jsonrpc":"2.0","method":"files.list","id":{}}`, -32600, "null"},
		{"params scalar", `{"jsonrpc":"2.0","method":"files.list","params":3,"id":2}`, -32600, "2"},
		{"unknown method", `{"jsonrpc":"2.0","method":"nope.nothing","id":3}`, -32601, "3"},
		{"positional params", `{"jsonrpc":"2.0","method":"files.stat","params":["/"],"id":4}`, -32602, "4"},
		{"wrong type", `{"jsonrpc":"2.0","method":"files.stat","params":{"path":7},"id":5}`, -32602, "5"},
		{"unknown member", `{"jsonrpc":"2.0","method":"files.stat","params":{"pth":"/"},"id":6}`, -32602, "6"},
		{"traversal", `{"jsonrpc":"2.0","method":"files.read","params":{"path":"../../etc/passwd"},"id":7}`, -32602, "7"},
		{"not found", `{"jsonrpc":"2.0","method":"files.read","params":{"path":"/missing"},"id":8}`, -32001, "8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := e.post(t, c.body)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			var r rpcResp
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			if r.JSONRPC != "2.0" || r.Error == nil || r.Error.Code != c.code || string(r.ID) != c.id {
				t.Fatalf("got %s, want code %d id %s", body, c.code, c.id)
			}
			if r.Result != nil {
				t.Fatalf("error response carries a result: %s", body)
			}
		})
	}
}

func TestRPCBatchAndNotifications(t *testing.T) {
	e := newEnv(t)
	// A batch mixing a call, a notification, an invalid member and an
	// unknown method: three responses, in any order, none for the
	// notification.
	status, body := e.post(t, `[
		{"jsonrpc":"2.0","method":"files.write","params":{"path":"a.txt","content":"hi"},"id":1},
		{"jsonrpc":"2.0","method":"files.mkdir","params":{"path":"d"}},
		1,
		{"jsonrpc":"2.0","method":"x","id":"z"}
	]`)
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	var rs []rpcResp
	if err := json.Unmarshal(body, &rs); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if len(rs) != 3 {
		t.Fatalf("want 3 responses, got %s", body)
	}
	codes := map[string]int{}
	for _, r := range rs {
		c := 0
		if r.Error != nil {
			c = r.Error.Code
		}
		codes[string(r.ID)] = c
	}
	if codes["1"] != 0 || codes[`"z"`] != -32601 || codes["null"] != -32600 {
		t.Fatalf("responses %s", body)
	}
	// The notification ran.
	status, body = e.post(t, `{"jsonrpc":"2.0","method":"files.stat","params":{"path":"d"},"id":9}`)
	if status != 200 || !strings.Contains(string(body), `"type":"dir"`) {
		t.Fatalf("notification did not run: %s", body)
	}
	// Notifications only: 204 and no body.
	status, body = e.post(t, `[{"jsonrpc":"2.0","method":"files.mkdir","params":{"path":"e"}}]`)
	if status != http.StatusNoContent || len(body) != 0 {
		t.Fatalf("notification batch: %d %q", status, body)
	}
	status, body = e.post(t, `{"jsonrpc":"2.0","method":"files.mkdir","params":{"path":"f"}}`)
	if status != http.StatusNoContent || len(body) != 0 {
		t.Fatalf("notification: %d %q", status, body)
	}
	// A null id is a call, not a notification.
	_, body = e.post(t, `{"jsonrpc":"2.0","method":"files.exists","params":{"path":"f"},"id":null}`)
	if !strings.Contains(string(body), `"exists":true`) {
		t.Fatalf("null id: %s", body)
	}
}

func TestRPCOversize(t *testing.T) {
	e := newEnv(t)
	big := strings.Repeat("a", 25<<20)
	status, body := e.post(t, `{"jsonrpc":"2.0","method":"files.write","params":{"path":"big","content":"`+big+`"},"id":1}`)
	if status != 200 || !strings.Contains(string(body), "-32600") {
		t.Fatalf("oversize body: %d %.200s", status, body)
	}
	mid := strings.Repeat("a", 9<<20)
	_, body = e.post(t, `{"jsonrpc":"2.0","method":"files.write","params":{"path":"big","content":"`+mid+`"},"id":1}`)
	if !strings.Contains(string(body), "-32004") {
		t.Fatalf("oversize content: %.200s", body)
	}
	_, body = e.post(t, `{"jsonrpc":"2.0","method":"files.exists","params":{"path":"big"},"id":2}`)
	if !strings.Contains(string(body), `"exists":false`) {
		t.Fatalf("oversize write changed something: %s", body)
	}
}
