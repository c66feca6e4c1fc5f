package kafkawire

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"

	"rewire/internal/testserver"
	"rewire/internal/testtool"
)

// TestRealProcess drives the rewire binary (through internal/testserver)
// with kcat, sarama, kafka-python and franz-go: each writes, another
// reads, and two tenants stay apart.
func TestRealProcess(t *testing.T) {
	if testing.Short() && os.Getenv("REWIRE_E2E_REQUIRED") == "" {
		t.Skip("builds and runs the rewire binary")
	}
	testtool.Need(t, "kcat")
	py := pythonKafka(t)
	srv := testserver.Start(t, testserver.Options{})
	srv.CreateTenant(t, tenantA, passA)
	srv.CreateTenant(t, tenantB, passB)
	ts := &testServer{addr: srv.Addrs.Kafka}
	ctx := testCtx(t)

	adm := ts.admin(t, tenantA, passA)
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "proc"); err != nil {
		t.Fatal(err)
	}
	// kcat (SCRAM-SHA-512, zstd) writes.
	var in strings.Builder
	for i := range 30 {
		fmt.Fprintf(&in, "kcat-%d\n", i)
	}
	runKcat(t, in.String(), append(kcatArgs(ts.addr, "SCRAM-SHA-512", tenantA, passA), "-P", "-t", "proc", "-z", "zstd")...)
	// sarama (PLAIN, lz4) writes.
	cfg := saramaConfig(tenantA, passA, sarama.SASLHandshakeV1)
	cfg.Producer.Compression = sarama.CompressionLZ4
	sp, err := sarama.NewSyncProducer([]string{ts.addr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		if _, _, err := sp.SendMessage(&sarama.ProducerMessage{Topic: "proc", Value: sarama.StringEncoder(fmt.Sprintf("sarama-%d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	sp.Close()
	// franz-go (gzip) writes.
	fp := ts.client(t, tenantA, passA, kgo.ProducerBatchCompression(kgo.GzipCompression()), kgo.DefaultProduceTopic("proc"))
	for i := range 30 {
		if err := fp.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "franz-%d", i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// kafka-python reads everything in a group; kcat reads too.
	out, err := runPython(t, py, ts.addr, tenantA, passA, "SCRAM-SHA-256", "consume", "proc", "90")
	if err != nil || !strings.Contains(out, "consumed 90") {
		t.Fatalf("kafka-python: %v\n%s", err, out)
	}
	kc := runKcat(t, "", append(kcatArgs(ts.addr, "PLAIN", tenantA, passA), "-C", "-t", "proc", "-o", "beginning", "-e", "-f", "%s\n")...)
	for _, prefix := range []string{"kcat-29", "sarama-29", "franz-29"} {
		if !strings.Contains(kc, prefix+"\n") {
			t.Fatalf("kcat did not read %s", prefix)
		}
	}
	// Tenant beta sees none of it.
	out, err = runPython(t, py, ts.addr, tenantB, passB, "PLAIN", "auth", "-")
	if err != nil || strings.Contains(out, "proc") {
		t.Fatalf("beta: %v\n%s", err, out)
	}
}
