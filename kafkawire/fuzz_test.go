package kafkawire

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kmsg"

	"rewire/storage"
)

// seedFrames returns well-formed request frames (without the size prefix)
// for the fuzz corpus.
func seedFrames() [][]byte {
	batch := func() []byte {
		rb := kmsg.RecordBatch{Magic: 2, ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: 1}
		rb.Records = encodeRecord(kmsg.Record{Key: []byte("k"), Value: []byte("v")})
		raw := rb.AppendTo(nil)
		binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
		binary.BigEndian.PutUint32(raw[17:], crc32cOf(raw[21:]))
		return raw
	}
	var reqs []kmsg.Request
	md := kmsg.NewPtrMetadataRequest()
	name := "fz"
	md.Topics = []kmsg.MetadataRequestTopic{{Topic: &name}}
	md.AllowAutoTopicCreation = true
	reqs = append(reqs, md)
	pr := kmsg.NewPtrProduceRequest()
	pr.Acks = -1
	pr.Topics = []kmsg.ProduceRequestTopic{{Topic: "fz", Partitions: []kmsg.ProduceRequestTopicPartition{{Records: batch()}}}}
	reqs = append(reqs, pr)
	fr := kmsg.NewPtrFetchRequest()
	fr.MaxBytes, fr.SessionEpoch = 1<<20, -1
	fr.Topics = []kmsg.FetchRequestTopic{{Topic: "fz", Partitions: []kmsg.FetchRequestTopicPartition{{PartitionMaxBytes: 1 << 20}}}}
	reqs = append(reqs, fr)
	lo := kmsg.NewPtrListOffsetsRequest()
	lo.Topics = []kmsg.ListOffsetsRequestTopic{{Topic: "fz", Partitions: []kmsg.ListOffsetsRequestTopicPartition{{Timestamp: 0}}}}
	reqs = append(reqs, lo)
	ct := kmsg.NewPtrCreateTopicsRequest()
	ct.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "fz2", NumPartitions: 2, ReplicationFactor: 1}}
	reqs = append(reqs, ct)
	oc := kmsg.NewPtrOffsetCommitRequest()
	oc.Group, oc.Generation = "g", -1
	oc.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "fz", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Offset: 1}}}}
	reqs = append(reqs, oc)
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "g"}}
	reqs = append(reqs, of)
	jg := kmsg.NewPtrJoinGroupRequest()
	jg.Group, jg.SessionTimeoutMillis, jg.RebalanceTimeoutMillis, jg.ProtocolType = "g", 1000, 10, "consumer"
	jg.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
	reqs = append(reqs, jg)
	ia := kmsg.NewPtrIncrementalAlterConfigsRequest()
	v := "1000"
	ia.Resources = []kmsg.IncrementalAlterConfigsRequestResource{{ResourceType: 2, ResourceName: "fz",
		Configs: []kmsg.IncrementalAlterConfigsRequestResourceConfig{{Name: "retention.ms", Value: &v}}}}
	reqs = append(reqs, ia)
	dc := kmsg.NewPtrDescribeConfigsRequest()
	dc.Resources = []kmsg.DescribeConfigsRequestResource{{ResourceType: 2, ResourceName: "fz"}}
	reqs = append(reqs, dc)
	tid := "t"
	ip := kmsg.NewPtrInitProducerIDRequest()
	ip.TransactionalID, ip.TransactionTimeoutMillis = &tid, 1000
	reqs = append(reqs, ip)
	ap := kmsg.NewPtrAddPartitionsToTxnRequest()
	ap.TransactionalID = tid
	ap.Topics = []kmsg.AddPartitionsToTxnRequestTopic{{Topic: "fz", Partitions: []int32{0}}}
	reqs = append(reqs, ap)
	et := kmsg.NewPtrEndTxnRequest()
	et.TransactionalID, et.Commit = tid, true
	reqs = append(reqs, et)
	reqs = append(reqs, kmsg.NewPtrApiVersionsRequest(), kmsg.NewPtrListGroupsRequest(), kmsg.NewPtrDescribeClusterRequest(),
		kmsg.NewPtrInitProducerIDRequest())

	// Every other served key, with default fields, so that each handler's
	// input path has a seed.
	seeded := map[int16]bool{}
	for _, r := range reqs {
		seeded[r.Key()] = true
	}
	for _, k := range apiVersions {
		if !seeded[k.ApiKey] {
			reqs = append(reqs, kmsg.RequestForKey(k.ApiKey))
		}
	}

	var out [][]byte
	for _, r := range reqs {
		_, hi, _ := supportedVersions(r.Key())
		for _, ver := range []int16{hi, hi / 2} {
			r.SetVersion(ver)
			f := rawRequest(r.Key(), ver, 1, r.AppendTo(nil), r.IsFlexible())
			out = append(out, f[4:])
		}
	}
	return out
}

