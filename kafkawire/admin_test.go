package kafkawire

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

func TestTopicAdmin(t *testing.T) {
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	adm := ts.admin(t, tenantA, passA)

	retention := "3600000"
	res, err := adm.CreateTopic(ctx, 2, -1, map[string]*string{"retention.ms": &retention}, "t1")
	if err != nil || res.Err != nil {
		t.Fatalf("create: %v %v", err, res.Err)
	}
	if res, _ := adm.CreateTopic(ctx, 2, -1, nil, "t1"); !errors.Is(res.Err, kerr.TopicAlreadyExists) {
		t.Fatalf("create twice: %v", res.Err)
	}
	if res, _ := adm.CreateTopic(ctx, 2, -1, nil, "bad name!"); !errors.Is(res.Err, kerr.InvalidTopicException) {
		t.Fatalf("bad name: %v", res.Err)
	}
	if res, _ := adm.CreateTopic(ctx, 2, 3, nil, "t3"); !errors.Is(res.Err, kerr.InvalidReplicationFactor) {
		t.Fatalf("replication 3: %v", res.Err)
	}
	bogus := "x"
	if res, _ := adm.CreateTopic(ctx, 1, 1, map[string]*string{"no.such.config": &bogus}, "t4"); !errors.Is(res.Err, kerr.InvalidConfig) {
		t.Fatalf("bad config: %v", res.Err)
	}

	md, err := adm.Metadata(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(md.Topics["t1"].Partitions); n != 2 {
		t.Fatalf("t1 has %d partitions", n)
	}

	// Configs: describe, incremental alter, alter.
	rcs, err := adm.DescribeTopicConfigs(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := rcs.On("t1", nil)
	if v := configOf(rc, "retention.ms"); v != "3600000" {
		t.Fatalf("retention.ms = %q", v)
	}
	maxBytes := "2000"
	if _, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "max.message.bytes", Value: &maxBytes}}, "t1"); err != nil {
		t.Fatal(err)
	}
	rcs, _ = adm.DescribeTopicConfigs(ctx, "t1")
	rc, _ = rcs.On("t1", nil)
	if v := configOf(rc, "max.message.bytes"); v != "2000" {
		t.Fatalf("max.message.bytes = %q", v)
	}
	// max.message.bytes is enforced.
	cl := ts.client(t, tenantA, passA, kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordRetries(1))
	err = cl.ProduceSync(ctx, &kgo.Record{Topic: "t1", Value: make([]byte, 5000)}).FirstErr()
	if !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("oversized produce: %v", err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t1", Value: make([]byte, 100)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// The limit reached the core log config.
	b := ts.srv.brokers[tenantA]
	if got := b.topic("t1").parts[0].log.Config().Extra["max.message.bytes"]; got != "2000" {
		t.Fatalf("log config extra = %q", got)
	}
	if got := b.topic("t1").parts[0].log.Config().RetentionMs; got != 3600000 {
		t.Fatalf("log retention = %d", got)
	}

	// CreatePartitions.
	if _, err := adm.CreatePartitions(ctx, 2, "t1"); err != nil {
		t.Fatal(err)
	}
	md, _ = adm.Metadata(ctx, "t1")
	if n := len(md.Topics["t1"].Partitions); n != 4 {
		t.Fatalf("after growth t1 has %d partitions", n)
	}
	if res, _ := adm.UpdatePartitions(ctx, 3, "t1"); res["t1"].Err == nil {
		t.Fatal("shrinking partitions succeeded")
	}

	// DeleteRecords.
	mp := ts.client(t, tenantA, passA, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for range 5 {
		if err := mp.ProduceSync(ctx, &kgo.Record{Topic: "t1", Partition: 0, Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	dres, err := adm.DeleteRecords(ctx, kadm.Offsets{"t1": {0: {Topic: "t1", Partition: 0, At: 3}}})
	if err != nil || dres.Error() != nil {
		t.Fatal(err, dres.Error())
	}
	starts, _ := adm.ListStartOffsets(ctx, "t1")
	if o, _ := starts.Lookup("t1", 0); o.Offset != 3 {
		t.Fatalf("start offset after DeleteRecords = %d", o.Offset)
	}

	// DescribeCluster and DescribeProducers.
	bm, err := adm.BrokerMetadata(ctx)
	if err != nil || len(bm.Brokers) != 1 {
		t.Fatalf("broker metadata: %v %v", bm, err)
	}

	// DeleteTopics.
	if _, err := adm.DeleteTopics(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	dr, _ := adm.DeleteTopics(ctx, "t1")
	if !errors.Is(dr["t1"].Err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("deleting twice: %v", dr["t1"].Err)
	}
	logs, _ := b.t.Logs().List(ctx, "kafka/t1/")
	if len(logs) != 0 {
		t.Fatalf("logs left after delete: %v", logs)
	}
}

func configOf(rc kadm.ResourceConfig, name string) string {
	for _, c := range rc.Configs {
		if c.Key == name && c.Value != nil {
			return *c.Value
		}
	}
	return ""
}

func TestTenantIsolation(t *testing.T) {
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	a := ts.admin(t, tenantA, passA)
	if _, err := a.CreateTopic(ctx, 1, 1, nil, "private"); err != nil {
		t.Fatal(err)
	}
	pa := ts.client(t, tenantA, passA)
	if err := pa.ProduceSync(ctx, &kgo.Record{Topic: "private", Value: []byte("secret")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CommitOffsets(ctx, "g", kadm.Offsets{"private": {0: {Topic: "private", Partition: 0, At: 1, LeaderEpoch: -1}}}); err != nil {
		t.Fatal(err)
	}

	b := ts.admin(t, tenantB, passB)
	topics, err := b.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if topics.Has("private") {
		t.Fatal("tenant beta sees alpha's topic")
	}
	// A direct fetch of alpha's topic by beta finds nothing, by name
	// (Fetch v12) or by alpha's topic id (v13+).
	md, err := a.Metadata(ctx, "private")
	if err != nil {
		t.Fatal(err)
	}
	for _, version := range []int16{12, 16} {
		// Kafka 3.0's versions stop at Fetch v12 (by name).
		bc := ts.client(t, tenantB, passB)
		if version == 12 {
			bc = ts.client(t, tenantB, passB, kgo.MaxVersions(kversion.V3_0_0()))
		}
		req := kmsg.NewPtrFetchRequest()
		req.SetVersion(version)
		req.MaxWaitMillis, req.MaxBytes, req.SessionEpoch = 0, 1<<20, -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = "private", md.Topics["private"].ID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.PartitionMaxBytes = 1 << 20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, bc)
		if err != nil {
			t.Fatal(err)
		}
		want := kerr.UnknownTopicOrPartition.Code
		if version >= 13 {
			want = kerr.UnknownTopicID.Code
		}
		if p := resp.Topics[0].Partitions[0]; p.ErrorCode != want || len(p.RecordBatches) != 0 {
			t.Fatalf("beta fetched alpha's partition (v%d): code %d, %d bytes", version, p.ErrorCode, len(p.RecordBatches))
		}
		// Alpha itself reads its partition by id.
		if version >= 13 {
			resp, err := req.RequestWith(ctx, pa)
			if err != nil || len(resp.Topics[0].Partitions[0].RecordBatches) == 0 {
				t.Fatalf("alpha fetch by topic id: %v %+v", err, resp)
			}
		}
	}
	groups, err := b.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 0 {
		t.Fatalf("beta sees groups %v", groups.Groups())
	}
	offs, err := b.FetchOffsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if len(offs) != 0 {
		t.Fatalf("beta sees alpha's offsets: %v", offs)
	}
}

func TestListOffsetsByTime(t *testing.T) {
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	cl := ts.client(t, tenantA, passA, kgo.ProducerBatchCompression(kgo.ZstdCompression()), kgo.AllowAutoTopicCreation())
	base := time.UnixMilli(1_700_000_000_000)
	// One batch with several timestamps, then single batches.
	var recs []*kgo.Record
	for i := range 10 {
		recs = append(recs, &kgo.Record{Topic: "times", Value: []byte{byte(i)}, Timestamp: base.Add(time.Duration(i) * time.Second)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	got, err := adm.ListOffsetsAfterMilli(ctx, base.Add(4500*time.Millisecond).UnixMilli(), "times")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := got.Lookup("times", 0); o.Offset != 5 {
		t.Fatalf("offset after 4.5s = %d, want 5", o.Offset)
	}
	got, _ = adm.ListOffsetsAfterMilli(ctx, base.Add(time.Hour).UnixMilli(), "times")
	if o, _ := got.Lookup("times", 0); o.Offset != 10 {
		t.Fatalf("offset after the end = %d, want 10 (the end)", o.Offset)
	}
	// Max timestamp (ListOffsets v7).
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = "times"
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = -3
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if p := resp.Topics[0].Partitions[0]; p.Offset != 9 || p.Timestamp != base.Add(9*time.Second).UnixMilli() {
		t.Fatalf("max timestamp: offset %d ts %d", p.Offset, p.Timestamp)
	}

	// Consuming from an offset inside a batch starts at that record.
	cons := ts.client(t, tenantA, passA, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		"times": {0: kgo.NewOffset().At(7)}}))
	fs := cons.PollFetches(ctx)
	first := fs.Records()[0]
	if first.Offset != 7 || first.Value[0] != 7 {
		t.Fatalf("first record from offset 7: offset %d value %v", first.Offset, first.Value)
	}
}

func TestLongPollFetch(t *testing.T) {
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	cons := ts.client(t, tenantA, passA, kgo.ConsumeTopics("lp"), kgo.FetchMaxWait(10*time.Second),
		kgo.AllowAutoTopicCreation())
	prod := ts.client(t, tenantA, passA)
	go func() {
		time.Sleep(200 * time.Millisecond)
		prod.ProduceSync(context.Background(), &kgo.Record{Topic: "lp", Value: []byte("wake")})
	}()
	for {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal("no record arrived")
		}
		if len(fs.Records()) > 0 {
			if string(fs.Records()[0].Value) != "wake" {
				t.Fatalf("got %q", fs.Records()[0].Value)
			}
			return
		}
	}
}

func TestLogAppendTime(t *testing.T) {
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	adm := ts.admin(t, tenantA, passA)
	typ := "LogAppendTime"
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"message.timestamp.type": &typ}, "lat"); err != nil {
		t.Fatal(err)
	}
	old := time.UnixMilli(1_000_000_000_000)
	before := time.Now()
	cl := ts.client(t, tenantA, passA)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "lat", Value: []byte("x"), Timestamp: old}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cons := ts.client(t, tenantA, passA, kgo.ConsumeTopics("lat"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	fs := cons.PollFetches(ctx)
	if err := fs.Err0(); err != nil {
		t.Fatal(err)
	}
	r := fs.Records()[0]
	if r.Attrs.TimestampType() != 1 || r.Timestamp.Before(before.Add(-time.Second)) {
		t.Fatalf("record timestamp %v type %d, want the append time", r.Timestamp, r.Attrs.TimestampType())
	}
}

// TestMoreAdmin covers OffsetDelete, AlterConfigs (whole-set replace),
// OffsetForLeaderEpoch and DescribeCluster.
func TestMoreAdmin(t *testing.T) {
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	cl := ts.client(t, tenantA, passA)
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "ma"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "ma", Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	// OffsetDelete on a group without members.
	if _, err := adm.CommitOffsets(ctx, "og", kadm.Offsets{"ma": {
		0: {Topic: "ma", Partition: 0, At: 1, LeaderEpoch: -1},
		1: {Topic: "ma", Partition: 1, At: 1, LeaderEpoch: -1}}}); err != nil {
		t.Fatal(err)
	}
	dr, err := adm.DeleteOffsets(ctx, "og", kadm.TopicsSet{"ma": {0: {}}})
	if err != nil || dr.Error() != nil {
		t.Fatalf("DeleteOffsets: %v %v", err, dr.Error())
	}
	offs, _ := adm.FetchOffsets(ctx, "og")
	if _, ok := offs.Lookup("ma", 0); ok {
		t.Fatal("deleted offset still there")
	}
	if o, ok := offs.Lookup("ma", 1); !ok || o.At != 1 {
		t.Fatalf("kept offset: %+v %v", o, ok)
	}
	dr, err = adm.DeleteOffsets(ctx, "nogroup", kadm.TopicsSet{"ma": {0: {}}})
	if !errors.Is(err, kerr.GroupIDNotFound) && !errors.Is(dr.Error(), kerr.GroupIDNotFound) {
		t.Fatalf("DeleteOffsets on an unknown group: %v %v", err, dr.Error())
	}

	// AlterConfigs replaces the whole set: a config left out returns to
	// its default.
	v1, v2 := "1000", "2000000"
	if _, err := adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: &v1},
		{Name: "retention.bytes", Value: &v2}}, "ma"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "retention.bytes", Value: &v2}}, "ma"); err != nil {
		t.Fatal(err)
	}
	rcs, _ := adm.DescribeTopicConfigs(ctx, "ma")
	rc, _ := rcs.On("ma", nil)
	if configOf(rc, "retention.ms") != topicConfigDefaults["retention.ms"] || configOf(rc, "retention.bytes") != v2 {
		t.Fatalf("after AlterConfigs: retention.ms %s retention.bytes %s", configOf(rc, "retention.ms"), configOf(rc, "retention.bytes"))
	}
	bad := "lots"
	res, err := adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: &bad}}, "ma")
	if err == nil && (len(res) == 0 || !errors.Is(res[0].Err, kerr.InvalidConfig)) {
		t.Fatalf("invalid config value accepted: %+v", res)
	}

	// OffsetForLeaderEpoch: epoch 0 ends at the high watermark.
	ends, _ := adm.ListEndOffsets(ctx, "ma")
	ol := kmsg.NewPtrOffsetForLeaderEpochRequest()
	ol.ReplicaID = -1
	ot := kmsg.NewOffsetForLeaderEpochRequestTopic()
	ot.Topic = "ma"
	ot.Partitions = []kmsg.OffsetForLeaderEpochRequestTopicPartition{{Partition: 0, CurrentLeaderEpoch: -1, LeaderEpoch: 0}}
	ol.Topics = append(ol.Topics, ot)
	olr, err := ol.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	e0, _ := ends.Lookup("ma", 0)
	if p := olr.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.EndOffset != e0.Offset || p.LeaderEpoch != 0 {
		t.Fatalf("OffsetForLeaderEpoch: %+v, high watermark %d", p, e0.Offset)
	}

	// DescribeCluster names the single broker.
	dc := kmsg.NewPtrDescribeClusterRequest()
	dcr, err := dc.RequestWith(ctx, cl)
	if err != nil || dcr.ErrorCode != 0 || len(dcr.Brokers) != 1 || dcr.ClusterID != clusterID {
		t.Fatalf("DescribeCluster: %v %+v", err, dcr)
	}
}

