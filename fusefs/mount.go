package fusefs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"rewire/storage"
	"rewire/storage/files"
)

// Options tunes a mount.
type Options struct {
	Debug bool // FUSE request trace
	// FlushInterval bounds how long data written without fsync stays
	// only in memory; zero means the default FlushInterval.
	FlushInterval time.Duration
}

// Timeouts the kernel may cache entries and attributes for. Changes made
// through this mount update the kernel's caches directly; changes made
// through the tenant's other interfaces invalidate them (files.Watch), and
// the data directory lock keeps every writer of the tree in this process,
// so the timeouts only bound how long the kernel keeps unused entries. At
// one second, an rm -r of a large tree looked every name up again.
const (
	entryTimeout = 10 * time.Second
	attrTimeout  = 10 * time.Second
)

// FlushInterval is the default bound on how long data written without
// fsync stays only in memory: every open file's pending writes are
// stored (durably) at least this often, and when its last handle is
// released, which the kernel does right after the last close. So after
// close without fsync, data is durable within FlushInterval at most.
const FlushInterval = 5 * time.Second

// fuseDevice is the kernel's FUSE device (a variable for tests).
var fuseDevice = "/dev/fuse"

// MountPoint is a tenant's files mounted at a directory. (The brief's
// name for it, Mount, is taken by the function that makes one.)
type MountPoint struct {
	dir    string
	fs     *rawFS
	srv    *fuse.Server
	tenant *storage.Tenant
	lock   *os.File // flock held while mounted
	log    *slog.Logger
	cancel func() // stops watching path-API changes and holding inodes

	unmountOnce sync.Once
	unmountErr  error
	done        chan struct{}
}

// Mount mounts the tenant's files at dir and serves them until Unmount (or
// an external unmount). A stale mount left at dir by a killed process is
// cleaned up first. It fails with a clear error when FUSE is unavailable.
// Mount adds the tenant, proto and dir attributes to log itself.
func Mount(ctx context.Context, store *storage.Store, tenant, dir string, opts Options, log *slog.Logger) (*MountPoint, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("tenant", tenant, "proto", "fuse", "dir", dir)
	if _, err := os.Stat(fuseDevice); err != nil {
		return nil, fmt.Errorf("fusefs: FUSE is unavailable (no %s; load the fuse module or run with --device /dev/fuse): %w", fuseDevice, err)
	}
	if err := CleanupStale(dir); err != nil {
		return nil, err
	}
	t, err := store.Acquire(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("fusefs: tenant %s: %w", tenant, err)
	}
	// One mount per tenant: the lock (released by the kernel if this
	// process dies) guards the orphan purge below and the open-file
	// bookkeeping that keeps unlinked files alive.
	lock, err := lockTenant(t.Dir())
	if err != nil {
		t.Release()
		return nil, fmt.Errorf("fusefs: tenant %s: %w", tenant, err)
	}
	fsys := newRawFS(files.New(t).Quiet().Lazy(), log)
	fsys.flushEvery = cmp.Or(opts.FlushInterval, FlushInterval)
	// From here on an inode this mount uses outlives its last link,
	// whichever interface removes it.
	unhold := files.Hold(t.ID(), fsys.isHeld)
	release := func() { unhold(); lock.Close(); t.Release() }
	// This is the only mount of the tenant, so inodes left unlinked but
	// open by a mount that crashed can go now.
	if n, err := fsys.fs.PurgeOrphans(ctx); err != nil {
		release()
		return nil, fmt.Errorf("fusefs: purge orphans: %w", err)
	} else if n > 0 {
		log.Info("removed orphaned inodes", "count", n)
	}

	hasX, err := fsys.fs.HasXattrs(ctx)
	if err != nil {
		release()
		return nil, fmt.Errorf("fusefs: %w", err)
	}
	fsys.xattrs.Store(hasX)
	if _, err := fsys.refreshUsage(); err != nil {
		release()
		return nil, fmt.Errorf("fusefs: %w", err)
	}

	mo := &fuse.MountOptions{
		FsName:               "rewire:" + tenant,
		Name:                 "rewire",
		AllowOther:           true,
		Options:              []string{"default_permissions"},
		MaxWrite:             1 << 20,
		MaxReadAhead:         1 << 20,
		MaxBackground:        64,
		IgnoreSecurityLabels: true,
		// READDIRPLUS only where lookups follow (ls -l), plain READDIR
		// otherwise (find, ls -f): a walk of a huge directory then does
		// not fill the kernel's inode cache.
		ExtraCapabilities: fuse.CAP_READDIRPLUS_AUTO,
		DirectMount:       true,
		// Reads answer from memory (ReadResultData), never from a file
		// descriptor, so splicing cannot apply; left on, go-fuse still
		// sets up a pipe for every READ reply before falling back, and
		// logs an error for each reply larger than a pipe (1 MiB).
		DisableSplice: true,
		Debug:         opts.Debug,
	}
	if opts.Debug {
		mo.Logger = slog.NewLogLogger(log.Handler(), slog.LevelDebug)
	}
	srv, err := fuse.NewServer(fsys, dir, mo)
	if err != nil {
		release()
		return nil, fmt.Errorf("fusefs: mount %s: %w", dir, err)
	}
	go srv.Serve()
	if err := srv.WaitMount(); err != nil {
		srv.Unmount()
		release()
		return nil, fmt.Errorf("fusefs: mount %s: %w", dir, err)
	}
	setReadAhead(dir, log)
	m := &MountPoint{dir: dir, fs: fsys, srv: srv, tenant: t, lock: lock, log: log, done: make(chan struct{})}
	unwatch := files.Watch(t.ID(), fsys.invalidate)
	m.cancel = func() { unwatch(); unhold() }
	fsys.startFlusher()
	fsys.startDropper()
	go m.serveDone()
	log.Info("mounted")
	return m, nil
}

