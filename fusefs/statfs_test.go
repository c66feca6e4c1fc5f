package fusefs

import (
	"context"
	"os"
	"strings"
	"testing"

	"rewire/storage/files"
)

// TestStatfsQuota checks that statfs reports the tenant's quota and usage.
func TestStatfsQuota(t *testing.T) {
	e := mountT(t)
	ctx := context.Background()
	ten, err := e.store.Acquire(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	defer ten.Release()
	if err := files.New(ten).SetQuota(ctx, 100<<20); err != nil {
		t.Fatal(err)
	}
	e.sh(t, "head -c 8192 /dev/urandom > f && sync f")
	out := e.sh(t, "stat -f -c '%S %b %f %l' .")
	if out != "4096 25600 25598 255\n" {
		t.Fatalf("statfs: %q", out)
	}
}

// TestFtruncate shrinks and grows an open file through its handle.
func TestFtruncate(t *testing.T) {
	e := mountT(t)
	f, err := os.Create(e.path("f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString(strings.Repeat("a", 10000))
	if err := f.Truncate(10); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(20); err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("z"), 25)
	buf := make([]byte, 100)
	n, _ := f.ReadAt(buf, 0)
	want := strings.Repeat("a", 10) + strings.Repeat("\x00", 15) + "z"
	if string(buf[:n]) != want {
		t.Fatalf("content %q", buf[:n])
	}
	f.Sync()
	got, _ := os.ReadFile(e.path("f"))
	if string(got) != want {
		t.Fatalf("after sync %q", got)
	}
}

// TestQuotaEnforced refuses writes past the tenant's quota with EDQUOT.
func TestQuotaEnforced(t *testing.T) {
	e := mountT(t)
	ctx := context.Background()
	ten, err := e.store.Acquire(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	defer ten.Release()
	if err := files.New(ten).SetQuota(ctx, 1<<20); err != nil {
		t.Fatal(err)
	}
	e.sh(t, "stat -f . >/dev/null; head -c 500000 /dev/urandom > a")
	out := e.shErr(t, "head -c 1000000 /dev/urandom > b")
	if !strings.Contains(out, "quota") {
		t.Fatalf("over quota: %q", out)
	}
	e.sh(t, "rm a b; stat -f . >/dev/null; head -c 900000 /dev/urandom > c")
}
