package kafkawire

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxFrame caps a request's size before it is allocated (Kafka's
// socket.request.max.bytes default is 100 MiB).
const maxFrame = 100 << 20

// maxFrameBeforeAuth caps requests of unauthenticated connections (Kafka's
// sasl.server.max.receive.size default is 512 KiB).
const maxFrameBeforeAuth = 512 << 10

// conn is one client connection. Requests are read, served and answered one
// at a time, in order.
type conn struct {
	s      *Server
	nc     net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	log    *slog.Logger
	host   string // advertised host and port of the listener
	port   int32
	ctx    context.Context
	cancel context.CancelFunc

	stopping atomic.Bool
	pending  sync.WaitGroup // responses queued but not yet written

	// Authentication state.
	b        *broker // nil until authenticated
	sasl     saslExchange
	saslMech string
	rawSASL  bool // SaslHandshake v0: the next frames are bare tokens
}

func newConn(s *Server, nc net.Conn, host string, port int32) *conn {
	ctx, cancel := context.WithCancel(s.ctx)
	return &conn{
		s:      s,
		nc:     nc,
		br:     bufio.NewReaderSize(nc, 64<<10),
		bw:     bufio.NewWriterSize(nc, 64<<10),
		log:    s.log.With(logRemote, nc.RemoteAddr().String()),
		host:   host,
		port:   port,
		ctx:    ctx,
		cancel: cancel,
	}
}

// stopReading makes the request loop end after the request it is serving.
func (c *conn) stopReading() {
	c.stopping.Store(true)
	c.nc.SetReadDeadline(time.Now())
}

// errClose ends a connection without a response, as Kafka does for
// requests it cannot parse or does not serve.
var errClose = errors.New("close connection")

// slot is one response, in request order. Exactly one of resp, wait and
// raw is used; wait blocks until a pipelined Produce is durable.
type slot struct {
	h    reqHeader
	resp kmsg.Response
	wait func() kmsg.Response
	raw  []byte
	bare bool // raw is a bare SASL token (SaslHandshake v0)
}

// serve runs the connection: this goroutine reads and handles requests; a
// writer goroutine sends the responses in order. Produce requests are
// pipelined: their appends are queued in order and the next request is
// read while they become durable. Any other request first waits until
// every earlier response is written, so it sees their effects.
func (c *conn) serve() {
	out := make(chan *slot, 64)
	writerDone := make(chan struct{})
	go c.writeLoop(out, writerDone)
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("kafka connection panicked", "panic", p, "stack", string(debug.Stack()))
		}
		close(out)
		<-writerDone
		c.cancel()
		c.nc.Close()
		if c.b != nil {
			c.s.releaseBroker(c.b)
		}
	}()
	c.log.Debug("kafka connection opened")
	for {
		frame, err := c.readFrame()
		if err != nil {
			if !errors.Is(err, io.EOF) && !c.stopping.Load() {
				c.log.Debug("kafka connection closed", "err", err)
			}
			return
		}
		var s *slot
		if c.rawSASL {
			s, err = c.rawSASLStep(frame)
		} else {
			s, err = c.handleFrame(frame)
		}
		if s != nil {
			c.pending.Add(1)
			out <- s
		}
		if err != nil {
			if !errors.Is(err, errClose) {
				c.log.Warn("kafka connection closed", "err", err)
			}
			return
		}
		if c.stopping.Load() {
			return
		}
	}
}

// writeLoop writes responses in order, flushing when no more are queued.
func (c *conn) writeLoop(out <-chan *slot, done chan<- struct{}) {
	defer close(done)
	failed := false
	for s := range out {
		c.writeSlot(s, &failed)
		if !failed && len(out) == 0 {
			if err := c.bw.Flush(); err != nil {
				failed = true
				c.nc.Close()
			}
		}
		c.pending.Done()
	}
}

func (c *conn) writeSlot(s *slot, failed *bool) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("kafka response panicked", "panic", p, "stack", string(debug.Stack()))
			*failed = true
			c.nc.Close()
		}
	}()
	resp := s.resp
	if s.wait != nil {
		resp = s.wait()
	}
	if *failed {
		return
	}
	var err error
	switch {
	case s.bare:
		var hdr [4]byte
		binary.BigEndian.PutUint32(hdr[:], uint32(len(s.raw)))
		c.bw.Write(hdr[:])
		_, err = c.bw.Write(s.raw)
	case resp != nil:
		resp.SetVersion(s.h.version)
		err = c.writeResponse(s.h, resp)
		if fr, ok := resp.(*kmsg.FetchResponse); ok {
			releaseFetchBufs(fr)
		}
	}
	if err != nil {
		*failed = true
		c.nc.Close()
	}
}

