package storage

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The crash test runs writers in a child process (this test binary,
// re-executed), kills it with SIGKILL at a random moment, and checks in the
// parent that every write the child reported as acknowledged is present
// and intact, and that nothing stored is torn. It repeats on the same data
// directory, so recovery after recovery is exercised too.

const (
	crashChildEnv      = "REWIRE_CRASH_CHILD_DIR"
	crashDurabilityEnv = "REWIRE_CRASH_DURABILITY"
)

// crashPayload makes self-checking data: a body followed by the first 8
// bytes of its SHA-256.
func crashPayload(writer, seq int, size int) []byte {
	unit := []byte(fmt.Sprintf("w%d-s%d|", writer, seq))
	body := bytes.Repeat(unit, size/len(unit)+1)[:size]
	sum := sha256.Sum256(body)
	return append(body, sum[:8]...)
}

func payloadIntact(p []byte) bool {
	if len(p) < 8 {
		return false
	}
	sum := sha256.Sum256(p[:len(p)-8])
	return bytes.Equal(sum[:8], p[len(p)-8:])
}

func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("runs only as the crash test's child process")
	}
	ctx := context.Background()
	// Small hot tails, segments and journal files, so that the mover
	// below seals, and collects journal files, while appends go on.
	journalFileBytes = 256 << 10
	s, err := Open(ctx, Config{Dir: dir, MoverInterval: -1,
		Policy:     Policy{HotMaxBytes: 4096, LogHotBytes: 512 << 10, SegmentBytes: 128 << 10},
		Durability: Durability(os.Getenv(crashDurabilityEnv))})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := s.Acquire(ctx, "crash")
	if err != nil {
		t.Fatal(err)
	}
	var out sync.Mutex
	report := func(format string, args ...any) {
		out.Lock()
		// The closing "." tells a whole line from one the kill cut
		// short: a long line reaches the pipe in more than one write.
		fmt.Fprintf(os.Stdout, format+" .\n", args...)
		out.Unlock()
	}
	seed := time.Now().UnixNano()
	go func() {
		for {
			if _, err := tn.RunMover(ctx); err != nil {
				report("E mover: %v", strings.ReplaceAll(err.Error(), " ", "_"))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(seed), uint64(w)))
			logName := fmt.Sprintf("log-%d", w%4)
			l, err := tn.Logs().Open(ctx, logName)
			if errors.Is(err, ErrNotFound) {
				l, err = tn.Logs().Create(ctx, logName, LogConfig{})
				if errors.Is(err, ErrExists) {
					l, err = tn.Logs().Open(ctx, logName)
				}
			}
			if err != nil {
				panic(err)
			}
			for seq := 0; ; seq++ {
				if w < 6 {
					size := 16 + rng.IntN(2000)
					if rng.IntN(4) == 0 {
						size = journalMinBatch + rng.IntN(40000) // data in the journal
					}
					p := crashPayload(w, seq+int(seed%1e6)*1000, size)
					base, err := l.Append(ctx, AppendBatch{Data: p, Count: 1, MaxTimestamp: time.Now().UnixMilli()})
					if err != nil {
						panic(err)
					}
					report("L %s %d %s", logName, base, hex.EncodeToString(p))
				} else if w == 6 {
					// Lazy writes: acknowledged before their fsync, they
					// must survive a kill all the same.
					key := fmt.Sprintf("%d-%d", seed, seq)
					p := crashPayload(w, seq, 16+rng.IntN(500))
					err := tn.UpdateLazy(ctx, func(tx *Tx) error {
						_, err := tx.Exec(`INSERT INTO kv(ns, key, value) VALUES ('crash', ?, ?)`, key, p)
						return err
					})
					if err != nil {
						panic(err)
					}
					report("K %s %s", key, hex.EncodeToString(p))
				} else {
					// Blobs on both sides of the hot limit.
					p := crashPayload(w, seq+int(seed%1e6)*1000, 100+rng.IntN(10000))
					h, err := tn.Blobs().Put(ctx, p)
					if err != nil {
						panic(err)
					}
					report("B %s", h)
				}
			}
		}()
	}
	wg.Wait()
}

func TestCrashRecovery(t *testing.T) {
	t.Run("fsync", func(t *testing.T) { crashRecovery(t, DurabilityFsync, 20) })
	// Periodic sync promises survival of kill -9 too (the kernel keeps
	// what was written); only power loss may lose the last interval.
	t.Run("periodic", func(t *testing.T) { crashRecovery(t, DurabilityPeriodic, 5) })
}

