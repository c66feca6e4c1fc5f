package gitstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"

	"rewire/storage"
)

// Command is one reference update of a push: Old is the value the client
// saw (zero to create), New the value to set (zero to delete).
type Command struct {
	Name     string
	Old, New plumbing.Hash
}

// MaxPackBytes caps the size of one received pack. A pack is held in
// memory while it is checked and stored.
const MaxPackBytes = 2 << 30

// ErrRejected wraps the reason a command was not applied.
var ErrRejected = errors.New("rejected")

// Incoming is a received pack, checked and stored as blobs but not yet
// visible in any repository. Obtain one with ReadPack; Apply makes it
// visible, Discard drops it.
type Incoming struct {
	t       *storage.Tenant
	objects int64
	size    int64
	blob    storage.Hash
	idxBlob storage.Hash
	index   *idxfile.MemoryIndex
	path    string
	stored  bool
	pending int64 // git_pending row naming the blobs until Apply or Discard
}

// Has reports whether the incoming pack holds an object.
func (in *Incoming) Has(h plumbing.Hash) bool {
	if in == nil || in.index == nil {
		return false
	}
	ok, _ := in.index.Contains(h)
	return ok
}

// Objects is the number of objects in the pack.
func (in *Incoming) Objects() int64 {
	if in == nil {
		return 0
	}
	return in.objects
}

// ReadPack reads a pack from r, indexes it, checks every object (hashes,
// format as git fsck checks it, and that everything it names exists in the
// pack or in base) and stores the pack and its index as blobs. base may be
// nil for a new repository. A thin pack, whose deltas name bases in base,
// is completed with those bases first.
func ReadPack(ctx context.Context, t *storage.Tenant, base *Repo, r io.Reader) (*Incoming, error) {
	dir := packDir(t)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("receive pack: %w", err)
	}
	removeStale(dir)
	if err := collectOrphans(ctx, t); err != nil {
		return nil, fmt.Errorf("receive pack: %w", err)
	}
	f, err := os.CreateTemp(dir, "incoming-*")
	if err != nil {
		return nil, fmt.Errorf("receive pack: %w", err)
	}
	in := &Incoming{t: t, path: f.Name()}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			in.Discard(context.WithoutCancel(ctx))
		}
	}()
	// The pack is kept in memory (the blob store takes it whole) and
	// written to the local copy as it arrives.
	var buf bytes.Buffer
	n, err := io.Copy(io.MultiWriter(f, &buf), io.LimitReader(r, MaxPackBytes+1))
	if err != nil {
		return nil, fmt.Errorf("receive pack: %w", err)
	}
	if n > MaxPackBytes {
		return nil, fmt.Errorf("%w: pack larger than %d bytes", storage.ErrTooLarge, int64(MaxPackBytes))
	}
	in.size = n
	data := buf.Bytes()

	// The header's object count sizes allocations in the indexer: refuse a
	// count the pack's length cannot hold (an object takes at least 9
	// bytes: a type byte and the smallest zlib stream).
	if len(data) < 12 || string(data[:4]) != "PACK" {
		return nil, fmt.Errorf("%w: bad pack header", errMalformed)
	}
	if cnt := int64(binary.BigEndian.Uint32(data[8:12])); cnt > (n-32)/9+1 {
		return nil, fmt.Errorf("%w: pack header claims %d objects in %d bytes", errMalformed, cnt, n)
	}

	var names map[plumbing.Hash]plumbing.Hash
	in.index, names, err = indexPack(data, checkReceived)
	if errors.Is(err, errThinPack) && base != nil {
		// A thin pack: complete it with the bases the repository holds.
		if data, err = fixThin(data, base); err != nil {
			return nil, err
		}
		if err := rewrite(f, data); err != nil {
			return nil, fmt.Errorf("receive pack: %w", err)
		}
		in.size = int64(len(data))
		in.index, names, err = indexPack(data, checkReceived)
	}
	if err != nil {
		return nil, err
	}
	cnt, _ := in.index.Count()
	in.objects = cnt
	if cnt == 0 {
		f.Close()
		os.Remove(in.path)
		ok = true
		return in, nil
	}
	// Everything the pack's commits, trees and tags name must exist.
	for h, from := range names {
		if !in.Has(h) && (base == nil || !base.Has(h)) {
			return nil, fmt.Errorf("%w: object %s names missing object %s", errMalformed, from, h)
		}
	}
	if err := in.store(ctx, f, data); err != nil {
		return nil, err
	}
	ok = true
	return in, nil
}

// rewrite replaces the contents of the pack's local copy.
func rewrite(f *os.File, data []byte) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt(data, 0)
	return err
}

