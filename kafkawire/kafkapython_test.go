package kafkawire

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// pythonKafka returns a Python interpreter that has kafka-python (Debian
// package python3-kafka), skipping the test when there is none.
func pythonKafka(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import kafka").Run() == nil {
			return py
		}
	}
	if os.Getenv("REWIRE_E2E_REQUIRED") != "" {
		t.Fatal("kafka-python (python3-kafka) is required")
	}
	t.Skip("kafka-python not installed")
	return ""
}

func runPython(t *testing.T, py string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(testCtx(t), py, append([]string{"testdata/kafka_python_client.py"}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestKafkaPython(t *testing.T) {
	py := pythonKafka(t)
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	adm := ts.admin(t, tenantA, passA)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "py"); err != nil {
		t.Fatal(err)
	}

	// kafka-python writes every codec; franz-go reads.
	if out, err := runPython(t, py, ts.addr, tenantA, passA, "SCRAM-SHA-256", "produce", "py"); err != nil {
		t.Fatalf("kafka-python produce: %v\n%s", err, out)
	}
	cons := ts.client(t, tenantA, passA, kgo.ConsumeTopics("py"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	n := 0
	for n < 100 {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			codec := strings.TrimPrefix(string(r.Key), "py-")
			if len(r.Headers) != 1 || string(r.Headers[0].Value) != codec || !strings.HasPrefix(string(r.Value), codec+"-") {
				t.Errorf("record %q/%q: headers %v", r.Key, r.Value, r.Headers)
			}
			n++
		})
	}

	// franz-go writes every codec; a kafka-python group reads and commits.
	for _, codec := range []kgo.CompressionCodec{kgo.NoCompression(), kgo.GzipCompression(),
		kgo.SnappyCompression(), kgo.Lz4Compression(), kgo.ZstdCompression()} {
		p := ts.client(t, tenantA, passA, kgo.ProducerBatchCompression(codec), kgo.AllowAutoTopicCreation())
		var recs []*kgo.Record
		for j := range 10 {
			recs = append(recs, &kgo.Record{Topic: "gopy", Value: fmt.Appendf(nil, "v%d", j)})
		}
		if err := p.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	out, err := runPython(t, py, ts.addr, tenantA, passA, "SCRAM-SHA-512", "consume", "gopy", "50")
	if err != nil || !strings.Contains(out, "consumed 50") {
		t.Fatalf("kafka-python consume: %v\n%s", err, out)
	}
	offs, err := adm.FetchOffsets(ctx, "pygroup")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := offs.Lookup("gopy", 0); o.At != 50 {
		t.Fatalf("kafka-python committed %d, want 50", o.At)
	}

	// Offsets by time.
	base := time.UnixMilli(1_600_000_000_000)
	tp := ts.client(t, tenantA, passA, kgo.AllowAutoTopicCreation())
	for i := range 5 {
		tp.ProduceSync(ctx, &kgo.Record{Topic: "pytimes", Value: []byte("x"), Timestamp: base.Add(time.Duration(i) * time.Minute)})
	}
	out, err = runPython(t, py, ts.addr, tenantA, passA, "PLAIN", "times", "pytimes",
		fmt.Sprint(base.Add(150*time.Second).UnixMilli()))
	if err != nil || !strings.Contains(out, "offset 3") {
		t.Fatalf("kafka-python offsets_for_times: %v\n%s", err, out)
	}

	// Reading from an offset inside a batch (offsets 0-4 are one batch).
	var batch []*kgo.Record
	for i := range 5 {
		batch = append(batch, &kgo.Record{Topic: "pymid", Value: fmt.Appendf(nil, "m%d", i)})
	}
	if err := tp.ProduceSync(ctx, batch...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	out, err = runPython(t, py, ts.addr, tenantA, passA, "PLAIN", "from", "pymid", "3")
	if err != nil || strings.TrimSpace(out) != "from 3:m3 4:m4" {
		t.Fatalf("kafka-python from offset 3: %v\n%s", err, out)
	}

	// Wrong password fails; tenant beta does not see alpha's topics.
	if out, err := runPython(t, py, ts.addr, tenantA, "bad", "PLAIN", "auth", "-"); err == nil {
		t.Fatalf("kafka-python with a wrong password succeeded: %s", out)
	}
	out, err = runPython(t, py, ts.addr, tenantB, passB, "SCRAM-SHA-256", "auth", "-")
	if err != nil || strings.Contains(out, "gopy") {
		t.Fatalf("kafka-python as beta: %v\n%s", err, out)
	}
	_ = kadm.Offsets{}
}
