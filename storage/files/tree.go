package files

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"syscall"
	"time"

	"rewire/storage"
)

// Create makes a regular file (or, with other type bits in mode, a
// device, FIFO or socket node) named name in parent and returns its
// attributes. It fails with EEXIST if the name is taken.
func (fs *FS) Create(ctx context.Context, parent uint64, name string, mode, uid, gid, rdev uint32) (Attr, error) {
	if mode&ModeType == 0 {
		mode |= ModeRegular
	}
	if mode&ModeType == ModeDir || mode&ModeType == ModeSymlink {
		return Attr{}, syscall.EINVAL
	}
	return fs.mknode(ctx, parent, name, mode, uid, gid, rdev, nil)
}

// Mkdir makes a directory.
func (fs *FS) Mkdir(ctx context.Context, parent uint64, name string, mode, uid, gid uint32) (Attr, error) {
	return fs.mknode(ctx, parent, name, ModeDir|mode&^ModeType, uid, gid, 0, nil)
}

// Symlink makes a symbolic link to target.
func (fs *FS) Symlink(ctx context.Context, parent uint64, name, target string, uid, gid uint32) (Attr, error) {
	if len(target) > 4095 {
		return Attr{}, syscall.ENAMETOOLONG
	}
	return fs.mknode(ctx, parent, name, ModeSymlink|0o777, uid, gid, 0, []byte(target))
}

func (fs *FS) mknode(ctx context.Context, parent uint64, name string, mode, uid, gid, rdev uint32, target []byte) (Attr, error) {
	if err := checkName(name); err != nil {
		return Attr{}, err
	}
	isDir := mode&ModeType == ModeDir
	var a Attr
	err := fs.update(ctx, func(tx *storage.Tx) error {
		p, err := dirForChange(ctx, tx, parent)
		if err != nil {
			return err
		}
		// A set-group-ID directory passes its group (and, to
		// subdirectories, the bit) on.
		if p.Mode&syscall.S_ISGID != 0 {
			gid = p.GID
			if isDir {
				mode |= syscall.S_ISGID
			}
		}
		n := now()
		nlink, dirParent, size := 1, uint64(0), int64(0)
		if isDir {
			nlink, dirParent = 2, parent
		}
		if target != nil {
			size = int64(len(target))
		}
		var ino uint64
		err = tx.QueryRowContext(ctx, `INSERT INTO file_inodes
			(mode, nlink, uid, gid, size, rdev, atime, mtime, ctime, parent, target)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING ino`,
			mode, nlink, uid, gid, size, rdev, n, n, n, dirParent, target).Scan(&ino)
		if err != nil {
			return fmt.Errorf("files: create inode: %w", err)
		}
		// A taken name fails here, and the savepoint drops the inode.
		if err := addEntry(ctx, tx, parent, name, ino); err != nil {
			return err
		}
		dirLinks := 0
		if isDir {
			dirLinks = 1
		}
		if err := touchDir(ctx, tx, parent, n, dirLinks); err != nil {
			return err
		}
		t := unixNano(n)
		a = Attr{Ino: ino, Mode: mode, Nlink: uint32(nlink), UID: uid, GID: gid, Size: size,
			Rdev: rdev, Atime: t, Mtime: t, Ctime: t}
		return nil
	})
	if err == nil {
		notify(fs, Change{Parent: parent, Name: name})
	}
	return a, err
}

