package storage

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Tier says where a blob's bytes are.
type Tier int

// The tiers, hottest first.
const (
	TierHot  Tier = 0 // inline in the tenant's SQLite
	TierWarm Tier = 1 // an object in the warm bucket
	TierCold Tier = 2 // a zstd-compressed object in the cold bucket
)

func (t Tier) String() string {
	switch t {
	case TierHot:
		return "hot"
	case TierWarm:
		return "warm"
	case TierCold:
		return "cold"
	}
	return fmt.Sprintf("tier(%d)", int(t))
}

// Hash is a blob's SHA-256.
type Hash [32]byte

// String returns the hash in hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// ParseHash parses a hex hash.
func ParseHash(s string) (Hash, error) {
	var h Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("%w: hash %q", ErrInvalidArg, s)
	}
	copy(h[:], b)
	return h, nil
}

// BlobInfo describes a stored blob.
type BlobInfo struct {
	Hash     Hash
	Size     int64
	Tier     Tier
	Refs     int64
	Accessed time.Time
}

// Blobs is a tenant's content-addressed store. Each Put of the same bytes
// adds a reference; Release drops one, and the blob is deleted with its
// last reference. Methods are safe for concurrent use.
type Blobs struct {
	t *Tenant
	// locks serialise the bucket upload and the metadata switch of one
	// hash against a concurrent delete of the same hash.
	locks [64]sync.Mutex
}

func (b *Blobs) lock(h Hash) func() {
	m := &b.locks[h[0]%64]
	m.Lock()
	return m.Unlock
}

func (b *Blobs) warmKey(h Hash) string {
	s := h.String()
	return b.t.info.ID + "/blobs/" + s[:2] + "/" + s
}

func (b *Blobs) coldKey(h Hash) string {
	s := h.String()
	return b.t.info.ID + "/blobs/" + s[:2] + "/" + s + ".zst"
}

// Put stores data (deduplicated) and adds a reference to it. Blobs up to
// the policy's HotMaxBytes are stored inline; larger ones are uploaded to
// the warm tier first, so metadata never names a missing copy.
func (b *Blobs) Put(ctx context.Context, data []byte) (Hash, error) {
	return b.put(ctx, data, b.t.Update)
}

// PutLazy is Put whose row changes are lazy writes (Tenant.UpdateLazy):
// for data whose reference is itself written lazily, such as a mounted
// file's chunks. A warm copy is still durable before its row is written,
// so no durable row ever names a missing copy.
func (b *Blobs) PutLazy(ctx context.Context, data []byte) (Hash, error) {
	return b.put(ctx, data, b.t.UpdateLazy)
}

func (b *Blobs) put(ctx context.Context, data []byte, update func(context.Context, func(*Tx) error) error) (Hash, error) {
	h := Hash(sha256.Sum256(data))
	now := time.Now().UnixNano()
	if int64(len(data)) <= b.t.policy.HotMaxBytes {
		err := update(ctx, func(tx *Tx) error {
			_, err := tx.Exec(`INSERT INTO blobs(hash, size, tier, data, refs, created, accessed)
				VALUES (?, ?, 0, ?, 1, ?, ?)
				ON CONFLICT(hash) DO UPDATE SET refs = refs + 1, accessed = excluded.accessed`,
				h[:], len(data), data, now, now)
			return err
		})
		if err == nil {
			metricTierBytes.WithLabelValues("hot").Add(float64(len(data)))
		}
		return h, err
	}

	unlock := b.lock(h)
	defer unlock()
	added, err := b.addRef(ctx, h, update)
	if err != nil || added {
		return h, err
	}
	if err := b.t.store.putWarmBlob(ctx, b.warmKey(h), data); err != nil {
		return h, err
	}
	metricTierBytes.WithLabelValues("warm").Add(float64(len(data)))
	err = update(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO blobs(hash, size, tier, data, refs, created, accessed)
			VALUES (?, ?, 1, NULL, 1, ?, ?)
			ON CONFLICT(hash) DO UPDATE SET refs = refs + 1`, h[:], len(data), now, now)
		return err
	})
	return h, err
}

// addRef adds a reference to an existing blob and reports whether it
// existed.
func (b *Blobs) addRef(ctx context.Context, h Hash, update func(context.Context, func(*Tx) error) error) (bool, error) {
	var n int64
	err := update(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE blobs SET refs = refs + 1 WHERE hash = ?`, h[:])
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n > 0, err
}

