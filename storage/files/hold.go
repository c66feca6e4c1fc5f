package files

import "sync"

var (
	holdMu  sync.Mutex // guards holders and holdSeq
	holders = map[string]map[int]func(ino uint64) bool{}
	holdSeq int
)

// Hold registers held for the tenant with the given id until the returned
// function is called. When an inode of the tenant loses its last link,
// through any FS value of this process, held is asked whether something
// (a mount's open handles, or its kernel's references) still uses the
// inode; if so the inode stays, with no links, until DropIfUnlinked or
// PurgeOrphans. held runs inside the tenant's write transaction: it must
// be fast and must not touch the tenant.
func Hold(tenantID string, held func(ino uint64) bool) (cancel func()) {
	holdMu.Lock()
	defer holdMu.Unlock()
	holdSeq++
	id := holdSeq
	if holders[tenantID] == nil {
		holders[tenantID] = map[int]func(uint64) bool{}
	}
	holders[tenantID][id] = held
	return func() {
		holdMu.Lock()
		defer holdMu.Unlock()
		delete(holders[tenantID], id)
		if len(holders[tenantID]) == 0 {
			delete(holders, tenantID)
		}
	}
}

// isHeld asks the tenant's holders about an inode that lost its last
// link. Every holder is asked, so each can remember the inode.
func (fs *FS) isHeld(ino uint64) bool {
	holdMu.Lock()
	hs := holders[fs.t.ID()]
	fns := make([]func(uint64) bool, 0, len(hs))
	for _, h := range hs {
		fns = append(fns, h)
	}
	holdMu.Unlock()
	held := false
	for _, h := range fns {
		if h(ino) {
			held = true
		}
	}
	return held
}
