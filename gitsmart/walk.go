package gitsmart

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"rewire/storage/gitstore"
)

// commitInfo is what a walk needs of a commit.
type commitInfo struct {
	tree    plumbing.Hash
	parents []plumbing.Hash
	time    int64 // committer time
}

// walker enumerates objects of one repository snapshot.
type walker struct {
	repo    *gitstore.Repo
	commits map[plumbing.Hash]*commitInfo
	names   map[plumbing.Hash]uint32 // trees and blobs: hash of the first name met
}

func newWalker(repo *gitstore.Repo) *walker {
	return &walker{repo: repo, commits: make(map[plumbing.Hash]*commitInfo), names: make(map[plumbing.Hash]uint32)}
}

// name returns the name hash of a tree or blob the walk met (0 when none).
func (w *walker) name(h plumbing.Hash) uint32 { return w.names[h] }

func (w *walker) read(h plumbing.Hash) (plumbing.ObjectType, []byte, error) {
	o, err := w.repo.EncodedObject(plumbing.AnyObject, h)
	if err != nil {
		return 0, nil, fmt.Errorf("object %s: %w", h, err)
	}
	r, err := o.Reader()
	if err != nil {
		return 0, nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	return o.Type(), b, err
}

func (w *walker) commit(h plumbing.Hash) (*commitInfo, error) {
	if c, ok := w.commits[h]; ok {
		return c, nil
	}
	t, b, err := w.read(h)
	if err != nil {
		return nil, err
	}
	if t != plumbing.CommitObject {
		return nil, fmt.Errorf("object %s is a %s, not a commit", h, t)
	}
	c := &commitInfo{}
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i <= 0 {
			break
		}
		line := string(b[:i])
		b = b[i+1:]
		switch {
		case strings.HasPrefix(line, "tree "):
			c.tree, _ = parseHash(line[5:])
		case strings.HasPrefix(line, "parent "):
			p, _ := parseHash(line[7:])
			c.parents = append(c.parents, p)
		case strings.HasPrefix(line, "committer "):
			f := strings.Fields(line)
			if len(f) >= 2 {
				c.time, _ = strconv.ParseInt(f[len(f)-2], 10, 64)
			}
		}
	}
	w.commits[h] = c
	return c, nil
}

// peel follows annotated tags to the object they name; it returns the tag
// objects passed on the way.
func (w *walker) peel(h plumbing.Hash) (plumbing.Hash, plumbing.ObjectType, []plumbing.Hash, error) {
	var tags []plumbing.Hash
	for range 16 {
		if _, ok := w.commits[h]; ok {
			return h, plumbing.CommitObject, tags, nil
		}
		t, b, err := w.read(h)
		if err != nil {
			return h, 0, tags, err
		}
		if t != plumbing.TagObject {
			return h, t, tags, nil
		}
		tags = append(tags, h)
		if len(b) < 47 || string(b[:7]) != "object " {
			return h, 0, tags, fmt.Errorf("malformed tag %s", h)
		}
		if h, err = parseHash(string(b[7:47])); err != nil {
			return h, 0, tags, err
		}
	}
	return h, 0, tags, fmt.Errorf("tag chain too long at %s", h)
}

// ancestors returns every commit reachable from tips, not following the
// parents of commits in stop.
func (w *walker) ancestors(tips []plumbing.Hash, stop map[plumbing.Hash]bool) (map[plumbing.Hash]bool, error) {
	seen := make(map[plumbing.Hash]bool)
	queue := append([]plumbing.Hash(nil), tips...)
	for len(queue) > 0 {
		h := queue[0]
		queue = queue[1:]
		if seen[h] {
			continue
		}
		c, err := w.commit(h)
		if err != nil {
			return nil, err
		}
		seen[h] = true
		if !stop[h] {
			queue = append(queue, c.parents...)
		}
	}
	return seen, nil
}

// plan is what an upload-pack sends.
type plan struct {
	objects   []plumbing.Hash
	clientHas map[plumbing.Hash]bool // trees and blobs the client holds, and those sent
	shallow   []plumbing.Hash        // new shallow commits of the client
	unshallow []plumbing.Hash
	commits   int
}

