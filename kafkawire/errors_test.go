package kafkawire

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// rawBatch encodes one uncompressed record batch of n records with a valid
// CRC.
func rawBatch(n int) []byte {
	now := time.Now().UnixMilli()
	rb := kmsg.RecordBatch{Magic: 2, ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
		NumRecords: int32(n), LastOffsetDelta: int32(n - 1), FirstTimestamp: now, MaxTimestamp: now}
	for i := range n {
		rb.Records = append(rb.Records, encodeRecord(kmsg.Record{OffsetDelta: int32(i), Value: []byte("v")})...)
	}
	raw := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32cOf(raw[21:]))
	return raw
}

// TestErrorCodes checks the codes a Kafka broker gives for bad produce
// input and for unknown topics when auto-creation is off, and OffsetFetch
// for several groups in one request.
func TestErrorCodes(t *testing.T) {
	ts := startServer(t, Config{AutoCreateTopics: false, DefaultPartitions: 1})
	ctx := testCtx(t)
	// Produce v12 at most: v13 addresses topics by id.
	versions := kversion.Stable()
	versions.SetMaxKeyVersion(0, 12)
	cl := ts.client(t, tenantA, passA, kgo.MaxVersions(versions))
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "codes"); err != nil {
		t.Fatal(err)
	}

	produce := func(topic string, records []byte) int16 {
		t.Helper()
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = -1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = topic
		rt.Partitions = []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: records}}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	good := rawBatch(3)
	badCRC := append([]byte(nil), good...)
	badCRC[len(badCRC)-1] ^= 0xff
	truncated := good[:len(good)-5]
	wrongCount := append([]byte(nil), good...)
	binary.BigEndian.PutUint32(wrongCount[57:], 7)
	binary.BigEndian.PutUint32(wrongCount[17:], crc32cOf(wrongCount[21:]))
	magic1 := append([]byte(nil), good...)
	magic1[16] = 1
	reseal := func(b []byte) []byte {
		binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
		binary.BigEndian.PutUint32(b[17:], crc32cOf(b[21:]))
		return b
	}
	// The header claims four records, the body holds three.
	missing := append([]byte(nil), good...)
	binary.BigEndian.PutUint32(missing[23:], 3) // last offset delta
	binary.BigEndian.PutUint32(missing[57:], 4) // record count
	missing = reseal(missing)
	trailing := reseal(append(append([]byte(nil), good...), 1, 2, 3))
	notGzip := append([]byte(nil), good...)
	binary.BigEndian.PutUint16(notGzip[21:], 1) // gzip
	notGzip = reseal(notGzip)
	sameDelta := rawBatch(1)
	sameDelta = reseal(append(sameDelta, encodeRecord(kmsg.Record{OffsetDelta: 0, Value: []byte("w")})...))
	binary.BigEndian.PutUint32(sameDelta[23:], 1)
	binary.BigEndian.PutUint32(sameDelta[57:], 2)
	sameDelta = reseal(sameDelta)

	cases := []struct {
		name    string
		topic   string
		records []byte
		want    *kerr.Error
	}{
		{"valid batch", "codes", good, nil},
		{"CRC mismatch", "codes", badCRC, kerr.CorruptMessage},
		{"truncated batch", "codes", truncated, kerr.CorruptMessage},
		{"record count differs from the offset delta", "codes", wrongCount, kerr.InvalidRecord},
		{"magic 1", "codes", magic1, kerr.UnsupportedForMessageFormat},
		{"fewer records than the header counts", "codes", missing, kerr.CorruptMessage},
		{"bytes after the last record", "codes", trailing, kerr.InvalidRecord},
		{"gzip attribute on plain records", "codes", notGzip, kerr.CorruptMessage},
		{"two records with offset delta 0", "codes", sameDelta, kerr.InvalidRecord},
		{"unknown topic, auto-creation off", "nosuch", good, kerr.UnknownTopicOrPartition},
		{"invalid topic name", "bad/name", good, kerr.InvalidTopicException},
	}
	for _, c := range cases {
		code := produce(c.topic, c.records)
		var want int16
		if c.want != nil {
			want = c.want.Code
		}
		if code != want {
			t.Errorf("%s: %v, want %v", c.name, kerr.ErrorForCode(code), c.want)
		}
	}

	// Metadata asking to auto-create does not when the server forbids it.
	md := kmsg.NewPtrMetadataRequest()
	name := "nosuch"
	md.Topics = []kmsg.MetadataRequestTopic{{Topic: &name}}
	md.AllowAutoTopicCreation = true
	mr, err := md.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if code := mr.Topics[0].ErrorCode; code != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("metadata for a missing topic with auto-creation off: %v", kerr.ErrorForCode(code))
	}
	if l, _ := adm.ListTopics(ctx); l.Has("nosuch") {
		t.Error("topic created with auto-creation off")
	}

	// Only the valid batch was stored.
	ends, err := adm.ListEndOffsets(ctx, "codes")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ends.Lookup("codes", 0); o.Offset != 3 {
		t.Errorf("end offset %d after one valid batch of 3", o.Offset)
	}

	// OffsetFetch for several groups at once (v8+).
	for i, g := range []string{"g1", "g2"} {
		if _, err := adm.CommitOffsets(ctx, g, kadm.Offsets{"codes": {0: {Topic: "codes", Partition: 0,
			At: int64(i + 1), LeaderEpoch: -1}}}); err != nil {
			t.Fatal(err)
		}
	}
	many := adm.FetchManyOffsets(ctx, "g1", "g2", "g3")
	for g, want := range map[string]int64{"g1": 1, "g2": 2} {
		r := many[g]
		if r.Err != nil {
			t.Fatalf("%s: %v", g, r.Err)
		}
		if o, ok := r.Fetched.Lookup("codes", 0); !ok || o.At != want {
			t.Errorf("%s committed %+v, want %d", g, o, want)
		}
	}
	if r := many["g3"]; r.Err != nil || len(r.Fetched) != 0 {
		t.Errorf("unknown group g3: %v %v", r.Err, r.Fetched)
	}
}

// TestDescribeUnknownGroup: DescribeGroups v6 answers an unknown group with
// GROUP_ID_NOT_FOUND; earlier versions describe it as Dead.
func TestDescribeUnknownGroup(t *testing.T) {
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	for _, c := range []struct {
		version int16
		code    int16
		state   string
	}{{6, kerr.GroupIDNotFound.Code, ""}, {5, 0, "Dead"}, {0, 0, "Dead"}} {
		versions := kversion.Stable()
		versions.SetMaxKeyVersion(15, c.version)
		cl := ts.client(t, tenantA, passA, kgo.MaxVersions(versions))
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = []string{"nope"}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Version != c.version {
			t.Fatalf("sent v%d, want v%d", resp.Version, c.version)
		}
		g := resp.Groups[0]
		if g.ErrorCode != c.code || (c.state != "" && g.State != c.state) {
			t.Errorf("v%d: code %v state %q, want %v %q", c.version, kerr.ErrorForCode(g.ErrorCode), g.State,
				kerr.ErrorForCode(c.code), c.state)
		}
	}
}
