package natswire

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"rewire/storage"
)

// flushDeliveries pushes out deliveries queued by deliver.
func (h *host) flushDeliveries() {
	if h.jc != nil {
		h.jc.flush()
	}
}

// deliver sends a stored message to a consumer's client: routed on target,
// presented with the message's own subject (see jsclient.go).
func (h *host) deliver(target, subj, reply string, hdr, data []byte) {
	if h.jc != nil {
		h.jc.send(target, subj, reply, hdr, data)
		return
	}
	// TODO: without the internal client the receiver sees the deliver
	// subject, and nats-server refuses $JS reply subjects from clients.
	h.ic.Publish(target, reply, addHeaders(hdr, hdrSubject, subj), data)
}

func (h *host) apiConsumerCreate(ctx context.Context, m *imsg, streamName, nameTok, filterTok string) {
	resp := server.JSApiConsumerCreateResponse{ApiResponse: server.ApiResponse{Type: server.JSApiConsumerCreateResponseType}}
	fail := func(e *server.ApiError) {
		resp.Error = e
		h.respond(m, &resp)
	}
	var req server.CreateConsumerRequest
	if len(m.Data) == 0 {
		fail(server.NewJSBadRequestError())
		return
	}
	if err := decodeRequest(m.Data, &req); err != nil {
		fail(server.NewJSInvalidJSONError(err))
		return
	}
	if req.Stream != streamName {
		fail(server.NewJSStreamMismatchError())
		return
	}
	cfg := req.Config
	if e := consumerNameFromSubject(&cfg, m.Subject, nameTok, filterTok); e != nil {
		fail(e)
		return
	}
	st := h.stream(streamName)
	if st == nil {
		fail(server.NewJSStreamNotFoundError())
		return
	}
	st.mu.Lock()
	scfg := st.cfg
	st.mu.Unlock()
	if e := normalizeConsumerConfig(&cfg, &scfg); e != nil {
		fail(e)
		return
	}
	cfg.Metadata = staticMetadata(cfg.Metadata)
	name := cfg.Name
	if cfg.Durable != "" {
		name = cfg.Durable
	}
	if name == "" {
		name = randomName()
	}
	if cfg.Name == "" {
		cfg.Name = name
	}

	st.mu.Lock()
	c := st.consumers[name]
	n := len(st.consumers)
	st.mu.Unlock()
	if c != nil {
		c.mu.Lock()
		old := c.cfg
		c.mu.Unlock()
		if req.Action == server.ActionCreate && !sameConsumerConfig(old, cfg) {
			fail(server.NewJSConsumerAlreadyExistsError())
			return
		}
		if scfg.Retention == server.WorkQueuePolicy && !st.partitionUnique(name, consumerFilters(&cfg)) {
			fail(server.NewJSConsumerWQConsumerNotUniqueError())
			return
		}
		if err := checkConsumerUpdate(&old, &cfg); err != nil {
			fail(server.NewJSConsumerCreateError(err, server.Unless(err)))
			return
		}
		c.mu.Lock()
		c.cfg = cfg
		c.filters = consumerFilters(&c.cfg)
		c.ahead = nil
		c.npDirty = true
		c.dirty = true
		c.active = time.Now()
		c.mu.Unlock()
		c.wake()
		resp.ConsumerInfo = c.info()
		h.respond(m, &resp)
		return
	}
	if req.Action == server.ActionUpdate {
		fail(server.NewJSConsumerDoesNotExistError())
		return
	}
	if scfg.MaxConsumers > 0 && n >= scfg.MaxConsumers {
		fail(server.NewJSMaximumConsumersLimitError())
		return
	}
	if e := st.checkWorkQueueConsumer(name, &cfg); e != nil {
		fail(e)
		return
	}
	rec := consumerRecord{Config: cfg, Created: time.Now().UTC()}
	if err := st.startPosition(ctx, &rec); err != nil {
		fail(server.NewJSConsumerCreateError(err))
		return
	}
	if err := h.saveConsumer(ctx, streamName, name, rec); err != nil {
		fail(server.NewJSConsumerStoreFailedError(err))
		return
	}
	c = st.newConsumer(name, rec)
	st.mu.Lock()
	if st.deleted {
		st.mu.Unlock()
		fail(server.NewJSStreamNotFoundError())
		return
	}
	st.consumers[name] = c
	st.mu.Unlock()
	go c.run()
	resp.ConsumerInfo = c.info()
	h.respond(m, &resp)
}