// Link adds a hard link named name in parent to inode ino.
func (fs *FS) Link(ctx context.Context, ino, parent uint64, name string) (Attr, error) {
	if err := checkName(name); err != nil {
		return Attr{}, err
	}
	var a Attr
	err := fs.update(ctx, func(tx *storage.Tx) error {
		if _, err := dirForChange(ctx, tx, parent); err != nil {
			return err
		}
		src, err := getAttr(ctx, tx, ino)
		if err != nil {
			return err
		}
		if src.IsDir() {
			return syscall.EPERM
		}
		if src.Nlink == 0 {
			return syscall.ENOENT
		}
		if _, err := entryIno(ctx, tx, parent, name); err == nil {
			return syscall.EEXIST
		}
		n := now()
		if err := addEntry(ctx, tx, parent, name, ino); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE file_inodes SET nlink = nlink + 1, ctime = ? WHERE ino = ?`, n, ino); err != nil {
			return fmt.Errorf("files: link: %w", err)
		}
		if err := touchDir(ctx, tx, parent, n, 0); err != nil {
			return err
		}
		a, err = getAttr(ctx, tx, ino)
		return err
	})
	if err == nil {
		notify(fs, Change{Parent: parent, Name: name, Ino: ino})
	}
	return a, err
}

// Unlink removes the entry name (not a directory) from parent. The inode
// goes with its last link unless a mount still uses it (see Hold).
func (fs *FS) Unlink(ctx context.Context, parent uint64, name string) error {
	var freed []storage.Hash
	var ino uint64
	err := fs.update(ctx, func(tx *storage.Tx) error {
		freed = nil
		a, err := entryAttr(ctx, tx, parent, name)
		if err != nil {
			return err
		}
		ino = a.Ino
		if a.IsDir() {
			return syscall.EISDIR
		}
		n := now()
		if err := removeEntry(ctx, tx, parent, name); err != nil {
			return err
		}
		if err := touchDir(ctx, tx, parent, n, 0); err != nil {
			return err
		}
		freed, err = fs.unlinkInode(ctx, tx, ino, n)
		return err
	})
	fs.release(ctx, freed)
	if err == nil {
		notify(fs, Change{Parent: parent, Name: name, Ino: ino, Deleted: true})
	}
	return err
}

// Rmdir removes the empty directory name from parent.
func (fs *FS) Rmdir(ctx context.Context, parent uint64, name string) error {
	if name == "." {
		return syscall.EINVAL
	}
	if name == ".." {
		return syscall.ENOTEMPTY
	}
	err := fs.update(ctx, func(tx *storage.Tx) error {
		a, err := entryAttr(ctx, tx, parent, name)
		if err != nil {
			return err
		}
		ino := a.Ino
		if !a.IsDir() {
			return syscall.ENOTDIR
		}
		if err := checkEmpty(ctx, tx, ino); err != nil {
			return err
		}
		n := now()
		if err := removeEntry(ctx, tx, parent, name); err != nil {
			return err
		}
		if err := touchDir(ctx, tx, parent, n, -1); err != nil {
			return err
		}
		_, err = dropInode(ctx, tx, ino, 0)
		return err
	})
	if err == nil {
		notify(fs, Change{Parent: parent, Name: name, Deleted: true})
	}
	return err
}

// Rename moves the entry oldName of oldParent to newName in newParent,
// atomically replacing what newName named. flags may hold RenameNoReplace
// or RenameExchange.
func (fs *FS) Rename(ctx context.Context, oldParent uint64, oldName string, newParent uint64, newName string, flags uint32) error {
	if flags&^(RenameNoReplace|RenameExchange) != 0 ||
		flags == RenameNoReplace|RenameExchange {
		return syscall.EINVAL
	}
	if err := checkName(newName); err != nil {
		return err
	}
	if err := checkName(oldName); err != nil {
		return err
	}
	var freed []storage.Hash
	var replaced uint64 // inode newName named, if it lost that link
	err := fs.update(ctx, func(tx *storage.Tx) error {
		freed, replaced = nil, 0
		if _, err := dirForChange(ctx, tx, oldParent); err != nil {
			return err
		}
		if _, err := dirForChange(ctx, tx, newParent); err != nil {
			return err
		}
		srcIno, err := entryIno(ctx, tx, oldParent, oldName)
		if err != nil {
			return err
		}
		src, err := getAttr(ctx, tx, srcIno)
		if err != nil {
			return err
		}
		dstIno, err := entryIno(ctx, tx, newParent, newName)
		dstExists := err == nil
		if err != nil && !errors.Is(err, syscall.ENOENT) {
			return err
		}
		n := now()

		if flags&RenameExchange != 0 {
			if !dstExists {
				return syscall.ENOENT
			}
			freed = nil
			return exchange(ctx, tx, oldParent, oldName, src, newParent, newName, dstIno, n)
		}
		if dstExists && flags&RenameNoReplace != 0 {
			return syscall.EEXIST
		}
		if dstExists && dstIno == srcIno {
			return nil // two links to one inode: nothing to do
		}
		if src.IsDir() && newParent != oldParent {
			if err := checkNotAncestor(ctx, tx, srcIno, newParent); err != nil {
				return err
			}
		}
		if dstExists {
			dst, err := getAttr(ctx, tx, dstIno)
			if err != nil {
				return err
			}
			switch {
			case src.IsDir() && !dst.IsDir():
				return syscall.ENOTDIR
			case !src.IsDir() && dst.IsDir():
				return syscall.EISDIR
			}
			if dst.IsDir() {
				if err := checkEmpty(ctx, tx, dstIno); err != nil {
					return err
				}
			}
			if err := removeEntry(ctx, tx, newParent, newName); err != nil {
				return err
			}
			replaced = dstIno
			if dst.IsDir() {
				if err := touchDir(ctx, tx, newParent, n, -1); err != nil {
					return err
				}
				if _, err := dropInode(ctx, tx, dstIno, 0); err != nil {
					return err
				}
			} else if freed, err = fs.unlinkInode(ctx, tx, dstIno, n); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE file_dirents SET parent = ?, name = ?
			WHERE parent = ? AND name = ?`, newParent, []byte(newName), oldParent, []byte(oldName)); err != nil {
			return fmt.Errorf("files: rename: %w", err)
		}
		links := 0
		if src.IsDir() && newParent != oldParent {
			links = 1
			if _, err := tx.ExecContext(ctx, `UPDATE file_inodes SET parent = ? WHERE ino = ?`, newParent, srcIno); err != nil {
				return fmt.Errorf("files: rename: %w", err)
			}
		}
		if err := touchDir(ctx, tx, oldParent, n, -links); err != nil {
			return err
		}
		if err := touchDir(ctx, tx, newParent, n, links); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE file_inodes SET ctime = ? WHERE ino = ?`, n, srcIno)
		return err
	})
	fs.release(ctx, freed)
	if err == nil {
		notify(fs, Change{Parent: oldParent, Name: oldName, Deleted: flags&RenameExchange == 0})
		if replaced != 0 {
			notify(fs, Change{Parent: newParent, Name: newName, Ino: replaced, Deleted: true})
		}
		notify(fs, Change{Parent: newParent, Name: newName})
	}
	return err
}

// exchange swaps two entries (RENAME_EXCHANGE).
func exchange(ctx context.Context, tx *storage.Tx, op uint64, on string, src Attr, np uint64, nn string, dstIno uint64, n int64) error {
	dst, err := getAttr(ctx, tx, dstIno)
	if err != nil {
		return err
	}
	if op != np {
		if src.IsDir() {
			if err := checkNotAncestor(ctx, tx, src.Ino, np); err != nil {
				return err
			}
		}
		if dst.IsDir() {
			if err := checkNotAncestor(ctx, tx, dstIno, op); err != nil {
				return err
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE file_dirents SET ino = ? WHERE parent = ? AND name = ?`, dstIno, op, []byte(on)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE file_dirents SET ino = ? WHERE parent = ? AND name = ?`, src.Ino, np, []byte(nn)); err != nil {
		return err
	}
	if op != np {
		// Directories change parents, and the parents' link counts follow.
		delta := 0
		if src.IsDir() {
			delta++
			if _, err := tx.ExecContext(ctx, `UPDATE file_inodes SET parent = ? WHERE ino = ?`, np, src.Ino); err != nil {
				return err
			}
		}
		if dst.IsDir() {
			delta--
			if _, err := tx.ExecContext(ctx, `UPDATE file_inodes SET parent = ? WHERE ino = ?`, op, dstIno); err != nil {
				return err
			}
		}
		if err := touchDir(ctx, tx, op, n, -delta); err != nil {
			return err
		}
		if err := touchDir(ctx, tx, np, n, delta); err != nil {
			return err
		}
	} else if err := touchDir(ctx, tx, op, n, 0); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE file_inodes SET ctime = ? WHERE ino IN (?, ?)`, n, src.Ino, dstIno)
	return err
}

