package files

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"syscall"
	"time"

	"rewire/storage"
)

// ReadChunk returns the stored bytes of chunk idx of inode ino. A hole
// returns nil. The returned slice may be shorter than ChunkSize: the rest
// of the chunk, up to the file size, reads as zeros. The caller owns it.
func (fs *FS) ReadChunk(ctx context.Context, ino uint64, idx int64) ([]byte, error) {
	h, ok, err := fs.ChunkHash(ctx, ino, idx)
	if err != nil || !ok {
		return nil, err
	}
	data, err := fs.t.Blobs().Get(ctx, h)
	if err != nil {
		return nil, fmt.Errorf("files: read chunk %d of inode %d: %w", idx, ino, err)
	}
	return data, nil
}

// ChunkHash returns the blob naming chunk idx of inode ino; ok is false
// for a hole.
func (fs *FS) ChunkHash(ctx context.Context, ino uint64, idx int64) (h storage.Hash, ok bool, err error) {
	var raw []byte
	err = fs.t.DB().QueryRowContext(ctx, `SELECT hash FROM file_chunks WHERE ino = ? AND idx = ?`, ino, idx).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return h, false, nil
	}
	if err != nil {
		return h, false, fmt.Errorf("files: chunk %d of inode %d: %w", idx, ino, err)
	}
	copy(h[:], raw)
	return h, true, nil
}

// GetBlob reads a blob by hash (a chunk named by ChunkHash).
func (fs *FS) GetBlob(ctx context.Context, h storage.Hash) ([]byte, error) {
	return fs.t.Blobs().Get(ctx, h)
}

// Chunk is new content for one chunk of a file. Data that is empty or
// all zeros makes the chunk a hole.
type Chunk struct {
	Idx  int64
	Data []byte
}

// WriteChunks stores chunks of a regular file and sets its size (and, if
// mtime is not zero, its modification time) in one durable transaction.
// Chunks at or beyond size are dropped, so size is authoritative. The
// blobs are uploaded before the metadata names them.
func (fs *FS) WriteChunks(ctx context.Context, ino uint64, chunks []Chunk, size int64, mtime time.Time) error {
	type put struct {
		idx  int64
		hash storage.Hash
		size int64
		hole bool
	}
	// Upload the chunks in parallel: each Put is a durable write of its
	// own (a warm object or a hot row), and they group-commit together.
	puts := make([]put, len(chunks))
	errs := make([]error, len(chunks))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, c := range chunks {
		puts[i] = put{idx: c.Idx, hole: isZero(c.Data), size: int64(len(c.Data))}
		if puts[i].hole {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if fs.lazy {
				puts[i].hash, errs[i] = fs.t.Blobs().PutLazy(ctx, c.Data)
			} else {
				puts[i].hash, errs[i] = fs.t.Blobs().Put(ctx, c.Data)
			}
		}()
	}
	wg.Wait()
	var added []storage.Hash
	var putErr error
	for i, p := range puts {
		if errs[i] != nil {
			putErr = fmt.Errorf("files: store chunk %d of inode %d: %w", p.idx, ino, errs[i])
		} else if !p.hole {
			added = append(added, p.hash)
		}
	}
	if putErr != nil {
		fs.release(ctx, added)
		return putErr
	}

	var freed []storage.Hash
	err := fs.update(ctx, func(tx *storage.Tx) error {
		freed = nil
		a, err := getAttr(ctx, tx, ino)
		if err != nil {
			return err
		}
		if !a.IsRegular() {
			return syscall.EINVAL
		}
		var delta int64
		for _, p := range puts {
			if p.idx*ChunkSize >= size {
				if !p.hole {
					freed = append(freed, p.hash)
				}
				continue
			}
			old, oldSize, had, err := chunkRow(ctx, tx, ino, p.idx)
			if err != nil {
				return err
			}
			if had {
				freed = append(freed, old)
				delta -= oldSize
			}
			if p.hole {
				_, err = tx.ExecContext(ctx, `DELETE FROM file_chunks WHERE ino = ? AND idx = ?`, ino, p.idx)
			} else {
				delta += p.size
				_, err = tx.ExecContext(ctx, `INSERT INTO file_chunks(ino, idx, hash, size) VALUES (?, ?, ?, ?)
					ON CONFLICT(ino, idx) DO UPDATE SET hash = excluded.hash, size = excluded.size`,
					ino, p.idx, p.hash[:], p.size)
			}
			if err != nil {
				return fmt.Errorf("files: write chunk: %w", err)
			}
		}
		cut, cutBytes, err := cutChunks(ctx, tx, ino, size)
		if err != nil {
			return err
		}
		freed = append(freed, cut...)
		delta -= cutBytes
		if delta > 0 && !fs.lazy {
			// The mount keeps its own count (it charges writes as they
			// come); every other writer is checked here.
			if err := checkQuota(ctx, tx, delta); err != nil {
				return err
			}
		}
		mt := a.Mtime.UnixNano()
		if !mtime.IsZero() {
			mt = mtime.UnixNano()
		}
		_, err = tx.ExecContext(ctx, `UPDATE file_inodes SET size = ?, alloc = alloc + ?, mtime = ?,
			ctime = ?, version = version + 1 WHERE ino = ?`, size, delta, mt, max(mt, now()), ino)
		return err
	})
	if err != nil {
		// The new blobs are not referenced by any chunk.
		fs.release(ctx, added)
		return err
	}
	fs.release(ctx, freed)
	notify(fs, Change{Ino: ino})
	return nil
}

