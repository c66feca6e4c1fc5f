package tier

import (
	"bytes"
	"context"
	"errors"
	"sort"
	"testing"

	"rewire/internal/s3test"
)

// testBucket checks the Bucket contract; every implementation runs it.
func testBucket(t *testing.T, b Bucket) {
	ctx := context.Background()
	data := bytes.Repeat([]byte("0123456789"), 1000)
	if err := b.Put(ctx, "t1/blobs/ab/abcdef", data); err != nil {
		t.Fatal(err)
	}
	got, err := b.Get(ctx, "t1/blobs/ab/abcdef")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get = %d bytes, %v", len(got), err)
	}
	part, err := b.GetRange(ctx, "t1/blobs/ab/abcdef", 5, 10)
	if err != nil || string(part) != "5678901234" {
		t.Fatalf("GetRange = %q, %v", part, err)
	}
	// Overwrite replaces.
	if err := b.Put(ctx, "t1/blobs/ab/abcdef", []byte("new")); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Get(ctx, "t1/blobs/ab/abcdef"); string(got) != "new" {
		t.Fatalf("after overwrite: %q", got)
	}
	b.Put(ctx, "t1/logs/1/0.seg", []byte("seg"))
	b.Put(ctx, "t2/blobs/cd/cdef", []byte("other tenant"))
	var keys []string
	err = b.List(ctx, "t1/", func(k string, _ int64) error { keys = append(keys, k); return nil })
	sort.Strings(keys)
	if err != nil || len(keys) != 2 || keys[0] != "t1/blobs/ab/abcdef" || keys[1] != "t1/logs/1/0.seg" {
		t.Fatalf("List(t1/) = %v, %v", keys, err)
	}
	if err := b.Delete(ctx, "t1/blobs/ab/abcdef"); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, "t1/blobs/ab/abcdef"); err != nil {
		t.Errorf("second delete: %v", err)
	}
	if _, err := b.Get(ctx, "t1/blobs/ab/abcdef"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after delete: %v", err)
	}
	for _, bad := range []string{"", "/abs", "a/../b", "a//b", "a/", "a b", "../x"} {
		if err := b.Put(ctx, bad, []byte("x")); err == nil {
			t.Errorf("Put(%q) accepted", bad)
		}
	}
}

func TestLocal(t *testing.T) {
	b, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	testBucket(t, b)
}

func TestS3(t *testing.T) {
	url := s3test.Start(t)
	b, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	testBucket(t, b)
}
