package storage

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"rewire/storage/tier"
)

// Config configures a Store.
type Config struct {
	// Dir is the data directory.
	Dir string
	// Durability selects fsync-per-commit (default) or periodic sync.
	Durability Durability
	// SyncInterval bounds the loss window of DurabilityPeriodic.
	SyncInterval time.Duration
	// MaxOpenTenants bounds the tenants kept open while unused; tenants in
	// use are never closed. Default 1024.
	MaxOpenTenants int
	// IdleTimeout closes a tenant unused for this long. Default 1 minute.
	IdleTimeout time.Duration
	// WarmURL and ColdURL name the warm and cold buckets; empty means
	// directories inside Dir.
	WarmURL, ColdURL string
	// Policy is the server-wide tier policy; tenants may override it.
	Policy Policy
	// MoverInterval is how often the background mover runs; 0 means one
	// minute, negative disables it.
	MoverInterval time.Duration
	// Logger receives lifecycle messages.
	Logger *slog.Logger
	// ControlOnly opens the control database and buckets but no tenant:
	// Acquire fails. Such a store does not lock the data directory, so
	// administrative commands run beside a server using it.
	ControlOnly bool
	// SkipDirLock opens tenants without locking the data directory. It is
	// for read-only inspection beside the process that owns the directory
	// (tests use it); writing through such a store beside another is
	// unsafe.
	SkipDirLock bool
}

// Store is the per-tenant object core: the control database, the warm and
// cold buckets, and the set of open tenants. It is safe for concurrent use.
type Store struct {
	cfg      Config
	control  *Control
	warm     tier.Bucket
	cold     tier.Bucket
	segs     *segmentCache // decoded sealed segments read from warm
	verified verifiedFiles // warm blob files known to match their hash
	log      *slog.Logger

	mu      sync.Mutex // guards open, lru, closed
	open    map[string]*Tenant
	lru     *list.List // unreferenced open tenants, most recently used first
	closed  bool
	opening map[string]*openCall

	lock *dirLock // nil for a ControlOnly store

	quit chan struct{}
	wg   sync.WaitGroup
}

type openCall struct {
	done chan struct{}
	t    *Tenant
	err  error
}

// Open opens or creates the data directory.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Dir == "" {
		return nil, fmt.Errorf("%w: empty data directory", ErrInvalidArg)
	}
	if cfg.Durability == "" {
		cfg.Durability = DurabilityFsync
	}
	if cfg.Durability != DurabilityFsync && cfg.Durability != DurabilityPeriodic {
		return nil, fmt.Errorf("%w: durability %q", ErrInvalidArg, cfg.Durability)
	}
	if cfg.SyncInterval <= 0 {
		cfg.SyncInterval = time.Second
	}
	if cfg.MaxOpenTenants <= 0 {
		cfg.MaxOpenTenants = 1024
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = time.Minute
	}
	if cfg.MoverInterval == 0 {
		cfg.MoverInterval = time.Minute
	}
	cfg.Policy = cfg.Policy.withDefaults()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "tenants"), 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if cfg.WarmURL == "" {
		cfg.WarmURL = filepath.Join(cfg.Dir, "warm")
	}
	if cfg.ColdURL == "" {
		cfg.ColdURL = filepath.Join(cfg.Dir, "cold")
	}

	s := &Store{
		cfg:     cfg,
		log:     cfg.Logger,
		open:    make(map[string]*Tenant),
		lru:     list.New(),
		opening: make(map[string]*openCall),
		quit:    make(chan struct{}),
	}
	var err error
	if !cfg.ControlOnly && !cfg.SkipDirLock {
		if s.lock, err = lockDir(cfg.Dir); err != nil {
			return nil, err
		}
	}
	if s.control, err = openControl(filepath.Join(cfg.Dir, "control.db")); err != nil {
		s.lock.unlock()
		return nil, err
	}
	if s.warm, err = tier.Open(ctx, cfg.WarmURL); err != nil {
		s.control.Close()
		s.lock.unlock()
		return nil, err
	}
	s.segs = newSegmentCache(segmentCacheBytes)
	s.warm = watchedBucket{Bucket: s.warm, segs: s.segs, verified: &s.verified}
	if s.cold, err = tier.Open(ctx, cfg.ColdURL); err != nil {
		s.control.Close()
		s.warm.Close()
		s.lock.unlock()
		return nil, err
	}
	s.wg.Add(1)
	go s.janitor()
	return s, nil
}

// Control returns the control database.
func (s *Store) Control() *Control { return s.control }

// Dir returns the data directory.
func (s *Store) Dir() string { return s.cfg.Dir }

// Acquire returns the named tenant, opening it if needed. The caller must
// call Release when done; a tenant is never closed while acquired. A
// tenant deleted by another process since it was opened is closed and
// ErrNoTenant returned.
func (s *Store) Acquire(ctx context.Context, name string) (*Tenant, error) {
	if s.cfg.ControlOnly {
		return nil, fmt.Errorf("%w: store opened control-only", ErrInvalidArg)
	}
	info, err := s.control.Tenant(ctx, name)
	if err != nil {
		return nil, err
	}
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, ErrClosed
		}
		if t, ok := s.open[name]; ok {
			if t.info.ID != info.ID {
				// Deleted and re-created meanwhile: drop the stale handle.
				delete(s.open, name)
				if t.elem != nil {
					s.lru.Remove(t.elem)
					t.elem = nil
				}
				t.stale = true
				if t.refs == 0 {
					go t.close()
				}
				s.mu.Unlock()
				continue
			}
			t.refs++
			if t.elem != nil {
				s.lru.Remove(t.elem)
				t.elem = nil
			}
			s.mu.Unlock()
			return t, nil
		}
		if call, ok := s.opening[name]; ok {
			s.mu.Unlock()
			select {
			case <-call.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			continue
		}
		call := &openCall{done: make(chan struct{})}
		s.opening[name] = call
		s.mu.Unlock()

		t, err := openTenant(s, info)
		s.mu.Lock()
		delete(s.opening, name)
		if err == nil {
			t.refs = 1
			s.open[name] = t
			metricTenantsOpen.Set(float64(len(s.open)))
		}
		s.mu.Unlock()
		close(call.done)
		if err != nil {
			return nil, err
		}
		metricTenantOpens.Inc()
		return t, nil
	}
}

