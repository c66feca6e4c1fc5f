package gitstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"rewire/storage"
)

// orphanAge is how old a pending pack must be before collectOrphans takes
// it for the leftover of a crash rather than a push in progress.
var orphanAge = time.Hour

// addPending records the blobs a received pack is about to be stored as.
func addPending(ctx context.Context, t *storage.Tenant, pack, idx storage.Hash) (int64, error) {
	var id int64
	err := t.Update(ctx, func(tx *storage.Tx) error {
		return tx.QueryRow(`INSERT INTO git_pending(pack, idx, created) VALUES (?, ?, ?) RETURNING id`,
			pack[:], idx[:], time.Now().UnixNano()).Scan(&id)
	})
	return id, err
}

// dropPending forgets a pending pack whose blobs were released or handed to
// a repository. A row left by a failure here is collected later.
func dropPending(ctx context.Context, t *storage.Tenant, id int64) {
	t.Update(context.WithoutCancel(ctx), func(tx *storage.Tx) error {
		_, err := tx.Exec(`DELETE FROM git_pending WHERE id = ?`, id)
		return err
	})
}

// collectOrphans releases the blobs of packs that a crash left stored but
// named by no repository. A pending row proves both blobs were stored only
// once the pack's local copy has its final name (store renames it after
// both puts); before that the row is dropped and the blobs, if any, leak
// rather than risk releasing a reference another pack holds. A blob that a
// pack row or another pending push names is never released here.
func collectOrphans(ctx context.Context, t *storage.Tenant) error {
	type row struct {
		id        int64
		pack, idx storage.Hash
	}
	var rows []row
	q, err := t.DB().QueryContext(ctx, `SELECT id, pack, idx FROM git_pending WHERE created < ?`,
		time.Now().Add(-orphanAge).UnixNano())
	if err != nil {
		return err
	}
	for q.Next() {
		var r row
		var p, i []byte
		if err := q.Scan(&r.id, &p, &i); err != nil {
			q.Close()
			return err
		}
		copy(r.pack[:], p)
		copy(r.idx[:], i)
		rows = append(rows, r)
	}
	q.Close()
	if err := q.Err(); err != nil {
		return err
	}

	for _, r := range rows {
		local := filepath.Join(packDir(t), r.pack.String()+".pack")
		release := false
		err := t.Update(ctx, func(tx *storage.Tx) error {
			release = false
			res, err := tx.Exec(`DELETE FROM git_pending WHERE id = ?`, r.id)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return nil // collected by a concurrent push
			}
			// Another pack row or a push in progress with the same bytes
			// may hold the blob: leave it.
			var named int
			err = tx.QueryRow(`SELECT (SELECT count(*) FROM git_packs WHERE pack = ?)
				+ (SELECT count(*) FROM git_pending WHERE pack = ?)`, r.pack[:], r.pack[:]).Scan(&named)
			if err != nil {
				return err
			}
			_, statErr := os.Stat(local)
			release = named == 0 && statErr == nil
			return nil
		})
		if err != nil {
			return err
		}
		if !release {
			continue
		}
		errs := errors.Join(t.Blobs().Release(ctx, r.pack), t.Blobs().Release(ctx, r.idx))
		if _, err := t.Blobs().Stat(ctx, r.pack); errors.Is(err, storage.ErrNotFound) {
			openPacks.retire(t, r.pack)
		}
		if errs != nil {
			return errs
		}
	}
	return nil
}
