package kafkawire

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rawRequest encodes a request frame by hand.
func rawRequest(key, version int16, corr int32, body []byte, flexible bool) []byte {
	b := make([]byte, 4, 64)
	b = binary.BigEndian.AppendUint16(b, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, 4)
	b = append(b, "test"...)
	if flexible {
		b = append(b, 0)
	}
	b = append(b, body...)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

func readResponse(t *testing.T, c net.Conn) []byte {
	t.Helper()
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		t.Fatalf("read response: %v", err)
	}
	buf := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	return buf
}

// expectClosed checks that the server closed the connection.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	var b [1]byte
	if _, err := c.Read(b[:]); err == nil {
		t.Fatal("connection still open")
	}
}

func TestApiVersionsUnsupported(t *testing.T) {
	ts := startServer(t, defaultConfig())
	c := dial(t, ts.addr)
	// ApiVersions v99: a v0 response with UNSUPPORTED_VERSION and ranges.
	c.Write(rawRequest(18, 99, 7, nil, false))
	resp := readResponse(t, c)
	if corr := int32(binary.BigEndian.Uint32(resp)); corr != 7 {
		t.Fatalf("correlation id %d", corr)
	}
	var av kmsg.ApiVersionsResponse
	av.SetVersion(0)
	if err := av.ReadFrom(resp[4:]); err != nil {
		t.Fatal(err)
	}
	if av.ErrorCode != kerr.UnsupportedVersion.Code || len(av.ApiKeys) != len(apiVersions) {
		t.Fatalf("error %d, %d keys", av.ErrorCode, len(av.ApiKeys))
	}
	// The connection stays usable: a supported ApiVersions works.
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(3)
	req.ClientSoftwareName, req.ClientSoftwareVersion = "test", "1"
	c.Write(rawRequest(18, 3, 8, req.AppendTo(nil), true))
	resp = readResponse(t, c)
	av = kmsg.ApiVersionsResponse{}
	av.SetVersion(3)
	if err := av.ReadFrom(resp[4:]); err != nil || av.ErrorCode != 0 {
		t.Fatalf("ApiVersions v3: %v %d", err, av.ErrorCode)
	}

	// v5 checks the cluster and node the client believes it reached.
	for i, c5 := range []struct {
		cluster *string
		node    int32
		want    int16
	}{
		{nil, -1, 0},
		{kmsg.StringPtr(clusterID), nodeID, 0},
		{kmsg.StringPtr("elsewhere"), nodeID, kerr.RebootstrapRequired.Code},
		{kmsg.StringPtr(clusterID), 3, kerr.RebootstrapRequired.Code},
		{kmsg.StringPtr(clusterID), -1, kerr.InvalidRequest.Code},
	} {
		req := kmsg.NewPtrApiVersionsRequest()
		req.SetVersion(5)
		req.ClientSoftwareName, req.ClientSoftwareVersion = "test", "1"
		req.ClusterID, req.NodeID = c5.cluster, c5.node
		c.Write(rawRequest(18, 5, int32(10+i), req.AppendTo(nil), true))
		resp = readResponse(t, c)
		av = kmsg.ApiVersionsResponse{}
		av.SetVersion(5)
		if err := av.ReadFrom(resp[4:]); err != nil || av.ErrorCode != c5.want {
			t.Errorf("ApiVersions v5 with %v/%d: %v %v, want %v", c5.cluster, c5.node, err,
				kerr.ErrorForCode(av.ErrorCode), kerr.ErrorForCode(c5.want))
		}
	}
}

