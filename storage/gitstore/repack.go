package gitstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"rewire/storage"
)

// maxRepackBytes caps the packs Repack merges: the merged pack is held in
// memory about three times over while it is written, checked and stored.
const maxRepackBytes = 512 << 20

// errRepackRaced means another repack changed the packs first.
var errRepackRaced = errors.New("packs changed during repack")

// Repack merges the stored packs of a repository into one when it has at
// least minPacks of them, so that object lookups ask one index and a clone
// streams one stored pack. The new pack copies the stored entries (see
// WritePack): deltas whose base is in the repository are kept, nothing is
// re-deltified, and every object is kept, reachable or not. It is stored
// and checked like a pushed pack, then replaces the packs it merged in one
// transaction; packs pushed meanwhile stay as they are. Snapshots opened
// before keep reading the old packs until they are closed. It reports the
// number of packs merged, 0 when there was nothing to do or when a
// concurrent repack won.
func Repack(ctx context.Context, t *storage.Tenant, name string, minPacks int) (int, error) {
	repo, err := Open(ctx, t, name)
	if err != nil {
		return 0, err
	}
	defer repo.Close()
	if len(repo.Packs) < max(minPacks, 2) {
		return 0, nil
	}
	var size int64
	for _, p := range repo.Packs {
		size += p.Size
	}
	if size > maxRepackBytes {
		return 0, nil // TODO: repack in pieces, or streaming, past what is held in memory
	}

	// Oldest pack first, each in its stored order, so that bases mostly
	// precede their deltas.
	var objects []plumbing.Hash
	seen := make(map[plumbing.Hash]bool)
	for i := len(repo.Packs) - 1; i >= 0; i-- {
		it, err := repo.Packs[i].Index.EntriesByOffset()
		if err != nil {
			return 0, fmt.Errorf("repack: %w", err)
		}
		for {
			e, err := it.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				it.Close()
				return 0, fmt.Errorf("repack: %w", err)
			}
			if !seen[e.Hash] {
				seen[e.Hash] = true
				objects = append(objects, e.Hash)
			}
		}
		it.Close()
	}
	var buf bytes.Buffer
	buf.Grow(int(size))
	if err := repo.WritePack(&buf, objects, true); err != nil {
		return 0, fmt.Errorf("repack: %w", err)
	}
	in, err := ReadPack(ctx, t, nil, &buf)
	if err != nil {
		return 0, fmt.Errorf("repack: %w", err)
	}
	merged := make([]storage.Hash, len(repo.Packs))
	for i, p := range repo.Packs {
		merged[i] = p.Blob
	}
	released, err := swapPacks(ctx, t, repo.ID, in, merged)
	if errors.Is(err, errRepackRaced) {
		in.Discard(context.WithoutCancel(ctx))
		return 0, nil
	}
	if err != nil {
		in.Discard(context.WithoutCancel(ctx))
		return 0, fmt.Errorf("repack: %w", err)
	}
	in.stored, in.pending = false, 0 // owned by the repository now

	// The old packs' blobs go; their local copies go once no snapshot
	// reads them and no other repository holds the same pack.
	var errs []error
	for _, h := range released {
		errs = append(errs, t.Blobs().Release(context.WithoutCancel(ctx), h))
	}
	for _, h := range merged {
		if _, err := t.Blobs().Stat(ctx, h); errors.Is(err, storage.ErrNotFound) {
			openPacks.retire(t, h)
		}
	}
	return len(merged), errors.Join(errs...)
}

// swapPacks replaces the rows of the merged packs by the new pack in one
// transaction and returns the pack and index blobs the removed rows held.
func swapPacks(ctx context.Context, t *storage.Tenant, repo int64, in *Incoming, merged []storage.Hash) ([]storage.Hash, error) {
	var released []storage.Hash
	err := t.Update(ctx, func(tx *storage.Tx) error {
		released = released[:0]
		for _, h := range merged {
			rows, err := tx.Query(`SELECT idx FROM git_packs WHERE repo = ? AND pack = ?`, repo, h[:])
			if err != nil {
				return err
			}
			n := 0
			for rows.Next() {
				var idx []byte
				if err := rows.Scan(&idx); err != nil {
					rows.Close()
					return err
				}
				var ih storage.Hash
				copy(ih[:], idx)
				released = append(released, h, ih)
				n++
			}
			rows.Close()
			if n == 0 {
				return errRepackRaced
			}
			if _, err := tx.Exec(`DELETE FROM git_packs WHERE repo = ? AND pack = ?`, repo, h[:]); err != nil {
				return err
			}
		}
		_, err := tx.Exec(`INSERT INTO git_packs(repo, pack, idx, objects, size, created)
			VALUES (?, ?, ?, ?, ?, ?)`, repo, in.blob[:], in.idxBlob[:], in.objects, in.size, time.Now().UnixNano())
		if err != nil {
			return err
		}
		_, err = tx.Exec(`DELETE FROM git_pending WHERE id = ?`, in.pending)
		return err
	})
	return released, err
}
