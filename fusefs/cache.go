package fusefs

import (
	"container/list"
	"sync"

	"rewire/storage"
)

// chunkCache keeps recently read chunks by blob hash, so small reads of a
// large file do not fetch and verify a whole chunk each time. Keyed by
// content hash, it never serves stale data. Entries must not be modified.
type chunkCache struct {
	mu    sync.Mutex // guards the fields below
	max   int
	bytes int
	lru   *list.List // of *cacheEntry, most recent first
	byKey map[storage.Hash]*list.Element
	calls map[storage.Hash]*fetchCall // fetches in flight
}

type fetchCall struct {
	done chan struct{}
	data []byte
	err  error
}

// fetch returns the chunk h, calling get unless another caller is already
// fetching it, and caches the result. leader reports whether this call
// fetched it.
func (c *chunkCache) fetch(h storage.Hash, get func() ([]byte, error)) (data []byte, leader bool, err error) {
	c.mu.Lock()
	if call := c.calls[h]; call != nil {
		c.mu.Unlock()
		<-call.done
		return call.data, false, call.err
	}
	call := &fetchCall{done: make(chan struct{})}
	c.calls[h] = call
	c.mu.Unlock()

	call.data, call.err = get()
	if call.err == nil {
		c.put(h, call.data)
	}
	c.mu.Lock()
	delete(c.calls, h)
	c.mu.Unlock()
	close(call.done)
	return call.data, true, call.err
}

type cacheEntry struct {
	h    storage.Hash
	data []byte
}

func newChunkCache(maxBytes int) *chunkCache {
	return &chunkCache{max: maxBytes, lru: list.New(), byKey: make(map[storage.Hash]*list.Element),
		calls: make(map[storage.Hash]*fetchCall)}
}

func (c *chunkCache) get(h storage.Hash) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.byKey[h]
	if e == nil {
		return nil
	}
	c.lru.MoveToFront(e)
	return e.Value.(*cacheEntry).data
}

func (c *chunkCache) put(h storage.Hash, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[h]; ok || len(data) > c.max {
		return
	}
	c.byKey[h] = c.lru.PushFront(&cacheEntry{h: h, data: data})
	c.bytes += len(data)
	for c.bytes > c.max {
		e := c.lru.Back()
		ce := c.lru.Remove(e).(*cacheEntry)
		delete(c.byKey, ce.h)
		c.bytes -= len(ce.data)
	}
}
