package files

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"

	"rewire/storage"
)

func newFS(t *testing.T, names ...string) []*FS {
	t.Helper()
	ctx := context.Background()
	st, err := storage.Open(ctx, storage.Config{Dir: t.TempDir(), MoverInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var out []*FS
	for _, n := range names {
		if _, err := st.CreateTenant(ctx, n, "pw"); err != nil {
			t.Fatal(err)
		}
		ten, err := st.Acquire(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(ten.Release)
		out = append(out, New(ten))
	}
	return out
}

func wantErrno(t *testing.T, err error, want syscall.Errno) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want %v", err, want)
	}
}

func TestTreeOps(t *testing.T) {
	ctx := context.Background()
	fs := newFS(t, "alpha")[0]

	d, err := fs.Mkdir(ctx, RootIno, "d", 0o755, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if d.Nlink != 2 || !d.IsDir() || d.UID != 1 || d.GID != 2 {
		t.Fatalf("mkdir attr %+v", d)
	}
	root, _ := fs.GetAttr(ctx, RootIno)
	if root.Nlink != 3 {
		t.Fatalf("root nlink %d, want 3", root.Nlink)
	}
	_, err = fs.Mkdir(ctx, RootIno, "d", 0o755, 0, 0)
	wantErrno(t, err, syscall.EEXIST)

	f, err := fs.Create(ctx, d.Ino, "f", 0o644, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = fs.Create(ctx, f.Ino, "x", 0o644, 0, 0, 0)
	wantErrno(t, err, syscall.ENOTDIR)
	_, err = fs.Lookup(ctx, f.Ino, "x")
	wantErrno(t, err, syscall.ENOTDIR)
	_, err = fs.Lookup(ctx, d.Ino, "nope")
	wantErrno(t, err, syscall.ENOENT)
	_, err = fs.Lookup(ctx, d.Ino, string(make([]byte, 256)))
	wantErrno(t, err, syscall.ENAMETOOLONG)

	wantErrno(t, fs.Rmdir(ctx, RootIno, "d"), syscall.ENOTEMPTY)
	wantErrno(t, fs.Unlink(ctx, RootIno, "d"), syscall.EISDIR)
	wantErrno(t, fs.Rmdir(ctx, d.Ino, "f"), syscall.ENOTDIR)

	// Hard links count.
	if _, err := fs.Link(ctx, f.Ino, RootIno, "hard"); err != nil {
		t.Fatal(err)
	}
	a, _ := fs.GetAttr(ctx, f.Ino)
	if a.Nlink != 2 {
		t.Fatalf("nlink %d, want 2", a.Nlink)
	}
	_, err = fs.Link(ctx, d.Ino, RootIno, "dirlink")
	wantErrno(t, err, syscall.EPERM)

	// Symlinks.
	s, err := fs.Symlink(ctx, RootIno, "s", "d/f", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if tgt, _ := fs.Readlink(ctx, s.Ino); tgt != "d/f" {
		t.Fatalf("readlink %q", tgt)
	}

	// Directory rename into itself is refused, elsewhere it moves links.
	sub, _ := fs.Mkdir(ctx, d.Ino, "sub", 0o755, 0, 0)
	wantErrno(t, fs.Rename(ctx, RootIno, "d", sub.Ino, "loop", 0), syscall.EINVAL)
	if err := fs.Rename(ctx, d.Ino, "sub", RootIno, "sub2", 0); err != nil {
		t.Fatal(err)
	}
	d2, _ := fs.GetAttr(ctx, d.Ino)
	root, _ = fs.GetAttr(ctx, RootIno)
	if d2.Nlink != 2 || root.Nlink != 4 {
		t.Fatalf("after dir move: d nlink %d root nlink %d", d2.Nlink, root.Nlink)
	}
	if p, _ := fs.Parent(ctx, sub.Ino); p != RootIno {
		t.Fatalf("parent %d", p)
	}

	// Rename flags.
	wantErrno(t, fs.Rename(ctx, RootIno, "hard", RootIno, "s", RenameNoReplace), syscall.EEXIST)
	if err := fs.Rename(ctx, RootIno, "hard", RootIno, "s", RenameExchange); err != nil {
		t.Fatal(err)
	}
	if a, _ := fs.Lookup(ctx, RootIno, "s"); a.Ino != f.Ino {
		t.Fatalf("exchange: s is %d", a.Ino)
	}
	if a, _ := fs.Lookup(ctx, RootIno, "hard"); a.Ino != s.Ino {
		t.Fatalf("exchange: hard is %d", a.Ino)
	}
	wantErrno(t, fs.Rename(ctx, RootIno, "s", RootIno, "absent", RenameExchange), syscall.ENOENT)
	// Replacing rename drops the replaced symlink.
	if err := fs.Rename(ctx, RootIno, "s", RootIno, "hard", 0); err != nil {
		t.Fatal(err)
	}
	_, err = fs.GetAttr(ctx, s.Ino)
	wantErrno(t, err, syscall.ENOENT)
	wantErrno(t, fs.Rename(ctx, RootIno, "hard", RootIno, "sub2", 0), syscall.EISDIR)
	wantErrno(t, fs.Rename(ctx, RootIno, "sub2", RootIno, "hard", 0), syscall.ENOTDIR)
}

func TestChunks(t *testing.T) {
	ctx := context.Background()
	fs := newFS(t, "alpha")[0]
	p := fs.Paths()

	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 2*ChunkSize+12345)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	if err := p.WriteFile(ctx, "/big", data, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := p.ReadFile(ctx, "big")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back: %v equal=%v", err, bytes.Equal(got, data))
	}
	a, _ := p.Stat(ctx, "big")
	if a.Alloc != int64(len(data)) {
		t.Fatalf("alloc %d", a.Alloc)
	}

	// Truncate into the middle of chunk 1, then extend: the tail reads
	// zeros, not the old bytes.
	cut := int64(ChunkSize + 100)
	if err := fs.Truncate(ctx, a.Ino, cut); err != nil {
		t.Fatal(err)
	}
	if err := fs.Truncate(ctx, a.Ino, int64(len(data))); err != nil {
		t.Fatal(err)
	}
	got, _ = p.ReadFile(ctx, "big")
	want := append(append([]byte{}, data[:cut]...), make([]byte, int64(len(data))-cut)...)
	if !bytes.Equal(got, want) {
		t.Fatal("truncate down then up did not read zeros")
	}
	a, _ = p.Stat(ctx, "big")
	if a.Alloc != cut {
		t.Fatalf("alloc after truncate %d, want %d", a.Alloc, cut)
	}

	// A zero chunk is a hole.
	if err := fs.WriteChunks(ctx, a.Ino, []Chunk{{Idx: 0, Data: make([]byte, ChunkSize)}}, a.Size, a.Mtime); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := fs.ChunkHash(ctx, a.Ino, 0); ok {
		t.Fatal("zero chunk stored")
	}
	u, err := fs.Usage(ctx)
	if err != nil || u.Bytes != 100 {
		t.Fatalf("usage %+v %v", u, err)
	}

	// Removing the file releases its blobs.
	if err := p.Remove(ctx, "big"); err != nil {
		t.Fatal(err)
	}
	var blobs int
	fs.t.DB().QueryRow(`SELECT COUNT(*) FROM blobs`).Scan(&blobs)
	if blobs != 0 {
		t.Fatalf("%d blobs left", blobs)
	}
}

// TestUnlinkedOpen unlinks, through a second FS value (another
// interface), an inode a holder still uses: it stays until purged.
func TestUnlinkedOpen(t *testing.T) {
	ctx := context.Background()
	fs := newFS(t, "alpha")[0]
	var mu sync.Mutex
	open := map[uint64]bool{}
	cancel := Hold(fs.t.ID(), func(ino uint64) bool {
		mu.Lock()
		defer mu.Unlock()
		return open[ino]
	})
	defer cancel()
	if err := fs.Paths().WriteFile(ctx, "f", []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := fs.Paths().WriteFile(ctx, "g", []byte("bye"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, _ := fs.Paths().Stat(ctx, "f")
	g, _ := fs.Paths().Stat(ctx, "g")
	mu.Lock()
	open[a.Ino] = true
	mu.Unlock()
	other := New(fs.t)
	if err := other.Paths().Remove(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	if err := other.Unlink(ctx, RootIno, "g"); err != nil {
		t.Fatal(err)
	}
	// An inode nobody holds goes at once.
	_, err := fs.GetAttr(ctx, g.Ino)
	wantErrno(t, err, syscall.ENOENT)
	buf := make([]byte, 5)
	if n, err := fs.ReadAt(ctx, a.Ino, buf, 0); err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("read unlinked: %q %v", buf[:n], err)
	}
	if n, err := fs.PurgeOrphans(ctx); err != nil || n != 1 {
		t.Fatalf("purge: %d %v", n, err)
	}
	_, err = fs.GetAttr(ctx, a.Ino)
	wantErrno(t, err, syscall.ENOENT)
}

func TestXattrs(t *testing.T) {
	ctx := context.Background()
	fs := newFS(t, "alpha")[0]
	f, _ := fs.Create(ctx, RootIno, "f", 0o644, 0, 0, 0)
	_, err := fs.GetXattr(ctx, f.Ino, "user.a")
	wantErrno(t, err, syscall.ENODATA)
	wantErrno(t, fs.SetXattr(ctx, f.Ino, "user.a", []byte("1"), XattrReplace), syscall.ENODATA)
	if err := fs.SetXattr(ctx, f.Ino, "user.a", []byte("1"), XattrCreate); err != nil {
		t.Fatal(err)
	}
	wantErrno(t, fs.SetXattr(ctx, f.Ino, "user.a", []byte("2"), XattrCreate), syscall.EEXIST)
	if v, _ := fs.GetXattr(ctx, f.Ino, "user.a"); string(v) != "1" {
		t.Fatalf("xattr %q", v)
	}
	names, _ := fs.ListXattr(ctx, f.Ino)
	if len(names) != 1 || names[0] != "user.a" {
		t.Fatalf("list %q", names)
	}
	if err := fs.RemoveXattr(ctx, f.Ino, "user.a"); err != nil {
		t.Fatal(err)
	}
	wantErrno(t, fs.RemoveXattr(ctx, f.Ino, "user.a"), syscall.ENODATA)
}

func TestPathsAndIsolation(t *testing.T) {
	ctx := context.Background()
	both := newFS(t, "alpha", "beta")
	a, b := both[0].Paths(), both[1].Paths()
	var changes []Change
	cancel := Watch(both[0].Tenant().ID(), func(c Change) { changes = append(changes, c) })
	defer cancel()

	if err := a.Mkdir(ctx, "docs", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := a.WriteFile(ctx, "docs/x", []byte("alpha"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ReadFile(ctx, "docs/x"); !IsNotFound(err) {
		t.Fatalf("beta sees alpha's file: %v", err)
	}
	if err := b.WriteFile(ctx, "x", []byte("beta"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := a.Rename(ctx, "docs/x", "y"); err != nil {
		t.Fatal(err)
	}
	got, _ := a.ReadFile(ctx, "/y")
	if string(got) != "alpha" {
		t.Fatalf("alpha y = %q", got)
	}
	got, _ = b.ReadFile(ctx, "x")
	if string(got) != "beta" {
		t.Fatalf("beta x = %q", got)
	}
	ents, err := a.List(ctx, "/")
	if err != nil || len(ents) != 2 {
		t.Fatalf("list: %v %v", ents, err)
	}
	wantErrno(t, a.Remove(ctx, "nope"), syscall.ENOENT)
	_, err = a.ReadFile(ctx, "y/z")
	wantErrno(t, err, syscall.ENOTDIR)
	if err := a.Remove(ctx, "docs"); err != nil {
		t.Fatal(err)
	}
	if len(changes) == 0 {
		t.Fatal("no change notifications")
	}
}

func TestReadDirPaging(t *testing.T) {
	ctx := context.Background()
	fs := newFS(t, "alpha")[0]
	const n = 2500
	for i := 0; i < n; i += 250 {
		// Batch the creates through concurrent calls so group commit
		// keeps the test short.
		errs := make(chan error, 250)
		for j := i; j < i+250; j++ {
			go func(j int) {
				_, err := fs.Create(ctx, RootIno, "f"+itoa(j), 0o644, 0, 0, 0)
				errs <- err
			}(j)
		}
		for j := 0; j < 250; j++ {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
	seen := map[string]bool{}
	var cookie int64
	for {
		page, err := fs.ReadDir(ctx, RootIno, cookie, 300)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			if seen[e.Name] {
				t.Fatalf("%s listed twice", e.Name)
			}
			seen[e.Name] = true
		}
		if len(page) == 0 {
			break
		}
		cookie = page[len(page)-1].Cookie
	}
	if len(seen) != n {
		t.Fatalf("listed %d of %d", len(seen), n)
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// TestTierMoves checks that file chunks follow the core's tier moves and
// read back from every tier.
func TestTierMoves(t *testing.T) {
	ctx := context.Background()
	st, err := storage.Open(ctx, storage.Config{Dir: t.TempDir(), MoverInterval: -1,
		Policy: storage.Policy{WarmAfter: time.Nanosecond, ColdAfter: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.CreateTenant(ctx, "alpha", "pw")
	ten, _ := st.Acquire(ctx, "alpha")
	defer ten.Release()
	p := New(ten).Paths()
	small := []byte("small file, hot at first")
	big := bytes.Repeat([]byte("0123456789abcdef"), ChunkSize/16+1000)
	if err := p.WriteFile(ctx, "small", small, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := p.WriteFile(ctx, "big", big, 0o644); err != nil {
		t.Fatal(err)
	}
	tiers := func() map[storage.Tier]int {
		m := map[storage.Tier]int{}
		rows, _ := ten.DB().Query(`SELECT tier FROM blobs`)
		defer rows.Close()
		for rows.Next() {
			var tr storage.Tier
			rows.Scan(&tr)
			m[tr]++
		}
		return m
	}
	if m := tiers(); m[storage.TierWarm] != 1 || m[storage.TierHot] != 2 {
		t.Fatalf("before mover: %v (want the full chunk warm, the rest hot)", m)
	}
	time.Sleep(time.Millisecond)
	if _, err := ten.RunMover(ctx); err != nil {
		t.Fatal(err)
	}
	if m := tiers(); m[storage.TierHot] != 0 {
		t.Fatalf("after mover: %v", m)
	}
	for name, want := range map[string][]byte{"small": small, "big": big} {
		got, err := p.ReadFile(ctx, name)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s after tier move: %v", name, err)
		}
	}
}

// TestQuotaOutsideTheMount checks that writes through the path API (what
// the HTTP API and MCP use) respect the tenant's quota: growth past it
// fails with EDQUOT and changes nothing, shrinking and rewriting in place
// still work, and another tenant's quota is its own.
func TestQuotaOutsideTheMount(t *testing.T) {
	fss := newFS(t, "alpha", "beta")
	alpha, beta := fss[0], fss[1]
	ctx := context.Background()
	if err := alpha.SetQuota(ctx, 10000); err != nil {
		t.Fatal(err)
	}
	p := alpha.Paths()
	if err := p.WriteFile(ctx, "a", bytes.Repeat([]byte("a"), 6000), 0o644); err != nil {
		t.Fatal(err)
	}
	wantErrno(t, p.WriteFile(ctx, "b", bytes.Repeat([]byte("b"), 6000), 0o644), syscall.EDQUOT)
	if got, err := p.ReadFile(ctx, "b"); err != nil || len(got) != 0 {
		t.Fatalf("refused write left %d bytes (%v)", len(got), err)
	}
	if err := p.WriteFile(ctx, "a", bytes.Repeat([]byte("c"), 9000), 0o644); err != nil {
		t.Fatalf("growing within the quota: %v", err)
	}
	if err := p.WriteFile(ctx, "a", []byte("small"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := p.WriteFile(ctx, "b", bytes.Repeat([]byte("b"), 6000), 0o644); err != nil {
		t.Fatalf("write after freeing space: %v", err)
	}
	if err := beta.Paths().WriteFile(ctx, "big", bytes.Repeat([]byte("z"), 50000), 0o644); err != nil {
		t.Fatalf("a tenant without quota was limited: %v", err)
	}
}
