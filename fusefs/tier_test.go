package fusefs

import (
	"bytes"
	"crypto/sha256"
	"os"
	"strconv"
	"testing"
	"time"

	"rewire/storage"
	"rewire/storage/files"
)

// TestTierMovedRead writes files through the mount, lets the core's mover
// take every chunk down to the cold tier, and reads and changes them
// through a fresh mount.
func TestTierMovedRead(t *testing.T) {
	e := mountCfg(t, storage.Config{MoverInterval: -1,
		Policy: storage.Policy{WarmAfter: time.Nanosecond, ColdAfter: time.Nanosecond}})
	big := make([]byte, 2*files.ChunkSize+12345)
	for i := range big {
		big[i] = byte(i*31 + i/7)
	}
	small := []byte("a small file, inline in the hot tier at first\n")
	if err := os.WriteFile(e.path("big"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.path("small"), small, 0o644); err != nil {
		t.Fatal(err)
	}
	e.sh(t, "sync big small")
	waitReleased(t, e)
	if err := e.m.Unmount(); err != nil {
		t.Fatal(err)
	}

	ten, err := e.store.Acquire(t.Context(), "alpha")
	if err != nil {
		t.Fatal(err)
	}
	defer ten.Release()
	for range 2 { // hot to warm, warm to cold
		time.Sleep(time.Millisecond)
		if _, err := ten.RunMover(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	var notCold int
	ten.DB().QueryRow(`SELECT COUNT(*) FROM blobs WHERE tier != ?`, storage.TierCold).Scan(&notCold)
	if notCold != 0 {
		t.Fatalf("%d blobs not in the cold tier after the mover", notCold)
	}

	e.mount(t)
	for name, want := range map[string][]byte{"big": big, "small": small} {
		got, err := os.ReadFile(e.path(name))
		if err != nil || sha256.Sum256(got) != sha256.Sum256(want) {
			t.Fatalf("%s from the cold tier: %d bytes, %v", name, len(got), err)
		}
	}
	// A write inside a cold chunk merges with its stored content.
	copy(big[files.ChunkSize+100:], "changed")
	e.sh(t, "printf changed | dd of=big bs=1 seek=$(("+strconv.Itoa(files.ChunkSize)+" + 100)) conv=notrunc status=none")
	got, err := os.ReadFile(e.path("big"))
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("after a write into a cold chunk: %v", err)
	}
}
