package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentAppendsCoalesce runs many appenders at once, so that
// batches share writes, with every third batch refused by its Check after
// writing a row and registering hooks. Accepted batches must get distinct,
// gapless offsets holding their own data; refused ones must leave no row,
// no offset and no commit hook behind.
func TestConcurrentAppendsCoalesce(t *testing.T) {
	s := openTestStore(t, Config{})
	tn := acquire(t, s, "acme")
	ctx := context.Background()
	if err := tn.Update(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`CREATE TABLE check_side(n INTEGER)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	l, err := tn.Logs().Create(ctx, "c", LogConfig{})
	if err != nil {
		t.Fatal(err)
	}
	errNo := errors.New("refused")
	var committedRefused, rolledBack atomic.Int64
	const writers, each = 16, 30
	bases := make([][]int64, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				n := w*each + i
				refuse := n%3 == 0
				b := AppendBatch{Data: []byte(fmt.Sprintf("w%d-%d", w, i)), Count: 2,
					Check: func(tx *Tx, base int64) error {
						if _, err := tx.Exec(`INSERT INTO check_side(n) VALUES (?)`, n); err != nil {
							return err
						}
						if refuse {
							tx.OnCommit(func() { committedRefused.Add(1) })
							tx.OnRollback(func() { rolledBack.Add(1) })
							return errNo
						}
						return nil
					}}
				base, err := l.Append(ctx, b)
				if refuse {
					if !errors.Is(err, errNo) {
						t.Errorf("refused append = %d, %v", base, err)
					}
					continue
				}
				if err != nil {
					t.Errorf("append: %v", err)
					return
				}
				bases[w] = append(bases[w], base)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	refused := int64(writers * each / 3)
	if committedRefused.Load() != 0 || rolledBack.Load() != refused {
		t.Errorf("hooks of refused checks: %d commit hooks ran, %d rollback hooks ran; want 0 and %d",
			committedRefused.Load(), rolledBack.Load(), refused)
	}
	accepted := int64(writers*each) - refused
	if _, next := l.Offsets(); next != 2*accepted {
		t.Fatalf("next offset %d, want %d", next, 2*accepted)
	}
	var sideRows int64
	if err := tn.DB().QueryRow(`SELECT count(*) FROM check_side`).Scan(&sideRows); err != nil || sideRows != accepted {
		t.Fatalf("rows written by accepted checks: %d (%v), want %d", sideRows, err, accepted)
	}
	got, err := l.Read(ctx, 0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	byBase := map[int64][]byte{}
	for i, b := range got {
		if b.Base != int64(2*i) || b.Last != b.Base+1 {
			t.Fatalf("batch %d spans [%d, %d]", i, b.Base, b.Last)
		}
		byBase[b.Base] = b.Data
	}
	for w, bs := range bases {
		k := 0
		for i := range each {
			if (w*each+i)%3 == 0 {
				continue
			}
			want := []byte(fmt.Sprintf("w%d-%d", w, i))
			if d := byBase[bs[k]]; !bytes.Equal(d, want) {
				t.Errorf("offset %d holds %q, want %q", bs[k], d, want)
			}
			k++
		}
	}
}
