package natswire

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"rewire/storage"
)

// apiLevel is the JetStream API level rewire reports.
const apiLevel = 1

// handleAPI dispatches one $JS.API request.
func (h *host) handleAPI(m *imsg) {
	toks := strings.Split(strings.TrimPrefix(m.Subject, "$JS.API."), ".")
	ctx, cancel := context.WithTimeout(h.ctx, 30*time.Second)
	defer cancel()
	arg := func(i int) string {
		if i < len(toks) {
			return toks[i]
		}
		return ""
	}
	switch {
	case m.Subject == "$JS.API.INFO":
		h.apiAccountInfo(m)
	case arg(0) == "STREAM":
		switch arg(1) {
		case "CREATE":
			h.apiStreamCreate(ctx, m, arg(2), false)
		case "UPDATE":
			h.apiStreamCreate(ctx, m, arg(2), true)
		case "INFO":
			h.apiStreamInfo(ctx, m, arg(2))
		case "DELETE":
			h.apiStreamDelete(ctx, m, arg(2))
		case "PURGE":
			h.apiStreamPurge(ctx, m, arg(2))
		case "NAMES":
			h.apiStreamNames(m)
		case "LIST":
			h.apiStreamList(m)
		case "MSG":
			switch arg(2) {
			case "GET":
				h.apiMsgGet(ctx, m, arg(3))
			case "DELETE":
				h.apiMsgDelete(ctx, m, arg(3))
			default:
				h.apiUnknown(m)
			}
		default:
			h.apiUnknown(m)
		}
	case arg(0) == "DIRECT" && arg(1) == "GET":
		h.apiDirectGet(ctx, m, arg(2), strings.Join(toks[min(3, len(toks)):], "."))
	case arg(0) == "CONSUMER":
		switch arg(1) {
		case "CREATE":
			h.apiConsumerCreate(ctx, m, arg(2), arg(3), strings.Join(toks[min(4, len(toks)):], "."))
		case "DURABLE":
			if arg(2) == "CREATE" {
				h.apiConsumerCreate(ctx, m, arg(3), arg(4), "")
			} else {
				h.apiUnknown(m)
			}
		case "INFO":
			h.apiConsumerInfo(ctx, m, arg(2), arg(3))
		case "DELETE":
			h.apiConsumerDelete(ctx, m, arg(2), arg(3))
		case "NAMES":
			h.apiConsumerNames(m, arg(2))
		case "LIST":
			h.apiConsumerList(m, arg(2))
		case "MSG":
			if arg(2) == "NEXT" {
				h.apiMsgNext(m, arg(3), arg(4))
			} else {
				h.apiUnknown(m)
			}
		default:
			h.apiUnknown(m)
		}
	default:
		h.apiUnknown(m)
	}
}

// respond sends a JSON API response; a response carrying an error counts
// as an API error.
func (h *host) respond(m *imsg, v any) {
	if m.Reply == "" {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		h.log.Error("jetstream api encode", "subject", m.Subject, "err", err)
		return
	}
	if strings.Contains(string(b[:min(len(b), 200)]), `"error":{`) {
		h.apiErrors.Add(1)
	}
	h.ic.Publish(m.Reply, "", nil, b)
}

func (h *host) apiUnknown(m *imsg) {
	h.respond(m, &server.ApiResponse{Type: server.JSApiSystemResponseType, Error: server.NewJSBadRequestError()})
}

// decodeRequest decodes an optional JSON request body.
func decodeRequest(data []byte, v any) error {
	// As nats-server in its default strict mode: unknown fields are
	// refused, several JSON values in a row each decode into v, and a
	// syntax error names its offset.
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	for {
		err := dec.Decode(v)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				return fmt.Errorf("%w at offset %d", err, se.Offset)
			}
			return err
		}
	}
}

