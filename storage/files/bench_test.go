package files

import (
	"context"
	"fmt"
	"testing"

	"rewire/storage"
)

// BenchmarkCreateUnlink measures one metadata round trip of the core:
// create an empty file and remove it again, with every change synced,
// with lazy changes (as the mount makes them) and with periodic sync.
func BenchmarkCreateUnlink(b *testing.B) {
	for _, mode := range []string{"fsync", "lazy", "periodic"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			d := storage.DurabilityFsync
			if mode == "periodic" {
				d = storage.DurabilityPeriodic
			}
			st, err := storage.Open(ctx, storage.Config{Dir: b.TempDir(), MoverInterval: -1, Durability: d})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			st.CreateTenant(ctx, "alpha", "pw")
			ten, _ := st.Acquire(ctx, "alpha")
			defer ten.Release()
			fs := New(ten)
			if mode == "lazy" {
				fs = fs.Lazy()
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				name := fmt.Sprint("f", i)
				if _, err := fs.Create(ctx, RootIno, name, 0o644, 0, 0, 0); err != nil {
					b.Fatal(err)
				}
				if err := fs.Unlink(ctx, RootIno, name); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLookup measures a lookup of an existing name.
func BenchmarkLookup(b *testing.B) {
	ctx := context.Background()
	st, _ := storage.Open(ctx, storage.Config{Dir: b.TempDir(), MoverInterval: -1})
	defer st.Close()
	st.CreateTenant(ctx, "alpha", "pw")
	ten, _ := st.Acquire(ctx, "alpha")
	defer ten.Release()
	fs := New(ten)
	fs.Create(ctx, RootIno, "x", 0o644, 0, 0, 0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := fs.Lookup(ctx, RootIno, "x"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSelectOne is the floor of one read query on this machine.
func BenchmarkSelectOne(b *testing.B) {
	ctx := context.Background()
	st, _ := storage.Open(ctx, storage.Config{Dir: b.TempDir(), MoverInterval: -1})
	defer st.Close()
	st.CreateTenant(ctx, "alpha", "pw")
	ten, _ := st.Acquire(ctx, "alpha")
	defer ten.Release()
	var one int
	for i := 0; i < b.N; i++ {
		ten.DB().QueryRowContext(ctx, "SELECT 1").Scan(&one)
	}
}
