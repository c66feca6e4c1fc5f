package natswire

import (
	"strings"
	"testing"

	"rewire/storage"
)

// FuzzJetStreamAPI feeds arbitrary request subjects and bodies to the
// JetStream API dispatcher of a live tenant host: no input may panic.
func FuzzJetStreamAPI(f *testing.F) {
	seeds := []struct{ subj, body string }{
		{"INFO", ""},
		{"STREAM.CREATE.S", `{"name":"S","subjects":["s.>"],"max_msgs":10,"duplicate_window":1000000000}`},
		{"STREAM.CREATE.S", `{"name":"S","subjects":["s.>"],"retention":"workqueue","discard":"new"}`},
		{"STREAM.UPDATE.S", `{"name":"S","subjects":["s.>","t"],"max_age":5000000000}`},
		{"STREAM.INFO.S", `{"subjects_filter":">"}`},
		{"STREAM.NAMES", `{"offset":1,"subject":"s.x"}`},
		{"STREAM.LIST", `{}`},
		{"STREAM.PURGE.S", `{"filter":"s.a","keep":1}`},
		{"STREAM.PURGE.S", `{"seq":3}`},
		{"STREAM.MSG.GET.S", `{"last_by_subj":"s.*"}`},
		{"STREAM.MSG.GET.S", `{"seq":1,"next_by_subj":"s.>"}`},
		{"STREAM.MSG.DELETE.S", `{"seq":1,"no_erase":true}`},
		{"DIRECT.GET.S", `{"seq":1}`},
		{"DIRECT.GET.S.s.a", ``},
		{"DIRECT.GET.S", `{"seq":1,"batch":3,"max_bytes":10,"next_by_subj":"s.*"}`},
		{"DIRECT.GET.S", `{"multi_last":["s.a","s.>"],"up_to_seq":2,"batch":1}`},
		{"DIRECT.GET.S", `{"multi_last":["s.>"],"up_to_time":"2020-01-01T00:00:00Z"}`},
		{"DIRECT.GET.S", `{"start_time":"2020-01-01T00:00:00Z","batch":2}`},
		{"STREAM.UPDATE.S", `{"name":"S","subjects":["s.>"],"retention":"interest"}`},
		{"CONSUMER.CREATE.S.W", `{"stream_name":"S","config":{"name":"W","backoff":[1000,-1],"max_deliver":1,"filter_subjects":["s.a","s.>"]}}`},
		{"STREAM.DELETE.S", ``},
		{"CONSUMER.CREATE.S", `{"stream_name":"S","config":{"ack_policy":"explicit","deliver_policy":"by_start_sequence","opt_start_seq":2}}`},
		{"CONSUMER.CREATE.S.C.s.a", `{"stream_name":"S","config":{"name":"C","filter_subject":"s.a","ack_policy":"all"},"action":"create"}`},
		{"CONSUMER.DURABLE.CREATE.S.D", `{"stream_name":"S","config":{"durable_name":"D","deliver_subject":"in.x","flow_control":true,"idle_heartbeat":1000000000}}`},
		{"CONSUMER.CREATE.S.L", `{"stream_name":"S","config":{"deliver_policy":"last_per_subject","filter_subjects":["s.a","s.b"]}}`},
		{"CONSUMER.MSG.NEXT.S.C", `{"batch":5,"no_wait":true,"max_bytes":100}`},
		{"CONSUMER.MSG.NEXT.S.C", `3`},
		{"CONSUMER.INFO.S.C", ``},
		{"CONSUMER.NAMES.S", `{"offset":0}`},
		{"CONSUMER.LIST.S", ``},
		{"CONSUMER.DELETE.S.C", ``},
		{"STREAM.CREATE.S", `{"name":`},
		{"CONSUMER.MSG.NEXT.S.C", `{"expires":-1}`},
	}
	for _, s := range seeds {
		f.Add(s.subj, []byte(s.body))
	}
	e := newEnv(f, "fuzz")
	nc := e.connect(f, "fuzz") // starts the tenant's host
	_ = nc
	h, err := e.srv.hostFor(mustTenant(f, e, "fuzz"))
	if err != nil {
		f.Fatal(err)
	}
	// Give the stream some messages to find.
	h.handleAPI(&imsg{Subject: "$JS.API.STREAM.CREATE.S", Data: []byte(`{"name":"S","subjects":["s.>"]}`)})
	for _, subj := range []string{"s.a", "s.b", "s.a"} {
		nc.Publish(subj, []byte("x"))
	}
	nc.Flush()
	f.Fuzz(func(t *testing.T, subj string, body []byte) {
		if strings.ContainsAny(subj, " \r\n\t") {
			return
		}
		h.handleAPI(&imsg{Subject: "$JS.API." + subj, Reply: "_INBOX.fuzz", Data: body})
	})
}

func mustTenant(f *testing.F, e *testEnv, name string) storage.TenantInfo {
	f.Helper()
	info, err := e.store.Control().Tenant(f.Context(), name)
	if err != nil {
		f.Fatal(err)
	}
	return info
}

// FuzzMsgArgs checks the internal client's MSG/HMSG argument parser.
func FuzzMsgArgs(f *testing.F) {
	for _, s := range []string{"foo 1 5", "foo 1 bar 5", "foo 2 bar 3 10", "foo 2 3 10", "a 1 -1", "a x 1", "a 1 2 1"} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, args []byte, hdr bool) {
		a, err := parseMsgArgs(args, hdr)
		if err == nil && (a.hdr < 0 || a.total < a.hdr || a.total > maxInternalPayload) {
			t.Fatalf("accepted bad sizes %+v", a)
		}
	})
}

// FuzzMsgRecords checks the stored message decoder against corrupt data.
func FuzzMsgRecords(f *testing.F) {
	rec := appendMsgRecord(nil, 123, "a.b", []byte("NATS/1.0\r\nK: v\r\n\r\n"), []byte("data"))
	rec = appendMsgRecord(rec, 124, "c", nil, nil)
	f.Add(rec, 2)
	f.Add(rec[:5], 1)
	f.Add([]byte{}, 0)
	f.Fuzz(func(t *testing.T, data []byte, count int) {
		msgs, err := decodeMsgRecords(data, 1, count)
		if err == nil && len(msgs) != count {
			t.Fatalf("decoded %d of %d", len(msgs), count)
		}
	})
}

// FuzzNextRequest checks the pull request decoder and the ack parsers.
func FuzzNextRequest(f *testing.F) {
	for _, s := range []string{"", "5", `{"batch":10,"expires":1000000000,"idle_heartbeat":100}`, `{"no_wait":true}`, "-3", "{"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := parseNextRequest(body)
		if err == nil && req.Batch < 1 {
			t.Fatalf("batch %d accepted", req.Batch)
		}
		parseAckTokens(strings.Split(string(body), "."))
		getHeader(body, "Nats-Msg-Id")
		addHeaders(body, "K", "v")
	})
}