func (c *conn) readFrame() ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(hdr[:]))
	limit := int32(maxFrame)
	if c.b == nil && c.s.cfg.AnonymousTenant == "" {
		// Before authentication only small requests are accepted, as
		// Kafka caps SASL frames. (With an anonymous tenant the first
		// request may be a large produce.)
		limit = maxFrameBeforeAuth
	}
	if n < 0 || n > limit {
		return nil, fmt.Errorf("frame of %d bytes refused", n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(c.br, buf); err != nil {
		return nil, fmt.Errorf("read frame: %w", err)
	}
	return buf, nil
}

// reqHeader is a parsed request header.
type reqHeader struct {
	key      int16
	version  int16
	corr     int32
	clientID string
}

// parseRequest splits a frame into its header and a decoded request. It
// fails with errUnsupported (wrapped) for keys and versions rewire does not
// serve, and with a decoding error for malformed input.
func parseRequest(frame []byte) (reqHeader, kmsg.Request, error) {
	var h reqHeader
	if len(frame) < 10 {
		return h, nil, fmt.Errorf("short request header (%d bytes)", len(frame))
	}
	h.key = int16(binary.BigEndian.Uint16(frame[0:]))
	h.version = int16(binary.BigEndian.Uint16(frame[2:]))
	h.corr = int32(binary.BigEndian.Uint32(frame[4:]))
	idLen := int16(binary.BigEndian.Uint16(frame[8:]))
	rest := frame[10:]
	if idLen > 0 {
		if int(idLen) > len(rest) {
			return h, nil, fmt.Errorf("client id overruns the frame")
		}
		h.clientID = string(rest[:idLen])
		rest = rest[idLen:]
	}
	req := kmsg.RequestForKey(h.key)
	if req == nil {
		return h, nil, fmt.Errorf("%w: api key %d", errUnsupported, h.key)
	}
	req.SetVersion(h.version)
	lo, hi, ok := supportedVersions(h.key)
	if !ok || h.version < lo || h.version > hi {
		return h, req, fmt.Errorf("%w: api key %d version %d", errUnsupported, h.key, h.version)
	}
	if req.IsFlexible() {
		var err error
		if rest, err = skipTags(rest); err != nil {
			return h, nil, err
		}
	}
	if err := req.ReadFrom(rest); err != nil {
		return h, nil, fmt.Errorf("decode %s v%d: %w", kmsg.NameForKey(h.key), h.version, err)
	}
	return h, req, nil
}

var errUnsupported = errors.New("unsupported request")

// skipTags skips a tagged-field section.
func skipTags(b []byte) ([]byte, error) {
	n, used := binary.Uvarint(b)
	if used <= 0 || n > uint64(len(b)) {
		return nil, fmt.Errorf("malformed tagged fields")
	}
	b = b[used:]
	for range n {
		_, used = binary.Uvarint(b)
		if used <= 0 {
			return nil, fmt.Errorf("malformed tagged fields")
		}
		b = b[used:]
		size, used := binary.Uvarint(b)
		if used <= 0 || size > uint64(len(b)-used) {
			return nil, fmt.Errorf("malformed tagged fields")
		}
		b = b[used+int(size):]
	}
	return b, nil
}

// handleFrame serves one request and returns its response slot (nil when
// there is no response). An error closes the connection after the slot is
// written.
func (c *conn) handleFrame(frame []byte) (*slot, error) {
	h, req, err := parseRequest(frame)
	if err != nil {
		if errors.Is(err, errUnsupported) && h.key == 18 {
			// ApiVersions above the supported range: answer v0 with the
			// error and the ranges, so that the client can retry lower.
			resp := apiVersionsResponse()
			resp.ErrorCode = errUnsupportedVersion
			h.version = 0
			return &slot{h: h, resp: resp}, nil
		}
		c.log.Warn("kafka request refused", "err", err, "client_id", h.clientID)
		return nil, errClose
	}
	if c.s.cfg.OnRequest != nil {
		c.s.cfg.OnRequest(kmsg.NameForKey(h.key))
	}
	if c.b == nil && h.key != 18 && h.key != 17 && h.key != 36 {
		if c.s.cfg.AnonymousTenant == "" {
			c.log.Warn("kafka request before authentication", "api", kmsg.NameForKey(h.key))
			return nil, errClose
		}
		if err := c.bind(c.s.cfg.AnonymousTenant); err != nil {
			return nil, fmt.Errorf("anonymous tenant: %w", err)
		}
	}
	if pr, ok := req.(*kmsg.ProduceRequest); ok {
		wait := c.handleProduce(c.ctx, pr)
		return &slot{h: h, wait: wait}, nil
	}
	c.pending.Wait()
	resp, err := c.dispatch(h, req)
	if err != nil {
		return nil, err
	}
	return &slot{h: h, resp: resp}, nil
}

func (c *conn) writeResponse(h reqHeader, resp kmsg.Response) error {
	hint := responseSizeHint(resp)
	var body []byte
	if hint > 4<<10 {
		// Large responses (fetches) are encoded into a recycled buffer.
		body = getFetchBuf()
		defer func() { putFetchBuf(body) }()
	}
	if cap(body) < hint {
		body = make([]byte, 0, hint)
	}
	body = append(body[:0], 0, 0, 0, 0, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(body[4:], uint32(h.corr))
	if resp.IsFlexible() && resp.Key() != 18 {
		body = append(body, 0)
	}
	body = resp.AppendTo(body)
	binary.BigEndian.PutUint32(body, uint32(len(body)-4))
	_, err := c.bw.Write(body)
	return err
}

// bind makes the connection act as tenant.
func (c *conn) bind(tenant string) error {
	b, err := c.s.acquireBroker(c.ctx, tenant)
	if err != nil {
		return err
	}
	c.b = b
	c.log = c.log.With(logTenant, tenant)
	c.log.Debug("kafka connection authenticated")
	return nil
}

func (c *conn) dispatch(h reqHeader, req kmsg.Request) (kmsg.Response, error) {
	ctx := c.ctx
	switch r := req.(type) {
	case *kmsg.ApiVersionsRequest:
		return handleApiVersions(r), nil
	case *kmsg.SASLHandshakeRequest:
		return c.handleSASLHandshake(r), nil
	case *kmsg.SASLAuthenticateRequest:
		return c.handleSASLAuthenticate(r)
	case *kmsg.MetadataRequest:
		return c.handleMetadata(ctx, r), nil
	case *kmsg.FetchRequest:
		return c.handleFetch(ctx, r), nil
	case *kmsg.ListOffsetsRequest:
		return c.handleListOffsets(ctx, r), nil
	case *kmsg.CreateTopicsRequest:
		return c.handleCreateTopics(ctx, r), nil
	case *kmsg.DeleteTopicsRequest:
		return c.handleDeleteTopics(ctx, r), nil
	case *kmsg.CreatePartitionsRequest:
		return c.handleCreatePartitions(ctx, r), nil
	case *kmsg.DescribeConfigsRequest:
		return c.handleDescribeConfigs(ctx, r), nil
	case *kmsg.AlterConfigsRequest:
		return c.handleAlterConfigs(ctx, r), nil
	case *kmsg.IncrementalAlterConfigsRequest:
		return c.handleIncrementalAlterConfigs(ctx, r), nil
	case *kmsg.DeleteRecordsRequest:
		return c.handleDeleteRecords(ctx, r), nil
	case *kmsg.OffsetForLeaderEpochRequest:
		return c.handleOffsetForLeaderEpoch(ctx, r), nil
	case *kmsg.DescribeClusterRequest:
		return c.handleDescribeCluster(r), nil
	case *kmsg.FindCoordinatorRequest:
		return c.handleFindCoordinator(r), nil
	case *kmsg.JoinGroupRequest:
		return c.handleJoinGroup(ctx, h, r), nil
	case *kmsg.SyncGroupRequest:
		return c.handleSyncGroup(ctx, r), nil
	case *kmsg.HeartbeatRequest:
		return c.handleHeartbeat(r), nil
	case *kmsg.LeaveGroupRequest:
		return c.handleLeaveGroup(r), nil
	case *kmsg.OffsetCommitRequest:
		return c.handleOffsetCommit(ctx, r), nil
	case *kmsg.OffsetFetchRequest:
		return c.handleOffsetFetch(ctx, r), nil
	case *kmsg.OffsetDeleteRequest:
		return c.handleOffsetDelete(ctx, r), nil
	case *kmsg.ListGroupsRequest:
		return c.handleListGroups(ctx, r), nil
	case *kmsg.DescribeGroupsRequest:
		return c.handleDescribeGroups(ctx, r), nil
	case *kmsg.DeleteGroupsRequest:
		return c.handleDeleteGroups(ctx, r), nil
	case *kmsg.InitProducerIDRequest:
		return c.handleInitProducerID(ctx, r), nil
	case *kmsg.AddPartitionsToTxnRequest:
		return c.handleAddPartitionsToTxn(ctx, r), nil
	case *kmsg.AddOffsetsToTxnRequest:
		return c.handleAddOffsetsToTxn(ctx, r), nil
	case *kmsg.EndTxnRequest:
		return c.handleEndTxn(ctx, r), nil
	case *kmsg.TxnOffsetCommitRequest:
		return c.handleTxnOffsetCommit(ctx, r), nil
	case *kmsg.DescribeProducersRequest:
		return c.handleDescribeProducers(ctx, r), nil
	}
	return nil, fmt.Errorf("%w: %s", errUnsupported, kmsg.NameForKey(h.key))
}

// responseSizeHint sizes the encoding buffer so that large fetch responses
// are not copied while the buffer grows.
func responseSizeHint(resp kmsg.Response) int {
	fr, ok := resp.(*kmsg.FetchResponse)
	if !ok {
		return 256
	}
	n := 256
	for _, t := range fr.Topics {
		n += len(t.Topic) + 64
		for _, p := range t.Partitions {
			n += len(p.RecordBatches) + 64 + 16*len(p.AbortedTransactions)
		}
	}
	return n
}