func (h *host) accountStats() *server.JetStreamAccountStats {
	var st server.JetStreamAccountStats
	for _, s := range h.streamList() {
		si := s.info()
		st.Store += si.State.Bytes
		st.Streams++
		st.Consumers += si.State.Consumers
	}
	st.Limits = server.JetStreamAccountLimits{MaxMemory: -1, MaxStore: -1, MaxStreams: -1, MaxConsumers: -1, MaxAckPending: -1,
		MemoryMaxStreamBytes: -1, StoreMaxStreamBytes: -1}
	st.API = server.JetStreamAPIStats{Level: apiLevel, Total: h.apiTotal.Load(), Errors: h.apiErrors.Load()}
	return &st
}

func (h *host) apiAccountInfo(m *imsg) {
	resp := server.JSApiAccountInfoResponse{
		ApiResponse:           server.ApiResponse{Type: server.JSApiAccountInfoResponseType},
		JetStreamAccountStats: h.accountStats(),
	}
	h.respond(m, &resp)
}

// validName reports whether a stream or consumer name is acceptable.
func validName(n string) bool {
	return n != "" && len(n) <= 255 && !strings.ContainsAny(n, ".*> \t\r\n/\\")
}

// overlaps reports whether the subjects of cfg overlap another stream's.
func (h *host) overlaps(cfg *server.StreamConfig) bool {
	for _, other := range h.streamList() {
		if other.name == cfg.Name {
			continue
		}
		other.mu.Lock()
		subs := other.cfg.Subjects
		other.mu.Unlock()
		for _, a := range subs {
			for _, b := range cfg.Subjects {
				if subjectsCollide(a, b) {
					return true
				}
			}
		}
	}
	return false
}

// subjectsCollide reports whether two subject filters can match one subject.
func subjectsCollide(a, b string) bool {
	ta, tb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(ta) && i < len(tb); i++ {
		if ta[i] == ">" || tb[i] == ">" {
			return true
		}
		if ta[i] != tb[i] && ta[i] != "*" && tb[i] != "*" {
			return false
		}
	}
	return len(ta) == len(tb)
}

func (h *host) apiStreamCreate(ctx context.Context, m *imsg, name string, update bool) {
	respType := server.JSApiStreamCreateResponseType
	if update {
		respType = server.JSApiStreamUpdateResponseType
	}
	fail := func(e *server.ApiError) {
		h.respond(m, &server.JSApiStreamCreateResponse{ApiResponse: server.ApiResponse{Type: respType, Error: e}})
	}
	var cfg server.StreamConfig
	if len(m.Data) == 0 {
		fail(server.NewJSBadRequestError())
		return
	}
	if err := decodeRequest(m.Data, &cfg); err != nil {
		fail(server.NewJSInvalidJSONError(err))
		return
	}
	if cfg.Name != name {
		fail(server.NewJSStreamMismatchError())
		return
	}
	if e := h.normalizeStreamConfig(&cfg); e != nil {
		fail(e)
		return
	}
	cfg.Metadata = staticMetadata(cfg.Metadata)
	if h.overlaps(&cfg) {
		fail(server.NewJSStreamSubjectOverlapError())
		return
	}

	h.mu.Lock()
	st := h.streams[name]
	h.mu.Unlock()
	if update {
		if st == nil {
			fail(server.NewJSStreamNotFoundError())
			return
		}
		if e := st.update(ctx, cfg); e != nil {
			fail(e)
			return
		}
		h.respond(m, &server.JSApiStreamUpdateResponse{
			ApiResponse: server.ApiResponse{Type: respType}, StreamInfo: st.info()})
		return
	}
	if st != nil {
		st.mu.Lock()
		same := sameStreamConfig(st.cfg, cfg)
		st.mu.Unlock()
		if !same {
			fail(server.NewJSStreamNameExistError())
			return
		}
		h.respond(m, &server.JSApiStreamCreateResponse{ApiResponse: server.ApiResponse{Type: respType}, StreamInfo: st.info()})
		return
	}
	if cfg.Sealed {
		fail(server.NewJSStreamInvalidConfigError(errors.New("stream configuration for create can not be sealed")))
		return
	}
	if cfg.FirstSeq > 1 {
		// TODO: streams starting at a sequence above 1.
		fail(server.NewJSStreamInvalidConfigError(errors.New("first_seq is not supported by rewire")))
		return
	}
	st, err := h.createStream(ctx, cfg)
	if errors.Is(err, storage.ErrExists) {
		fail(server.NewJSStreamNameExistError())
		return
	}
	if err != nil {
		h.log.Error("stream create", "stream", name, "err", err)
		fail(server.NewJSStreamCreateError(err))
		return
	}
	h.mu.Lock()
	h.streams[name] = st
	h.mu.Unlock()
	h.respond(m, &server.JSApiStreamCreateResponse{
		ApiResponse: server.ApiResponse{Type: respType}, StreamInfo: st.info(), DidCreate: true})
}

func sameJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// update changes a stream's configuration.
func (s *stream) update(ctx context.Context, cfg server.StreamConfig) *server.ApiError {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	old := s.cfg
	s.mu.Unlock()
	if e := checkStreamUpdate(&old, &cfg); e != nil {
		return e
	}
	lcfg := s.log.Config()
	raw, _ := json.Marshal(cfg)
	lcfg.Extra[extraConfig] = string(raw)
	if err := s.log.SetConfig(ctx, lcfg); err != nil {
		return server.NewJSStreamUpdateError(err)
	}
	s.mu.Lock()
	s.cfg = cfg
	s.mu.Unlock()
	if err := s.subscribe(); err != nil {
		return server.NewJSStreamUpdateError(err)
	}
	// Apply tightened limits now.
	if rm, err := s.removeWhere(ctx, func(tx *storage.Tx, rm *removed) error {
		if cfg.MaxMsgsPer > 0 && (old.MaxMsgsPer <= 0 || cfg.MaxMsgsPer < old.MaxMsgsPer) {
			// Keep the newest MaxMsgsPer of every subject.
			if err := deleteReturning(tx, rm, `DELETE FROM natswire_msgs WHERE stream = ? AND seq IN (
				SELECT seq FROM (SELECT seq, ROW_NUMBER() OVER (PARTITION BY subject ORDER BY seq DESC) AS n
				  FROM natswire_msgs WHERE stream = ?) WHERE n > ?) RETURNING size`,
				s.name, s.name, cfg.MaxMsgsPer); err != nil {
				return err
			}
		}
		return s.enforceLimits(tx, cfg, rm, 0, 0)
	}); err != nil {
		return server.NewJSStreamUpdateError(err)
	} else if rm.msgs > 0 {
		s.notifyConsumers()
	}
	if cfg.Retention == server.InterestPolicy && old.Retention != server.InterestPolicy {
		if err := s.dropUnwanted(ctx); err != nil {
			return server.NewJSStreamUpdateError(err)
		}
	}
	return nil
}

func (h *host) apiStreamInfo(ctx context.Context, m *imsg, name string) {
	var req server.JSApiStreamInfoRequest
	resp := server.JSApiStreamInfoResponse{ApiResponse: server.ApiResponse{Type: server.JSApiStreamInfoResponseType}}
	if err := decodeRequest(m.Data, &req); err != nil {
		resp.Error = server.NewJSInvalidJSONError(err)
		h.respond(m, &resp)
		return
	}
	st := h.stream(name)
	if st == nil {
		resp.Error = server.NewJSStreamNotFoundError()
		h.respond(m, &resp)
		return
	}
	resp.StreamInfo = st.info()
	if req.DeletedDetails && resp.State.NumDeleted > 0 {
		deleted, err := st.deletedSeqs(ctx)
		if err != nil {
			resp.Error = server.NewJSStreamGeneralError(err)
			resp.StreamInfo = nil
			h.respond(m, &resp)
			return
		}
		resp.State.Deleted = deleted
	}
	if req.SubjectsFilter != "" {
		subs, err := st.subjectCounts(ctx, req.SubjectsFilter)
		if err != nil {
			resp.Error = server.NewJSStreamGeneralError(err)
			resp.StreamInfo = nil
		} else {
			resp.State.NumSubjects = len(subs)
			if len(subs) > 0 {
				resp.Total = len(subs)
				resp.Offset = req.Offset
				resp.Limit = server.JSMaxSubjectDetails
				resp.State.Subjects = subjectPage(subs, req.Offset, server.JSMaxSubjectDetails)
			}
		}
	}
	h.respond(m, &resp)
}