// startPosition sets where a new consumer begins, by its deliver policy.
func (s *stream) startPosition(ctx context.Context, rec *consumerRecord) error {
	s.mu.Lock()
	st := s.st
	s.mu.Unlock()
	cfg := &rec.Config
	filters := consumerFilters(cfg)
	db := s.h.t.DB()
	rec.SSeq = st.first
	switch cfg.DeliverPolicy {
	case server.DeliverLast:
		rec.SSeq = st.last
		if len(filters) > 0 {
			seq, err := s.scanLast(ctx, filters)
			if err != nil {
				return err
			}
			if seq > 0 {
				rec.SSeq = seq
			} else {
				rec.SSeq = st.last + 1
			}
		}
		rec.SSeq = max(rec.SSeq, 1)
	case server.DeliverNew:
		rec.SSeq = st.last + 1
	case server.DeliverByStartSequence:
		rec.SSeq = cfg.OptStartSeq
	case server.DeliverByStartTime:
		var seq uint64
		if err := db.QueryRowContext(ctx, `SELECT MIN(seq) FROM natswire_msgs WHERE stream = ? AND ts >= ?`,
			s.name, cfg.OptStartTime.UnixNano()).Scan(&nullUint{&seq}); err != nil {
			return err
		}
		if seq == 0 {
			seq = st.last + 1
		}
		rec.SSeq = seq
	case server.DeliverLastPerSubject:
		rows, err := db.QueryContext(ctx, `SELECT subject, MAX(seq) FROM natswire_msgs WHERE stream = ? GROUP BY subject`, s.name)
		if err != nil {
			return err
		}
		for rows.Next() {
			var subj string
			var seq uint64
			if rows.Scan(&subj, &seq) == nil && matchesAny(filters, subj) {
				rec.LPS = append(rec.LPS, seq)
			}
		}
		rows.Close()
		sort.Slice(rec.LPS, func(i, j int) bool { return rec.LPS[i] < rec.LPS[j] })
		rec.SSeq = st.last + 1
	}
	// Clamp into the stream as nats-server does: never past the next
	// sequence unless asked for explicitly, never before the first live
	// one (a purged stream starts after its purge).
	if cfg.OptStartSeq == 0 && rec.SSeq > st.last+1 {
		rec.SSeq = st.last + 1
	}
	if st.first > 0 && rec.SSeq < st.first {
		rec.SSeq = st.first
	}
	if rec.SSeq == 0 {
		rec.SSeq = 1
	}
	// Positions before the start count as acknowledged.
	rec.AckS = rec.SSeq - 1
	if cfg.DeliverPolicy == server.DeliverLastPerSubject && len(rec.LPS) > 0 {
		rec.AckS = rec.LPS[0] - 1
	}
	rec.LastS = rec.AckS
	return nil
}

// scanLast returns the newest live sequence matching filters, or 0.
func (s *stream) scanLast(ctx context.Context, filters []string) (uint64, error) {
	rows, err := s.h.t.DB().QueryContext(ctx, `SELECT seq, subject FROM natswire_msgs WHERE stream = ? ORDER BY seq DESC`, s.name)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var seq uint64
		var subj string
		if err := rows.Scan(&seq, &subj); err != nil {
			return 0, err
		}
		if matchesAny(filters, subj) {
			return seq, nil
		}
	}
	return 0, rows.Err()
}

