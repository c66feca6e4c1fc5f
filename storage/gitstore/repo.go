package gitstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"rewire/storage"
)

// Ref is a reference and the object it names.
type Ref struct {
	Name string
	Hash plumbing.Hash
}

// Repo is a snapshot of one repository: its HEAD, references and packs as
// of one committed state. It implements storer.EncodedObjectStorer (read
// only) so that go-git's object parsing works on it. Close releases it.
type Repo struct {
	t     *storage.Tenant
	ID    int64
	Name  string
	Head  string // the branch HEAD names, e.g. refs/heads/main
	Refs  []Ref  // sorted by name
	Packs []*Pack
}

type packRow struct {
	id      int64
	blob    storage.Hash
	idx     storage.Hash
	objects int64
	size    int64
}

// Open returns a snapshot of the named repository, or an error wrapping
// storage.ErrNotFound.
func Open(ctx context.Context, t *storage.Tenant, name string) (*Repo, error) {
	for try := 0; ; try++ {
		r, err := openOnce(ctx, t, name)
		// A repack may retire a pack between reading its row and opening
		// it: the next try reads the rows that replaced it.
		if errors.Is(err, errPackGone) && try < 3 {
			continue
		}
		return r, err
	}
}

// testHookRowsRead, when set by a test, runs between reading a
// repository's pack rows and opening the packs.
var testHookRowsRead func()

// errPackGone marks a pack row whose blob was released meanwhile.
var errPackGone = errors.New("pack replaced")

func openOnce(ctx context.Context, t *storage.Tenant, name string) (*Repo, error) {
	r := &Repo{t: t, Name: name}
	var rows []packRow
	err := func() error {
		tx, err := t.DB().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			return err
		}
		defer tx.Rollback()
		err = tx.QueryRowContext(ctx, `SELECT id, head FROM git_repos WHERE name = ?`, name).Scan(&r.ID, &r.Head)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: repository %q", storage.ErrNotFound, name)
		}
		if err != nil {
			return err
		}
		q, err := tx.QueryContext(ctx, `SELECT name, oid FROM git_refs WHERE repo = ? ORDER BY name`, r.ID)
		if err != nil {
			return err
		}
		for q.Next() {
			var ref Ref
			var oid []byte
			if err := q.Scan(&ref.Name, &oid); err != nil {
				q.Close()
				return err
			}
			copy(ref.Hash[:], oid)
			r.Refs = append(r.Refs, ref)
		}
		q.Close()
		q, err = tx.QueryContext(ctx, `SELECT id, pack, idx, objects, size FROM git_packs
			WHERE repo = ? ORDER BY id DESC`, r.ID)
		if err != nil {
			return err
		}
		defer q.Close()
		for q.Next() {
			var pr packRow
			var b, i []byte
			if err := q.Scan(&pr.id, &b, &i, &pr.objects, &pr.size); err != nil {
				return err
			}
			copy(pr.blob[:], b)
			copy(pr.idx[:], i)
			rows = append(rows, pr)
		}
		return q.Err()
	}()
	if err != nil {
		return nil, fmt.Errorf("open repository %q: %w", name, err)
	}
	if testHookRowsRead != nil {
		testHookRowsRead()
	}
	for _, row := range rows {
		p, err := openPacks.acquire(ctx, t, row)
		if errors.Is(err, storage.ErrNotFound) {
			// Not the repository's absence: callers must not see ErrNotFound.
			err = fmt.Errorf("%w: %v", errPackGone, err)
		}
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("open repository %q: %w", name, err)
		}
		r.Packs = append(r.Packs, p)
	}
	return r, nil
}

// Close releases the snapshot's packs.
func (r *Repo) Close() {
	for _, p := range r.Packs {
		openPacks.release(p)
	}
	r.Packs = nil
}

// Ref returns the object a reference names.
func (r *Repo) Ref(name string) (plumbing.Hash, bool) {
	i := sort.Search(len(r.Refs), func(i int) bool { return r.Refs[i].Name >= name })
	if i < len(r.Refs) && r.Refs[i].Name == name {
		return r.Refs[i].Hash, true
	}
	return plumbing.ZeroHash, false
}

// Has reports whether the repository holds an object.
func (r *Repo) Has(h plumbing.Hash) bool {
	for _, p := range r.Packs {
		if p.has(h) {
			return true
		}
	}
	return false
}

// NewEncodedObject implements storer.EncodedObjectStorer.
func (r *Repo) NewEncodedObject() plumbing.EncodedObject { return &plumbing.MemoryObject{} }

// SetEncodedObject implements storer.EncodedObjectStorer; a snapshot is
// read-only, objects arrive only as packs.
func (r *Repo) SetEncodedObject(plumbing.EncodedObject) (plumbing.Hash, error) {
	return plumbing.ZeroHash, fmt.Errorf("gitstore: snapshot is read-only")
}

// EncodedObject implements storer.EncodedObjectStorer.
func (r *Repo) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	for _, p := range r.Packs {
		if !p.has(h) {
			continue
		}
		o, err := p.get(h)
		if err != nil {
			return nil, fmt.Errorf("read object %s: %w", h, err)
		}
		if t != plumbing.AnyObject && o.Type() != t {
			return nil, plumbing.ErrObjectNotFound
		}
		return o, nil
	}
	return nil, plumbing.ErrObjectNotFound
}

// IterEncodedObjects implements storer.EncodedObjectStorer.
func (r *Repo) IterEncodedObjects(t plumbing.ObjectType) (storer.EncodedObjectIter, error) {
	var hashes []plumbing.Hash
	for _, p := range r.Packs {
		it, err := p.Index.Entries()
		if err != nil {
			return nil, err
		}
		for {
			e, err := it.Next()
			if err != nil {
				break
			}
			hashes = append(hashes, e.Hash)
		}
		it.Close()
	}
	return storer.NewEncodedObjectLookupIter(r, t, hashes), nil
}

// HasEncodedObject implements storer.EncodedObjectStorer.
func (r *Repo) HasEncodedObject(h plumbing.Hash) error {
	if r.Has(h) {
		return nil
	}
	return plumbing.ErrObjectNotFound
}

// EncodedObjectSize implements storer.EncodedObjectStorer.
func (r *Repo) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	for _, p := range r.Packs {
		if p.has(h) {
			return p.size(h)
		}
	}
	return 0, plumbing.ErrObjectNotFound
}

// AddAlternate implements storer.EncodedObjectStorer; alternates are not
// supported.
func (r *Repo) AddAlternate(string) error {
	return fmt.Errorf("gitstore: alternates are not supported")
}

var _ storer.EncodedObjectStorer = (*Repo)(nil)