// filterSpec is a parsed partial-clone filter.
type filterSpec struct {
	noBlobs   bool
	blobLimit int64 // -1: none
	noTrees   bool
}

func parseFilter(s string) (filterSpec, error) {
	f := filterSpec{blobLimit: -1}
	switch {
	case s == "":
	case s == "blob:none":
		f.noBlobs = true
	case s == "tree:0":
		f.noTrees, f.noBlobs = true, true
	case strings.HasPrefix(s, "blob:limit="):
		n, err := parseSize(s[len("blob:limit="):])
		if err != nil {
			return f, protoErr("bad filter %q", s)
		}
		f.blobLimit = n
	default:
		return f, protoErr("unsupported filter %q", s)
	}
	return f, nil
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "m"):
		mult, s = 1<<20, s[:len(s)-1]
	case strings.HasSuffix(s, "g"):
		mult, s = 1<<30, s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

// makePlan computes the objects to send for wants given the common haves,
// the client's shallow boundary, deepening and filter, as
// reachable(wants, new boundary) minus reachable(haves, old boundary).
func (w *walker) makePlan(f *fetchReq, common []plumbing.Hash, includeTags bool) (*plan, error) {
	filter, err := parseFilter(f.filter)
	if err != nil {
		return nil, err
	}
	p := &plan{}
	sent := make(map[plumbing.Hash]bool)
	add := func(h plumbing.Hash) {
		if !sent[h] {
			sent[h] = true
			p.objects = append(p.objects, h)
		}
	}
	clientShallow := make(map[plumbing.Hash]bool)
	for _, h := range f.shallows {
		clientShallow[h] = true
	}

	// What the client has: ancestors of the common commits, within its
	// own shallow boundary.
	old, err := w.ancestors(common, clientShallow)
	if err != nil {
		return nil, err
	}

	// Wanted commits, peeling tags; wanted trees and blobs go in as is.
	var tips []plumbing.Hash
	var direct []plumbing.Hash
	for _, h := range f.wants {
		target, typ, tags, err := w.peel(h)
		if err != nil {
			return nil, err
		}
		for _, t := range tags {
			add(t)
		}
		switch typ {
		case plumbing.CommitObject:
			tips = append(tips, target)
		default:
			direct = append(direct, target)
		}
	}

	excluded := map[plumbing.Hash]bool{}
	if len(f.deepenNot) > 0 {
		var from []plumbing.Hash
		for _, name := range f.deepenNot {
			h, ok := resolveRef(w.repo, name)
			if !ok {
				return nil, protoErr("deepen-not: unknown ref %q", name)
			}
			t, typ, _, err := w.peel(h)
			if err != nil {
				return nil, err
			}
			if typ == plumbing.CommitObject {
				from = append(from, t)
			}
		}
		if excluded, err = w.ancestors(from, nil); err != nil {
			return nil, err
		}
	}

	// Breadth-first from the wants. depth 0 means not counting yet
	// (deepen-relative before the old boundary is reached).
	deepen := f.deepen()
	type item struct {
		h     plumbing.Hash
		depth int
	}
	var queue []item
	startDepth := 1
	if f.deepenRelative {
		startDepth = 0
	}
	for _, t := range tips {
		queue = append(queue, item{t, startDepth})
	}
	visited := make(map[plumbing.Hash]bool)
	var newCommits []plumbing.Hash
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		if visited[it.h] {
			continue
		}
		visited[it.h] = true
		c, err := w.commit(it.h)
		if err != nil {
			return nil, err
		}
		if !old[it.h] {
			newCommits = append(newCommits, it.h)
		}
		d := it.depth
		if d == 0 && clientShallow[it.h] {
			d = 1
		}
		boundary := false
		switch {
		case !deepen && clientShallow[it.h]:
			continue // stays shallow: the client has no parents for it
		case old[it.h] && !deepen:
			continue // the client has it and what is behind it
		case f.depth > 0 && d > 0 && d >= f.depth+boolInt(f.deepenRelative):
			boundary = true
		}
		var next []plumbing.Hash
		if !boundary {
			for _, ph := range c.parents {
				if excluded[ph] {
					boundary = true
					break
				}
				if f.deepenSince > 0 {
					pc, err := w.commit(ph)
					if err != nil {
						return nil, err
					}
					if pc.time < f.deepenSince {
						boundary = true
						break
					}
				}
				next = append(next, ph)
			}
		}
		if boundary {
			if len(c.parents) > 0 && !clientShallow[it.h] {
				p.shallow = append(p.shallow, it.h)
			}
			continue
		}
		if clientShallow[it.h] && len(c.parents) > 0 {
			p.unshallow = append(p.unshallow, it.h)
		}
		nd := d
		if nd > 0 {
			nd++
		}
		for _, ph := range next {
			queue = append(queue, item{ph, nd})
		}
	}
	p.commits = len(newCommits)

	// Trees and blobs the client surely has: those of the common commits
	// at the edge of what is sent.
	have := make(map[plumbing.Hash]bool)
	if !filter.noTrees {
		edges := append([]plumbing.Hash(nil), common...)
		for _, h := range newCommits {
			for _, ph := range w.commits[h].parents {
				if old[ph] {
					edges = append(edges, ph)
				}
			}
		}
		for _, h := range edges {
			if c, err := w.commit(h); err == nil {
				if err := w.walkTree(c.tree, have, nil, filterSpec{blobLimit: -1}); err != nil {
					return nil, err
				}
			}
		}
	}
	// From here on have also collects what is sent; WriteThinPack asks it
	// only about objects that are not sent.
	p.clientHas = have
	for _, h := range newCommits {
		add(h)
	}
	if !filter.noTrees {
		for _, h := range newCommits {
			if err := w.walkTree(w.commits[h].tree, have, add, filter); err != nil {
				return nil, err
			}
		}
	}
	for _, h := range direct {
		add(h)
		if t, _, err := w.read(h); err == nil && t == plumbing.TreeObject && !filter.noTrees {
			if err := w.walkTree(h, have, add, filter); err != nil {
				return nil, err
			}
		}
	}

	if includeTags {
		for _, ref := range w.repo.Refs {
			if !strings.HasPrefix(ref.Name, "refs/tags/") || sent[ref.Hash] {
				continue
			}
			target, _, tags, err := w.peel(ref.Hash)
			if err != nil || len(tags) == 0 || !sent[target] {
				continue
			}
			for _, t := range tags {
				add(t)
			}
		}
	}
	return p, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// walkTree visits a tree and everything under it that is not in seen,