func (h *host) apiConsumerInfo(ctx context.Context, m *imsg, streamName, name string) {
	resp := server.JSApiConsumerInfoResponse{ApiResponse: server.ApiResponse{Type: server.JSApiConsumerInfoResponseType}}
	st := h.stream(streamName)
	if st == nil {
		resp.Error = server.NewJSStreamNotFoundError()
		h.respond(m, &resp)
		return
	}
	c := st.consumer(name)
	if c == nil {
		resp.Error = server.NewJSConsumerNotFoundError()
		h.respond(m, &resp)
		return
	}
	c.mu.Lock()
	c.active = time.Now()
	c.mu.Unlock()
	resp.ConsumerInfo = c.info()
	h.respond(m, &resp)
}

func (h *host) apiConsumerDelete(ctx context.Context, m *imsg, streamName, name string) {
	resp := server.JSApiConsumerDeleteResponse{ApiResponse: server.ApiResponse{Type: server.JSApiConsumerDeleteResponseType}}
	st := h.stream(streamName)
	if st == nil {
		resp.Error = server.NewJSStreamNotFoundError()
		h.respond(m, &resp)
		return
	}
	if !h.deleteConsumer(ctx, st, name) {
		resp.Error = server.NewJSConsumerNotFoundError()
		h.respond(m, &resp)
		return
	}
	resp.Success = true
	h.respond(m, &resp)
}

// deleteConsumer stops and forgets a consumer; false if there was none.
func (h *host) deleteConsumer(ctx context.Context, st *stream, name string) bool {
	st.mu.Lock()
	c := st.consumers[name]
	delete(st.consumers, name)
	st.mu.Unlock()
	if c == nil {
		return false
	}
	c.mu.Lock()
	c.deleted = true
	c.mu.Unlock()
	c.stop(false)
	err := h.t.Update(ctx, func(tx *storage.Tx) error {
		return storage.KVDelete(tx, consumerNS, consumerKey(st.name, name))
	})
	if err != nil {
		h.log.Error("delete consumer", "stream", st.name, "consumer", name, "err", err)
	}
	// An interest stream keeps only what its remaining consumers need.
	st.mu.Lock()
	interest := st.cfg.Retention == server.InterestPolicy && !st.deleted
	st.mu.Unlock()
	if interest {
		st.wmu.Lock()
		err := st.dropUnwanted(ctx)
		st.wmu.Unlock()
		if err != nil {
			h.log.Error("interest retention after consumer delete", "stream", st.name, "err", err)
		}
	}
	return true
}