// serveDone runs after the kernel ended the session (Unmount or an
// external umount): it stores what is still pending and lets go of the
// tenant.
func (m *MountPoint) serveDone() {
	m.srv.Wait()
	m.cancel()
	m.fs.stop()
	if err := m.fs.flushAll(); err != nil {
		m.log.Error("flush at unmount", "err", err)
	}
	if err := m.fs.fs.Sync(context.Background()); err != nil {
		m.log.Error("sync at unmount", "err", err)
	}
	// The kernel holds nothing any more: orphans it did not forget go.
	if _, err := m.fs.fs.PurgeOrphans(context.Background()); err != nil {
		m.log.Error("purge orphans at unmount", "err", err)
	}
	m.lock.Close()
	m.tenant.Release()
	m.log.Info("unmounted")
	close(m.done)
}

// Unmount stores pending writes, unmounts the directory and waits until
// the session has ended. If the directory stays busy (a process has a
// file open or its working directory inside), it is detached lazily: it
// leaves the namespace at once, so no stale mount is left behind, and the
// session ends when the last user lets go (or this process exits); Unmount
// then waits at most detachWait for that.
func (m *MountPoint) Unmount() error {
	if err := m.fs.flushAll(); err != nil {
		m.log.Error("flush before unmount", "err", err)
	}
	select {
	case <-m.done:
		return nil
	default:
	}
	var err error
	// go-fuse retries for about 0.3 s itself: a process that just closed
	// its last file may still hold the mount for a moment.
	for i := 0; i < 3; i++ {
		if err = m.srv.Unmount(); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err == nil {
		<-m.done
		return nil
	}
	abs, aerr := filepath.Abs(m.dir)
	if aerr != nil {
		abs = m.dir
	}
	if derr := syscall.Unmount(abs, syscall.MNT_DETACH); derr != nil {
		return fmt.Errorf("fusefs: unmount %s: %w (lazy: %v)", m.dir, err, derr)
	}
	m.log.Warn("mount busy, detached lazily", "err", err)
	select {
	case <-m.done:
	case <-time.After(detachWait):
		// Still in use: store what is pending now; later writes are
		// stored when their files close.
		if err := m.fs.flushAll(); err != nil {
			m.log.Error("flush after lazy unmount", "err", err)
		}
	}
	return nil
}

// detachWait bounds how long Unmount waits for a lazily detached mount's
// last user.
const detachWait = 2 * time.Second

// Wait blocks until the mount is gone.
func (m *MountPoint) Wait() { <-m.done }

// Dir returns the mount point.
func (m *MountPoint) Dir() string { return m.dir }

// CleanupStale lazily unmounts a mount left at dir by a process that was
// killed (the kernel then answers ENOTCONN); it does nothing otherwise.
func CleanupStale(dir string) error {
	// statfs always reaches the FUSE server (stat may be answered from
	// the kernel's attribute cache), so a dead one shows.
	var st syscall.Statfs_t
	err := syscall.Statfs(dir, &st)
	if !errors.Is(err, syscall.ENOTCONN) && !errors.Is(err, syscall.ECONNABORTED) {
		return nil
	}
	abs, aerr := filepath.Abs(dir)
	if aerr != nil {
		abs = dir
	}
	if err := syscall.Unmount(abs, syscall.MNT_DETACH); err == nil {
		return nil
	}
	for _, bin := range []string{"fusermount3", "fusermount"} {
		if out, err := exec.Command(bin, "-u", "-z", abs).CombinedOutput(); err == nil {
			return nil
		} else if !errors.Is(err, exec.ErrNotFound) {
			return fmt.Errorf("fusefs: clean up stale mount %s: %v: %s", abs, err, out)
		}
	}
	return fmt.Errorf("fusefs: clean up stale mount %s: %w", abs, err)
}

// ErrMounted is returned when the tenant is already mounted.
var ErrMounted = errors.New("tenant is already mounted")

// lockTenant takes the tenant's mount lock, a flock on a file in its
// directory.
func lockTenant(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "fuse-mount.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrMounted
		}
		return nil, err
	}
	return f, nil
}

// readAheadKiB is the kernel's read-ahead window for the mount. The
// kernel starts FUSE mounts at 128 KiB whatever the server asks for.
const readAheadKiB = 1024

// setReadAhead widens the kernel's read-ahead for the mount (its backing
// device info in sysfs), so sequential reads arrive in 1 MiB requests.
// It needs root; without it reads still work, in smaller requests.
func setReadAhead(dir string, log *slog.Logger) {
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return
	}
	// Linux's encoding of a device number.
	major := (st.Dev>>8)&0xfff | (st.Dev>>32)&^0xfff
	minor := st.Dev&0xff | (st.Dev>>12)&^0xff
	p := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", major, minor)
	if err := os.WriteFile(p, []byte(strconv.Itoa(readAheadKiB)), 0); err != nil {
		log.Debug("read-ahead unchanged", "err", err)
	}
}