// deletedSeqs lists the sequences between the stream's first and last
// that are gone (deleted, or removed by a limit or roll-up).
func (s *stream) deletedSeqs(ctx context.Context) ([]uint64, error) {
	s.mu.Lock()
	first, last := s.st.first, s.st.last
	s.mu.Unlock()
	rows, err := s.h.t.DB().QueryContext(ctx,
		`SELECT seq FROM natswire_msgs WHERE stream = ? AND seq BETWEEN ? AND ? ORDER BY seq`, s.name, first, last)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []uint64
	want := first
	for rows.Next() {
		var seq uint64
		if err := rows.Scan(&seq); err != nil {
			return nil, err
		}
		for ; want < seq; want++ {
			out = append(out, want)
		}
		want = seq + 1
	}
	for ; want <= last && want >= first; want++ {
		out = append(out, want)
	}
	return out, rows.Err()
}

// subjectPage returns the page of subs starting at offset in subject
// order, or subs itself when it fits in one page.
func subjectPage(subs map[string]uint64, offset, limit int) map[string]uint64 {
	if offset <= 0 && len(subs) <= limit {
		return subs
	}
	names := make([]string, 0, len(subs))
	for n := range subs {
		names = append(names, n)
	}
	sort.Strings(names)
	offset = min(max(offset, 0), len(names))
	end := min(offset+limit, len(names))
	if end == offset {
		return nil
	}
	page := make(map[string]uint64, end-offset)
	for _, n := range names[offset:end] {
		page[n] = subs[n]
	}
	return page
}

// subjectCounts counts live messages per subject matching filter.
func (s *stream) subjectCounts(ctx context.Context, filter string) (map[string]uint64, error) {
	rows, err := s.h.t.DB().QueryContext(ctx,
		`SELECT subject, COUNT(*) FROM natswire_msgs WHERE stream = ? GROUP BY subject`, s.name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var subj string
		var n uint64
		if err := rows.Scan(&subj, &n); err != nil {
			return nil, err
		}
		if subjectMatches(filter, subj) {
			out[subj] = n
		}
	}
	return out, rows.Err()
}

func (h *host) apiStreamDelete(ctx context.Context, m *imsg, name string) {
	resp := server.JSApiStreamDeleteResponse{ApiResponse: server.ApiResponse{Type: server.JSApiStreamDeleteResponseType}}
	h.mu.Lock()
	st := h.streams[name]
	delete(h.streams, name)
	h.mu.Unlock()
	if st == nil {
		resp.Error = server.NewJSStreamNotFoundError()
		h.respond(m, &resp)
		return
	}
	if err := st.destroy(ctx); err != nil {
		resp.Error = server.NewJSStreamDeleteError(err)
		h.respond(m, &resp)
		return
	}
	resp.Success = true
	h.respond(m, &resp)
}

// destroy stops the stream and removes its log, index rows and consumers.
func (s *stream) destroy(ctx context.Context) error {
	s.close()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	err := s.h.t.Update(ctx, func(tx *storage.Tx) error {
		if _, err := tx.Exec(`DELETE FROM natswire_msgs WHERE stream = ?`, s.name); err != nil {
			return err
		}
		if _, err := tx.Exec(`DELETE FROM natswire_dedup WHERE stream = ?`, s.name); err != nil {
			return err
		}
		_, err := tx.Exec(`DELETE FROM kv WHERE ns = ? AND key >= ? AND key < ?`,
			consumerNS, s.name+"\x00", s.name+"\x01")
		return err
	})
	if err != nil {
		return err
	}
	return s.h.t.Logs().Delete(ctx, s.log.Name())
}