func crashRecovery(t *testing.T, durability Durability, kills int) {
	if testing.Short() {
		kills = min(kills, 3)
	}
	if v, err := strconv.Atoi(os.Getenv("REWIRE_CRASH_KILLS")); err == nil {
		kills = v
	}
	dir := t.TempDir()
	ctx := context.Background()
	{
		s, err := Open(ctx, Config{Dir: dir, MoverInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateTenant(ctx, "crash", "pw"); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}

	type ackedAppend struct {
		base int64
		data []byte
	}
	acked := map[string][]ackedAppend{}
	var blobs []Hash
	lazy := map[string][]byte{}
	for round := range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashDurabilityEnv+"="+string(durability))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1<<16)
		go func() {
			sc := bufio.NewScanner(stdout)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Kill once the child has acknowledged some writes, after a random
		// extra delay.
		deadline := time.After(60 * time.Second)
		got := 0
		var pending []string
	wait:
		for got < 50 {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("child exited early: %s", stderr.String())
				}
				pending = append(pending, l)
				got++
			case <-deadline:
				t.Fatalf("child acknowledged nothing: %s", stderr.String())
				break wait
			}
		}
		time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		for l := range lines {
			pending = append(pending, l)
		}
		for _, l := range pending {
			f := strings.Fields(l)
			if len(f) == 0 || f[len(f)-1] != "." {
				continue // cut short by the kill: never acknowledged
			}
			f = f[:len(f)-1]
			switch {
			case len(f) == 4 && f[0] == "L":
				base, _ := strconv.ParseInt(f[2], 10, 64)
				data, _ := hex.DecodeString(f[3])
				for _, a := range acked[f[1]] {
					if a.base == base {
						t.Fatalf("round %d: two appends to %s acknowledged at %d (%d and %d bytes)", round, f[1], base, len(a.data), len(data))
					}
				}
				acked[f[1]] = append(acked[f[1]], ackedAppend{base, data})
			case len(f) == 3 && f[0] == "E":
				t.Fatalf("round %d: child: %s %s", round, f[1], f[2])
			case len(f) == 3 && f[0] == "K":
				lazy[f[1]], _ = hex.DecodeString(f[2])
			case len(f) == 2 && f[0] == "B":
				h, err := ParseHash(f[1])
				if err != nil {
					t.Fatal(err)
				}
				blobs = append(blobs, h)
			}
		}

		// Recover and verify everything acknowledged so far.
		s, err := Open(ctx, Config{Dir: dir, MoverInterval: -1, Policy: Policy{HotMaxBytes: 4096}})
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		tn, err := s.Acquire(ctx, "crash")
		if err != nil {
			t.Fatal(err)
		}
		for name, appends := range acked {
			l, err := tn.Logs().Open(ctx, name)
			if err != nil {
				t.Fatalf("round %d: acknowledged log %s: %v", round, name, err)
			}
			_, next := l.Offsets()
			for _, a := range appends {
				bs, err := l.Read(ctx, a.base, 1)
				if err != nil || len(bs) == 0 || bs[0].Base != a.base || !bytes.Equal(bs[0].Data, a.data) {
					got := "nothing"
					if len(bs) > 0 {
						got = fmt.Sprintf("batch %d..%d of %d bytes (intact %v) %.16q want %.16q", bs[0].Base, bs[0].Last, len(bs[0].Data), payloadIntact(bs[0].Data), bs[0].Data, a.data)
					}
					t.Fatalf("round %d: acknowledged append %s@%d of %d bytes lost or changed: read %s, err %v", round, name, a.base, len(a.data), got, err)
				}
			}
			// Nothing torn: every stored batch is intact and offsets are dense.
			var off int64
			for off < next {
				bs, err := l.Read(ctx, off, 1<<20)
				if err != nil || len(bs) == 0 {
					t.Fatalf("round %d: read %s@%d: %v", round, name, off, err)
				}
				for _, b := range bs {
					if b.Base != off || !payloadIntact(b.Data) {
						t.Fatalf("round %d: %s@%d torn or out of order", round, name, b.Base)
					}
					off = b.Last + 1
				}
			}
		}
		for _, h := range blobs {
			data, err := tn.Blobs().Get(ctx, h)
			if err != nil || !payloadIntact(data) {
				t.Fatalf("round %d: acknowledged blob %s: %v", round, h, err)
			}
		}
		for key, want := range lazy {
			got, err := tn.KVGet(ctx, "crash", key)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("round %d: acknowledged lazy write %s: %v", round, key, err)
			}
		}
		var segments, spilled int
		tn.DB().QueryRowContext(ctx, `SELECT count(*) FROM log_segments`).Scan(&segments)
		tn.DB().QueryRowContext(ctx, `SELECT count(*) FROM log_batches WHERE jfile IS NOT NULL`).Scan(&spilled)
		files, _ := tn.journal.numbers()
		tn.Release()
		s.Close()
		n := 0
		for _, a := range acked {
			n += len(a)
		}
		t.Logf("round %d: %d appends, %d lazy writes and %d blobs verified; %d sealed segments, %d hot batches in %d journal files",
			round, n, len(lazy), len(blobs), segments, spilled, len(files))
		if round == kills-1 && segments == 0 {
			t.Errorf("the child's mover sealed nothing: the crashes never met a seal")
		}
	}
}