// checkReceived validates a received commit, tree or tag as git fsck
// would and appends the objects it names (gitlinks aside) to names.
func checkReceived(h plumbing.Hash, typ plumbing.ObjectType, b []byte, names []plumbing.Hash) ([]plumbing.Hash, error) {
	switch typ {
	case plumbing.CommitObject:
		tree, parents, err := checkCommit(h, b)
		if err != nil {
			return names, err
		}
		return append(append(names, tree), parents...), nil
	case plumbing.TreeObject:
		err := checkTree(h, b, func(n plumbing.Hash, mode uint32) error {
			if !IsGitlink(mode) {
				names = append(names, n)
			}
			return nil
		})
		return names, err
	case plumbing.TagObject:
		target, _, err := checkTag(h, b)
		return append(names, target), err
	}
	return names, nil
}

// store writes the pack and index blobs and moves the local copy in place.
func (in *Incoming) store(ctx context.Context, f *os.File, data []byte) error {
	// The local copy must be complete before it is named: a copy that
	// exists is trusted.
	err := f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write pack copy: %w", err)
	}
	var idx bytes.Buffer
	if _, err := idxfile.NewEncoder(&idx).Encode(in.index); err != nil {
		return fmt.Errorf("encode pack index: %w", err)
	}
	// Name the blobs before they exist, so that a crash before Apply or
	// Discard leaves a row for collectOrphans rather than a silent leak.
	sum := sha256.Sum256(data)
	if in.pending, err = addPending(ctx, in.t, sum, sha256.Sum256(idx.Bytes())); err != nil {
		return fmt.Errorf("store pack: %w", err)
	}
	if in.blob, err = in.t.Blobs().Put(ctx, data); err != nil {
		return fmt.Errorf("store pack: %w", err)
	}
	if in.idxBlob, err = in.t.Blobs().Put(ctx, idx.Bytes()); err != nil {
		in.t.Blobs().Release(context.WithoutCancel(ctx), in.blob)
		return fmt.Errorf("store pack index: %w", err)
	}
	in.stored = true
	final := filepath.Join(packDir(in.t), in.blob.String()+".pack")
	if err := os.Rename(in.path, final); err != nil {
		return err
	}
	in.path = ""
	if sum != in.blob {
		return fmt.Errorf("%w: pack hash", storage.ErrCorrupt)
	}
	return nil
}

// Discard drops an incoming pack that was not applied.
func (in *Incoming) Discard(ctx context.Context) {
	if in == nil {
		return
	}
	if in.path != "" {
		os.Remove(in.path)
		in.path = ""
	}
	if in.stored {
		in.stored = false
		in.t.Blobs().Release(ctx, in.blob)
		in.t.Blobs().Release(ctx, in.idxBlob)
		// The local copy goes with the blob, unless another pack row
		// still holds the same bytes.
		if _, err := in.t.Blobs().Stat(ctx, in.blob); errors.Is(err, storage.ErrNotFound) {
			openPacks.retire(in.t, in.blob)
		} else {
			openPacks.forget(in.t, in.blob)
		}
	}
	if in.pending != 0 {
		dropPending(ctx, in.t, in.pending)
		in.pending = 0
	}
}