func (h *host) apiStreamPurge(ctx context.Context, m *imsg, name string) {
	var req server.JSApiStreamPurgeRequest
	resp := server.JSApiStreamPurgeResponse{ApiResponse: server.ApiResponse{Type: server.JSApiStreamPurgeResponseType}}
	if err := decodeRequest(m.Data, &req); err != nil {
		resp.Error = server.NewJSInvalidJSONError(err)
		h.respond(m, &resp)
		return
	}
	st := h.stream(name)
	if st == nil {
		resp.Error = server.NewJSStreamNotFoundError()
		h.respond(m, &resp)
		return
	}
	st.mu.Lock()
	denied := st.cfg.DenyPurge
	sealed := st.cfg.Sealed
	st.mu.Unlock()
	if sealed {
		resp.Error = server.NewJSStreamSealedError()
		h.respond(m, &resp)
		return
	}
	if denied {
		resp.Error = server.NewJSStreamPurgeFailedError(errors.New("stream purge not permitted"))
		h.respond(m, &resp)
		return
	}
	if req.Sequence > 0 && req.Keep > 0 {
		resp.Error = server.NewJSBadRequestError()
		h.respond(m, &resp)
		return
	}
	n, err := st.purge(ctx, req.Subject, req.Sequence, req.Keep)
	if err != nil {
		resp.Error = server.NewJSStreamGeneralError(err)
		h.respond(m, &resp)
		return
	}
	resp.Success = true
	resp.Purged = n
	h.respond(m, &resp)
}