// marking it seen and passing it to add (which may be nil).
func (w *walker) walkTree(h plumbing.Hash, seen map[plumbing.Hash]bool, add func(plumbing.Hash), f filterSpec) error {
	if seen[h] {
		return nil
	}
	seen[h] = true
	if add != nil {
		add(h)
	}
	_, b, err := w.read(h)
	if err != nil {
		return err
	}
	return gitstore.ParseTree(b, func(e gitstore.TreeEntry) error {
		if _, ok := w.names[e.Hash]; !ok {
			w.names[e.Hash] = gitstore.NameHash(e.Name)
		}
		switch {
		case gitstore.IsGitlink(e.Mode):
			return nil
		case gitstore.IsTree(e.Mode):
			return w.walkTree(e.Hash, seen, add, f)
		}
		if seen[e.Hash] || f.noBlobs {
			return nil
		}
		if f.blobLimit >= 0 {
			n, err := w.repo.EncodedObjectSize(e.Hash)
			if err != nil {
				return err
			}
			if n > f.blobLimit {
				return nil
			}
		}
		seen[e.Hash] = true
		if add != nil {
			add(e.Hash)
		}
		return nil
	})
}

// resolveRef finds a ref by full or short name.
func resolveRef(repo *gitstore.Repo, name string) (plumbing.Hash, bool) {
	for _, n := range []string{name, "refs/" + name, "refs/tags/" + name, "refs/heads/" + name} {
		if h, ok := repo.Ref(n); ok {
			return h, true
		}
	}
	return plumbing.ZeroHash, false
}