// release is called by Tenant.Release.
func (s *Store) release(t *Tenant) {
	s.mu.Lock()
	t.refs--
	if t.refs < 0 {
		s.mu.Unlock()
		panic("storage: tenant released more often than acquired")
	}
	t.lastUsed = time.Now()
	if t.refs > 0 {
		s.mu.Unlock()
		return
	}
	if t.stale || s.closed {
		s.mu.Unlock()
		t.close()
		return
	}
	t.elem = s.lru.PushFront(t)
	var evict []*Tenant
	for s.lru.Len() > s.cfg.MaxOpenTenants {
		evict = append(evict, s.removeLRULocked(s.lru.Back()))
	}
	s.mu.Unlock()
	for _, e := range evict {
		e.close()
	}
}

func (s *Store) removeLRULocked(e *list.Element) *Tenant {
	t := s.lru.Remove(e).(*Tenant)
	t.elem = nil
	delete(s.open, t.info.Name)
	metricTenantsOpen.Set(float64(len(s.open)))
	return t
}

// OpenTenants returns how many tenants are open.
func (s *Store) OpenTenants() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.open)
}

// janitor closes idle tenants and runs the tier mover.
func (s *Store) janitor() {
	defer s.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastMove := time.Now()
	for {
		select {
		case <-s.quit:
			return
		case <-tick.C:
		}
		s.closeIdle()
		if s.cfg.MoverInterval > 0 && time.Since(lastMove) >= s.cfg.MoverInterval {
			s.moveAll(context.Background())
			lastMove = time.Now()
		}
	}
}

func (s *Store) closeIdle() {
	deadline := time.Now().Add(-s.cfg.IdleTimeout)
	var idle []*Tenant
	s.mu.Lock()
	for e := s.lru.Back(); e != nil; {
		t := e.Value.(*Tenant)
		prev := e.Prev()
		if t.lastUsed.Before(deadline) {
			idle = append(idle, s.removeLRULocked(e))
		}
		e = prev
	}
	s.mu.Unlock()
	for _, t := range idle {
		t.close()
	}
}

// moveAll runs the tier mover over every open tenant.
func (s *Store) moveAll(ctx context.Context) {
	s.mu.Lock()
	names := make([]string, 0, len(s.open))
	for n := range s.open {
		names = append(names, n)
	}
	s.mu.Unlock()
	var hot, warm, cold int64
	for _, n := range names {
		t, err := s.Acquire(ctx, n)
		if err != nil {
			continue
		}
		st, err := t.RunMover(ctx)
		if err != nil {
			s.log.Warn("tier mover", "tenant", n, "err", err)
		}
		hot, warm, cold = hot+st.HotBytes, warm+st.WarmBytes, cold+st.ColdBytes
		t.Release()
	}
	metricTierObjects.WithLabelValues("hot").Set(float64(hot))
	metricTierObjects.WithLabelValues("warm").Set(float64(warm))
	metricTierObjects.WithLabelValues("cold").Set(float64(cold))
}

// CreateTenant creates a tenant in the control database.
func (s *Store) CreateTenant(ctx context.Context, name, password string) (TenantInfo, error) {
	return s.control.CreateTenant(ctx, name, password)
}

// DeleteTenant removes a tenant and all its data. Connections that hold the
// tenant keep working on their open handles until they release it.
func (s *Store) DeleteTenant(ctx context.Context, name string) error {
	info, err := s.control.deleteTenant(ctx, name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	t, ok := s.open[name]
	if ok {
		delete(s.open, name)
		if t.elem != nil {
			s.lru.Remove(t.elem)
			t.elem = nil
		}
		t.stale = true
	}
	refs := 0
	if ok {
		refs = t.refs
	}
	s.mu.Unlock()
	if ok && refs == 0 {
		t.close()
	}
	return s.removeTenantData(ctx, info)
}

func (s *Store) removeTenantData(ctx context.Context, info TenantInfo) error {
	var errs []error
	for _, b := range []tier.Bucket{s.warm, s.cold} {
		err := b.List(ctx, info.ID+"/", func(key string, _ int64) error {
			return b.Delete(ctx, key)
		})
		errs = append(errs, err)
	}
	errs = append(errs, os.RemoveAll(s.tenantDir(info.ID)))
	return errors.Join(errs...)
}

func (s *Store) tenantDir(id string) string {
	return filepath.Join(s.cfg.Dir, "tenants", id)
}

// Close closes every tenant after its pending writes commit. Tenants still
// acquired are closed when released.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var idle []*Tenant
	for name, t := range s.open {
		if t.refs == 0 {
			idle = append(idle, t)
		}
		delete(s.open, name)
	}
	s.lru.Init()
	s.mu.Unlock()
	close(s.quit)
	s.wg.Wait()
	for _, t := range idle {
		t.close()
	}
	metricTenantsOpen.Set(0)
	return errors.Join(s.control.Close(), s.warm.Close(), s.cold.Close(), s.lock.unlock())
}
