package tier

import (
	"context"
	"errors"
	"fmt"
	"io"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/s3blob" // s3:// URLs
	"gocloud.dev/gcerrors"
)

// Cloud is a Bucket in an object store opened by gocloud.dev/blob. A write
// is durable when the store acknowledges it, which is when Put returns.
type Cloud struct {
	b *blob.Bucket
}

var _ Bucket = (*Cloud)(nil)

// OpenCloud opens a gocloud.dev/blob URL, for example
// s3://bucket?endpoint=http://127.0.0.1:7070&use_path_style=true&region=us-east-1.
func OpenCloud(ctx context.Context, url string) (*Cloud, error) {
	b, err := blob.OpenBucket(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("tier: open %s: %w", url, err)
	}
	return &Cloud{b: b}, nil
}

func notFound(err error, key string) error {
	if gcerrors.Code(err) == gcerrors.NotFound {
		return fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return fmt.Errorf("tier: %s: %w", key, err)
}

// Put implements Bucket.
func (c *Cloud) Put(ctx context.Context, key string, data []byte) error {
	if err := validKey(key); err != nil {
		return err
	}
	if err := c.b.WriteAll(ctx, key, data, nil); err != nil {
		return fmt.Errorf("tier: put %s: %w", key, err)
	}
	return nil
}

// Get implements Bucket.
func (c *Cloud) Get(ctx context.Context, key string) ([]byte, error) {
	b, err := c.b.ReadAll(ctx, key)
	if err != nil {
		return nil, notFound(err, key)
	}
	return b, nil
}

// GetRange implements Bucket.
func (c *Cloud) GetRange(ctx context.Context, key string, offset, length int64) ([]byte, error) {
	r, err := c.b.NewRangeReader(ctx, key, offset, length, nil)
	if err != nil {
		return nil, notFound(err, key)
	}
	defer r.Close()
	return io.ReadAll(r)
}

// Delete implements Bucket.
func (c *Cloud) Delete(ctx context.Context, key string) error {
	err := c.b.Delete(ctx, key)
	if err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return fmt.Errorf("tier: delete %s: %w", key, err)
	}
	return nil
}

// List implements Bucket.
func (c *Cloud) List(ctx context.Context, prefix string, fn func(string, int64) error) error {
	it := c.b.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("tier: list %s: %w", prefix, err)
		}
		if err := fn(obj.Key, obj.Size); err != nil {
			return err
		}
	}
}

// Close implements Bucket.
func (c *Cloud) Close() error { return c.b.Close() }