// SetAttrs names the attributes SetAttr changes; nil fields stay.
type SetAttrs struct {
	Mode  *uint32 // permission bits only
	UID   *uint32
	GID   *uint32
	Atime *time.Time
	Mtime *time.Time
	Ctime *time.Time // defaults to now when anything changes
}

// SetAttr changes mode, owner and times. Size changes go through
// Truncate.
func (fs *FS) SetAttr(ctx context.Context, ino uint64, s SetAttrs) (Attr, error) {
	var a Attr
	err := fs.update(ctx, func(tx *storage.Tx) error {
		cur, err := getAttr(ctx, tx, ino)
		if err != nil {
			return err
		}
		if s.Mode != nil {
			cur.Mode = cur.Mode&ModeType | *s.Mode&^ModeType
		}
		if s.UID != nil {
			cur.UID = *s.UID
		}
		if s.GID != nil {
			cur.GID = *s.GID
		}
		if s.Atime != nil {
			cur.Atime = *s.Atime
		}
		if s.Mtime != nil {
			cur.Mtime = *s.Mtime
		}
		ct := time.Now()
		if s.Ctime != nil {
			ct = *s.Ctime
		}
		_, err = tx.ExecContext(ctx, `UPDATE file_inodes SET mode = ?, uid = ?, gid = ?,
			atime = ?, mtime = ?, ctime = ? WHERE ino = ?`,
			cur.Mode, cur.UID, cur.GID, cur.Atime.UnixNano(), cur.Mtime.UnixNano(), ct.UnixNano(), ino)
		if err != nil {
			return fmt.Errorf("files: setattr: %w", err)
		}
		a, err = getAttr(ctx, tx, ino)
		return err
	})
	if err == nil {
		notify(fs, Change{Ino: ino})
	}
	return a, err
}

