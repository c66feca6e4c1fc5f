package natswire

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"rewire/storage"
)

// childDirEnv makes the test binary run a natswire server on the data
// directory it names, print "ADDR host:port" and wait to be killed.
const childDirEnv = "NATSWIRE_CRASH_CHILD_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childDirEnv); dir != "" {
		runChild(dir)
		return
	}
	os.Exit(m.Run())
}

func runChild(dir string) {
	ctx := context.Background()
	st, err := storage.Open(ctx, storage.Config{Dir: dir, MoverInterval: -1})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	srv, err := NewServer(st, Config{Addr: "127.0.0.1:0"}, nil)
	if err == nil {
		err = srv.Start()
	}
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	fmt.Println("ADDR", srv.Addr())
	select {}
}

// startChild runs a server process on dir and returns its URL.
func startChild(t *testing.T, dir string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childDirEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ADDR ") {
		t.Fatalf("child: %q %v", line, err)
	}
	return cmd, "nats://" + strings.TrimSpace(strings.TrimPrefix(line, "ADDR "))
}

// TestCrashKeepsAckedPublishes kills the server with SIGKILL while
// publishes are in flight: every acknowledged message must be there, with
// its payload, after a restart.
func TestCrashKeepsAckedPublishes(t *testing.T) {
	dir := t.TempDir()
	st, err := storage.Open(t.Context(), storage.Config{Dir: dir, MoverInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateTenant(t.Context(), "acme", "acme-pw"); err != nil {
		t.Fatal(err)
	}
	st.Close()

	cmd, url := startChild(t, dir)
	nc, err := nats.Connect(url, nats.UserInfo("acme", "acme-pw"), nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "C", Subjects: []string{"c.>"}}); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	acked := map[uint64]string{}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				body := fmt.Sprintf("w%d-%d", w, i)
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				ack, err := js.Publish(ctx, fmt.Sprintf("c.%d", w), []byte(body))
				cancel()
				if err != nil {
					return
				}
				mu.Lock()
				acked[ack.Sequence] = body
				mu.Unlock()
			}
		}()
	}
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 500 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	nc.Close()
	wg.Wait()

	_, url = startChild(t, dir)
	nc2, err := nats.Connect(url, nats.UserInfo("acme", "acme-pw"), nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	js2, _ := jetstream.New(nc2)
	s, err := js2.Stream(t.Context(), "C")
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for seq, body := range acked {
		m, err := s.GetMsg(t.Context(), seq)
		if err != nil {
			t.Fatalf("acked message %d lost: %v", seq, err)
		}
		if string(m.Data) != body {
			t.Fatalf("message %d is %q, acked %q", seq, m.Data, body)
		}
	}
	t.Logf("%d acknowledged messages intact after SIGKILL", len(acked))
}
