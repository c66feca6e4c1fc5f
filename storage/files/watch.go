package files

import "sync"

// Change describes a change of the tree, so that a mount of the same
// tenant can drop what its kernel cached. A Deleted change with an Ino
// names the inode that lost the link Parent/Name.
type Change struct {
	Ino     uint64 // inode whose content or attributes changed, or 0
	Parent  uint64 // directory whose entry Name changed, or 0
	Name    string
	Deleted bool
}

var (
	watchMu  sync.Mutex
	watchers = map[string]map[int]func(Change){}
	watchSeq int
)

// Watch calls fn for every change of the tree of the tenant with the
// given id made through an FS value that is not Quiet (the path API, the
// HTTP API, git worktrees, ...), after its commit, until the returned
// function is called. fn must not block.
func Watch(tenantID string, fn func(Change)) (cancel func()) {
	watchMu.Lock()
	defer watchMu.Unlock()
	watchSeq++
	id := watchSeq
	if watchers[tenantID] == nil {
		watchers[tenantID] = map[int]func(Change){}
	}
	watchers[tenantID][id] = fn
	return func() {
		watchMu.Lock()
		defer watchMu.Unlock()
		delete(watchers[tenantID], id)
		if len(watchers[tenantID]) == 0 {
			delete(watchers, tenantID)
		}
	}
}

// notify reports a committed change to the tenant's watchers.
func notify(fs *FS, c Change) {
	if fs.quiet {
		return
	}
	watchMu.Lock()
	fns := make([]func(Change), 0, len(watchers[fs.t.ID()]))
	for _, fn := range watchers[fs.t.ID()] {
		fns = append(fns, fn)
	}
	watchMu.Unlock()
	for _, fn := range fns {
		fn(c)
	}
}
