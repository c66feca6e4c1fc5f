package natswire

import (
	"encoding/json"
	"errors"
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
	"memory": true, "reserved_memory": true,
	"reserved_storage": true, "limits": true, "tiers": true,
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

// diffStep is one request sent to both servers. A step with fetch set
// publishes with a reply inbox and collects up to fetch messages from it
// (pull requests, batched direct gets) instead of one JSON reply.
//
// A step with ack set sends body to the ack subject of the last message
// fetched on the same server (subj is ignored); with wait set, the step
// first sleeps that long (to let an ack wait run out). A step with listen
// subscribes to that subject (a push consumer's deliver subject); one
// with read takes up to fetch messages from such a subscription.
type diffStep struct {
	subj   string
	body   string
	hdr    map[string]string
	fetch  int
	ack    bool
	wait   time.Duration
	listen string
	read   string
}

// diffConn is one server's side of a differential run.
type diffConn struct {
	nc      *nats.Conn
	lastAck string // reply subject of the last message fetched
	subs    map[string]*nats.Subscription
}

// startReference starts a standalone nats-server with a file-backed
// JetStream on a free loopback port, stopped when the test ends.
func startReference(t *testing.T) *server.Server {
	t.Helper()
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
	return ref
}

// runDiff sends steps in order to a standalone nats-server with a file
// store and to rewire, and fails the test with every field that differs.
func runDiff(t *testing.T, steps []diffStep) {
	t.Helper()
	ref := startReference(t)
	refNC, err := nats.Connect(ref.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(refNC.Close)

	e := newEnv(t, "acme")
	rwNC := e.connect(t, "acme")

	var diffs []string
	refDC := &diffConn{nc: refNC, subs: map[string]*nats.Subscription{}}
	rwDC := &diffConn{nc: rwNC, subs: map[string]*nats.Subscription{}}
	for i, s := range steps {
		time.Sleep(s.wait)
		a, b := askStep(t, refDC, s), askStep(t, rwDC, s)
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

// askStep sends one step and returns its normalized answer.
func askStep(t *testing.T, dc *diffConn, s diffStep) any {
	t.Helper()
	nc := dc.nc
	switch {
	case s.listen != "":
		sub, err := nc.SubscribeSync(s.listen)
		if err != nil {
			t.Fatal(err)
		}
		dc.subs[s.listen] = sub
		nc.Flush()
		return nil
	case s.read != "":
		return readMsgs(dc, dc.subs[s.read], s.fetch, "")
	case s.subj == "" && !s.ack:
		return nil // a pause only
	}
	m := nats.NewMsg(s.subj)
	if s.ack {
		m.Subject = dc.lastAck
		if s.fetch == 0 {
			// With a reply subject the server answers once the ack is
			// applied, so the next step sees its effect.
			if _, err := nc.Request(dc.lastAck, []byte(s.body), 5*time.Second); err != nil {
				t.Fatal(err)
			}
			return "applied"
		}
	}
	m.Data = []byte(s.body)
	for k, v := range s.hdr {
		m.Header.Set(k, v)
	}
	if s.fetch > 0 {
		return fetchStep(t, dc, m, s.fetch)
	}
	resp, err := nc.RequestMsg(m, 5*time.Second)
	if errors.Is(err, nats.ErrNoResponders) {
		return "no responders"
	}
	if err != nil {
		t.Fatalf("%s: %v", s.subj, err)
	}
	if len(resp.Data) == 0 && resp.Header.Get("Status") != "" {
		return "status " + resp.Header.Get("Status") + " " + resp.Header.Get("Description")
	}
	var v any
	if err := json.Unmarshal(resp.Data, &v); err != nil {
		return fmt.Sprintf("data %q", resp.Data)
	}
	return normalize(v)
}

// fetchStep publishes m with a fresh inbox and describes each message
// that arrives: status, subject, data, and the stable part of the ack
// subject (stream, consumer, delivery count and sequences).
func fetchStep(t *testing.T, dc *diffConn, m *nats.Msg, n int) any {
	t.Helper()
	m.Reply = nats.NewInbox()
	sub, err := dc.nc.SubscribeSync(m.Reply)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := dc.nc.PublishMsg(m); err != nil {
		t.Fatal(err)
	}
	return readMsgs(dc, sub, n, m.Reply)
}

// readMsgs describes up to n messages arriving on sub; inbox is the
// subject shown as "inbox".
func readMsgs(dc *diffConn, sub *nats.Subscription, n int, inbox string) any {
	var out []any
	for range n {
		r, err := sub.NextMsg(time.Second)
		if err != nil {
			out = append(out, "nothing more")
			break
		}
		// Batch answers count down what is left to send.
		batch := ""
		if np := r.Header.Get("Nats-Num-Pending"); np != "" {
			batch = " pending=" + np + " last=" + r.Header.Get("Nats-Last-Sequence")
		}
		if pm := r.Header.Get("Nats-Pending-Messages"); pm != "" {
			batch += " left=" + pm + "/" + r.Header.Get("Nats-Pending-Bytes")
		}
		if st := r.Header.Get("Status"); st != "" && len(r.Data) == 0 {
			out = append(out, "status "+st+" "+r.Header.Get("Description")+batch)
			if st != "100" {
				// Any other status ends the answer.
				break
			}
			continue
		}
		var ack string
		if r.Reply != "" {
			dc.lastAck = r.Reply
		}
		if p := strings.Split(r.Reply, "."); len(p) >= 9 {
			// $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>
			ack = strings.Join(p[2:7], ".") + "." + p[len(p)-1]
		}
		subj := r.Subject
		if subj == inbox {
			subj = "inbox"
		}
		out = append(out, fmt.Sprintf("%s %q ack=%s seq=%s subj=%s%s", subj, r.Data, ack,
			r.Header.Get("Nats-Sequence"), r.Header.Get("Nats-Subject"), batch))
	}
	return out
}

// TestDifferentialJetStreamAPI sends the same JetStream requests to a
// standalone nats-server (file store) and to rewire and compares the
// responses field by field, ignoring times, ids and storage accounting.
func TestDifferentialJetStreamAPI(t *testing.T) {
	steps := []diffStep{
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
	runDiff(t, steps)
}

// TestDifferentialStreamConfig compares stream configuration defaults and
// refusals: storage defaulting to file, limits, windows, roll-ups against
// deny purge, discard new per subject, deny delete and purge.
func TestDifferentialStreamConfig(t *testing.T) {
	runDiff(t, []diffStep{
		{subj: "$JS.API.STREAM.CREATE.A", body: `{"name":"A","subjects":["a.>"]}`},
		{subj: "$JS.API.STREAM.CREATE.WQ", body: `{"name":"WQ","subjects":["wq"],"retention":"workqueue"}`},
		{subj: "$JS.API.STREAM.CREATE.IN", body: `{"name":"IN","retention":"interest","max_age":60000000000}`},
		{subj: "$JS.API.STREAM.CREATE.LIM", body: `{"name":"LIM","max_msgs":-5,"max_bytes":-2,"max_msg_size":-9,"max_consumers":-3}`},
		{subj: "$JS.API.STREAM.CREATE.SD", body: `{"name":"SD","deny_delete":true,"deny_purge":true,"allow_rollup_hdrs":true}`},
		{subj: "$JS.API.STREAM.CREATE.SD", body: `{"name":"SD","deny_delete":true,"deny_purge":true}`},
		{subj: "SD", body: "x"},
		{subj: "$JS.API.STREAM.MSG.DELETE.SD", body: `{"seq":1}`},
		{subj: "$JS.API.STREAM.PURGE.SD"},
		{subj: "$JS.API.STREAM.CREATE.B", body: `{"name":"B","max_age":1000}`},
		{subj: "$JS.API.STREAM.CREATE.B", body: `{"name":"B","max_age":-1}`},
		{subj: "$JS.API.STREAM.CREATE.B", body: `{"name":"B","duplicate_window":1000}`},
		{subj: "$JS.API.STREAM.CREATE.B", body: `{"name":"B","duplicate_window":-1}`},
		{subj: "$JS.API.STREAM.CREATE.B", body: `{"name":"B","max_age":1000000000,"duplicate_window":2000000000}`},
		{subj: "$JS.API.STREAM.CREATE.B", body: `{"name":"B","discard_new_per_subject":true}`},
		{subj: "$JS.API.STREAM.CREATE.B", body: `{"name":"B","discard":"new","discard_new_per_subject":true}`},
		{subj: "$JS.API.STREAM.CREATE.B", body: `{"name":"B","num_replicas":7}`},
		{subj: "$JS.API.STREAM.CREATE.B", body: `{"name":"B","num_replicas":-1}`},
		{subj: "$JS.API.STREAM.CREATE.B", body: `{"name":"B","subjects":["$JS.API.>"]}`},
		{subj: "$JS.API.STREAM.NAMES"},
	})
}

// TestDifferentialStartAndPurge compares where consumers start (deliver
// last and new on live, rolled-up and purged streams) and how a purge
// moves existing consumers' delivered and ack floors and drops their
// pending acks.
func TestDifferentialStartAndPurge(t *testing.T) {
	runDiff(t, []diffStep{
		{subj: "$JS.API.STREAM.CREATE.S", body: `{"name":"S","subjects":["s.>"],"allow_rollup_hdrs":true}`},
		{subj: "s.a", body: "1"},
		{subj: "s.b", body: "2"},
		{subj: "s.c", body: "3"},
		{subj: "s.c", body: "r", hdr: map[string]string{"Nats-Rollup": "sub"}},
		{subj: "$JS.API.STREAM.INFO.S"},
		{subj: "$JS.API.CONSUMER.CREATE.S.l", body: `{"stream_name":"S","config":{"name":"l","ack_policy":"explicit","deliver_policy":"last"}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.p", body: `{"stream_name":"S","config":{"durable_name":"p","ack_policy":"explicit"}}`},
		{subj: "$JS.API.CONSUMER.MSG.NEXT.S.p", body: `{"batch":2}`, fetch: 2},
		{subj: "$JS.API.CONSUMER.INFO.S.p"},
		{subj: "$JS.API.STREAM.MSG.DELETE.S", body: `{"seq":1}`},
		{subj: "$JS.API.STREAM.PURGE.S", body: ``},
		{subj: "$JS.API.STREAM.INFO.S"},
		{subj: "$JS.API.CONSUMER.CREATE.S.l2", body: `{"stream_name":"S","config":{"name":"l2","ack_policy":"explicit","deliver_policy":"last"}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.l3", body: `{"stream_name":"S","config":{"name":"l3","ack_policy":"explicit","deliver_policy":"new"}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.l4", body: `{"stream_name":"S","config":{"name":"l4","ack_policy":"explicit","deliver_policy":"last", "filter_subject":"s.c"}}`},
		{subj: "s.x", body: "x"},
		{subj: "$JS.API.CONSUMER.INFO.S.l"},
		{subj: "$JS.API.CONSUMER.INFO.S.l2"},
		{subj: "$JS.API.CONSUMER.INFO.S.l4"},
		{subj: "$JS.API.CONSUMER.INFO.S.p"},
		{subj: "$JS.API.CONSUMER.MSG.NEXT.S.p", body: `{"batch":2}`, fetch: 2},
		{subj: "$JS.API.STREAM.PURGE.S", body: `{"seq":6}`},
		{subj: "$JS.API.CONSUMER.INFO.S.p"},
	})
}

// TestDifferentialConsumerConfig compares consumer creation: the three
// create subjects and their name rules, defaults, refusals of bad
// policies, filters and push settings, what an update may change, and a
// work queue's rules for its consumers.
func TestDifferentialConsumerConfig(t *testing.T) {
	runDiff(t, []diffStep{
		{subj: "$JS.API.STREAM.CREATE.S", body: `{"name":"S","subjects":["s.>"]}`},
		{subj: "s.a", body: "1"},
		{subj: "$JS.API.CONSUMER.CREATE.S", body: `{"stream_name":"S","config":{"durable_name":"h","ack_policy":"explicit"}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.f", body: `{"stream_name":"S","config":{"name":"g","durable_name":"f","ack_policy":"explicit"}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.f2", body: `{"stream_name":"S","config":{"durable_name":"g","ack_policy":"explicit"}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.f3", body: `{"config":{"ack_policy":"explicit"}}`},
		{subj: "$JS.API.CONSUMER.DURABLE.CREATE.S.d1", body: `{"stream_name":"S","config":{"ack_policy":"explicit"}}`},
		{subj: "$JS.API.CONSUMER.DURABLE.CREATE.S.d1", body: `{"stream_name":"S","config":{"durable_name":"x","ack_policy":"explicit"}}`},
		{subj: "$JS.API.CONSUMER.DURABLE.CREATE.S.d1", body: `{"stream_name":"S","config":{"durable_name":"d1","ack_policy":"explicit"}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.j", body: `{"stream_name":"S","config":{"durable_name":"j","ack_policy":"explicit","max_ack_pending":5,"max_waiting":3}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.j", body: `{"stream_name":"S","config":{"durable_name":"j","ack_policy":"explicit","max_ack_pending":6,"max_waiting":3}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.j", body: `{"stream_name":"S","config":{"durable_name":"j","ack_policy":"all","max_ack_pending":6,"max_waiting":3}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.j", body: `{"stream_name":"S","config":{"durable_name":"j","ack_policy":"explicit","max_ack_pending":6}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.j", body: `{"stream_name":"S","config":{"durable_name":"j","ack_policy":"explicit","deliver_policy":"new","max_waiting":3}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.j", body: `{"stream_name":"S","config":{"durable_name":"j","ack_policy":"explicit","deliver_subject":"x.y","max_waiting":3}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.n", body: `{"stream_name":"S","config":{"durable_name":"n","ack_policy":"explicit","filter_subjects":["s.a","s.>"]}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.n", body: `{"stream_name":"S","config":{"durable_name":"n","ack_policy":"explicit","filter_subjects":["s.a",""]}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.n", body: `{"stream_name":"S","config":{"durable_name":"n","ack_policy":"explicit","filter_subjects":["s.*.b","s.a.*"]}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.o", body: `{"stream_name":"S","config":{"durable_name":"o","ack_policy":"explicit","backoff":[1000000000],"max_deliver":1}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.o2", body: `{"stream_name":"S","config":{"durable_name":"o2","ack_policy":"explicit","ack_wait":5000000000,"backoff":[1000000000,2000000000],"max_deliver":1}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.o3", body: `{"stream_name":"S","config":{"durable_name":"o3","ack_policy":"explicit","ack_wait":5000000000,"backoff":[1000000000,2000000000],"max_deliver":5}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.p", body: `{"stream_name":"S","config":{"durable_name":"p","deliver_subject":"s.loop"}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.p", body: `{"stream_name":"S","config":{"durable_name":"p","deliver_subject":"out","idle_heartbeat":1000}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.p", body: `{"stream_name":"S","config":{"durable_name":"p","deliver_subject":"out","max_ack_pending":5}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.p", body: `{"stream_name":"S","config":{"durable_name":"p","deliver_subject":"out"}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.q", body: `{"stream_name":"S","config":{"durable_name":"q","ack_policy":"explicit","deliver_policy":"all","opt_start_seq":3}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.q", body: `{"stream_name":"S","config":{"durable_name":"q","ack_policy":"explicit","deliver_policy":"last_per_subject"}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.q", body: `{"stream_name":"S","config":{"durable_name":"q","ack_policy":"explicit","deliver_policy":"by_start_time"}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.q", body: `{"stream_name":"S","config":{"durable_name":"q","ack_policy":"explicit","deliver_policy":"new","opt_start_time":"2020-01-01T00:00:00Z"}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.q", body: `{"stream_name":"S","config":{"durable_name":"q","ack_policy":"explicit","deliver_policy":"by_start_sequence"}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.r.s.b", body: `{"stream_name":"S","config":{"durable_name":"r","ack_policy":"explicit","filter_subject":"s.c"}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.r.s.b", body: `{"stream_name":"S","config":{"durable_name":"r","ack_policy":"explicit","filter_subjects":["s.c"]}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.r.s.b", body: `{"stream_name":"S","config":{"durable_name":"r","ack_policy":"explicit","filter_subject":"s.b"}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.t", body: `{"stream_name":"S","config":{"name":"t","ack_policy":"explicit","max_ack_pending":-7,"max_deliver":-4}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.u", body: `{"stream_name":"S","config":{"durable_name":"u","ack_policy":"none"}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.v", body: `{"stream_name":"S","config":{"durable_name":"v","ack_policy":"explicit","idle_heartbeat":5000000000}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.v", body: `{"stream_name":"S","config":{"durable_name":"v","ack_policy":"explicit","flow_control":true}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.v", body: `{"stream_name":"S","config":{"durable_name":"v","ack_policy":"explicit","deliver_subject":"fc","flow_control":true}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.w", body: `{"stream_name":"S","config":{"durable_name":"w","ack_policy":"explicit"},"action":"update"}`},
		{subj: "$JS.API.STREAM.CREATE.W", body: `{"name":"W","subjects":["w.>"],"retention":"workqueue"}`},
		{subj: "$JS.API.CONSUMER.CREATE.W.a", body: `{"stream_name":"W","config":{"durable_name":"a","ack_policy":"explicit","filter_subject":"w.a"}}`},
		{subj: "$JS.API.CONSUMER.CREATE.W.b", body: `{"stream_name":"W","config":{"durable_name":"b","ack_policy":"explicit","filter_subject":"w.>"}}`},
		{subj: "$JS.API.CONSUMER.CREATE.W.c", body: `{"stream_name":"W","config":{"durable_name":"c","ack_policy":"none","filter_subject":"w.c"}}`},
		{subj: "$JS.API.CONSUMER.CREATE.W.c", body: `{"stream_name":"W","config":{"durable_name":"c","ack_policy":"all","filter_subject":"w.c"}}`},
		{subj: "$JS.API.CONSUMER.CREATE.W.c", body: `{"stream_name":"W","config":{"durable_name":"c","ack_policy":"explicit","deliver_policy":"new","filter_subject":"w.c"}}`},
		{subj: "$JS.API.CONSUMER.CREATE.W.c", body: `{"stream_name":"W","config":{"durable_name":"c","ack_policy":"explicit"}}`},
		{subj: "$JS.API.CONSUMER.CREATE.W.c", body: `{"stream_name":"W","config":{"durable_name":"c","ack_policy":"explicit","filter_subject":"w.c"}}`},
		{subj: "$JS.API.CONSUMER.CREATE.W.c", body: `{"stream_name":"W","config":{"durable_name":"c","ack_policy":"explicit","filter_subject":"w.a"}}`},
		{subj: "$JS.API.CONSUMER.CREATE.W.c", body: `{"stream_name":"W","config":{"durable_name":"c","ack_policy":"explicit","filter_subject":"w.d"}}`},
		{subj: "$JS.API.CONSUMER.NAMES.W"},
		{subj: "$JS.API.CONSUMER.NAMES.S"},
	})
}

// TestDifferentialGets compares message gets: direct gets of one message,
// batches from a sequence (with next_by_subj and max_bytes), multi_last,
// the 408 refusals of malformed requests, the JSON message get's bad
// request cases, subject-filtered stream info, and which stream updates
// are allowed.
func TestDifferentialGets(t *testing.T) {
	runDiff(t, []diffStep{
		{subj: "$JS.API.STREAM.CREATE.S", body: `{"name":"S","subjects":["s.>"],"allow_direct":true}`},
		{subj: "$JS.API.STREAM.CREATE.E", body: `{"name":"E","subjects":["e.>"],"allow_direct":true}`},
		{subj: "s.a", body: "1"},
		{subj: "s.b", body: "2"},
		{subj: "s.a", body: "3"},
		{subj: "s.c.d", body: "4"},
		{subj: "$JS.API.DIRECT.GET.S", body: `{"seq":2}`, fetch: 1},
		{subj: "$JS.API.DIRECT.GET.S", body: `{"seq":99}`, fetch: 1},
		{subj: "$JS.API.DIRECT.GET.S", body: `{"last_by_subj":"s.a"}`, fetch: 1},
		{subj: "$JS.API.DIRECT.GET.S.s.b", fetch: 1},
		{subj: "$JS.API.DIRECT.GET.S", body: `{"next_by_subj":"s.a","seq":2}`, fetch: 1},
		{subj: "$JS.API.DIRECT.GET.S", body: `{"multi_last":["s.>"]}`, fetch: 6},
		{subj: "$JS.API.DIRECT.GET.S", body: `{"multi_last":["s.a","s.c.*"]}`, fetch: 6},
		{subj: "$JS.API.DIRECT.GET.S", body: `{"multi_last":["x.>"]}`, fetch: 6},
		{subj: "$JS.API.DIRECT.GET.E", body: `{"multi_last":["e.>"]}`, fetch: 6},
		{subj: "$JS.API.DIRECT.GET.S", body: `{"seq":1,"batch":3}`, fetch: 6},
		{subj: "$JS.API.DIRECT.GET.S", body: `{"seq":2,"batch":5,"next_by_subj":"s.a"}`, fetch: 6},
		{subj: "$JS.API.DIRECT.GET.S", body: `{"seq":1,"batch":5,"max_bytes":10}`, fetch: 6},
		{subj: "$JS.API.DIRECT.GET.S", body: `{"seq":1,"last_by_subj":"s.a"}`, fetch: 6},
		{subj: "$JS.API.DIRECT.GET.S", body: `{}`, fetch: 6},
		{subj: "$JS.API.DIRECT.GET.S", body: `{bad`, fetch: 6},
		{subj: "$JS.API.STREAM.MSG.GET.S", body: `{"seq":1,"last_by_subj":"s.a"}`},
		{subj: "$JS.API.STREAM.MSG.GET.S", body: `{}`},
		{subj: "$JS.API.STREAM.MSG.GET.S", body: `{"next_by_subj":"s.a","seq":2}`},
		{subj: "$JS.API.STREAM.MSG.GET.S", body: `{"next_by_subj":"s.a"}`},
		{subj: "$JS.API.STREAM.MSG.DELETE.S", body: `{"seq":2,"no_erase":true}`},
		{subj: "$JS.API.STREAM.UPDATE.S", body: `{"name":"S","subjects":["s.>"],"storage":"memory"}`},
		{subj: "$JS.API.STREAM.UPDATE.S", body: `{"name":"S","subjects":["s.>"],"retention":"workqueue"}`},
		{subj: "$JS.API.STREAM.UPDATE.S", body: `{"name":"S","subjects":["s.>"],"retention":"interest"}`},
		{subj: "$JS.API.STREAM.INFO.S", body: `{"subjects_filter":">"}`},
		{subj: "$JS.API.STREAM.INFO.S", body: `{"deleted_details":true}`},
		{subj: "$JS.API.STREAM.UPDATE.S", body: `{"name":"S","subjects":["s.>"],"retention":"interest","sealed":true,"max_age":60000000000,"allow_rollup_hdrs":true}`},
		{subj: "$JS.API.STREAM.UPDATE.S", body: `{"name":"S","subjects":["s.>"],"retention":"interest"}`},
		{subj: "s.a", body: "sealed"},
		{subj: "$JS.API.STREAM.PURGE.S"},
		{subj: "$JS.API.STREAM.MSG.DELETE.S", body: `{"seq":1}`},
	})
}

// TestDifferentialAcks compares pull deliveries and acknowledgements:
// nak (now and with a delay), progress, ack, +NXT with a JSON or numeric
// pull request, ack none and ack all consumers, and how no_wait and
// max_bytes requests end.
func TestDifferentialAcks(t *testing.T) {
	runDiff(t, []diffStep{
		{subj: "$JS.API.STREAM.CREATE.S", body: `{"name":"S","subjects":["s.>"]}`},
		{subj: "s.a", body: "1"},
		{subj: "s.b", body: "2"},
		{subj: "s.a", body: "3"},
		{subj: "s.c", body: "4"},
		{subj: "s.a", body: "5"},
		{subj: "$JS.API.CONSUMER.CREATE.S.c", body: `{"stream_name":"S","config":{"durable_name":"c","ack_policy":"explicit","ack_wait":30000000000}}`},
		{subj: "$JS.API.CONSUMER.MSG.NEXT.S.c", body: `{"batch":1}`, fetch: 1},
		{ack: true, body: "-NAK"},
		{subj: "$JS.API.CONSUMER.MSG.NEXT.S.c", body: `{"batch":1}`, fetch: 1},
		{ack: true, body: `-NAK {"delay":5000000000}`},
		{subj: "$JS.API.CONSUMER.MSG.NEXT.S.c", body: `{"batch":1}`, fetch: 1},
		{subj: "$JS.API.CONSUMER.INFO.S.c"},
		{ack: true, body: "+WPI"},
		{subj: "$JS.API.CONSUMER.INFO.S.c"},
		{ack: true, body: "+ACK"},
		{subj: "$JS.API.CONSUMER.INFO.S.c"},
		{subj: "$JS.API.CONSUMER.MSG.NEXT.S.c", body: `{"batch":1}`, fetch: 1},
		{ack: true, body: `+NXT {"batch":2}`, fetch: 2},
		{ack: true, body: `+NXT 1`, fetch: 1},
		{subj: "$JS.API.CONSUMER.INFO.S.c"},
		{subj: "$JS.API.CONSUMER.CREATE.S.n", body: `{"stream_name":"S","config":{"durable_name":"n","ack_policy":"none"}}`},
		{subj: "$JS.API.CONSUMER.MSG.NEXT.S.n", body: `{"batch":10,"no_wait":true}`, fetch: 10},
		{subj: "$JS.API.CONSUMER.MSG.NEXT.S.n", body: `{"batch":10,"no_wait":true}`, fetch: 10},
		{subj: "$JS.API.CONSUMER.INFO.S.n"},
		{subj: "$JS.API.CONSUMER.CREATE.S.all", body: `{"stream_name":"S","config":{"durable_name":"all","ack_policy":"all"}}`},
		{subj: "$JS.API.CONSUMER.MSG.NEXT.S.all", body: `{"batch":3,"no_wait":true}`, fetch: 4},
		{ack: true, body: "+ACK"},
		{subj: "$JS.API.CONSUMER.INFO.S.all"},
		{subj: "$JS.API.CONSUMER.MSG.NEXT.S.all", body: `{"batch":1,"max_bytes":1,"expires":300000000}`, fetch: 2},
		{subj: "$JS.API.CONSUMER.MSG.NEXT.S.n", body: `{"batch":3,"max_bytes":1000,"expires":100000000}`, fetch: 2},
		{subj: "$JS.API.CONSUMER.CREATE.S.lim", body: `{"stream_name":"S","config":{"durable_name":"lim","ack_policy":"explicit","max_batch":2,"max_expires":1000000000,"max_bytes":100}}`},
		{subj: "$JS.API.CONSUMER.MSG.NEXT.S.lim", body: `{"batch":3}`, fetch: 2},
		{subj: "$JS.API.CONSUMER.MSG.NEXT.S.lim", body: `{"batch":1,"expires":2000000000}`, fetch: 2},
		{subj: "$JS.API.CONSUMER.MSG.NEXT.S.lim", body: `{"batch":1,"max_bytes":200,"expires":100000000}`, fetch: 2},
		{subj: "$JS.API.CONSUMER.MSG.NEXT.S.lim", body: `{"batch":"x"}`, fetch: 2},
		{subj: "$JS.API.CONSUMER.MSG.NEXT.S.lim", body: `{"batch":1,"max_bytes":50,"expires":100000000}`, fetch: 2},
		{wait: 10 * time.Millisecond},
	})
}

// TestDifferentialStrictDecoding compares how request bodies are read:
// unknown fields refused, syntax errors with their offset, several JSON
// values in one body, blank and null bodies.
func TestDifferentialStrictDecoding(t *testing.T) {
	runDiff(t, []diffStep{
		{subj: "$JS.API.STREAM.CREATE.S", body: `{"name":"S","subjects":["s.>"],"bogus":1}`},
		{subj: "$JS.API.STREAM.CREATE.S", body: `{"name":"S","subjects":["s.>"]}`},
		{subj: "$JS.API.STREAM.CREATE.S", body: `{"name":"S",`},
		{subj: "$JS.API.STREAM.INFO.S", body: `{"bogus":1}`},
		{subj: "$JS.API.STREAM.NAMES", body: `{"bogus":1}`},
		{subj: "$JS.API.STREAM.MSG.GET.S", body: `{"seq":1,"bogus":1}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.c", body: `{"stream_name":"S","config":{"name":"c","bogus":1}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.c", body: `{"stream_name":"S","config":{"name":"c"},"x":2}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.c", body: `{"stream_name":"S","config":{"name":"c"}}{"a":1}`},
		{subj: "$JS.API.STREAM.PURGE.S", body: `{"bogus":1}`},
		{subj: "$JS.API.STREAM.MSG.DELETE.S", body: `{"seq":1,"bogus":1}`},
		{subj: "$JS.API.STREAM.CREATE.T", body: `   `},
		{subj: "$JS.API.STREAM.CREATE.T", body: `null`},
	})
}

// TestDifferentialPush compares push consumers: deliveries to the deliver
// subject with flow control and heartbeats, last-per-subject with headers
// only, redelivery after the ack wait up to max_deliver, and a pull
// request against a push consumer.
func TestDifferentialPush(t *testing.T) {
	runDiff(t, []diffStep{
		{subj: "$JS.API.STREAM.CREATE.S", body: `{"name":"S","subjects":["s.>"]}`},
		{subj: "s.a", body: "1"},
		{subj: "s.b", body: "2"},
		{listen: "out.p"},
		{subj: "$JS.API.CONSUMER.CREATE.S.p", body: `{"stream_name":"S","config":{"durable_name":"p","deliver_subject":"out.p","ack_policy":"explicit","idle_heartbeat":300000000,"flow_control":true}}`},
		{read: "out.p", fetch: 2},
		{ack: true, body: "+ACK"},
		{subj: "s.c", body: "3"},
		{read: "out.p", fetch: 1},
		{read: "out.p", fetch: 1},
		{subj: "$JS.API.CONSUMER.INFO.S.p"},
		{listen: "out.q"},
		{subj: "$JS.API.CONSUMER.CREATE.S.q", body: `{"stream_name":"S","config":{"name":"q","deliver_subject":"out.q","ack_policy":"none","deliver_policy":"last_per_subject","filter_subject":"s.*","headers_only":true}}`},
		{read: "out.q", fetch: 3},
		{subj: "$JS.API.CONSUMER.INFO.S.q"},
		{listen: "out.r"},
		{subj: "$JS.API.CONSUMER.CREATE.S.r", body: `{"stream_name":"S","config":{"name":"r","deliver_subject":"out.r","ack_policy":"explicit","ack_wait":200000000,"max_deliver":2}}`},
		{read: "out.r", fetch: 3},
		{read: "out.r", fetch: 3},
		{subj: "$JS.API.CONSUMER.MSG.NEXT.S.r", body: `{"batch":1}`, fetch: 1},
	})
}

// TestDifferentialRetention compares interest and work-queue retention:
// what acks remove, and what deleting a consumer releases.
func TestDifferentialRetention(t *testing.T) {
	runDiff(t, []diffStep{
		{subj: "$JS.API.STREAM.CREATE.I", body: `{"name":"I","subjects":["i.>"],"retention":"interest"}`},
		{subj: "i.a", body: "0"},
		{subj: "$JS.API.CONSUMER.CREATE.I.a", body: `{"stream_name":"I","config":{"durable_name":"a","ack_policy":"explicit","filter_subject":"i.a"}}`},
		{subj: "$JS.API.CONSUMER.CREATE.I.b", body: `{"stream_name":"I","config":{"durable_name":"b","ack_policy":"explicit"}}`},
		{subj: "i.a", body: "1"},
		{subj: "i.b", body: "2"},
		{subj: "i.a", body: "3"},
		{subj: "$JS.API.STREAM.INFO.I"},
		{subj: "$JS.API.CONSUMER.MSG.NEXT.I.b", body: `{"batch":3}`, fetch: 3},
		{ack: true, body: "+ACK"},
		{subj: "$JS.API.STREAM.INFO.I"},
		{subj: "$JS.API.CONSUMER.DELETE.I.b"},
		{subj: "$JS.API.STREAM.INFO.I"},
		{subj: "$JS.API.CONSUMER.DELETE.I.a"},
		{subj: "$JS.API.STREAM.INFO.I"},
		{subj: "$JS.API.STREAM.CREATE.W", body: `{"name":"W","subjects":["w.>"],"retention":"workqueue"}`},
		{subj: "w.a", body: "1"},
		{subj: "w.b", body: "2"},
		{subj: "$JS.API.CONSUMER.CREATE.W.a", body: `{"stream_name":"W","config":{"durable_name":"a","ack_policy":"explicit","filter_subject":"w.a"}}`},
		{subj: "$JS.API.CONSUMER.MSG.NEXT.W.a", body: `{"batch":3,"no_wait":true}`, fetch: 3},
		{ack: true, body: "+ACK"},
		{subj: "$JS.API.STREAM.INFO.W"},
		{subj: "$JS.API.CONSUMER.INFO.W.a"},
		{subj: "$JS.API.CONSUMER.DELETE.W.a"},
		{subj: "$JS.API.STREAM.INFO.W"},
	})
}

// TestDifferentialLimits compares stream limits at work: max_age expiry,
// max_bytes and max_msg_size, discard new by count and by bytes, the
// duplicate window running out, expected last message id and a full
// roll-up.
func TestDifferentialLimits(t *testing.T) {
	runDiff(t, []diffStep{
		{subj: "$JS.API.STREAM.CREATE.A", body: `{"name":"A","subjects":["a.>"],"max_age":1000000000}`},
		{subj: "a.x", body: "1"},
		{subj: "a.y", body: "2"},
		{subj: "$JS.API.CONSUMER.CREATE.A.c", body: `{"stream_name":"A","config":{"durable_name":"c","ack_policy":"explicit"}}`},
		{wait: 1600 * time.Millisecond},
		{subj: "$JS.API.STREAM.INFO.A"},
		{subj: "$JS.API.CONSUMER.INFO.A.c"},
		{subj: "$JS.API.STREAM.CREATE.B", body: `{"name":"B","subjects":["b.>"],"max_bytes":200,"max_msg_size":100}`},
		{subj: "b.x", body: strings.Repeat("x", 50)},
		{subj: "b.x", body: strings.Repeat("x", 50)},
		{subj: "b.x", body: strings.Repeat("x", 50)},
		{subj: "b.x", body: strings.Repeat("x", 150)},
		{subj: "$JS.API.STREAM.INFO.B"},
		{subj: "$JS.API.STREAM.CREATE.C", body: `{"name":"C","subjects":["c.>"],"max_msgs":2,"discard":"new"}`},
		{subj: "c.x", body: "1"},
		{subj: "c.x", body: "2"},
		{subj: "c.x", body: "3"},
		{subj: "$JS.API.STREAM.CREATE.D", body: `{"name":"D","subjects":["d.>"],"max_bytes":200,"discard":"new"}`},
		{subj: "d.x", body: strings.Repeat("x", 80)},
		{subj: "d.x", body: strings.Repeat("x", 80)},
		{subj: "d.x", body: strings.Repeat("x", 80)},
		{subj: "$JS.API.STREAM.INFO.D"},
		{subj: "$JS.API.STREAM.CREATE.E", body: `{"name":"E","subjects":["e.>"],"duplicate_window":500000000}`},
		{subj: "e.x", body: "1", hdr: map[string]string{"Nats-Msg-Id": "a"}},
		{subj: "e.x", body: "1", hdr: map[string]string{"Nats-Msg-Id": "a"}},
		{wait: 700 * time.Millisecond},
		{subj: "e.x", body: "1", hdr: map[string]string{"Nats-Msg-Id": "a"}},
		{subj: "e.x", body: "2", hdr: map[string]string{"Nats-Expected-Last-Msg-Id": "a"}},
		{subj: "e.x", body: "2", hdr: map[string]string{"Nats-Expected-Last-Msg-Id": "zz"}},
		{subj: "e.y", body: "r", hdr: map[string]string{"Nats-Rollup": "all"}},
		{subj: "$JS.API.STREAM.INFO.E"},
	})
}

// TestDifferentialInactivity compares which consumers an inactive
// threshold removes: push and pull ephemerals and a durable with a
// threshold of its own.
func TestDifferentialInactivity(t *testing.T) {
	runDiff(t, []diffStep{
		{subj: "$JS.API.STREAM.CREATE.S", body: `{"name":"S","subjects":["s.>"]}`},
		{subj: "s.a", body: "1"},
		{subj: "$JS.API.CONSUMER.CREATE.S.p", body: `{"stream_name":"S","config":{"name":"p","deliver_subject":"nobody","ack_policy":"explicit","inactive_threshold":500000000}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.q", body: `{"stream_name":"S","config":{"name":"q","ack_policy":"explicit","inactive_threshold":500000000}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.d", body: `{"stream_name":"S","config":{"durable_name":"d","ack_policy":"explicit","inactive_threshold":500000000}}`},
		{subj: "$JS.API.CONSUMER.CREATE.S.k", body: `{"stream_name":"S","config":{"durable_name":"k","ack_policy":"explicit"}}`},
		// Well past the threshold and nats-server's jitter of up to a second.
		{wait: 2500 * time.Millisecond},
		{subj: "$JS.API.CONSUMER.NAMES.S"},
	})
}

// TestDifferentialListsAndDetails compares paged and filtered stream and
// consumer names and lists, deleted and subject details in stream info,
// and message gets by time, sequence and wildcard subject.
func TestDifferentialListsAndDetails(t *testing.T) {
	runDiff(t, []diffStep{
		{subj: "$JS.API.STREAM.CREATE.A", body: `{"name":"A","subjects":["a.>"]}`},
		{subj: "$JS.API.STREAM.CREATE.B", body: `{"name":"B","subjects":["b.>"]}`},
		{subj: "$JS.API.STREAM.CREATE.C", body: `{"name":"C","subjects":["c.*"]}`},
		{subj: "a.x", body: "1"}, {subj: "a.y", body: "2"}, {subj: "a.x", body: "3"},
		{subj: "$JS.API.STREAM.MSG.DELETE.A", body: `{"seq":2}`},
		{subj: "$JS.API.STREAM.INFO.A", body: `{"deleted_details":true}`},
		{subj: "$JS.API.STREAM.INFO.A", body: `{"subjects_filter":"a.x"}`},
		{subj: "$JS.API.STREAM.INFO.A", body: `{"subjects_filter":"a.*","offset":1}`},
		{subj: "$JS.API.STREAM.NAMES", body: `{"offset":1}`},
		{subj: "$JS.API.STREAM.NAMES", body: `{"subject":"c.q"}`},
		{subj: "$JS.API.STREAM.NAMES", body: `{"subject":"c.>"}`},
		{subj: "$JS.API.STREAM.LIST", body: `{"offset":2}`},
		{subj: "$JS.API.STREAM.LIST", body: `{"subject":"b.z"}`},
		{subj: "$JS.API.CONSUMER.CREATE.A.c1", body: `{"stream_name":"A","config":{"durable_name":"c1"}}`},
		{subj: "$JS.API.CONSUMER.CREATE.A.c2", body: `{"stream_name":"A","config":{"durable_name":"c2"}}`},
		{subj: "$JS.API.CONSUMER.NAMES.A", body: `{"offset":1}`},
		{subj: "$JS.API.CONSUMER.NAMES.A", body: `{"subject":"a.x"}`},
		{subj: "$JS.API.CONSUMER.LIST.A", body: `{"offset":1}`},
		{subj: "$JS.API.CONSUMER.NAMES.NOPE"},
		{subj: "$JS.API.CONSUMER.DELETE.A.nope"},
		{subj: "$JS.API.STREAM.MSG.GET.A", body: `{"start_time":"2000-01-01T00:00:00Z"}`},
		{subj: "$JS.API.STREAM.MSG.GET.A", body: `{"seq":2}`},
		{subj: "$JS.API.STREAM.MSG.GET.A", body: `{"last_by_subj":"a.*"}`},
		{subj: "$JS.API.STREAM.PURGE.A", body: `{"filter":"a.*","seq":3}`},
		{subj: "$JS.API.STREAM.INFO.A"},
		{subj: "$JS.API.STREAM.DELETE.C"},
		{subj: "$JS.API.INFO"},
	})
}

// TestDifferentialPublishHeaders compares publishes with JetStream
// headers: features the stream has not enabled (TTL, counters, atomic
// batches, schedules) and the expected-stream and expected-last checks,
// including one against another or a wildcard subject.
func TestDifferentialPublishHeaders(t *testing.T) {
	runDiff(t, []diffStep{
		{subj: "$JS.API.STREAM.CREATE.A", body: `{"name":"A","subjects":["a.>"]}`},
		{subj: "a.x", body: "1", hdr: map[string]string{"Nats-TTL": "1s"}},
		{subj: "a.x", body: "1", hdr: map[string]string{"Nats-Expected-Stream": "A"}},
		{subj: "a.x", body: "1", hdr: map[string]string{"Nats-Expected-Last-Sequence": "2"}},
		{subj: "a.x", body: "1", hdr: map[string]string{"Nats-Expected-Last-Sequence": "bogus"}},
		{subj: "a.x", body: "1", hdr: map[string]string{"Nats-Expected-Last-Subject-Sequence": "0"}},
		{subj: "a.new", body: "1", hdr: map[string]string{"Nats-Expected-Last-Subject-Sequence": "0"}},
		{subj: "a.y", body: "1", hdr: map[string]string{"Nats-Expected-Last-Subject-Sequence": "0", "Nats-Expected-Last-Subject-Sequence-Subject": "a.x"}},
		{subj: "a.x", body: "1", hdr: map[string]string{"Nats-Rollup": "sub"}},
		{subj: "a.x", body: "1", hdr: map[string]string{"Nats-Batch-Id": "b1", "Nats-Batch-Sequence": "1"}},
		{subj: "a.x", body: "1", hdr: map[string]string{"Nats-Incr": "1"}},
		{subj: "a.x", body: "1", hdr: map[string]string{"Nats-Schedule": "@at 2030-01-01T00:00:00Z"}},
		{subj: "a.x", body: "", hdr: map[string]string{"Nats-Msg-Id": ""}},
		{subj: "a.z", body: "1", hdr: map[string]string{"Nats-Expected-Last-Subject-Sequence": "3", "Nats-Expected-Last-Subject-Sequence-Subject": "a.*"}},
		{subj: "a.z", body: "1", hdr: map[string]string{"Nats-Expected-Last-Subject-Sequence": "4", "Nats-Expected-Last-Subject-Sequence-Subject": "a.*"}},
		{subj: "a.q", body: "1", hdr: map[string]string{"Nats-Expected-Last-Subject-Sequence": "5", "Nats-Expected-Last-Subject-Sequence-Subject": "a.>"}},
		{subj: "$JS.API.STREAM.INFO.A"},
	})
}

// TestDifferentialStreamUpdate compares stream updates that change
// subjects (overlaps refused, captures moved) and tighten per-subject
// and total limits on stored messages, and a consumer limit.
func TestDifferentialStreamUpdate(t *testing.T) {
	runDiff(t, []diffStep{
		{subj: "$JS.API.STREAM.CREATE.A", body: `{"name":"A","subjects":["a.>"]}`},
		{subj: "$JS.API.STREAM.CREATE.B", body: `{"name":"B","subjects":["b.>"]}`},
		{subj: "a.x", body: "1"}, {subj: "a.x", body: "2"}, {subj: "a.x", body: "3"}, {subj: "a.y", body: "4"},
		{subj: "$JS.API.STREAM.UPDATE.A", body: `{"name":"A","subjects":["a.>","b.x"]}`},
		{subj: "$JS.API.STREAM.UPDATE.A", body: `{"name":"A","subjects":["a.>","c.>"],"max_msgs_per_subject":1}`},
		{subj: "c.z", body: "5"},
		{subj: "$JS.API.STREAM.INFO.A", body: `{"subjects_filter":">"}`},
		{subj: "$JS.API.STREAM.UPDATE.A", body: `{"name":"A","subjects":["c.>"],"max_msgs_per_subject":1,"max_msgs":1}`},
		{subj: "a.x", body: "6"},
		{subj: "$JS.API.STREAM.INFO.A"},
		{subj: "$JS.API.CONSUMER.CREATE.A.m", body: `{"stream_name":"A","config":{"name":"m","ack_policy":"none","deliver_policy":"last_per_subject","filter_subjects":["a.*","c.>"]}}`},
		{subj: "$JS.API.CONSUMER.MSG.NEXT.A.m", body: `{"batch":5,"no_wait":true}`, fetch: 6},
		{subj: "$JS.API.STREAM.UPDATE.A", body: `{"name":"A","subjects":["c.>"],"max_msgs_per_subject":1,"max_msgs":1,"max_consumers":1}`},
		{subj: "$JS.API.CONSUMER.CREATE.A.m2", body: `{"stream_name":"A","config":{"name":"m2","ack_policy":"none"}}`},
	})
}

// TestDifferentialAckPendingAndHeadersOnly compares a consumer held back
// by max_ack_pending and one that delivers headers only.
func TestDifferentialAckPendingAndHeadersOnly(t *testing.T) {
	runDiff(t, []diffStep{
		{subj: "$JS.API.STREAM.CREATE.A", body: `{"name":"A","subjects":["a.>"]}`},
		{subj: "a.x", body: "1"}, {subj: "a.x", body: "2"}, {subj: "a.x", body: "3"}, {subj: "a.y", body: "4"},
		{subj: "$JS.API.CONSUMER.CREATE.A.m", body: `{"stream_name":"A","config":{"durable_name":"m","ack_policy":"explicit","max_ack_pending":2}}`},
		{subj: "$JS.API.CONSUMER.MSG.NEXT.A.m", body: `{"batch":5,"expires":300000000}`, fetch: 6},
		{subj: "$JS.API.CONSUMER.INFO.A.m"},
		{ack: true, body: "+ACK"},
		{subj: "$JS.API.CONSUMER.MSG.NEXT.A.m", body: `{"batch":5,"expires":300000000}`, fetch: 6},
		{subj: "$JS.API.CONSUMER.INFO.A.m"},
		{subj: "$JS.API.CONSUMER.CREATE.A.h", body: `{"stream_name":"A","config":{"durable_name":"h","ack_policy":"none","headers_only":true,"filter_subject":"a.y"}}`},
		{subj: "$JS.API.CONSUMER.MSG.NEXT.A.h", body: `{"batch":5,"no_wait":true}`, fetch: 6},
	})
}
