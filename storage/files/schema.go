package files

import "rewire/storage"

// schema is the files object kind inside the tenant database.
//
//   - file_inodes: one row per inode. mode holds the type bits and the
//     permission bits as in st_mode; times are Unix nanoseconds; alloc is
//     the number of content bytes stored in chunks (st_blocks); parent is
//     the containing directory of a directory (for ".." and rename loop
//     checks) and 0 for other kinds; target is a symbolic link's target;
//     version grows with every content change. AUTOINCREMENT keeps inode
//     numbers from being reused, so a kernel never confuses a new file
//     with a deleted one.
//   - file_dirents: directory entries. id is the readdir cookie; a rename
//     updates the row in place so a listing in progress keeps its place.
//   - file_chunks: content. Chunk idx covers bytes [idx*ChunkSize,
//     (idx+1)*ChunkSize); a missing row is a hole that reads as zeros.
//     hash names a core blob holding the chunk's bytes (size of them; the
//     rest of the chunk up to the file size reads as zeros). Each row
//     holds one reference on its blob.
//   - file_xattrs: extended attributes.
//
// An inode whose nlink dropped to 0 while a mount had it open stays until
// the mount closes it; a crash in between leaves it behind and the next
// mount removes it (PurgeOrphans).
const schema = `
CREATE TABLE IF NOT EXISTS file_inodes (
	ino     INTEGER PRIMARY KEY AUTOINCREMENT,
	mode    INTEGER NOT NULL,
	nlink   INTEGER NOT NULL,
	uid     INTEGER NOT NULL DEFAULT 0,
	gid     INTEGER NOT NULL DEFAULT 0,
	size    INTEGER NOT NULL DEFAULT 0,
	alloc   INTEGER NOT NULL DEFAULT 0,
	rdev    INTEGER NOT NULL DEFAULT 0,
	atime   INTEGER NOT NULL,
	mtime   INTEGER NOT NULL,
	ctime   INTEGER NOT NULL,
	parent  INTEGER NOT NULL DEFAULT 0,
	target  BLOB,
	version INTEGER NOT NULL DEFAULT 0
);
INSERT OR IGNORE INTO file_inodes(ino, mode, nlink, atime, mtime, ctime, parent)
	VALUES (1, 16877, 2, CAST(unixepoch('subsec')*1000000000 AS INTEGER),
		CAST(unixepoch('subsec')*1000000000 AS INTEGER),
		CAST(unixepoch('subsec')*1000000000 AS INTEGER), 1);
CREATE TABLE IF NOT EXISTS file_dirents (
	id     INTEGER PRIMARY KEY AUTOINCREMENT,
	parent INTEGER NOT NULL,
	name   BLOB NOT NULL,
	ino    INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS file_dirents_name ON file_dirents(parent, name);
CREATE INDEX IF NOT EXISTS file_dirents_ino ON file_dirents(ino);
CREATE INDEX IF NOT EXISTS file_dirents_list ON file_dirents(parent, id);
CREATE TABLE IF NOT EXISTS file_chunks (
	ino  INTEGER NOT NULL,
	idx  INTEGER NOT NULL,
	hash BLOB NOT NULL,
	size INTEGER NOT NULL,
	PRIMARY KEY (ino, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS file_xattrs (
	ino   INTEGER NOT NULL,
	name  BLOB NOT NULL,
	value BLOB NOT NULL,
	PRIMARY KEY (ino, name)
) WITHOUT ROWID;
`

func init() { storage.RegisterSchema("files", schema) }
