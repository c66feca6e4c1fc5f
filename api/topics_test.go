package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// TestTopicsSeenByOpenKafkaConnections: a topic the API creates is usable
// at once by a Kafka client that was already connected (the server does
// not auto-create topics here), and one the API deletes disappears.
func TestTopicsSeenByOpenKafkaConnections(t *testing.T) {
	e := newEnv(t)
	addr := startKafka(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr),
		kgo.SASL(plain.Auth{User: "alice", Pass: "alice-pw"}.AsMechanism()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		// Metadata requests are answered by the server, not the client's cache.
		kgo.MetadataMinAge(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	// The connection is open and the tenant's topics loaded.
	if _, err := adm.ListTopics(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.alice.Streams().CreateTopic(ctx, "late", 2); err != nil {
		t.Fatal(err)
	}
	r := &kgo.Record{Topic: "late", Partition: 1, Value: []byte("through kafka")}
	if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		t.Fatalf("produce to a topic the API created: %v", err)
	}
	topics, err := adm.ListTopics(ctx)
	if err != nil || !topics.Has("late") || len(topics["late"].Partitions) != 2 {
		t.Fatalf("list after create: %v %v", topics, err)
	}
	if err := e.alice.Streams().DeleteTopic(ctx, "late"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	topics, err = adm.ListTopics(ctx)
	if err != nil || topics.Has("late") {
		t.Fatalf("list after delete: %v %v", topics.Names(), err)
	}
}