// TestPassiveTopicConfigs creates topics with configs that tools commonly
// set but a single broker has no use for: they are accepted and reported;
// unknown names and values of the wrong type are INVALID_CONFIG.
func TestPassiveTopicConfigs(t *testing.T) {
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	adm := ts.admin(t, tenantA, passA)
	str := func(s string) *string { return &s }
	set := map[string]*string{
		"cleanup.policy":                 str("compact,delete"),
		"min.cleanable.dirty.ratio":      str("0.1"),
		"unclean.leader.election.enable": str("false"),
		"segment.index.bytes":            str("1048576"),
		"max.compaction.lag.ms":          str("60000"),
		"message.timestamp.type":         str("LogAppendTime"),
	}
	if r, err := adm.CreateTopic(ctx, 1, -1, set, "passive"); err != nil || r.Err != nil {
		t.Fatalf("create with passive configs: %v %v", err, r.Err)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, "passive")
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := rcs.On("passive", nil)
	for k, v := range set {
		if got := configOf(rc, k); got != *v {
			t.Errorf("%s = %q, want %q", k, got, *v)
		}
	}
	if got := configOf(rc, "preallocate"); got != "false" {
		t.Errorf("default preallocate = %q", got)
	}

	for name, val := range map[string]string{"no.such.config": "1", "min.cleanable.dirty.ratio": "half",
		"preallocate": "maybe"} {
		r, err := adm.CreateTopic(ctx, 1, -1, map[string]*string{name: &val}, "bad-"+strings.ReplaceAll(name, ".", "-"))
		if err == nil {
			err = r.Err
		}
		if !errors.Is(err, kerr.InvalidConfig) {
			t.Errorf("create with %s=%s: %v, want INVALID_CONFIG", name, val, err)
		}
	}
}

