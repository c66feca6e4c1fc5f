package storage

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// BenchmarkLogAppend measures group-committed appends of 1 KiB batches
// under 1, 8 and 64 concurrent writers with fsync durability. bench/core
// reports the same workload beside fio's rate on the same disk.
func BenchmarkLogAppend(b *testing.B) {
	for _, writers := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			ctx := context.Background()
			s, err := Open(ctx, Config{Dir: b.TempDir(), MoverInterval: -1})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if _, err := s.CreateTenant(ctx, "bench", "pw"); err != nil {
				b.Fatal(err)
			}
			t, err := s.Acquire(ctx, "bench")
			if err != nil {
				b.Fatal(err)
			}
			defer t.Release()
			l, err := t.Logs().Create(ctx, "bench", LogConfig{})
			if err != nil {
				b.Fatal(err)
			}
			data := make([]byte, 1024)
			b.SetBytes(int64(len(data)))
			w0, c0 := GroupCommitStats()
			b.ResetTimer()
			var wg sync.WaitGroup
			per := b.N / writers
			for w := range writers {
				n := per
				if w == 0 {
					n += b.N % writers
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range n {
						if _, err := l.Append(ctx, AppendBatch{Data: data, Count: 1}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			w1, c1 := GroupCommitStats()
			b.ReportMetric(float64(w1-w0)/float64(max(c1-c0, 1)), "writes/commit")
			b.ReportMetric(float64(b.N)/float64(max(w1-w0, 1)), "appends/write")
		})
	}
}
