package kafkawire

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestTransactions commits one transaction and aborts another with a
// franz-go transactional producer: read_committed consumers see only the
// committed records, read_uncommitted ones see everything, and an open
// transaction holds back the last stable offset.
func TestTransactions(t *testing.T) {
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	adm := ts.admin(t, tenantA, passA)
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "tx"); err != nil {
		t.Fatal(err)
	}
	prod := ts.client(t, tenantA, passA, kgo.TransactionalID("tx-producer"), kgo.DefaultProduceTopic("tx"),
		kgo.TransactionTimeout(30*time.Second))
	txn := func(tag string, commit bool) {
		if err := prod.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := range 10 {
			if err := prod.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "%s-%d", tag, i)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := prod.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatalf("end %s: %v", tag, err)
		}
	}
	txn("committed", true)
	txn("aborted", false)
	txn("committed2", true)

	read := func(level kgo.IsolationLevel, want int) map[string]int {
		cons := ts.client(t, tenantA, passA, kgo.ConsumeTopics("tx"), kgo.FetchIsolationLevel(level),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		seen := map[string]int{}
		n := 0
		for n < want {
			fs := cons.PollFetches(ctx)
			if err := fs.Err0(); err != nil {
				t.Fatal(err)
			}
			fs.EachRecord(func(r *kgo.Record) {
				var tag string
				var i int
				fmt.Sscanf(string(r.Value), "%s", &tag)
				_ = i
				seen[tag[:len(tag)-2]]++
				n++
			})
		}
		return seen
	}
	committed := read(kgo.ReadCommitted(), 20)
	if committed["committed"] != 10 || committed["committed2"] != 10 || committed["aborted"] != 0 {
		t.Fatalf("read_committed saw %v", committed)
	}
	all := read(kgo.ReadUncommitted(), 30)
	if all["aborted"] != 10 {
		t.Fatalf("read_uncommitted saw %v", all)
	}

	// An open transaction holds the last stable offset back.
	if err := prod.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte("open-0"), Partition: 0}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	md, _ := adm.ListEndOffsets(ctx, "tx")
	cmd, err := kadm.NewClient(ts.client(t, tenantA, passA, kgo.FetchIsolationLevel(kgo.ReadCommitted()))).ListCommittedOffsets(ctx, "tx")
	if err != nil {
		t.Fatal(err)
	}
	var hw, lso int64
	md.Each(func(o kadm.ListedOffset) { hw += o.Offset })
	cmd.Each(func(o kadm.ListedOffset) { lso += o.Offset })
	if lso >= hw {
		t.Fatalf("open transaction: stable offsets %d, high watermarks %d", lso, hw)
	}
	if err := prod.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}

	// A second producer with the same transactional id fences the first.
	prod2 := ts.client(t, tenantA, passA, kgo.TransactionalID("tx-producer"), kgo.DefaultProduceTopic("tx"))
	if err := prod2.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := prod2.ProduceSync(ctx, &kgo.Record{Value: []byte("new-0")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := prod2.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	prod.BeginTransaction()
	err = prod.ProduceSync(ctx, &kgo.Record{Value: []byte("zombie")}).FirstErr()
	if err == nil {
		err = prod.EndTransaction(ctx, kgo.TryCommit)
	}
	if !errors.Is(err, kerr.ProducerFenced) && !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("fenced producer: %v", err)
	}
}

// TestTxnOffsetCommit commits group offsets inside a transaction with raw
// requests: they are visible only after EndTxn commits.
func TestTxnOffsetCommit(t *testing.T) {
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	cl := ts.client(t, tenantA, passA)
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "txo"); err != nil {
		t.Fatal(err)
	}
	id := "raw-txn"
	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionalID, init.TransactionTimeoutMillis = &id, 60000
	ir, err := init.RequestWith(ctx, cl)
	if err != nil || ir.ErrorCode != 0 {
		t.Fatalf("init: %v %v", err, ir)
	}
	ao := kmsg.NewPtrAddOffsetsToTxnRequest()
	ao.TransactionalID, ao.ProducerID, ao.ProducerEpoch, ao.Group = id, ir.ProducerID, ir.ProducerEpoch, "tg"
	if r, err := ao.RequestWith(ctx, cl); err != nil || r.ErrorCode != 0 {
		t.Fatalf("AddOffsetsToTxn: %v %v", err, r)
	}
	tc := kmsg.NewPtrTxnOffsetCommitRequest()
	tc.TransactionalID, tc.Group, tc.ProducerID, tc.ProducerEpoch, tc.Generation = id, "tg", ir.ProducerID, ir.ProducerEpoch, -1
	tt := kmsg.NewTxnOffsetCommitRequestTopic()
	tt.Topic = "txo"
	tt.Partitions = []kmsg.TxnOffsetCommitRequestTopicPartition{{Partition: 0, Offset: 42, LeaderEpoch: -1}}
	tc.Topics = append(tc.Topics, tt)
	if r, err := tc.RequestWith(ctx, cl); err != nil || r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("TxnOffsetCommit: %v %+v", err, r)
	}
	offs, _ := adm.FetchOffsets(ctx, "tg")
	if o, ok := offs.Lookup("txo", 0); ok && o.At == 42 {
		t.Fatal("transactional offset visible before commit")
	}
	end := kmsg.NewPtrEndTxnRequest()
	end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = id, ir.ProducerID, ir.ProducerEpoch, true
	if r, err := end.RequestWith(ctx, cl); err != nil || r.ErrorCode != 0 {
		t.Fatalf("EndTxn: %v %v", err, r)
	}
	offs, _ = adm.FetchOffsets(ctx, "tg")
	if o, _ := offs.Lookup("txo", 0); o.At != 42 {
		t.Fatalf("committed transactional offset = %d", o.At)
	}
	// A stale epoch is fenced.
	end.ProducerEpoch--
	if r, _ := end.RequestWith(ctx, cl); r.ErrorCode == 0 {
		t.Fatal("EndTxn with a stale epoch succeeded")
	}
	_ = context.Background
}
