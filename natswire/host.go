package natswire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"rewire/storage"
)

// host serves JetStream inside one tenant's account: an internal client
// subscribed to the API, ack and flow-control subjects and to every
// stream's subjects, over the tenant's core.
type host struct {
	s    *Server
	id   string // tenant id, to notice a deleted and re-created tenant
	name string
	t    *storage.Tenant
	ic   *iclient
	jc   *jsClient // nil when the internal JetStream client is unavailable
	acc  *server.Account
	log  *slog.Logger

	mu      sync.Mutex // guards streams, closed
	streams map[string]*stream
	closed  bool

	closeOnce sync.Once

	apiTotal  atomic.Uint64
	apiErrors atomic.Uint64

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startHost(s *Server, info storage.TenantInfo) (*host, error) {
	ctx, cancel := context.WithCancel(context.Background())
	h := &host{
		s: s, id: info.ID, name: info.Name,
		log:     s.log.With(keyTenant, info.Name),
		streams: make(map[string]*stream),
		ctx:     ctx, cancel: cancel,
	}
	t, err := s.store.Acquire(ctx, info.Name)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("natswire: acquire %s: %w", info.Name, err)
	}
	h.t = t
	conn, err := s.ns.InProcessConn()
	if err != nil {
		t.Release()
		cancel()
		return nil, fmt.Errorf("natswire: internal connection: %w", err)
	}
	h.ic, err = dialInternal(conn, info.Name, s.secret, func(p any) {
		h.log.Error("jetstream handler panicked", "panic", p, "stack", string(debug.Stack()))
	})
	if err != nil {
		t.Release()
		cancel()
		return nil, err
	}
	h.acc, _ = s.ns.LookupOrRegisterAccount(info.Name)
	if h.jc, err = newJSClient(s.ns, h.acc); err != nil {
		h.log.Warn("deliveries fall back to plain publishes", "err", err)
	}
	for _, sub := range []struct {
		subj string
		fn   func(*imsg)
	}{
		{"$JS.API.>", h.onAPI},
		{"$JS.ACK.>", h.onAck},
		{"$JS.FC.>", h.onFlowControl},
	} {
		if _, err := h.ic.Subscribe(sub.subj, "", sub.fn); err != nil {
			h.close()
			return nil, err
		}
	}
	if err := h.loadStreams(ctx); err != nil {
		h.close()
		return nil, err
	}
	if err := h.ic.Flush(10 * time.Second); err != nil {
		h.close()
		return nil, err
	}
	h.log.Info("jetstream host started", "streams", len(h.streams))
	go h.watchClient()
	return h, nil
}

// watchClient retires the host if its internal connection dies (for
// example closed by nats-server as a slow consumer), so that the next
// connect of the tenant starts a fresh one.
func (h *host) watchClient() {
	<-h.ic.done
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	h.s.mu.Lock()
	closed = closed || h.s.closed
	h.s.mu.Unlock()
	if closed {
		return
	}
	h.log.Error("jetstream internal connection lost; restarting host on next connect")
	h.s.dropHost(h)
}

func (h *host) loadStreams(ctx context.Context) error {
	names, err := h.t.Logs().List(ctx, logPrefix)
	if err != nil {
		return fmt.Errorf("natswire: list streams: %w", err)
	}
	for _, n := range names {
		l, err := h.t.Logs().Open(ctx, n)
		if err != nil {
			return err
		}
		st, err := h.openStream(ctx, l)
		if err != nil {
			// One unreadable stream must not take the tenant's other
			// streams down; its log stays for inspection.
			h.log.Error("stream not loaded", "log", n, "err", err)
			continue
		}
		h.streams[st.name] = st
		if err := st.loadConsumers(ctx); err != nil {
			return err
		}
	}
	return nil
}

// close stops consumers and streams, saving consumer state, and releases
// the tenant.
func (h *host) close() {
	// Concurrent callers wait until the first one has finished.
	h.closeOnce.Do(h.doClose)
}

func (h *host) doClose() {
	h.mu.Lock()
	h.closed = true
	streams := h.streams
	h.streams = map[string]*stream{}
	h.mu.Unlock()
	for _, st := range streams {
		st.close()
	}
	h.cancel()
	h.wg.Wait()
	if h.ic != nil {
		h.ic.Close()
	}
	if h.jc != nil {
		h.jc.close()
	}
	h.t.Release()
}

// stream returns the named stream or nil.
func (h *host) stream(name string) *stream {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.streams[name]
}

// streamList returns the streams sorted by name.
func (h *host) streamList() []*stream {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*stream, 0, len(h.streams))
	for _, st := range h.streams {
		out = append(out, st)
	}
	sortStreams(out)
	return out
}

// onAPI runs on the read loop; requests are served on their own goroutine
// so that a slow core write never stalls captures or acks.
func (h *host) onAPI(m *imsg) {
	h.mu.Lock()
	closed := h.closed
	if !closed {
		h.wg.Add(1)
	}
	h.mu.Unlock()
	if closed {
		return
	}
	go func() {
		defer h.wg.Done()
		defer func() {
			if p := recover(); p != nil {
				h.log.Error("jetstream api panicked", "subject", m.Subject, "panic", p, "stack", string(debug.Stack()))
			}
		}()
		h.apiTotal.Add(1)
		h.handleAPI(m)
	}()
}

// onAck handles $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>.
func (h *host) onAck(m *imsg) {
	toks := strings.Split(m.Subject, ".")
	if len(toks) < 9 {
		return
	}
	st := h.stream(toks[2])
	if st == nil {
		return
	}
	c := st.consumer(toks[3])
	if c == nil {
		return
	}
	a, err := parseAckTokens(toks)
	if err != nil {
		return
	}
	c.ack(a, m)
}

// onFlowControl handles the replies to push flow-control requests.
func (h *host) onFlowControl(m *imsg) {
	toks := strings.Split(m.Subject, ".")
	if len(toks) < 5 {
		return
	}
	if st := h.stream(toks[2]); st != nil {
		if c := st.consumer(toks[3]); c != nil {
			c.flowControlReply(toks[4])
		}
	}
}

// hasInterest reports whether any client of the tenant subscribes to subj.
func (h *host) hasInterest(subj string) bool {
	return h.acc == nil || h.acc.Interest(subj) > 0
}

var errHostClosed = errors.New("jetstream host closed")