// FuzzRequest feeds arbitrary frames through the request decoder and every
// handler of an authenticated connection: nothing may panic.
func FuzzRequest(f *testing.F) {
	for _, s := range seedFrames() {
		f.Add(s)
	}
	ctx := context.Background()
	st := fuzzStore(f)
	srv := NewServer(st, Config{AutoCreateTopics: true, DefaultPartitions: 2}, slog.New(slog.DiscardHandler))
	f.Cleanup(func() { srv.Shutdown(ctx) })
	// Hold the tenant open across inputs.
	keep, err := srv.acquireBroker(ctx, tenantA)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.releaseBroker(keep) })

	f.Fuzz(func(t *testing.T, frame []byte) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		go io.Copy(io.Discard, b)
		c := newConn(srv, a, "127.0.0.1", 9092)
		c.bw = bufio.NewWriter(io.Discard)
		if err := c.bind(tenantA); err != nil {
			t.Fatal(err)
		}
		defer srv.releaseBroker(c.b)
		// Long polls and group joins end quickly.
		c.ctx, c.cancel = context.WithTimeout(ctx, 50*time.Millisecond)
		defer c.cancel()
		if s, _ := c.handleFrame(frame); s != nil && s.wait != nil {
			s.wait()
		}
	})
}

// FuzzBatches feeds arbitrary record sets through batch validation, the
// per-record checks of Produce and record decoding.
func FuzzBatches(f *testing.F) {
	for _, s := range seedFrames() {
		f.Add(s)
	}
	f.Add(rawBatch(3))
	f.Add(append(rawBatch(1), rawBatch(2)...))
	f.Fuzz(func(t *testing.T, records []byte) {
		batches, _, err := splitBatches(records)
		if err != nil {
			return
		}
		for _, b := range batches {
			checkRecords(b)
			recordTimestamps(b.data, func(off, ts int64) bool { return true })
			// What a compacted topic does with a produced batch: its
			// keys read, then every other record dropped.
			eachRecord(b.data, func(kafkaRecord) {})
			n := 0
			out, err := batchCompactor{}.Rewrite(b.data, func([]byte, int64) bool { n++; return n%2 == 0 }, storage.LogConfig{})
			if err == nil {
				err := eachBatch(out, func(nb []byte) error {
					if binary.BigEndian.Uint32(nb[17:]) != crc32cOf(nb[21:]) {
						t.Fatal("compacted batch with a wrong CRC")
					}
					return eachRecord(nb, func(kafkaRecord) {})
				})
				if err != nil {
					t.Fatalf("compacted batch does not read back: %v", err)
				}
			}
		}
	})
}

