package pgwire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"rewire/storage"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv("REWIRE_PG_CRASH_SERVER"); dir != "" {
		crashServer(dir)
		return
	}
	os.Exit(m.Run())
}

// crashServer runs a server over dir until killed, writing its port to
// dir/port.
func crashServer(dir string) {
	ctx := context.Background()
	st, err := storage.Open(ctx, storage.Config{Dir: filepath.Join(dir, "data"), MoverInterval: -1})
	if err != nil {
		panic(err)
	}
	if _, err := st.CreateTenant(ctx, "acme", "secret-acme"); err != nil && !errors.Is(err, storage.ErrTenantExists) {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	os.WriteFile(filepath.Join(dir, "port.tmp"), []byte(strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)), 0o600)
	os.Rename(filepath.Join(dir, "port.tmp"), filepath.Join(dir, "port"))
	NewServer(st, Config{}, slog.New(slog.DiscardHandler)).Serve(ln)
}

func startCrashServer(t *testing.T, dir string) (*exec.Cmd, string) {
	t.Helper()
	os.Remove(filepath.Join(dir, "port"))
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), "REWIRE_PG_CRASH_SERVER="+dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; i < 300; i++ {
		if b, err := os.ReadFile(filepath.Join(dir, "port")); err == nil {
			return cmd, fmt.Sprintf("postgres://acme:secret-acme@127.0.0.1:%s/acme?sslmode=disable", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("crash server did not start")
	return nil, ""
}

// TestCrashDurability kills the server with SIGKILL while transactions
// commit: every acknowledged commit must be there after a restart, and no
// transaction may be half there.
func TestCrashDurability(t *testing.T) {
	dir := t.TempDir()
	cmd, url := startCrashServer(t, dir)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, `CREATE TABLE ledger (tx int, part int, PRIMARY KEY (tx, part))`); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)

	var mu sync.Mutex
	committed := map[int]bool{}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c, err := pgx.Connect(ctx, url)
			if err != nil {
				return
			}
			defer c.Close(ctx)
			for i := 0; ; i++ {
				id := w*1_000_000 + i
				tx, err := c.Begin(ctx)
				if err != nil {
					return
				}
				for p := 0; p < 3; p++ {
					if _, err := tx.Exec(ctx, `INSERT INTO ledger VALUES ($1, $2)`, id, p); err != nil {
						return
					}
				}
				if err := tx.Commit(ctx); err != nil {
					return
				}
				mu.Lock()
				committed[id] = true
				mu.Unlock()
			}
		}(w)
	}
	time.Sleep(700 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	wg.Wait()

	_, url = startCrashServer(t, dir)
	c, err = pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, `SELECT tx, count(*) FROM ledger GROUP BY tx`)
	if err != nil {
		t.Fatal(err)
	}
	found := map[int]int{}
	for rows.Next() {
		var id, n int
		rows.Scan(&id, &n)
		found[id] = n
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	for id, n := range found {
		if n != 3 {
			t.Errorf("transaction %d half there: %d of 3 rows", id, n)
		}
	}
	for id := range committed {
		if found[id] != 3 {
			t.Errorf("acknowledged transaction %d lost", id)
		}
	}
	if len(committed) == 0 {
		t.Fatal("no transaction committed before the kill")
	}
	t.Logf("%d acknowledged, %d present after restart", len(committed), len(found))
}