// Stat describes a blob without reading it.
func (b *Blobs) Stat(ctx context.Context, h Hash) (BlobInfo, error) {
	info := BlobInfo{Hash: h}
	var accessed int64
	err := b.t.r.QueryRowContext(ctx, `SELECT size, tier, refs, accessed FROM blobs WHERE hash = ?`, h[:]).
		Scan(&info.Size, &info.Tier, &info.Refs, &accessed)
	if errors.Is(err, sql.ErrNoRows) {
		return info, fmt.Errorf("%w: blob %s", ErrNotFound, h)
	}
	info.Accessed = time.Unix(0, accessed)
	return info, err
}

// Get returns a blob's bytes, checked against its hash. Reading a blob
// marks it used, and a blob found in a colder tier than its size calls for
// is promoted (the new copy durable before the old one is dropped).
func (b *Blobs) Get(ctx context.Context, h Hash) ([]byte, error) {
	var size, accessed int64
	var tier Tier
	var data []byte
	err := b.t.r.QueryRowContext(ctx, `SELECT size, tier, data, accessed FROM blobs WHERE hash = ?`, h[:]).
		Scan(&size, &tier, &data, &accessed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: blob %s", ErrNotFound, h)
	}
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", h, err)
	}
	switch tier {
	case TierHot:
		err = checkBlob(data, h, size)
	case TierWarm:
		data, err = b.t.store.getWarmBlob(ctx, b.warmKey(h), h, size)
	case TierCold:
		if data, err = b.getCold(ctx, h); err == nil {
			err = checkBlob(data, h, size)
		}
	default:
		err = fmt.Errorf("%w: blob %s in unknown tier %d", ErrCorrupt, h, tier)
	}
	if err != nil {
		return nil, err
	}

	now := time.Now()
	want := b.placement(size)
	if tier > want {
		if err := b.move(ctx, h, tier, want, data); err != nil {
			b.t.store.log.Warn("promote blob", "tenant", b.t.info.Name, "blob", h.String(), "err", err)
		}
	} else if now.Sub(time.Unix(0, accessed)) > time.Minute {
		// Record the access, at most once a minute per blob, without
		// making the reader wait for a commit.
		go b.t.Update(context.Background(), func(tx *Tx) error {
			_, err := tx.Exec(`UPDATE blobs SET accessed = ? WHERE hash = ?`, now.UnixNano(), h[:])
			return err
		})
	}
	return data, nil
}

func (b *Blobs) getCold(ctx context.Context, h Hash) ([]byte, error) {
	z, err := b.t.store.cold.Get(ctx, b.coldKey(h))
	if err != nil {
		return nil, err
	}
	data, err := zstdDecoder.DecodeAll(z, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: blob %s: %w", ErrCorrupt, h, err)
	}
	return data, nil
}

var (
	zstdEncoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBetterCompression))
	zstdDecoder, _ = zstd.NewReader(nil, zstd.WithDecoderMaxMemory(4<<30))
)

// placement is the tier a freshly used blob of this size belongs in.
func (b *Blobs) placement(size int64) Tier {
	if size <= b.t.policy.HotMaxBytes {
		return TierHot
	}
	return TierWarm
}