// purge removes messages matching filter below seq (if set), keeping the
// newest keep (if set).
func (s *stream) purge(ctx context.Context, filter string, seq, keep uint64) (uint64, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	rm, err := s.removeWhere(ctx, func(tx *storage.Tx, rm *removed) error {
		if filter == "" || filter == ">" {
			q := `DELETE FROM natswire_msgs WHERE stream = ? AND seq < ? AND seq NOT IN (
				SELECT seq FROM natswire_msgs WHERE stream = ? ORDER BY seq DESC LIMIT ?) RETURNING size`
			upTo := uint64(1 << 62)
			if seq > 0 {
				upTo = seq
			}
			return deleteReturning(tx, rm, q, s.name, upTo, s.name, keep)
		}
		rows, err := tx.Query(`SELECT seq, subject FROM natswire_msgs WHERE stream = ? ORDER BY seq DESC`, s.name)
		if err != nil {
			return err
		}
		var victims []uint64
		kept := uint64(0)
		for rows.Next() {
			var sq uint64
			var subj string
			if err := rows.Scan(&sq, &subj); err != nil {
				rows.Close()
				return err
			}
			if !subjectMatches(filter, subj) {
				continue
			}
			if kept < keep {
				kept++
				continue
			}
			if seq > 0 && sq >= seq {
				continue
			}
			victims = append(victims, sq)
		}
		rows.Close()
		for _, v := range victims {
			if err := deleteReturning(tx, rm, `DELETE FROM natswire_msgs WHERE stream = ? AND seq = ? RETURNING size`,
				s.name, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	purged := rm.msgs
	s.mu.Lock()
	if filter == "" && seq == 0 && keep == 0 {
		s.st.first = s.st.last + 1
	}
	first := s.st.first
	cs := make([]*consumer, 0, len(s.consumers))
	for _, c := range s.consumers {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	if filter == "" || filter == ">" {
		for _, c := range cs {
			c.purgedBelow(first)
		}
	}
	s.notifyConsumers()
	return purged, nil
}

func (h *host) apiStreamNames(m *imsg) {
	var req server.JSApiStreamNamesRequest
	resp := server.JSApiStreamNamesResponse{ApiResponse: server.ApiResponse{Type: server.JSApiStreamNamesResponseType}}
	if err := decodeRequest(m.Data, &req); err != nil {
		resp.Error = server.NewJSInvalidJSONError(err)
		h.respond(m, &resp)
		return
	}
	resp.Streams = []string{}
	for _, st := range h.streamList() {
		if req.Subject != "" && !st.capturesFilter(req.Subject) {
			continue
		}
		resp.Streams = append(resp.Streams, st.name)
	}
	resp.Total = len(resp.Streams)
	resp.Offset = min(req.Offset, len(resp.Streams))
	resp.Streams = resp.Streams[resp.Offset:]
	resp.Limit = server.JSApiNamesLimit
	h.respond(m, &resp)
}

// capturesFilter reports whether any stream subject collides with filter.
func (s *stream) capturesFilter(filter string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sub := range s.cfg.Subjects {
		if subjectsCollide(sub, filter) {
			return true
		}
	}
	return false
}

func (h *host) apiStreamList(m *imsg) {
	var req server.JSApiStreamListRequest
	resp := server.JSApiStreamListResponse{ApiResponse: server.ApiResponse{Type: server.JSApiStreamListResponseType},
		Streams: []*server.StreamInfo{}}
	if err := decodeRequest(m.Data, &req); err != nil {
		resp.Error = server.NewJSInvalidJSONError(err)
		h.respond(m, &resp)
		return
	}
	for _, st := range h.streamList() {
		if req.Subject != "" && !st.capturesFilter(req.Subject) {
			continue
		}
		si := st.info()
		// Lists carry no answer-only metadata, as in nats-server.
		si.Config.Metadata = staticMetadata(si.Config.Metadata)
		resp.Streams = append(resp.Streams, si)
	}
	resp.Total = len(resp.Streams)
	resp.Offset = min(req.Offset, len(resp.Streams))
	resp.Streams = resp.Streams[resp.Offset:]
	resp.Limit = server.JSApiListLimit
	h.respond(m, &resp)
}

// findMsg resolves a message get request to a stored message.
func (s *stream) findMsg(ctx context.Context, req *server.JSApiMsgGetRequest) (*storedMsg, error) {
	db := s.h.t.DB()
	var seq uint64
	var err error
	switch {
	case req.Seq > 0 && req.NextFor == "":
		return s.loadMsg(ctx, req.Seq)
	case req.LastFor != "":
		if literal(req.LastFor) {
			err = db.QueryRowContext(ctx, `SELECT MAX(seq) FROM natswire_msgs WHERE stream = ? AND subject = ?`,
				s.name, req.LastFor).Scan(new(nullUint{&seq}))
		} else {
			seq, err = s.scanSeq(ctx, `SELECT seq, subject FROM natswire_msgs WHERE stream = ? ORDER BY seq DESC`,
				req.LastFor, s.name)
		}
	case req.NextFor != "":
		if literal(req.NextFor) {
			err = db.QueryRowContext(ctx, `SELECT MIN(seq) FROM natswire_msgs WHERE stream = ? AND subject = ? AND seq >= ?`,
				s.name, req.NextFor, req.Seq).Scan(new(nullUint{&seq}))
		} else {
			seq, err = s.scanSeq(ctx, `SELECT seq, subject FROM natswire_msgs WHERE stream = ? AND seq >= ? ORDER BY seq`,
				req.NextFor, s.name, req.Seq)
		}
	case req.StartTime != nil:
		err = db.QueryRowContext(ctx, `SELECT MIN(seq) FROM natswire_msgs WHERE stream = ? AND ts >= ?`,
			s.name, req.StartTime.UnixNano()).Scan(new(nullUint{&seq}))
	default:
		return nil, errBadGet
	}
	if err != nil {
		return nil, err
	}
	if seq == 0 {
		return nil, storage.ErrNotFound
	}
	return s.loadMsg(ctx, seq)
}

var errBadGet = errors.New("bad message get request")

// nullUint scans a nullable integer into a uint64 (0 for NULL).
type nullUint struct{ p *uint64 }

func (n *nullUint) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*n.p = 0
	case int64:
		*n.p = uint64(x)
	default:
		return fmt.Errorf("unexpected %T", v)
	}
	return nil
}

// scanSeq returns the first row's seq whose subject matches filter.
func (s *stream) scanSeq(ctx context.Context, q, filter string, args ...any) (uint64, error) {
	rows, err := s.h.t.DB().QueryContext(ctx, q, args...)
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
		if subjectMatches(filter, subj) {
			return seq, nil
		}
	}
	return 0, rows.Err()
}

func (h *host) apiMsgGet(ctx context.Context, m *imsg, name string) {
	var req server.JSApiMsgGetRequest
	resp := server.JSApiMsgGetResponse{ApiResponse: server.ApiResponse{Type: server.JSApiMsgGetResponseType}}
	if err := decodeRequest(m.Data, &req); err != nil {
		resp.Error = server.NewJSInvalidJSONError(err)
		h.respond(m, &resp)
		return
	}
	st := h.stream(name)
	if st == nil {
		resp.Error = server.NewJSStreamNotFoundError()
		h.respond(m, &resp)
		return
	}
	if req.Seq > 0 && req.LastFor != "" || req.Seq > 0 && req.StartTime != nil ||
		req.StartTime != nil && req.LastFor != "" || req.LastFor != "" && req.NextFor != "" {
		resp.Error = server.NewJSBadRequestError()
		h.respond(m, &resp)
		return
	}
	sm, err := st.findMsg(ctx, &req)
	switch {
	case errors.Is(err, errBadGet):
		resp.Error = server.NewJSBadRequestError()
	case errors.Is(err, storage.ErrNotFound):
		resp.Error = server.NewJSNoMessageFoundError()
	case err != nil:
		resp.Error = server.NewJSStreamGeneralError(err)
	default:
		resp.Message = &server.StoredMsg{Subject: sm.subj, Sequence: sm.seq, Header: sm.hdr, Data: sm.data,
			Time: time.Unix(0, sm.ts).UTC()}
	}
	h.respond(m, &resp)
}

func (h *host) apiMsgDelete(ctx context.Context, m *imsg, name string) {
	var req server.JSApiMsgDeleteRequest
	resp := server.JSApiMsgDeleteResponse{ApiResponse: server.ApiResponse{Type: server.JSApiMsgDeleteResponseType}}
	if len(m.Data) == 0 {
		resp.Error = server.NewJSBadRequestError()
		h.respond(m, &resp)
		return
	}
	if err := decodeRequest(m.Data, &req); err != nil {
		resp.Error = server.NewJSInvalidJSONError(err)
		h.respond(m, &resp)
		return
	}
	st := h.stream(name)
	if st == nil {
		resp.Error = server.NewJSStreamNotFoundError()
		h.respond(m, &resp)
		return
	}
	st.mu.Lock()
	deny, sealed := st.cfg.DenyDelete, st.cfg.Sealed
	st.mu.Unlock()
	if sealed {
		resp.Error = server.NewJSStreamSealedError()
		h.respond(m, &resp)
		return
	}
	if deny {
		resp.Error = server.NewJSStreamMsgDeleteFailedError(errors.New("message delete not permitted"))
		h.respond(m, &resp)
		return
	}
	ok, err := st.deleteMsg(ctx, req.Seq)
	switch {
	case err != nil:
		resp.Error = server.NewJSStreamMsgDeleteFailedError(err)
	case !ok:
		resp.Error = server.NewJSStreamMsgDeleteFailedError(errors.New("no message found"))
	default:
		resp.Success = true
	}
	h.respond(m, &resp)
}

// deleteMsg removes one message; false if it was not there.
func (s *stream) deleteMsg(ctx context.Context, seq uint64) (bool, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	rm, err := s.removeWhere(ctx, func(tx *storage.Tx, r *removed) error {
		return deleteReturning(tx, r, `DELETE FROM natswire_msgs WHERE stream = ? AND seq = ? RETURNING size`, s.name, seq)
	})
	if err != nil {
		return false, err
	}
	s.notifyRemoved(seq)
	return rm.msgs > 0, nil
}

func sortStreams(ss []*stream) {
	sort.Slice(ss, func(i, j int) bool { return ss[i].name < ss[j].name })
}
