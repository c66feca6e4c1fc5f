package storage

import (
	"context"
	"crypto/sha256"
	"sync"

	"rewire/storage/tier"
)

// verifiedFiles remembers which warm-tier files last matched their blob's
// hash, by file version (device, inode, size, modification and change
// times). Reading the same unchanged file again then skips rehashing it:
// a mount refilling the kernel's page cache from 4 MiB chunks spent half
// its time in SHA-256 otherwise. Any write, truncation or replacement of
// the file changes its version and brings the check back.
//
// What this gives up: bytes that rot on the disk under an unchanged file
// after it was verified are not caught until the entry is forgotten (the
// process restarts or the memo overflows). Buckets that cannot report a
// version (S3) are hashed on every read.
type verifiedFiles struct {
	mu sync.Mutex
	m  map[string]tier.Version
}

// maxVerified bounds the memo (about 100 bytes per entry).
const maxVerified = 1 << 16

func (v *verifiedFiles) matches(key string, ver tier.Version) bool {
	if ver == (tier.Version{}) {
		return false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	old, ok := v.m[key]
	return ok && old == ver
}

func (v *verifiedFiles) remember(key string, ver tier.Version) {
	if ver == (tier.Version{}) {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = make(map[string]tier.Version)
	}
	if _, ok := v.m[key]; !ok && len(v.m) >= maxVerified {
		for k := range v.m { // drop an arbitrary entry
			delete(v.m, k)
			break
		}
	}
	v.m[key] = ver
}

func (v *verifiedFiles) forget(key string) {
	v.mu.Lock()
	delete(v.m, key)
	v.mu.Unlock()
}

// warmVersioned is the warm bucket's Versioned side, or nil.
func (s *Store) warmVersioned() tier.Versioned {
	if wb, ok := s.warm.(watchedBucket); ok {
		vb, _ := wb.Bucket.(tier.Versioned)
		return vb
	}
	return nil
}

// putWarmBlob stores data, which the caller knows to be the blob under
// key, in the warm tier; the file written counts as verified.
func (s *Store) putWarmBlob(ctx context.Context, key string, data []byte) error {
	if err := s.warm.Put(ctx, key, data); err != nil {
		return err
	}
	if vb := s.warmVersioned(); vb != nil {
		if ver, err := vb.StatVersion(ctx, key); err == nil {
			s.verified.remember(key, ver)
		}
	}
	return nil
}

// getWarmBlob reads blob h from the warm tier and checks it against its
// hash and size, unless the file is one already checked and unchanged.
func (s *Store) getWarmBlob(ctx context.Context, key string, h Hash, size int64) ([]byte, error) {
	vb := s.warmVersioned()
	if vb == nil {
		data, err := s.warm.Get(ctx, key)
		if err != nil {
			return nil, err
		}
		return data, checkBlob(data, h, size)
	}
	data, ver, err := vb.GetVersion(ctx, key)
	if err != nil {
		return nil, err
	}
	if s.verified.matches(key, ver) {
		return data, nil
	}
	if err := checkBlob(data, h, size); err != nil {
		return nil, err
	}
	s.verified.remember(key, ver)
	return data, nil
}

// checkBlob reports ErrCorrupt when data is not the blob h of size bytes.
func checkBlob(data []byte, h Hash, size int64) error {
	if int64(len(data)) != size || sha256.Sum256(data) != h {
		return errBlobMismatch(h)
	}
	return nil
}
