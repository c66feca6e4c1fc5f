package kafkawire

import (
	"bufio"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"rewire/internal/testtool"
)

// kcatMember is a running `kcat -G` balanced consumer.
type kcatMember struct {
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	seen map[string]string // value -> partition
}

func startKcatMember(t *testing.T, ts *testServer, group, topic string) *kcatMember {
	t.Helper()
	args := append(kcatArgs(ts.addr, "PLAIN", tenantA, passA), "-G", group, topic, "-o", "beginning",
		"-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=200", "-X", "auto.commit.interval.ms=100",
		"-u", "-q", "-f", "%p:%s\n")
	m := &kcatMember{cmd: exec.CommandContext(testCtx(t), testtool.Need(t, "kcat"), args...), done: make(chan struct{}),
		seen: map[string]string{}}
	out, err := m.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(m.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p, v, _ := strings.Cut(sc.Text(), ":")
			m.mu.Lock()
			m.seen[v] = p
			m.mu.Unlock()
		}
	}()
	t.Cleanup(func() { m.stop() })
	return m
}

// stop ends the consumer as a user would (SIGTERM: kcat commits and leaves
// the group) and waits for it.
func (m *kcatMember) stop() {
	if m.cmd.ProcessState == nil {
		m.cmd.Process.Signal(syscall.SIGTERM)
		<-m.done
		m.cmd.Wait()
	}
}

// count returns how many values with prefix m read, and from which
// partitions.
func (m *kcatMember) count(prefix string) (int, map[string]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, parts := 0, map[string]bool{}
	for v, p := range m.seen {
		if strings.HasPrefix(v, prefix) {
			n++
			parts[p] = true
		}
	}
	return n, parts
}

// TestKcatGroupRebalance runs two librdkafka balanced consumers in one
// group: they split four partitions, and when one leaves the other takes
// all of them.
func TestKcatGroupRebalance(t *testing.T) {
	testtool.Need(t, "kcat")
	ts := startServer(t, defaultConfig())
	ctx := testCtx(t)
	adm := ts.admin(t, tenantA, passA)
	if _, err := adm.CreateTopic(ctx, 4, 1, nil, "kg"); err != nil {
		t.Fatal(err)
	}
	prod := ts.client(t, tenantA, passA, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produce := func(tag string) {
		t.Helper()
		for i := range 40 {
			r := &kgo.Record{Topic: "kg", Partition: int32(i % 4), Value: fmt.Appendf(nil, "%s-%d", tag, i)}
			if err := prod.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}

	a := startKcatMember(t, ts, "kcatgrp", "kg")
	b := startKcatMember(t, ts, "kcatgrp", "kg")
	waitFor(t, ctx, "two kcat members in a stable group", func() bool {
		d, err := adm.DescribeGroups(ctx, "kcatgrp")
		return err == nil && d["kcatgrp"].State == "Stable" && len(d["kcatgrp"].Members) == 2
	})
	produce("both")
	waitFor(t, ctx, "the two members read 40 records between them", func() bool {
		na, _ := a.count("both-")
		nb, _ := b.count("both-")
		return na+nb == 40
	})
	na, pa := a.count("both-")
	nb, pb := b.count("both-")
	if na != 20 || nb != 20 || len(pa) != 2 || len(pb) != 2 {
		t.Fatalf("split: a read %d from %v, b read %d from %v", na, pa, nb, pb)
	}
	for p := range pa {
		if pb[p] {
			t.Fatalf("partition %s read by both members", p)
		}
	}

	b.stop()
	waitFor(t, ctx, "one kcat member left in a stable group", func() bool {
		d, err := adm.DescribeGroups(ctx, "kcatgrp")
		return err == nil && d["kcatgrp"].State == "Stable" && len(d["kcatgrp"].Members) == 1
	})
	produce("alone")
	waitFor(t, ctx, "the remaining member reads all 40 new records", func() bool {
		n, _ := a.count("alone-")
		return n == 40
	})
	if _, parts := a.count("alone-"); len(parts) != 4 {
		t.Fatalf("remaining member read from partitions %v", parts)
	}
}
