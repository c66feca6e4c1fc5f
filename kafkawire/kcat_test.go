package kafkawire

import (
	"bytes"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"rewire/internal/testtool"
)

func kcatArgs(addr, mech, user, pass string) []string {
	return []string{"-b", addr, "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=" + mech,
		"-X", "sasl.username=" + user, "-X", "sasl.password=" + pass}
}

func runKcat(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(testCtx(t), testtool.Need(t, "kcat"), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %v: %v\n%s", args, err, errb.String())
	}
	return out.String()
}

// TestKcatCodecs produces with kcat in every codec and reads back with both
// kcat and franz-go, and the reverse.
func TestKcatCodecs(t *testing.T) {
	testtool.Need(t, "kcat")
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	var want []string
	for i, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		mech := []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}[i%3]
		var in strings.Builder
		for j := range 50 {
			line := fmt.Sprintf("%s-%d:value-%s-%d", codec, j, codec, j)
			in.WriteString(line + "\n")
			want = append(want, line)
		}
		args := append(kcatArgs(ts.addr, mech, tenantA, passA), "-P", "-t", "kc", "-K", ":", "-z", codec,
			"-H", "codec="+codec)
		runKcat(t, in.String(), args...)
	}
	sort.Strings(want)

	out := runKcat(t, "", append(kcatArgs(ts.addr, "PLAIN", tenantA, passA),
		"-C", "-t", "kc", "-o", "beginning", "-e", "-f", "%k:%s\n")...)
	got := strings.Split(strings.TrimSpace(out), "\n")
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("kcat read back %d records, want %d", len(got), len(want))
	}

	cons := ts.client(t, tenantA, passA, kgo.ConsumeTopics("kc"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	n := 0
	for n < len(want) {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			codec := strings.SplitN(string(r.Key), "-", 2)[0]
			if len(r.Headers) != 1 || string(r.Headers[0].Value) != codec {
				t.Errorf("record %s: headers %v", r.Key, r.Headers)
			}
			n++
		})
	}

	// franz-go writes every codec, kcat reads.
	for _, codec := range []kgo.CompressionCodec{kgo.GzipCompression(), kgo.SnappyCompression(),
		kgo.Lz4Compression(), kgo.ZstdCompression()} {
		p := ts.client(t, tenantA, passA, kgo.ProducerBatchCompression(codec), kgo.AllowAutoTopicCreation())
		var recs []*kgo.Record
		for j := range 20 {
			recs = append(recs, &kgo.Record{Topic: "fk", Key: []byte("k"), Value: fmt.Appendf(nil, "v%d", j)})
		}
		if err := p.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	out = runKcat(t, "", append(kcatArgs(ts.addr, "SCRAM-SHA-512", tenantA, passA),
		"-C", "-t", "fk", "-o", "beginning", "-e", "-f", "%s\n")...)
	if n := len(strings.Split(strings.TrimSpace(out), "\n")); n != 80 {
		t.Fatalf("kcat read %d franz-go records, want 80", n)
	}

	// A wrong password fails.
	cmd := exec.CommandContext(ctx, "kcat", append(kcatArgs(ts.addr, "SCRAM-SHA-256", tenantA, "nope"), "-L", "-m", "5")...)
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("kcat with a wrong password succeeded: %s", out)
	}
}

// TestKcatGroup consumes with kcat -G and checks the committed offsets.
func TestKcatGroup(t *testing.T) {
	testtool.Need(t, "kcat")
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	adm := ts.admin(t, tenantA, passA)
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "gk"); err != nil {
		t.Fatal(err)
	}
	var in strings.Builder
	for j := range 40 {
		fmt.Fprintf(&in, "k%d:v%d\n", j, j)
	}
	runKcat(t, in.String(), append(kcatArgs(ts.addr, "PLAIN", tenantA, passA), "-P", "-t", "gk", "-K", ":")...)
	out := runKcat(t, "", append(kcatArgs(ts.addr, "PLAIN", tenantA, passA), "-G", "kgroup", "gk",
		"-o", "beginning", "-e", "-X", "enable.auto.commit=true", "-X", "auto.commit.interval.ms=100",
		"-f", "%s\n")...)
	if n := len(strings.Split(strings.TrimSpace(out), "\n")); n != 40 {
		t.Fatalf("kcat -G read %d records, want 40", n)
	}
	offs, err := adm.FetchOffsets(ctx, "kgroup")
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	offs.Each(func(o kadm.OffsetResponse) { sum += o.At })
	if sum != 40 {
		t.Fatalf("committed offsets sum to %d, want 40", sum)
	}
}