// DropIfUnlinked removes, in one transaction, those of the inodes that
// have no links left; a mount calls it for inodes it no longer holds.
func (fs *FS) DropIfUnlinked(ctx context.Context, inos ...uint64) error {
	var freed []storage.Hash
	err := fs.update(ctx, func(tx *storage.Tx) error {
		freed = nil
		for _, ino := range inos {
			a, err := getAttr(ctx, tx, ino)
			if errors.Is(err, syscall.ENOENT) || (err == nil && a.Nlink > 0) {
				continue
			}
			if err != nil {
				return err
			}
			f, err := dropInode(ctx, tx, ino, a.Alloc)
			if err != nil {
				return err
			}
			freed = append(freed, f...)
		}
		return nil
	})
	fs.release(ctx, freed)
	return err
}

// PurgeOrphans removes inodes left unlinked but open by a mount that
// ended without closing them (a crash). Call it only when no mount of the
// tenant is running.
func (fs *FS) PurgeOrphans(ctx context.Context) (int, error) {
	rows, err := fs.t.DB().QueryContext(ctx, `SELECT ino FROM file_inodes WHERE nlink = 0`)
	if err != nil {
		return 0, fmt.Errorf("files: orphans: %w", err)
	}
	var inos []uint64
	for rows.Next() {
		var ino uint64
		if err := rows.Scan(&ino); err != nil {
			rows.Close()
			return 0, err
		}
		inos = append(inos, ino)
	}
	rows.Close()
	total := len(inos)
	for len(inos) > 0 {
		n := min(len(inos), 256)
		if err := fs.DropIfUnlinked(ctx, inos[:n]...); err != nil {
			return 0, err
		}
		inos = inos[n:]
	}
	return total, nil
}

// unlinkInode drops one link of a non-directory and deletes it with its
// last link unless a holder (see Hold) still uses it.
func (fs *FS) unlinkInode(ctx context.Context, tx *storage.Tx, ino uint64, n int64) ([]storage.Hash, error) {
	var nlink, alloc int64
	err := tx.QueryRowContext(ctx, `UPDATE file_inodes SET nlink = nlink - 1, ctime = ?
		WHERE ino = ? RETURNING nlink, alloc`, n, ino).Scan(&nlink, &alloc)
	if err != nil {
		return nil, fmt.Errorf("files: unlink: %w", err)
	}
	if nlink > 0 || fs.isHeld(ino) {
		return nil, nil
	}
	return dropInode(ctx, tx, ino, alloc)
}

// dropInode deletes an inode and returns the blobs its chunks referenced,
// to be released after the commit. alloc is the inode's stored bytes
// (0 means it has no chunks, which saves two statements), or -1 if not
// known.
func dropInode(ctx context.Context, tx *storage.Tx, ino uint64, alloc int64) ([]storage.Hash, error) {
	qs := []string{`DELETE FROM file_xattrs WHERE ino = ?`, `DELETE FROM file_inodes WHERE ino = ?`}
	var freed []storage.Hash
	if alloc != 0 {
		var err error
		freed, err = chunkHashes(ctx, tx, `SELECT hash FROM file_chunks WHERE ino = ?`, ino)
		if err != nil {
			return nil, err
		}
		qs = append(qs, `DELETE FROM file_chunks WHERE ino = ?`)
	}
	for _, q := range qs {
		if _, err := tx.ExecContext(ctx, q, ino); err != nil {
			return nil, fmt.Errorf("files: drop inode %d: %w", ino, err)
		}
	}
	return freed, nil
}

func chunkHashes(ctx context.Context, tx *storage.Tx, q string, args ...any) ([]storage.Hash, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("files: chunks: %w", err)
	}
	defer rows.Close()
	var out []storage.Hash
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		var h storage.Hash
		copy(h[:], raw)
		out = append(out, h)
	}
	return out, rows.Err()
}

