package pgwire

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// TestDevServer keeps a server running for manual poking with psql when
// REWIRE_PG_DEVSERVER is set to a number of seconds.
func TestDevServer(t *testing.T) {
	secs, _ := strconv.Atoi(os.Getenv("REWIRE_PG_DEVSERVER"))
	if secs == 0 {
		t.Skip("REWIRE_PG_DEVSERVER not set")
	}
	ts := startServer(t, "acme", "other")
	os.WriteFile(os.Getenv("REWIRE_PG_DEVPORT"), []byte(strconv.Itoa(ts.addr.Port)), 0o600)
	t.Logf("listening on %s", ts.addr)
	time.Sleep(time.Duration(secs) * time.Second)
}
