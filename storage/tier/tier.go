// Package tier is the object-store side of rewire's storage: the warm and
// cold tiers. A Bucket stores immutable objects by key; Put returns only
// once the object is durable, which is what lets the core switch its
// metadata to a new copy and only then drop the old one.
//
// Two implementations exist: Local, a directory on this machine that fsyncs
// every object and its directory entry, and Cloud, any store that
// gocloud.dev/blob opens by URL (s3://… for S3, R2, MinIO, Ceph and other
// S3-compatible servers), whose writes are durable when the store
// acknowledges them.
package tier

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrNotFound is returned for a key that holds no object.
var ErrNotFound = errors.New("tier: object not found")

// Bucket is one object store. Keys are slash-separated paths of
// [A-Za-z0-9._-] segments. All methods are safe for concurrent use.
type Bucket interface {
	// Put stores data under key, replacing any object there, and returns
	// once the object is durable.
	Put(ctx context.Context, key string, data []byte) error
	// Get returns the whole object.
	Get(ctx context.Context, key string) ([]byte, error)
	// GetRange returns length bytes from offset (fewer at the end).
	GetRange(ctx context.Context, key string, offset, length int64) ([]byte, error)
	// Delete removes the object; deleting a missing object is not an error.
	Delete(ctx context.Context, key string) error
	// List calls fn for every key under prefix.
	List(ctx context.Context, prefix string, fn func(key string, size int64) error) error
	// Close releases the bucket.
	Close() error
}

// Open opens the bucket a URL names: a plain path or file:///path is a
// Local directory; any other scheme is opened through gocloud.dev/blob.
func Open(ctx context.Context, url string) (Bucket, error) {
	switch {
	case url == "":
		return nil, fmt.Errorf("tier: empty bucket URL")
	case strings.HasPrefix(url, "file://"):
		return NewLocal(strings.TrimPrefix(url, "file://"))
	case !strings.Contains(url, "://"):
		return NewLocal(url)
	default:
		return OpenCloud(ctx, url)
	}
}

// validKey rejects keys that could escape a directory or confuse a store.
func validKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") {
		return fmt.Errorf("tier: invalid key %q", key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("tier: invalid key %q", key)
		}
		for _, c := range seg {
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
				c == '.' || c == '_' || c == '-'
			if !ok {
				return fmt.Errorf("tier: invalid key %q", key)
			}
		}
	}
	return nil
}