// TestManyPartitions creates a topic of 300 partitions and grows it to
// 350 (the logs are created concurrently), then writes to and reads from
// partitions across the range: every partition is its own log.
func TestManyPartitions(t *testing.T) {
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	adm := ts.admin(t, tenantA, passA)
	if r, err := adm.CreateTopic(ctx, 300, 1, nil, "wide"); err != nil || r.Err != nil {
		t.Fatalf("create: %v %v", err, r.Err)
	}
	if r, err := adm.CreatePartitions(ctx, 50, "wide"); err != nil || r["wide"].Err != nil {
		t.Fatalf("grow: %v %v", err, r["wide"].Err)
	}
	cl := ts.client(t, tenantA, passA, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	picks := []int32{0, 1, 150, 299, 300, 349}
	for _, p := range picks {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "wide", Partition: p, Value: fmt.Appendf(nil, "p%d", p)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	ends, err := adm.ListEndOffsets(ctx, "wide")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ends.Each(func(o kadm.ListedOffset) {
		n++
		want := int64(0)
		if slices.Contains(picks, o.Partition) {
			want = 1
		}
		if o.Offset != want {
			t.Errorf("partition %d ends at %d, want %d", o.Partition, o.Offset, want)
		}
	})
	if n != 350 {
		t.Fatalf("%d partitions listed, want 350", n)
	}
	b := ts.srv.brokers[tenantA]
	for _, p := range picks {
		if got := b.topic("wide").parts[p].log.Name(); got != logName("wide", p) {
			t.Errorf("partition %d is backed by log %s", p, got)
		}
	}
}