// checkQuota fails with EDQUOT when growing the tree by delta bytes would
// pass the tenant's quota.
func checkQuota(ctx context.Context, tx *storage.Tx, delta int64) error {
	var raw []byte
	err := tx.QueryRowContext(ctx, `SELECT value FROM kv WHERE ns = ? AND key = 'quota_bytes'`, kvNamespace).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("files: read quota: %w", err)
	}
	quota, _ := strconv.ParseInt(string(raw), 10, 64)
	if quota <= 0 {
		return nil
	}
	var used int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(alloc), 0) FROM file_inodes WHERE nlink > 0`).Scan(&used); err != nil {
		return fmt.Errorf("files: usage: %w", err)
	}
	if used+delta > quota {
		return syscall.EDQUOT
	}
	return nil
}

// Truncate sets a regular file's size, dropping chunks beyond it and
// zeroing the tail of the last chunk so that a later extension reads
// zeros.
func (fs *FS) Truncate(ctx context.Context, ino uint64, size int64) error {
	if size < 0 {
		return syscall.EINVAL
	}
	a, err := fs.GetAttr(ctx, ino)
	if err != nil {
		return err
	}
	if a.IsDir() {
		return syscall.EISDIR
	}
	if !a.IsRegular() {
		return syscall.EINVAL
	}
	var chunks []Chunk
	if rem := size % ChunkSize; rem != 0 && size < a.Size {
		idx := size / ChunkSize
		data, err := fs.ReadChunk(ctx, ino, idx)
		if err != nil {
			return err
		}
		if int64(len(data)) > rem {
			chunks = append(chunks, Chunk{Idx: idx, Data: data[:rem]})
		}
	}
	mtime := time.Now()
	return fs.WriteChunks(ctx, ino, chunks, size, mtime)
}

// cutChunks deletes the chunks at or beyond size.
func cutChunks(ctx context.Context, tx *storage.Tx, ino uint64, size int64) ([]storage.Hash, int64, error) {
	first := (size + ChunkSize - 1) / ChunkSize
	var bytes int64
	err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(size), 0) FROM file_chunks WHERE ino = ? AND idx >= ?`,
		ino, first).Scan(&bytes)
	if err != nil || bytes == 0 {
		return nil, 0, err
	}
	hashes, err := chunkHashes(ctx, tx, `SELECT hash FROM file_chunks WHERE ino = ? AND idx >= ?`, ino, first)
	if err != nil {
		return nil, 0, err
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM file_chunks WHERE ino = ? AND idx >= ?`, ino, first)
	return hashes, bytes, err
}

func chunkRow(ctx context.Context, tx *storage.Tx, ino uint64, idx int64) (storage.Hash, int64, bool, error) {
	var h storage.Hash
	var raw []byte
	var size int64
	err := tx.QueryRowContext(ctx, `SELECT hash, size FROM file_chunks WHERE ino = ? AND idx = ?`, ino, idx).
		Scan(&raw, &size)
	if errors.Is(err, sql.ErrNoRows) {
		return h, 0, false, nil
	}
	if err != nil {
		return h, 0, false, fmt.Errorf("files: chunk row: %w", err)
	}
	copy(h[:], raw)
	return h, size, true, nil
}

func isZero(b []byte) bool {
	for len(b) >= 8 {
		if b[0]|b[1]|b[2]|b[3]|b[4]|b[5]|b[6]|b[7] != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// ReadAt reads from a file's stored content (not a mount's unflushed
// writes) into p at off and returns the bytes read; it stops at the end
// of the file.
func (fs *FS) ReadAt(ctx context.Context, ino uint64, p []byte, off int64) (int, error) {
	a, err := fs.GetAttr(ctx, ino)
	if err != nil {
		return 0, err
	}
	if a.IsDir() {
		return 0, syscall.EISDIR
	}
	if off >= a.Size {
		return 0, nil
	}
	p = p[:min(int64(len(p)), a.Size-off)]
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		idx := pos / ChunkSize
		in := pos % ChunkSize
		want := min(int64(len(p)-n), ChunkSize-in)
		data, err := fs.ReadChunk(ctx, ino, idx)
		if err != nil {
			return n, err
		}
		dst := p[n : n+int(want)]
		c := 0
		if in < int64(len(data)) {
			c = copy(dst, data[in:])
		}
		clear(dst[c:])
		n += int(want)
	}
	return n, nil
}
