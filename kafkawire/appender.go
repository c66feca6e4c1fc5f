package kafkawire

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"rewire/storage"
)

// maxMergedBytes caps how many bytes of queued batches one core append
// carries.
const maxMergedBytes = 4 << 20

// pendingAppend is one validated batch waiting for its partition's
// appender.
type pendingAppend struct {
	b    batchInfo
	base int64
	err  error
	done chan struct{}
}

// appender serialises a partition's appends in arrival order and merges
// the batches that queue up while a core append is being made durable into
// the next one, so that pipelined and concurrent producers share fsyncs.
// A merged core batch holds whole Kafka batches back to back, each stamped
// with its own base offset; Fetch returns them as they are.
type appender struct {
	mu      sync.Mutex // guards queue and running
	queue   []*pendingAppend
	running bool
}

// enqueue adds a batch; its result is ready when done is closed. Batches
// enqueued by one goroutine are appended in that order.
func (p *partition) enqueue(b batchInfo) *pendingAppend {
	pa := &pendingAppend{b: b, done: make(chan struct{})}
	a := &p.app
	a.mu.Lock()
	a.queue = append(a.queue, pa)
	start := !a.running
	a.running = true
	a.mu.Unlock()
	if start {
		go p.drain()
	}
	return pa
}

func (p *partition) drain() {
	a := &p.app
	for {
		a.mu.Lock()
		if len(a.queue) == 0 {
			a.running = false
			a.mu.Unlock()
			return
		}
		n, size := 0, 0
		for n < len(a.queue) && (n == 0 || size+len(a.queue[n].b.data) <= maxMergedBytes) {
			size += len(a.queue[n].b.data)
			n++
		}
		group := a.queue[:n:n]
		a.queue = a.queue[n:]
		a.mu.Unlock()
		p.appendGroup(group)
	}
}

// batchFailedError names the batch of a merged append that was refused.
type batchFailedError struct {
	index int
	err   error
}

func (e *batchFailedError) Error() string { return e.err.Error() }
func (e *batchFailedError) Unwrap() error { return e.err }

// appendGroup appends batches as one core batch. A batch refused by its
// sequence check is answered alone and the rest retried.
func (p *partition) appendGroup(group []*pendingAppend) {
	for len(group) > 0 {
		err := p.appendMerged(group)
		var bf *batchFailedError
		if !errors.As(err, &bf) {
			for _, pa := range group {
				if err != nil {
					pa.err = err
				}
				close(pa.done)
			}
			return
		}
		failed := group[bf.index]
		var dup *duplicateError
		if errors.As(bf.err, &dup) {
			failed.base = dup.base
		} else {
			failed.err = bf.err
		}
		close(failed.done)
		group = append(group[:bf.index:bf.index], group[bf.index+1:]...)
	}
}

func (p *partition) appendMerged(group []*pendingAppend) error {
	var data []byte
	if len(group) == 1 {
		data = group[0].b.data
	} else {
		size := 0
		for _, pa := range group {
			size += len(pa.b.data)
		}
		data = make([]byte, 0, size)
		for _, pa := range group {
			data = append(data, pa.b.data...)
		}
	}
	var count, maxTS int64
	for _, pa := range group {
		count += pa.b.count
		ts := pa.b.maxTimestamp
		if ts < 0 {
			ts = time.Now().UnixMilli()
		}
		maxTS = max(maxTS, ts)
	}
	ab := storage.AppendBatch{
		Data:         data,
		Count:        count,
		MaxTimestamp: maxTS,
		Check: func(tx *storage.Tx, base int64) error {
			off := base
			for i, pa := range group {
				var err error
				switch {
				case pa.b.marker:
					err = p.checkTransactional(tx, pa.b, off)
				case pa.b.producerID >= 0:
					err = p.checkSequence(tx, pa.b, off)
					if err == nil && pa.b.transactional() {
						err = p.checkTransactional(tx, pa.b, off)
					}
				}
				if err != nil {
					return &batchFailedError{index: i, err: err}
				}
				pa.base = off
				off += pa.b.count
			}
			return nil
		},
		Stamp: func(data []byte, base int64) {
			off, pos := base, 0
			for _, pa := range group {
				stampBatch(data[pos:], off)
				pos += len(pa.b.data)
				off += pa.b.count
			}
		},
	}
	_, err := p.log.Append(context.Background(), ab)
	return err
}

// eachBatch calls fn for each Kafka batch in a stored core batch.
func eachBatch(data []byte, fn func(batch []byte) error) error {
	for len(data) > 0 {
		if len(data) < batchHeaderLen {
			return fmt.Errorf("%w: truncated stored batch", storage.ErrCorrupt)
		}
		n := 12 + int(int32(binary.BigEndian.Uint32(data[8:])))
		if n < batchHeaderLen || n > len(data) {
			return fmt.Errorf("%w: stored batch length", storage.ErrCorrupt)
		}
		if err := fn(data[:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}