// release drops blob references after the metadata that held them is
// gone. A failure leaks a reference, never loses data.
// TODO: a sweep that releases references no chunk holds after a crash.
func (fs *FS) release(ctx context.Context, hashes []storage.Hash) {
	ctx = context.WithoutCancel(ctx)
	for _, h := range hashes {
		fs.t.Blobs().Release(ctx, h)
	}
}

// dirForChange returns a directory that may get new entries.
func dirForChange(ctx context.Context, tx *storage.Tx, ino uint64) (Attr, error) {
	a, err := getAttr(ctx, tx, ino)
	if err != nil {
		return a, err
	}
	if !a.IsDir() {
		return a, syscall.ENOTDIR
	}
	return a, nil
}

func entryIno(ctx context.Context, tx *storage.Tx, parent uint64, name string) (uint64, error) {
	if len(name) > MaxNameLen {
		return 0, syscall.ENAMETOOLONG
	}
	var ino uint64
	err := tx.QueryRowContext(ctx, `SELECT ino FROM file_dirents WHERE parent = ? AND name = ?`,
		parent, []byte(name)).Scan(&ino)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, syscall.ENOENT
	}
	if err != nil {
		return 0, fmt.Errorf("files: lookup %q: %w", name, err)
	}
	return ino, nil
}

// addEntry adds a directory entry; EEXIST if the name is taken.
func addEntry(ctx context.Context, tx *storage.Tx, parent uint64, name string, ino uint64) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO file_dirents(parent, name, ino) VALUES (?, ?, ?)
		ON CONFLICT(parent, name) DO NOTHING`, parent, []byte(name), ino)
	if err != nil {
		return fmt.Errorf("files: add entry %q: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return syscall.EEXIST
	}
	return nil
}

// entryAttr returns the attributes of the entry name in parent. It fails
// with ENOENT, or ENOTDIR when parent is no directory.
func entryAttr(ctx context.Context, tx *storage.Tx, parent uint64, name string) (Attr, error) {
	if len(name) > MaxNameLen {
		return Attr{}, syscall.ENAMETOOLONG
	}
	a, err := scanAttr(tx.QueryRowContext(ctx, `SELECT `+inodeAttrCols+`
		FROM file_dirents d JOIN file_inodes i ON i.ino = d.ino
		WHERE d.parent = ? AND d.name = ?`, parent, []byte(name)))
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := dirForChange(ctx, tx, parent); err != nil {
			return a, err
		}
		return a, syscall.ENOENT
	}
	if err != nil {
		return a, fmt.Errorf("files: lookup %q: %w", name, err)
	}
	return a, nil
}

func removeEntry(ctx context.Context, tx *storage.Tx, parent uint64, name string) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM file_dirents WHERE parent = ? AND name = ?`, parent, []byte(name))
	if err != nil {
		return fmt.Errorf("files: remove entry %q: %w", name, err)
	}
	return nil
}

// touchDir sets a directory's mtime and ctime and adds links to its link
// count (subdirectories' ".." entries).
func touchDir(ctx context.Context, tx *storage.Tx, ino uint64, n int64, links int) error {
	_, err := tx.ExecContext(ctx, `UPDATE file_inodes SET mtime = ?, ctime = ?, nlink = nlink + ?
		WHERE ino = ?`, n, n, links, ino)
	if err != nil {
		return fmt.Errorf("files: update directory: %w", err)
	}
	return nil
}

func checkEmpty(ctx context.Context, tx *storage.Tx, dir uint64) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM file_dirents WHERE parent = ? LIMIT 1`, dir).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("files: check empty: %w", err)
	}
	return syscall.ENOTEMPTY
}

// checkNotAncestor fails with EINVAL if dir is target or one of its
// ancestors: a directory cannot move below itself.
func checkNotAncestor(ctx context.Context, tx *storage.Tx, dir, target uint64) error {
	for cur := target; ; {
		if cur == dir {
			return syscall.EINVAL
		}
		if cur == RootIno {
			return nil
		}
		var p uint64
		err := tx.QueryRowContext(ctx, `SELECT parent FROM file_inodes WHERE ino = ?`, cur).Scan(&p)
		if err != nil {
			return fmt.Errorf("files: walk up from %d: %w", cur, err)
		}
		if p == 0 || p == cur {
			return nil
		}
		cur = p
	}
}