// saslSeeds returns frame streams (each frame size-prefixed) that start
// authentication: handshakes of both versions and each mechanism, followed
// by a first token.
func saslSeeds() [][]byte {
	var out [][]byte
	frame := func(r kmsg.Request, ver int16) []byte {
		r.SetVersion(ver)
		return rawRequest(r.Key(), ver, 1, r.AppendTo(nil), r.IsFlexible())
	}
	size := func(b []byte) []byte {
		return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
	}
	tokens := map[string][]byte{
		"PLAIN":         []byte("\x00" + tenantA + "\x00" + passA),
		"SCRAM-SHA-256": []byte("n,,n=" + tenantA + ",r=abcdefgh"),
		"SCRAM-SHA-512": []byte("n,,n=" + tenantA + ",r=abcdefgh"),
	}
	for _, mech := range saslMechanisms {
		hs := kmsg.NewPtrSASLHandshakeRequest()
		hs.Mechanism = mech
		// v0: bare tokens follow.
		out = append(out, append(frame(hs, 0), size(tokens[mech])...))
		// v1: SaslAuthenticate requests follow.
		au := kmsg.NewPtrSASLAuthenticateRequest()
		au.SASLAuthBytes = tokens[mech]
		out = append(out, append(frame(hs, 1), frame(au, 2)...))
	}
	return out
}

// FuzzUnauthenticated feeds a stream of frames to a connection that has not
// authenticated: the handshake, bare SASL tokens and SaslAuthenticate
// requests, as the request loop reads them. Nothing may panic, and a
// connection that authenticated must be bound to the tenant it named.
func FuzzUnauthenticated(f *testing.F) {
	for _, s := range saslSeeds() {
		f.Add(s)
	}
	ctx := context.Background()
	st := fuzzStore(f)
	srv := NewServer(st, Config{}, slog.New(slog.DiscardHandler))
	f.Cleanup(func() { srv.Shutdown(ctx) })

	f.Fuzz(func(t *testing.T, stream []byte) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		go io.Copy(io.Discard, b)
		c := newConn(srv, a, "127.0.0.1", 9092)
		c.bw = bufio.NewWriter(io.Discard)
		defer func() {
			if c.b != nil {
				srv.releaseBroker(c.b)
			}
		}()
		for len(stream) >= 4 {
			n := int(binary.BigEndian.Uint32(stream))
			stream = stream[4:]
			if n < 0 || n > len(stream) {
				return
			}
			frame := stream[:n]
			stream = stream[n:]
			var err error
			if c.rawSASL {
				_, err = c.rawSASLStep(frame)
			} else {
				_, err = c.handleFrame(frame)
			}
			if c.b != nil && c.b.name != tenantA {
				t.Fatalf("bound to tenant %q", c.b.name)
			}
			if err != nil || c.stopping.Load() {
				return
			}
		}
	})
}

// TestDecompressBounds checks that truncated framing and decompression
// bombs are errors, not panics or unbounded allocations.
func TestDecompressBounds(t *testing.T) {
	zeros := make([]byte, maxDecompressed+1)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(zeros)
	zw.Close()
	enc, _ := zstd.NewWriter(nil)
	zs := enc.EncodeAll(zeros, nil)
	enc.Close()
	var lz bytes.Buffer
	lw := lz4.NewWriter(&lz)
	lw.Write(zeros)
	lw.Close()
	cases := []struct {
		name  string
		codec int16
		in    []byte
	}{
		{"gzip bomb", 1, gz.Bytes()},
		{"snappy bomb", 2, s2.EncodeSnappy(nil, zeros)},
		{"lz4 bomb", 3, lz.Bytes()},
		{"zstd bomb", 4, zs},
		{"short xerial header", 2, append(append([]byte(nil), xerialMagic...), 1, 2, 3)},
	}
	for _, c := range cases {
		if out, err := decompress(c.codec, c.in); err == nil {
			t.Errorf("%s: decompressed %d bytes, want an error", c.name, len(out))
		}
	}
	// Within the cap, data comes back.
	small := []byte("hello, rewire")
	if out, err := decompress(2, s2.EncodeSnappy(nil, small)); err != nil || !bytes.Equal(out, small) {
		t.Errorf("snappy round trip: %q %v", out, err)
	}
}

// fuzzStore opens a store for a fuzz target with tenantA in it.
func fuzzStore(f *testing.F) *storage.Store {
	ctx := context.Background()
	st, err := storage.Open(ctx, storage.Config{Dir: f.TempDir(), MoverInterval: -1})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	if _, err := st.CreateTenant(ctx, tenantA, passA); err != nil {
		f.Fatal(err)
	}
	return st
}
