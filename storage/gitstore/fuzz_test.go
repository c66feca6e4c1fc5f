package gitstore

import (
	"bytes"
	"context"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// FuzzObjects feeds pushed object bodies to the fsck-like checks.
func FuzzObjects(f *testing.F) {
	h := "1111111111111111111111111111111111111111"
	f.Add([]byte("tree " + h + "\nparent " + h + "\nauthor A <a@b> 1 +0000\ncommitter A <a@b> 1 +0000\n\nm\n"))
	f.Add([]byte("100644 a\x0001234567890123456789040000 b\x0001234567890123456789"))
	f.Add([]byte("object " + h + "\ntype commit\ntag v1\ntagger A <a@b> 1 +0000\n\nm\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var id plumbing.Hash
		checkCommit(id, b)
		checkTag(id, b)
		checkTree(id, b, func(plumbing.Hash, uint32) error { return nil })
	})
}

// FuzzReadPack feeds arbitrary bytes as a pushed pack.
func FuzzReadPack(f *testing.F) {
	f.Add([]byte("PACK\x00\x00\x00\x02\x00\x00\x00\x00"))
	f.Add([]byte("PACK\x00\x00\x00\x02\x00\x00\x00\x01\x30\x78\x9c"))
	ten := testTenant(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := ReadPack(context.Background(), ten, nil, bytes.NewReader(b))
		if err == nil {
			in.Discard(context.Background())
		}
	})
}
