package api

import (
	"encoding/json"
	"testing"

	"rewire/api/wire"
)

// FuzzDecodeRequests feeds arbitrary bodies to the JSON-RPC decoder: it
// must never panic, must answer non-JSON with a parse error, and every
// request it returns is either runnable (a method and an id or none) or
// carries an invalid-request error with an id to answer.
func FuzzDecodeRequests(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","method":"files.list","params":{"path":"/"},"id":1}`,
		`[{"jsonrpc":"2.0","method":"a","id":"x"},{"jsonrpc":"2.0","method":"b"}]`,
		`[]`, `[1,2]`, `{"jsonrpc":"2.0","method":1}`, `{"jsonrpc":"2.0","method":"m","id":null}`,
		`{"jsonrpc":"2.0","method":"m","params":"x","id":1}`, `{`, `null`, `"str"`, ` [ { } ] `,
		`{"jsonrpc":"2.0","method":"m","id":{"a":1}}`, `{"jsonrpc":"2.0","method":"m","extra":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		reqs, batch, perr := DecodeRequests(body)
		if !json.Valid(body) {
			if perr == nil || perr.Code != wire.CodeParseError {
				t.Fatalf("invalid JSON %q not a parse error: %v", body, perr)
			}
			return
		}
		if perr != nil {
			if perr.Code != wire.CodeInvalidRequest {
				t.Fatalf("valid JSON %q gave %v", body, perr)
			}
			return
		}
		if len(reqs) == 0 || (!batch && len(reqs) != 1) {
			t.Fatalf("%q: %d requests, batch %v", body, len(reqs), batch)
		}
		for _, r := range reqs {
			if r.Err != nil {
				if r.Err.Code != wire.CodeInvalidRequest || r.ID == nil {
					t.Fatalf("%q: bad invalid-request %+v", body, r)
				}
				continue
			}
			if r.ID != nil && !json.Valid(r.ID) {
				t.Fatalf("%q: id %q", body, r.ID)
			}
			if r.Params != nil && !json.Valid(r.Params) {
				t.Fatalf("%q: params %q", body, r.Params)
			}
		}
	})
}

// FuzzDecodeBatches decodes arbitrary bytes as stored Kafka batches (they
// come from producers on the network): errors are fine, panics are not.
func FuzzDecodeBatches(f *testing.F) {
	f.Add(EncodeBatch([]KafkaRecord{{Key: []byte("k"), Value: []byte("v")}, {Value: []byte("w")}}, 1700000000000))
	f.Add(EncodeBatch([]KafkaRecord{{}}, 0))
	b := EncodeBatch([]KafkaRecord{{Value: []byte("x")}}, 5)
	b[22] |= 2 // claims snappy
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		DecodeBatches(data, func(DecodedRecord) bool { return true })
	})
}

// FuzzCleanPath checks that no accepted path can climb out of the tree.
func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{"/a/b", "../x", "a/./b", "a//b/", "..", "/", "a/..b", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		cp, err := CleanPath(p)
		if err != nil {
			return
		}
		for _, s := range splitSlash(cp) {
			if s == ".." || s == "." || s == "" {
				t.Fatalf("%q cleaned to %q", p, cp)
			}
		}
	})
}

func splitSlash(p string) []string {
	if p == "" {
		return nil
	}
	var out []string
	start := 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			out = append(out, p[start:i])
			start = i + 1
		}
	}
	return out
}
