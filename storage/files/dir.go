package files

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"syscall"

	"rewire/storage"
)

// DirEntry is one entry of a directory listing.
type DirEntry struct {
	Name string
	// Cookie resumes a listing after this entry.
	Cookie int64
	Attr   Attr
}

// ReadDir lists up to limit entries of directory ino after cookie (0 for
// the start), in a stable order. Entries added during a listing may or may
// not appear; entries present throughout appear once.
func (fs *FS) ReadDir(ctx context.Context, ino uint64, cookie int64, limit int) ([]DirEntry, error) {
	rows, err := fs.t.DB().QueryContext(ctx, `SELECT d.id, d.name, `+inodeAttrCols+`
		FROM file_dirents d JOIN file_inodes i ON i.ino = d.ino
		WHERE d.parent = ? AND d.id > ? ORDER BY d.id LIMIT ?`, ino, cookie, limit)
	if err != nil {
		return nil, fmt.Errorf("files: readdir %d: %w", ino, err)
	}
	defer rows.Close()
	var out []DirEntry
	for rows.Next() {
		var e DirEntry
		var name []byte
		var a Attr
		var at, mt, ct int64
		err := rows.Scan(&e.Cookie, &name, &a.Ino, &a.Mode, &a.Nlink, &a.UID, &a.GID, &a.Size,
			&a.Alloc, &a.Rdev, &at, &mt, &ct, &a.Version)
		if err != nil {
			return nil, fmt.Errorf("files: readdir %d: %w", ino, err)
		}
		a.Atime, a.Mtime, a.Ctime = unixNano(at), unixNano(mt), unixNano(ct)
		e.Name, e.Attr = string(name), a
		out = append(out, e)
	}
	return out, rows.Err()
}

// Parent returns the directory containing directory ino (the root is its
// own parent).
func (fs *FS) Parent(ctx context.Context, ino uint64) (uint64, error) {
	var p uint64
	err := fs.t.DB().QueryRowContext(ctx, `SELECT parent FROM file_inodes WHERE ino = ?`, ino).Scan(&p)
	if err != nil {
		return 0, syscall.ENOENT
	}
	return p, nil
}

// Xattr flags (as in setxattr(2)).
const (
	XattrCreate  = 1
	XattrReplace = 2
)

// GetXattr returns an extended attribute; ENODATA if it is not set.
func (fs *FS) GetXattr(ctx context.Context, ino uint64, name string) ([]byte, error) {
	// One query answers both "which value" and "does the inode exist":
	// tools such as ls -l ask for absent attributes of every file.
	var v []byte
	var found bool
	err := fs.t.DB().QueryRowContext(ctx, `SELECT x.value, x.name IS NOT NULL
		FROM file_inodes i LEFT JOIN file_xattrs x ON x.ino = i.ino AND x.name = ?2
		WHERE i.ino = ?1`, ino, []byte(name)).Scan(&v, &found)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, syscall.ENOENT
	case err != nil:
		return nil, fmt.Errorf("files: getxattr: %w", err)
	case !found:
		return nil, syscall.ENODATA
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// HasXattrs reports whether any inode of the tree has extended
// attributes, so that a mount can answer lookups of absent ones quickly.
func (fs *FS) HasXattrs(ctx context.Context) (bool, error) {
	var any bool
	err := fs.t.DB().QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM file_xattrs)`).Scan(&any)
	return any, err
}

// ListXattr returns the names of an inode's extended attributes.
func (fs *FS) ListXattr(ctx context.Context, ino uint64) ([]string, error) {
	rows, err := fs.t.DB().QueryContext(ctx, `SELECT name FROM file_xattrs WHERE ino = ? ORDER BY name`, ino)
	if err != nil {
		return nil, fmt.Errorf("files: listxattr: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n []byte
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, string(n))
	}
	return out, rows.Err()
}

// SetXattr sets an extended attribute; flags may be XattrCreate or
// XattrReplace.
func (fs *FS) SetXattr(ctx context.Context, ino uint64, name string, value []byte, flags uint32) error {
	if name == "" || len(name) > 255 {
		return syscall.ERANGE
	}
	if len(value) > 64<<10 {
		return syscall.E2BIG
	}
	return fs.update(ctx, func(tx *storage.Tx) error {
		if _, err := getAttr(ctx, tx, ino); err != nil {
			return err
		}
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM file_xattrs WHERE ino = ? AND name = ?`, ino, []byte(name)).Scan(&one)
		exists := err == nil
		switch {
		case flags&XattrCreate != 0 && exists:
			return syscall.EEXIST
		case flags&XattrReplace != 0 && !exists:
			return syscall.ENODATA
		}
		if value == nil {
			value = []byte{}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO file_xattrs(ino, name, value) VALUES (?, ?, ?)
			ON CONFLICT(ino, name) DO UPDATE SET value = excluded.value`, ino, []byte(name), value); err != nil {
			return fmt.Errorf("files: setxattr: %w", err)
		}
		_, err = tx.ExecContext(ctx, `UPDATE file_inodes SET ctime = ? WHERE ino = ?`, now(), ino)
		return err
	})
}

// RemoveXattr removes an extended attribute; ENODATA if it is not set.
func (fs *FS) RemoveXattr(ctx context.Context, ino uint64, name string) error {
	return fs.update(ctx, func(tx *storage.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM file_xattrs WHERE ino = ? AND name = ?`, ino, []byte(name))
		if err != nil {
			return fmt.Errorf("files: removexattr: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if _, err := getAttr(ctx, tx, ino); err != nil {
				return err
			}
			return syscall.ENODATA
		}
		_, err = tx.ExecContext(ctx, `UPDATE file_inodes SET ctime = ? WHERE ino = ?`, now(), ino)
		return err
	})
}

// Usage is what statfs reports.
type Usage struct {
	// Bytes and Inodes count linked inodes; orphans (unlinked, still
	// held by a mount) are not counted, so removing a file frees its
	// space at once.
	Bytes  int64 // content bytes stored
	Inodes int64
	// Quota is the tenant's byte quota, 0 when none is set.
	Quota int64
}

const kvNamespace = "files"

// Usage counts the tree's bytes and inodes and reads the quota.
func (fs *FS) Usage(ctx context.Context) (Usage, error) {
	var u Usage
	err := fs.t.DB().QueryRowContext(ctx, `SELECT COALESCE(SUM(alloc), 0), COUNT(*) FROM file_inodes WHERE nlink > 0`).
		Scan(&u.Bytes, &u.Inodes)
	if err != nil {
		return u, fmt.Errorf("files: usage: %w", err)
	}
	v, err := fs.t.KVGet(ctx, kvNamespace, "quota_bytes")
	if err == nil {
		u.Quota, _ = strconv.ParseInt(string(v), 10, 64)
	} else if !errors.Is(err, storage.ErrNotFound) {
		return u, err
	}
	return u, nil
}

// SetQuota sets the tenant's byte quota for files (0 removes it). statfs
// reports it, and writes that would grow the tree past it fail with
// EDQUOT: the mount's as they come, every other interface's when their
// chunks are stored (WriteChunks).
func (fs *FS) SetQuota(ctx context.Context, bytes int64) error {
	return fs.update(ctx, func(tx *storage.Tx) error {
		if bytes <= 0 {
			return storage.KVDelete(tx, kvNamespace, "quota_bytes")
		}
		return storage.KVPut(tx, kvNamespace, "quota_bytes", []byte(strconv.FormatInt(bytes, 10)))
	})
}
