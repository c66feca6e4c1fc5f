package natswire

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ignoredFields differ by nature between two servers: times, ids, server
// identity and storage accounting.
var ignoredFields = map[string]bool{
	"created": true, "ts": true, "first_ts": true, "last_ts": true, "time": true,
	"last_active": true, "cluster": true, "domain": true, "api": true,
	"bytes": true, "storage": true, "memory": true, "reserved_memory": true,
	"reserved_storage": true, "limits": true, "tiers": true,
	// nats-server stamps its own version and API level into metadata.
	"metadata": true,
}

// normalize drops ignored fields from a decoded JSON value.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, val := range x {
			if ignoredFields[k] {
				continue
			}
			out[k] = normalize(val)
		}
		return out
	case []any:
		for i := range x {
			x[i] = normalize(x[i])
		}
	}
	return v
}

// diffJSON lists the paths where a and b differ.
func diffJSON(path string, a, b any, out *[]string) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			diffJSON(path+"."+k, am[k], bm[k], out)
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		*out = append(*out, fmt.Sprintf("%s: nats-server %v, rewire %v", path, a, b))
	}
}

// TestDifferentialJetStreamAPI sends the same JetStream requests to a
// standalone nats-server (file store) and to rewire and compares the
// responses field by field, ignoring times, ids and storage accounting.
func TestDifferentialJetStreamAPI(t *testing.T) {
	ref, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go ref.Start()
	if !ref.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(ref.Shutdown)
	refNC, err := nats.Connect(ref.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(refNC.Close)

	e := newEnv(t, "acme")
	rwNC := e.connect(t, "acme")

	type step struct {
		subj string
		body string
		hdr  map[string]string
	}
	steps := []step{
		{subj: "$JS.API.STREAM.CREATE.D", body: `{"name":"D","subjects":["d.>"],"storage":"file","max_msgs_per_subject":5}`},
		{subj: "$JS.API.STREAM.CREATE.D", body: `{"name":"D","subjects":["x"],"storage":"file"}`},
		{subj: "$JS.API.STREAM.CREATE.E", body: `{"name":"E","subjects":["d.a"]}`},
		{subj: "d.a", body: "one"},
		{subj: "d.a", body: "two", hdr: map[string]string{"Nats-Msg-Id": "m2"}},
		{subj: "d.a", body: "two", hdr: map[string]string{"Nats-Msg-Id": "m2"}},
		{subj: "d.b", body: "three"},
		{subj: "d.b", body: "x", hdr: map[string]string{"Nats-Expected-Last-Sequence": "1"}},
		{subj: "d.b", body: "x", hdr: map[string]string{"Nats-Expected-Last-Subject-Sequence": "1"}},
		{subj: "d.b", body: "x", hdr: map[string]string{"Nats-Expected-Stream": "OTHER"}},
		{subj: "$JS.API.STREAM.INFO.D"},
		{subj: "$JS.API.STREAM.INFO.NOPE"},
		{subj: "$JS.API.STREAM.MSG.GET.D", body: `{"seq":2}`},
		{subj: "$JS.API.STREAM.MSG.GET.D", body: `{"last_by_subj":"d.b"}`},
		{subj: "$JS.API.STREAM.MSG.GET.D", body: `{"seq":99}`},
		{subj: "$JS.API.STREAM.NAMES"},
		{subj: "$JS.API.CONSUMER.CREATE.D.c1", body: `{"stream_name":"D","config":{"name":"c1","durable_name":"c1","ack_policy":"explicit","filter_subject":"d.a"}}`},
		{subj: "$JS.API.CONSUMER.INFO.D.c1"},
		{subj: "$JS.API.CONSUMER.INFO.D.nope"},
		{subj: "$JS.API.CONSUMER.NAMES.D"},
		{subj: "$JS.API.CONSUMER.DELETE.D.c1"},
		{subj: "$JS.API.CONSUMER.CREATE.D.c2", body: `{"stream_name":"D","config":{"name":"c2","deliver_policy":"last_per_subject","ack_policy":"none","filter_subjects":["d.a","d.b"]}}`},
		{subj: "$JS.API.CONSUMER.CREATE.D.c3", body: `{"stream_name":"D","config":{"name":"c3","durable_name":"c3","deliver_policy":"by_start_sequence","opt_start_seq":2,"ack_policy":"all","max_deliver":3,"backoff":[1000000000,2000000000]}}`},
		{subj: "$JS.API.CONSUMER.CREATE.D.c4", body: `{"stream_name":"D","config":{"name":"c4","deliver_subject":"push.x","ack_policy":"explicit","flow_control":true,"idle_heartbeat":5000000000}}`},
		{subj: "$JS.API.CONSUMER.CREATE.D.c5", body: `{"stream_name":"D","config":{"name":"c5","deliver_policy":"by_start_sequence","ack_policy":"explicit"}}`},
		{subj: "$JS.API.CONSUMER.CREATE.D.c3", body: `{"stream_name":"D","config":{"name":"c3","durable_name":"c3","ack_policy":"explicit"},"action":"create"}`},
		{subj: "$JS.API.CONSUMER.LIST.D"},
		{subj: "$JS.API.STREAM.UPDATE.D", body: `{"name":"D","subjects":["d.>","e"],"storage":"file","max_msgs":100,"max_msgs_per_subject":5}`},
		{subj: "$JS.API.STREAM.UPDATE.NOPE", body: `{"name":"NOPE","subjects":["n"]}`},
		{subj: "$JS.API.STREAM.LIST"},
		{subj: "$JS.API.STREAM.MSG.DELETE.D", body: `{"seq":1}`},
		{subj: "$JS.API.STREAM.MSG.DELETE.D", body: `{"seq":1}`},
		{subj: "$JS.API.STREAM.PURGE.D", body: `{"seq":2}`},
		{subj: "$JS.API.STREAM.PURGE.D", body: `{"filter":"d.a","keep":1}`},
		{subj: "$JS.API.STREAM.INFO.D"},
		{subj: "$JS.API.STREAM.DELETE.D"},
		{subj: "$JS.API.STREAM.DELETE.D"},
	}
	ask := func(nc *nats.Conn, s step) any {
		m := nats.NewMsg(s.subj)
		m.Data = []byte(s.body)
		for k, v := range s.hdr {
			m.Header.Set(k, v)
		}
		resp, err := nc.RequestMsg(m, 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", s.subj, err)
		}
		var v any
		if err := json.Unmarshal(resp.Data, &v); err != nil {
			t.Fatalf("%s: bad JSON %q", s.subj, resp.Data)
		}
		return normalize(v)
	}
	var diffs []string
	for i, s := range steps {
		a, b := ask(refNC, s), ask(rwNC, s)
		var d []string
		diffJSON("", a, b, &d)
		for _, x := range d {
			diffs = append(diffs, fmt.Sprintf("step %d %s %s: %s", i, s.subj, s.body, x))
		}
	}
	if len(diffs) > 0 {
		t.Fatalf("responses differ:\n%s", strings.Join(diffs, "\n"))
	}
}