// Apply makes an incoming pack (nil or empty for none) visible in the
// named repository together with the reference updates, in one durable
// transaction; the repository is created if missing and every command
// creates. With atomic, either every command applies or none does;
// otherwise each applies on its own. results[i] is nil or the reason
// command i was rejected (wrapping ErrRejected). The pack is discarded
// when no command applied.
func Apply(ctx context.Context, t *storage.Tenant, name string, in *Incoming, cmds []Command,
	objectType func(plumbing.Hash) plumbing.ObjectType, atomic bool) ([]error, error) {
	results := make([]error, len(cmds))
	for i, c := range cmds {
		switch {
		case !ValidRefName(c.Name):
			results[i] = fmt.Errorf("%w: invalid reference name", ErrRejected)
		case c.New != plumbing.ZeroHash && objectType != nil && objectType(c.New) == plumbing.InvalidObject:
			results[i] = fmt.Errorf("%w: missing object", ErrRejected)
		case c.New != plumbing.ZeroHash && objectType != nil && len(c.Name) > 11 && c.Name[:11] == "refs/heads/" &&
			objectType(c.New) != plumbing.CommitObject:
			results[i] = fmt.Errorf("%w: non-commit object on a branch", ErrRejected)
		}
	}
	applied := 0
	err := t.Update(ctx, func(tx *storage.Tx) error {
		applied = 0
		res := make([]error, len(cmds))
		copy(res, results)
		var id int64
		err := tx.QueryRow(`SELECT id FROM git_repos WHERE name = ?`, name).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			if !ValidName(name) {
				return fmt.Errorf("%w: repository %q", storage.ErrInvalidName, name)
			}
			if id, err = createTx(tx, name, firstHead(cmds)); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		for i, c := range cmds {
			if res[i] != nil {
				continue
			}
			res[i] = applyRef(tx, id, c)
			if res[i] == nil {
				applied++
			}
		}
		for i := range res {
			if res[i] != nil && atomic {
				for j := range res {
					if res[j] == nil {
						res[j] = fmt.Errorf("%w: atomic push failed", ErrRejected)
					}
				}
				copy(results, res)
				return errAtomic
			}
			_ = i
		}
		copy(results, res)
		if applied == 0 {
			return errNothing
		}
		if in != nil && in.stored {
			_, err := tx.Exec(`INSERT INTO git_packs(repo, pack, idx, objects, size, created)
				VALUES (?, ?, ?, ?, ?, ?)`, id, in.blob[:], in.idxBlob[:], in.objects, in.size, time.Now().UnixNano())
			if err != nil {
				return err
			}
			if _, err := tx.Exec(`DELETE FROM git_pending WHERE id = ?`, in.pending); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, errAtomic) || errors.Is(err, errNothing) {
		in.Discard(context.WithoutCancel(ctx))
		return results, nil
	}
	if err != nil {
		in.Discard(context.WithoutCancel(ctx))
		return results, fmt.Errorf("update references: %w", err)
	}
	if in != nil {
		in.stored = false // now owned by the repository
		in.pending = 0
	}
	return results, nil
}

var (
	errAtomic  = errors.New("atomic push failed")
	errNothing = errors.New("no command applied")
)

// applyRef runs one compare-and-swap.
func applyRef(tx *storage.Tx, repo int64, c Command) error {
	var cur []byte
	err := tx.QueryRow(`SELECT oid FROM git_refs WHERE repo = ? AND name = ?`, repo, c.Name).Scan(&cur)
	exists := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	switch {
	case c.Old == plumbing.ZeroHash && exists:
		return fmt.Errorf("%w: reference already exists", ErrRejected)
	case c.Old != plumbing.ZeroHash && (!exists || !bytes.Equal(cur, c.Old[:])):
		return fmt.Errorf("%w: stale info", ErrRejected)
	}
	if c.New == plumbing.ZeroHash {
		_, err = tx.Exec(`DELETE FROM git_refs WHERE repo = ? AND name = ?`, repo, c.Name)
	} else {
		_, err = tx.Exec(`INSERT INTO git_refs(repo, name, oid) VALUES (?, ?, ?)
			ON CONFLICT(repo, name) DO UPDATE SET oid = excluded.oid`, repo, c.Name, c.New[:])
	}
	return err
}

// firstHead picks HEAD for a repository created by a push: main, unless the
// push creates other branches only.
func firstHead(cmds []Command) string {
	var first string
	for _, c := range cmds {
		if c.New == plumbing.ZeroHash || len(c.Name) <= 11 || c.Name[:11] != "refs/heads/" {
			continue
		}
		if c.Name == DefaultHead {
			return DefaultHead
		}
		if first == "" || c.Name == "refs/heads/master" {
			first = c.Name
		}
	}
	if first == "" {
		return DefaultHead
	}
	return first
}

// View returns a snapshot of base (which may be nil) with the incoming
// pack (which may be nil) added, to read objects that are not visible yet.
func View(ctx context.Context, t *storage.Tenant, base *Repo, in *Incoming) (*Repo, error) {
	v := &Repo{t: t}
	if base != nil {
		v.ID, v.Name, v.Head, v.Refs = base.ID, base.Name, base.Head, base.Refs
	}
	if in != nil && in.stored {
		p, err := openPacks.acquire(ctx, t, packRow{blob: in.blob, idx: in.idxBlob, objects: in.objects, size: in.size})
		if err != nil {
			return nil, err
		}
		v.Packs = append(v.Packs, p)
	}
	if base != nil {
		openPacks.mu.Lock()
		for _, p := range base.Packs {
			p.refs++
			v.Packs = append(v.Packs, p)
		}
		openPacks.mu.Unlock()
	}
	return v, nil
}

// ObjectType returns an object's type, or plumbing.InvalidObject if the
// repository does not hold it.
func (r *Repo) ObjectType(h plumbing.Hash) plumbing.ObjectType {
	o, err := r.EncodedObject(plumbing.AnyObject, h)
	if err != nil {
		return plumbing.InvalidObject
	}
	return o.Type()
}

// removeStale deletes incoming packs left by a crash.
func removeStale(dir string) {
	old, _ := filepath.Glob(filepath.Join(dir, "incoming-*"))
	for _, p := range old {
		if st, err := os.Stat(p); err == nil && time.Since(st.ModTime()) > time.Hour {
			os.Remove(p)
		}
	}
}