func TestRefusedRequestsClose(t *testing.T) {
	ts := startServer(t, defaultConfig())
	cases := []struct {
		name  string
		frame []byte
	}{
		{"unknown key", rawRequest(999, 0, 1, nil, false)},
		{"unsupported version", rawRequest(3, 99, 1, nil, false)},
		{"unserved key", rawRequest(4, 0, 1, nil, false)}, // LeaderAndIsr
		{"before authentication", rawRequest(3, 1, 1, []byte{0, 0, 0, 0}, false)},
		{"malformed body", rawRequest(17, 1, 1, []byte{0, 200, 'x'}, false)},
		{"short header", []byte{0, 0, 0, 3, 1, 2, 3}},
		{"huge frame", []byte{0x7f, 0xff, 0xff, 0xff}},
		{"1 MiB frame before authentication", []byte{0, 0x10, 0, 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, ts.addr)
			c.Write(tc.frame)
			expectClosed(t, c)
		})
	}
	// The server still serves others.
	cl := ts.client(t, tenantA, passA)
	if err := cl.Ping(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

func TestAnonymousTenant(t *testing.T) {
	cfg := defaultConfig()
	cfg.AnonymousTenant = tenantB
	ts := startServer(t, cfg)
	ctx := testCtx(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(ts.addr), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "anon", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// A large request may be a fresh connection's first: no SASL frame cap.
	big, err := kgo.NewClient(kgo.SeedBrokers(ts.addr), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(big.Close)
	if err := big.ProduceSync(ctx, &kgo.Record{Topic: "anon", Value: make([]byte, 900<<10)}).FirstErr(); err != nil {
		t.Fatalf("large first produce: %v", err)
	}
	if ts.srv.brokers[tenantB].topic("anon") == nil {
		t.Fatal("anonymous produce did not land in the anonymous tenant")
	}
}

func TestIdempotentProducer(t *testing.T) {
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	cl := ts.client(t, tenantA, passA, kgo.AllowAutoTopicCreation())
	// franz-go produces idempotently by default.
	for i := range 20 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "idem", Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	// Raw batches: a duplicate gets the original offset, a gap
	// OUT_OF_ORDER_SEQUENCE_NUMBER, an old epoch INVALID_PRODUCER_EPOCH.
	md, err := kadm.NewClient(cl).Metadata(ctx, "idem")
	if err != nil {
		t.Fatal(err)
	}
	topicID := md.Topics["idem"].ID
	init := kmsg.NewPtrInitProducerIDRequest()
	ir, err := init.RequestWith(ctx, cl)
	if err != nil || ir.ErrorCode != 0 {
		t.Fatalf("InitProducerId: %v %v", err, ir)
	}
	produce := func(epoch int16, seq int32) (int64, int16) {
		rb := kmsg.RecordBatch{Magic: 2, ProducerID: ir.ProducerID, ProducerEpoch: epoch, FirstSequence: seq,
			NumRecords: 1, FirstTimestamp: time.Now().UnixMilli(), MaxTimestamp: time.Now().UnixMilli()}
		rb.Records = encodeRecord(kmsg.Record{Value: []byte("v")})
		raw := rb.AppendTo(nil)
		binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
		binary.BigEndian.PutUint32(raw[17:], crc32cOf(raw[21:]))
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = -1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic, rt.TopicID = "idem", topicID
		rt.Partitions = []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: raw}}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		p := resp.Topics[0].Partitions[0]
		return p.BaseOffset, p.ErrorCode
	}
	off0, code := produce(0, 0)
	if code != 0 {
		t.Fatalf("first batch: %v", kerr.ErrorForCode(code))
	}
	if off, code := produce(0, 0); code != 0 || off != off0 {
		t.Fatalf("duplicate: offset %d code %d, want %d", off, code, off0)
	}
	if _, code := produce(0, 5); code != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("gap: %v", kerr.ErrorForCode(code))
	}
	if off, code := produce(0, 1); code != 0 || off != off0+1 {
		t.Fatalf("next: offset %d code %v", off, kerr.ErrorForCode(code))
	}
	if _, code := produce(1, 0); code != 0 {
		t.Fatalf("new epoch: %v", kerr.ErrorForCode(code))
	}
	if _, code := produce(0, 2); code != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("old epoch: %v", kerr.ErrorForCode(code))
	}

	// DescribeProducers shows the producer.
	dp := kmsg.NewPtrDescribeProducersRequest()
	dt := kmsg.NewDescribeProducersRequestTopic()
	dt.Topic, dt.Partitions = "idem", []int32{0}
	dp.Topics = append(dp.Topics, dt)
	dr, err := dp.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ap := range dr.Topics[0].Partitions[0].ActiveProducers {
		if ap.ProducerID == ir.ProducerID && ap.ProducerEpoch == 1 && ap.LastSequence == 0 {
			found = true
		}
	}
	if !found {
		t.Fatalf("producer not described: %+v", dr.Topics[0].Partitions[0].ActiveProducers)
	}

	// A transactional InitProducerId needs a transaction timeout.
	txn := "tx"
	init.TransactionalID = &txn
	if ir, err := init.RequestWith(ctx, cl); err != nil || ir.ErrorCode != kerr.InvalidTransactionTimeout.Code {
		t.Fatalf("transactional InitProducerId without a timeout: %v %v", err, ir)
	}
}

// TestProducerExpiry checks that idle idempotent producers are forgotten
// after producerExpiry, as Kafka expires producer ids, while active ones
// stay.
func TestProducerExpiry(t *testing.T) {
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	adm := ts.admin(t, tenantA, passA)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "exp"); err != nil {
		t.Fatal(err)
	}
	produce := func() int64 {
		t.Helper()
		cl := ts.client(t, tenantA, passA, kgo.DefaultProduceTopic("exp"))
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		id, _, _ := cl.ProducerID(ctx)
		cl.Close()
		return id
	}
	producers := func() []int64 {
		t.Helper()
		dp := kmsg.NewPtrDescribeProducersRequest()
		dt := kmsg.NewDescribeProducersRequestTopic()
		dt.Topic, dt.Partitions = "exp", []int32{0}
		dp.Topics = append(dp.Topics, dt)
		dr, err := dp.RequestWith(ctx, ts.client(t, tenantA, passA))
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, ap := range dr.Topics[0].Partitions[0].ActiveProducers {
			ids = append(ids, ap.ProducerID)
		}
		return ids
	}

	old := produce()
	if ids := producers(); len(ids) != 1 || ids[0] != old {
		t.Fatalf("producers after one client: %v", ids)
	}
	saved := producerExpiry
	producerExpiry = time.Millisecond
	t.Cleanup(func() { producerExpiry = saved })
	time.Sleep(10 * time.Millisecond)
	p := ts.srv.brokers[tenantA].topic("exp").parts[0]
	p.nextPrune = 0 // written only by appends, none of which is running
	recent := produce()
	if ids := producers(); len(ids) != 1 || ids[0] != recent {
		t.Fatalf("producers after expiry: %v, want only %d (not %d)", ids, recent, old)
	}
}
