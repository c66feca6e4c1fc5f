package gitstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"rewire/storage"
)

const schema = `
CREATE TABLE IF NOT EXISTS git_repos (
	id      INTEGER PRIMARY KEY,
	name    TEXT NOT NULL UNIQUE,
	head    TEXT NOT NULL,
	created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS git_refs (
	repo INTEGER NOT NULL,
	name TEXT NOT NULL,
	oid  BLOB NOT NULL,
	PRIMARY KEY (repo, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS git_packs (
	id      INTEGER PRIMARY KEY,
	repo    INTEGER NOT NULL,
	pack    BLOB NOT NULL,
	idx     BLOB NOT NULL,
	objects INTEGER NOT NULL,
	size    INTEGER NOT NULL,
	created INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS git_packs_repo ON git_packs(repo, id);
CREATE INDEX IF NOT EXISTS git_packs_pack ON git_packs(pack);
CREATE TABLE IF NOT EXISTS git_pending (
	id      INTEGER PRIMARY KEY,
	pack    BLOB NOT NULL,
	idx     BLOB NOT NULL,
	created INTEGER NOT NULL
);
`

func init() { storage.RegisterSchema("gitstore", schema) }

// DefaultHead is the branch HEAD names in a new repository.
const DefaultHead = "refs/heads/main"

// ValidName reports whether name is acceptable as a repository name: one
// path segment of letters, digits, '.', '_' and '-', not starting with a
// dot, at most 100 bytes, without the ".git" suffix.
func ValidName(name string) bool {
	if name == "" || len(name) > 100 || name[0] == '.' || strings.HasSuffix(name, ".git") {
		return false
	}
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.' || c == '_' || c == '-':
		default:
			return false
		}
	}
	return true
}

// Create makes an empty repository. It fails with storage.ErrExists if
// the name is taken and storage.ErrInvalidName if it is not valid.
func Create(ctx context.Context, t *storage.Tenant, name string) error {
	if !ValidName(name) {
		return fmt.Errorf("%w: repository %q", storage.ErrInvalidName, name)
	}
	return t.Update(ctx, func(tx *storage.Tx) error {
		_, err := createTx(tx, name, DefaultHead)
		return err
	})
}

func createTx(tx *storage.Tx, name, head string) (int64, error) {
	var id int64
	err := tx.QueryRow(`INSERT INTO git_repos(name, head, created) VALUES (?, ?, ?)
		ON CONFLICT(name) DO NOTHING RETURNING id`, name, head, time.Now().UnixNano()).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%w: repository %q", storage.ErrExists, name)
	}
	if err != nil {
		return 0, fmt.Errorf("create repository %q: %w", name, err)
	}
	return id, nil
}

// Delete removes a repository, its references and its packs.
func Delete(ctx context.Context, t *storage.Tenant, name string) error {
	var blobs [][]byte
	err := t.Update(ctx, func(tx *storage.Tx) error {
		blobs = blobs[:0]
		var id int64
		err := tx.QueryRow(`SELECT id FROM git_repos WHERE name = ?`, name).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: repository %q", storage.ErrNotFound, name)
		}
		if err != nil {
			return err
		}
		rows, err := tx.Query(`SELECT pack, idx FROM git_packs WHERE repo = ?`, id)
		if err != nil {
			return err
		}
		for rows.Next() {
			var p, i []byte
			if err := rows.Scan(&p, &i); err != nil {
				rows.Close()
				return err
			}
			blobs = append(blobs, p, i)
		}
		rows.Close()
		for _, q := range []string{
			`DELETE FROM git_packs WHERE repo = ?`,
			`DELETE FROM git_refs WHERE repo = ?`,
			`DELETE FROM git_repos WHERE id = ?`,
		} {
			if _, err := tx.Exec(q, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete repository %q: %w", name, err)
	}
	var errs []error
	for i, b := range blobs {
		var h storage.Hash
		copy(h[:], b)
		errs = append(errs, t.Blobs().Release(ctx, h))
		// Drop the local copy of a pack no other repository holds.
		if _, err := t.Blobs().Stat(ctx, h); i%2 == 0 && errors.Is(err, storage.ErrNotFound) {
			openPacks.retire(t, h)
		}
	}
	return errors.Join(errs...)
}

// List returns the tenant's repository names in order.
func List(ctx context.Context, t *storage.Tenant) ([]string, error) {
	rows, err := t.DB().QueryContext(ctx, `SELECT name FROM git_repos ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list repositories: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}
