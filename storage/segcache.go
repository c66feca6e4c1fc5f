package storage

import (
	"container/list"
	"context"
	"sync"

	"rewire/storage/tier"
)

// segmentCacheBytes bounds the decoded sealed segments a Store keeps in
// memory, across all tenants.
const segmentCacheBytes = 64 << 20

// segmentCache keeps recently read sealed segments decoded, so that a
// consumer reading through warm data fetches each segment object once
// rather than once per read (a read returns a few batches; a segment holds
// megabytes). Entries are dropped least recently used first, and whenever
// their key is written or deleted in the warm bucket (see watchedBucket),
// so a segment rewritten under its old key is never served stale.
type segmentCache struct {
	mu    sync.Mutex
	max   int64
	size  int64
	lru   *list.List // of *segEntry, most recently used first
	byKey map[string]*list.Element
}

type segEntry struct {
	key     string
	batches []Batch // Data slices share one buffer; never handed out
	bytes   int64
}

func newSegmentCache(max int64) *segmentCache {
	return &segmentCache{max: max, lru: list.New(), byKey: map[string]*list.Element{}}
}

// get returns the cached batches of key, or nil.
func (c *segmentCache) get(key string) []Batch {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[key]
	if !ok {
		return nil
	}
	c.lru.MoveToFront(e)
	return e.Value.(*segEntry).batches
}

// put caches a decoded segment of raw size bytes.
func (c *segmentCache) put(key string, batches []Batch, bytes int64) {
	if bytes > c.max/4 {
		return // one huge segment must not flush everything else
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[key]; ok {
		c.remove(e)
	}
	c.byKey[key] = c.lru.PushFront(&segEntry{key: key, batches: batches, bytes: bytes})
	c.size += bytes
	for c.size > c.max {
		c.remove(c.lru.Back())
	}
}

// drop forgets key.
func (c *segmentCache) drop(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[key]; ok {
		c.remove(e)
	}
}

func (c *segmentCache) remove(e *list.Element) {
	se := c.lru.Remove(e).(*segEntry)
	delete(c.byKey, se.key)
	c.size -= se.bytes
}

// watchedBucket is the warm bucket as the Store uses it: every Put and
// Delete also drops the key from the segment cache.
type watchedBucket struct {
	tier.Bucket
	segs     *segmentCache
	verified *verifiedFiles
}

func (b watchedBucket) Put(ctx context.Context, key string, data []byte) error {
	b.segs.drop(key)
	b.verified.forget(key)
	err := b.Bucket.Put(ctx, key, data)
	b.segs.drop(key)
	return err
}

func (b watchedBucket) Delete(ctx context.Context, key string) error {
	b.segs.drop(key)
	b.verified.forget(key)
	err := b.Bucket.Delete(ctx, key)
	b.segs.drop(key)
	return err
}