// move copies a blob from one tier to another: the new copy is made
// durable, the metadata switched in a transaction that checks the blob is
// still where it was, and only then is the old copy removed. A crash at any
// point leaves the metadata naming a complete copy.
func (b *Blobs) move(ctx context.Context, h Hash, from, to Tier, data []byte) error {
	unlock := b.lock(h)
	defer unlock()
	var newData any
	switch to {
	case TierHot:
		newData = data
	case TierWarm:
		if err := b.t.store.putWarmBlob(ctx, b.warmKey(h), data); err != nil {
			return err
		}
	case TierCold:
		z := zstdEncoder.EncodeAll(data, nil)
		if err := b.t.store.cold.Put(ctx, b.coldKey(h), z); err != nil {
			return err
		}
	}
	metricTierBytes.WithLabelValues(to.String()).Add(float64(len(data)))
	// A promotion is an access; a demotion keeps the last access time.
	accessed := time.Now().UnixNano()
	var moved bool
	err := b.t.Update(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE blobs SET tier = ?, data = ?,
			accessed = CASE WHEN ? < tier THEN ? ELSE accessed END WHERE hash = ? AND tier = ?`,
			to, newData, to, accessed, h[:], from)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		moved = n == 1
		return nil
	})
	if err != nil {
		return err
	}
	if !moved {
		// Someone else moved or deleted it; drop our copy unless it is the
		// one the metadata now names.
		if info, err := b.Stat(ctx, h); err != nil || info.Tier != to {
			b.deleteCopy(ctx, h, to)
		}
		return nil
	}
	metricTierMoves.WithLabelValues(from.String(), to.String()).Inc()
	return b.deleteCopy(ctx, h, from)
}

func (b *Blobs) deleteCopy(ctx context.Context, h Hash, t Tier) error {
	switch t {
	case TierWarm:
		return b.t.store.warm.Delete(ctx, b.warmKey(h))
	case TierCold:
		return b.t.store.cold.Delete(ctx, b.coldKey(h))
	}
	return nil
}

// Release drops one reference; the blob and its copies are deleted with
// the last one.
func (b *Blobs) Release(ctx context.Context, h Hash) error {
	unlock := b.lock(h)
	defer unlock()
	var gone bool
	var tier Tier
	err := b.t.Update(ctx, func(tx *Tx) error {
		err := tx.QueryRow(`UPDATE blobs SET refs = refs - 1 WHERE hash = ? RETURNING refs, tier`, h[:]).
			Scan(new(int64), &tier)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: blob %s", ErrNotFound, h)
		}
		if err != nil {
			return err
		}
		res, err := tx.Exec(`DELETE FROM blobs WHERE hash = ? AND refs <= 0`, h[:])
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		gone = n > 0
		return nil
	})
	if err != nil || !gone {
		return err
	}
	return b.deleteCopy(ctx, h, tier)
}

// MoveStats counts what one mover pass did.
type MoveStats struct {
	Demoted   int   // blobs moved to a colder tier
	Sealed    int   // log segments sealed into the warm tier
	Trimmed   int   // log batches removed by retention
	HotBytes  int64 // bytes in each tier after the pass
	WarmBytes int64
	ColdBytes int64
}

// demote moves blobs not read recently down one tier.
func (b *Blobs) demote(ctx context.Context, st *MoveStats) error {
	now := time.Now()
	steps := []struct {
		from, to Tier
		after    time.Duration
	}{
		{TierHot, TierWarm, b.t.policy.WarmAfter},
		{TierWarm, TierCold, b.t.policy.ColdAfter},
	}
	for _, s := range steps {
		cutoff := now.Add(-s.after).UnixNano()
		for {
			hashes, err := b.idle(ctx, s.from, cutoff, 256)
			if err != nil {
				return err
			}
			for _, h := range hashes {
				data, err := b.readTier(ctx, h, s.from)
				if err != nil {
					return err
				}
				if err := b.move(ctx, h, s.from, s.to, data); err != nil {
					return err
				}
				st.Demoted++
			}
			if len(hashes) < 256 {
				break
			}
		}
	}
	return nil
}

func (b *Blobs) idle(ctx context.Context, t Tier, cutoff int64, limit int) ([]Hash, error) {
	rows, err := b.t.r.QueryContext(ctx,
		`SELECT hash FROM blobs WHERE tier = ? AND accessed < ? ORDER BY accessed LIMIT ?`, t, cutoff, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Hash
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		var h Hash
		copy(h[:], raw)
		out = append(out, h)
	}
	return out, rows.Err()
}

// readTier reads a blob from a given tier without promoting it.
func (b *Blobs) readTier(ctx context.Context, h Hash, t Tier) ([]byte, error) {
	switch t {
	case TierHot:
		var data []byte
		err := b.t.r.QueryRowContext(ctx, `SELECT data FROM blobs WHERE hash = ?`, h[:]).Scan(&data)
		return data, err
	case TierWarm:
		return b.t.store.warm.Get(ctx, b.warmKey(h))
	default:
		return b.getCold(ctx, h)
	}
}

func (b *Blobs) tierSizes(ctx context.Context, st *MoveStats) error {
	rows, err := b.t.r.QueryContext(ctx, `SELECT tier, COALESCE(SUM(size), 0) FROM blobs GROUP BY tier`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var t Tier
		var n int64
		if err := rows.Scan(&t, &n); err != nil {
			return err
		}
		switch t {
		case TierHot:
			st.HotBytes += n
		case TierWarm:
			st.WarmBytes += n
		case TierCold:
			st.ColdBytes += n
		}
	}
	return rows.Err()
}

func errBlobMismatch(h Hash) error {
	return fmt.Errorf("%w: blob %s does not match its hash", ErrCorrupt, h)
}