func (st *stream) consumerList() []*consumer {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]*consumer, 0, len(st.consumers))
	for _, c := range st.consumers {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func (h *host) apiConsumerNames(m *imsg, streamName string) {
	var req server.JSApiConsumersRequest
	resp := server.JSApiConsumerNamesResponse{ApiResponse: server.ApiResponse{Type: server.JSApiConsumerNamesResponseType},
		Consumers: []string{}}
	if err := decodeRequest(m.Data, &req); err != nil {
		resp.Error = server.NewJSInvalidJSONError(err)
		h.respond(m, &resp)
		return
	}
	st := h.stream(streamName)
	if st == nil {
		resp.Error = server.NewJSStreamNotFoundError()
		h.respond(m, &resp)
		return
	}
	for _, c := range st.consumerList() {
		resp.Consumers = append(resp.Consumers, c.name)
	}
	resp.Total = len(resp.Consumers)
	resp.Offset = min(req.Offset, resp.Total)
	resp.Consumers = resp.Consumers[resp.Offset:]
	resp.Limit = server.JSApiNamesLimit
	h.respond(m, &resp)
}

func (h *host) apiConsumerList(m *imsg, streamName string) {
	var req server.JSApiConsumersRequest
	resp := server.JSApiConsumerListResponse{ApiResponse: server.ApiResponse{Type: server.JSApiConsumerListResponseType},
		Consumers: []*server.ConsumerInfo{}}
	if err := decodeRequest(m.Data, &req); err != nil {
		resp.Error = server.NewJSInvalidJSONError(err)
		h.respond(m, &resp)
		return
	}
	st := h.stream(streamName)
	if st == nil {
		resp.Error = server.NewJSStreamNotFoundError()
		h.respond(m, &resp)
		return
	}
	for _, c := range st.consumerList() {
		ci := c.info()
		// Lists carry no answer-only metadata, as in nats-server.
		ci.Config.Metadata = staticMetadata(ci.Config.Metadata)
		resp.Consumers = append(resp.Consumers, ci)
	}
	resp.Total = len(resp.Consumers)
	resp.Offset = min(req.Offset, resp.Total)
	resp.Consumers = resp.Consumers[resp.Offset:]
	resp.Limit = server.JSApiListLimit
	h.respond(m, &resp)
}

// parseNextRequest decodes a MSG.NEXT body: empty (one message), a
// number (batch) or JSApiConsumerGetNextRequest.
func parseNextRequest(data []byte) (server.JSApiConsumerGetNextRequest, error) {
	var req server.JSApiConsumerGetNextRequest
	body := strings.TrimSpace(string(data))
	switch {
	case body == "":
		req.Batch = 1
	case body[0] == '{':
		if err := json.Unmarshal([]byte(body), &req); err != nil {
			return req, err
		}
		if req.Batch <= 0 {
			req.Batch = 1
		}
	default:
		n, err := strconv.Atoi(body)
		if err != nil {
			return req, err
		}
		req.Batch = max(n, 1)
	}
	if req.Expires < 0 || req.Heartbeat < 0 || req.MaxBytes < 0 {
		return req, errors.New("negative value")
	}
	return req, nil
}

// newPullReq makes the waiting form of a pull request answered on reply.
func newPullReq(reply string, req server.JSApiConsumerGetNextRequest) *pullReq {
	now := time.Now()
	r := &pullReq{reply: reply, batch: req.Batch, maxBytes: req.MaxBytes, byteLimit: req.MaxBytes > 0,
		noWait: req.NoWait, hb: req.Heartbeat,
		lastSent: now}
	if req.Expires > 0 {
		r.expires = now.Add(req.Expires)
	}
	return r
}

// apiMsgNext queues a pull request ($JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>).
func (h *host) apiMsgNext(m *imsg, streamName, name string) {
	if m.Reply == "" {
		return
	}
	status := func(code, desc string) {
		h.ic.Publish(m.Reply, "", makeHeader(code, desc), nil)
	}
	st := h.stream(streamName)
	if st == nil {
		status("404", "Stream Not Found")
		return
	}
	c := st.consumer(name)
	if c == nil {
		status("404", "Consumer Not Found")
		return
	}
	req, err := parseNextRequest(m.Data)
	if err != nil {
		status("400", "Bad Request - "+err.Error())
		return
	}
	c.mu.Lock()
	if !c.isPull() {
		c.mu.Unlock()
		status("409", "Consumer is push based")
		return
	}
	if c.cfg.MaxRequestBatch > 0 && req.Batch > c.cfg.MaxRequestBatch {
		c.mu.Unlock()
		status("409", "Exceeded MaxRequestBatch of "+strconv.Itoa(c.cfg.MaxRequestBatch))
		return
	}
	if mx := c.cfg.MaxRequestExpires; mx > 0 && req.Expires > mx {
		c.mu.Unlock()
		status("409", "Exceeded MaxRequestExpires of "+mx.String())
		return
	}
	if mx := c.cfg.MaxRequestMaxBytes; mx > 0 && req.MaxBytes > mx {
		c.mu.Unlock()
		status("409", "Exceeded MaxRequestMaxBytes of "+strconv.Itoa(mx))
		return
	}
	if c.cfg.MaxWaiting > 0 && len(c.waiting) >= c.cfg.MaxWaiting {
		c.mu.Unlock()
		status("409", "Exceeded MaxWaiting")
		return
	}
	c.waiting = append(c.waiting, newPullReq(m.Reply, req))
	c.active = time.Now()
	c.mu.Unlock()
	c.wake()
}
