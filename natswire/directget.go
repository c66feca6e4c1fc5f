package natswire

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"rewire/storage"
)

// Direct get limits, as in nats-server: at most this many subjects in one
// multi_last answer, and this many bytes in one batch unless the request
// sets max_bytes.
const (
	directMaxMulti = 1024
	directMaxBytes = 64 << 20
)

// apiDirectGet answers $JS.API.DIRECT.GET.<stream>[.<subject>] with the
// messages themselves, as nats-server does for streams with allow_direct:
// one message, a batch from a sequence or time (optionally filtered by
// next_by_subj), or the last message of each subject matching multi_last.
// Batches end with a 204 EOB status carrying the pending count.
func (h *host) apiDirectGet(ctx context.Context, m *imsg, name, lastFor string) {
	if m.Reply == "" {
		return
	}
	st := h.stream(name)
	if st == nil {
		h.ic.Publish(m.Reply, "", makeHeader("404", "Message Not Found"), nil)
		return
	}
	req, status := parseDirectGet(m.Data, lastFor)
	if status != "" {
		h.ic.Publish(m.Reply, "", makeHeader("408", status), nil)
		return
	}
	switch {
	case len(req.MultiLastFor) > 0:
		st.directMulti(ctx, m.Reply, req)
	case req.Batch > 0:
		st.directBatch(ctx, m.Reply, req)
	default:
		sm, err := st.findMsg(ctx, req)
		if err != nil {
			h.ic.Publish(m.Reply, "", makeHeader("404", "Message Not Found"), nil)
			return
		}
		h.ic.Publish(m.Reply, "", st.directHeader(sm, req, nil), sm.data)
	}
}

// parseDirectGet decodes a direct get request, or returns the description
// of the 408 status that refuses it.
func parseDirectGet(body []byte, lastFor string) (*server.JSApiMsgGetRequest, string) {
	var req server.JSApiMsgGetRequest
	if lastFor != "" {
		// The subject form takes no body fields.
		if len(body) > 0 {
			if err := json.Unmarshal(body, &req); err != nil {
				return nil, "Malformed Request"
			}
		}
		if req.LastFor != "" || req.NextFor != "" || len(req.MultiLastFor) > 0 || req.Seq != 0 ||
			req.Batch != 0 || req.StartTime != nil || req.UpToSeq != 0 || req.UpToTime != nil {
			return nil, "Bad Request"
		}
		req.LastFor = lastFor
		return &req, ""
	}
	if len(body) == 0 {
		return nil, "Empty Request"
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, "Malformed Request"
	}
	if req.Seq == 0 && req.LastFor == "" && req.NextFor == "" && len(req.MultiLastFor) == 0 && req.StartTime == nil {
		return nil, "Empty Request"
	}
	if req.Seq > 0 && req.LastFor != "" || req.Seq > 0 && req.StartTime != nil ||
		req.StartTime != nil && req.LastFor != "" || req.LastFor != "" && req.NextFor != "" ||
		req.LastFor != "" && req.Batch > 0 || req.LastFor != "" && len(req.MultiLastFor) > 0 ||
		req.NextFor != "" && len(req.MultiLastFor) > 0 || req.UpToSeq > 0 && req.UpToTime != nil {
		return nil, "Bad Request"
	}
	return &req, ""
}

// directHeader is a stored message's header with the direct get fields;
// batch answers (batch non-nil: pending, last sequence sent) carry two
// more.
func (s *stream) directHeader(sm *storedMsg, req *server.JSApiMsgGetRequest, batch []uint64) []byte {
	if req.NoHeaders {
		return nil
	}
	kv := []string{hdrStream, s.name, hdrSubject, sm.subj,
		hdrSequence, strconv.FormatUint(sm.seq, 10),
		hdrTimeStamp, time.Unix(0, sm.ts).UTC().Format(time.RFC3339Nano)}
	if batch != nil {
		kv = append(kv, "Nats-Num-Pending", strconv.FormatUint(batch[0], 10),
			"Nats-Last-Sequence", strconv.FormatUint(batch[1], 10))
	}
	return addHeaders(sm.hdr, kv...)
}

// directBatch sends up to req.Batch messages from the start sequence (or
// time), those matching next_by_subj when set, then the EOB status.
func (s *stream) directBatch(ctx context.Context, reply string, req *server.JSApiMsgGetRequest) {
	pub := s.h.ic.Publish
	start := req.Seq
	if req.StartTime != nil {
		seq, err := s.seqFromTime(ctx, *req.StartTime)
		if err != nil {
			pub(reply, "", makeHeader("500", err.Error()), nil)
			return
		}
		start = seq
	}
	filter := req.NextFor
	if filter == "" {
		filter = ">"
	}
	seqs, err := s.matchingSeqs(ctx, start, filter)
	if err != nil {
		pub(reply, "", makeHeader("500", err.Error()), nil)
		return
	}
	mb := req.MaxBytes
	if mb <= 0 {
		mb = directMaxBytes
	}
	np := uint64(len(seqs))
	var last uint64
	var sent, bytes int
	for _, seq := range seqs {
		if sent >= req.Batch || bytes >= mb {
			break
		}
		sm, err := s.loadMsg(ctx, seq)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			break
		}
		np--
		pub(reply, "", s.directHeader(sm, req, []uint64{np, last}), sm.data)
		last = seq
		sent++
		bytes += len(sm.subj) + len(sm.hdr) + len(sm.data)
	}
	if sent == 0 {
		pub(reply, "", makeHeader("404", "Message Not Found"), nil)
		return
	}
	pub(reply, "", makeHeader("204", "EOB",
		"Nats-Num-Pending", strconv.FormatUint(np, 10),
		"Nats-Last-Sequence", strconv.FormatUint(last, 10)), nil)
}

// directMulti sends the last message of every subject matching one of
// req.MultiLastFor, up to a sequence or time, in sequence order, then
// the EOB status.
func (s *stream) directMulti(ctx context.Context, reply string, req *server.JSApiMsgGetRequest) {
	pub := s.h.ic.Publish
	s.mu.Lock()
	upTo := s.st.last
	first := s.st.first
	s.mu.Unlock()
	if req.UpToTime != nil {
		seq, err := s.seqFromTime(ctx, *req.UpToTime)
		if err != nil {
			pub(reply, "", makeHeader("500", err.Error()), nil)
			return
		}
		if seq == 0 {
			seq = upTo + 1
		}
		if seq <= first {
			pub(reply, "", makeHeader("404", "No Results"), nil)
			return
		}
		upTo = seq - 1
	} else if req.UpToSeq > 0 {
		upTo = req.UpToSeq
	}
	seqs, err := s.lastPerSubject(ctx, req.MultiLastFor, upTo)
	if err != nil {
		pub(reply, "", makeHeader("500", err.Error()), nil)
		return
	}
	if len(seqs) > directMaxMulti {
		pub(reply, "", makeHeader("413", "Too Many Results"), nil)
		return
	}
	if len(seqs) == 0 {
		pub(reply, "", makeHeader("404", "No Results"), nil)
		return
	}
	mb := req.MaxBytes
	if mb <= 0 {
		mb = directMaxBytes
	}
	np := uint64(len(seqs))
	var last uint64
	var sent, bytes int
	for _, seq := range seqs {
		np--
		if seq < req.Seq {
			continue
		}
		sm, err := s.loadMsg(ctx, seq)
		if err != nil {
			pub(reply, "", makeHeader("404", "Message Not Found"), nil)
			return
		}
		pub(reply, "", s.directHeader(sm, req, []uint64{np, last}), sm.data)
		last = seq
		sent++
		bytes += len(sm.subj) + len(sm.hdr) + len(sm.data)
		if bytes >= mb || req.Batch > 0 && sent >= req.Batch {
			break
		}
	}
	pub(reply, "", makeHeader("204", "EOB",
		"Nats-Num-Pending", strconv.FormatUint(np, 10),
		"Nats-Last-Sequence", strconv.FormatUint(last, 10),
		"Nats-UpTo-Sequence", strconv.FormatUint(upTo, 10)), nil)
}

// seqFromTime returns the first live sequence stored at or after t, or 0.
func (s *stream) seqFromTime(ctx context.Context, t time.Time) (uint64, error) {
	var seq uint64
	err := s.h.t.DB().QueryRowContext(ctx, `SELECT MIN(seq) FROM natswire_msgs WHERE stream = ? AND ts >= ?`,
		s.name, t.UnixNano()).Scan(&nullUint{&seq})
	return seq, err
}

// matchingSeqs lists the live sequences from start on whose subject
// matches filter, in order.
func (s *stream) matchingSeqs(ctx context.Context, start uint64, filter string) ([]uint64, error) {
	rows, err := s.h.t.DB().QueryContext(ctx,
		`SELECT seq, subject FROM natswire_msgs WHERE stream = ? AND seq >= ? ORDER BY seq`, s.name, start)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var seqs []uint64
	for rows.Next() {
		var seq uint64
		var subj string
		if err := rows.Scan(&seq, &subj); err != nil {
			return nil, err
		}
		if subjectMatches(filter, subj) {
			seqs = append(seqs, seq)
		}
	}
	return seqs, rows.Err()
}

// lastPerSubject returns, in order, the newest sequence up to upTo of
// every subject matching one of filters.
func (s *stream) lastPerSubject(ctx context.Context, filters []string, upTo uint64) ([]uint64, error) {
	rows, err := s.h.t.DB().QueryContext(ctx,
		`SELECT subject, MAX(seq) FROM natswire_msgs WHERE stream = ? AND seq <= ? GROUP BY subject`, s.name, upTo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var seqs []uint64
	for rows.Next() {
		var subj string
		var seq uint64
		if err := rows.Scan(&subj, &seq); err != nil {
			return nil, err
		}
		if matchesAny(filters, subj) {
			seqs = append(seqs, seq)
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	return seqs, rows.Err()
}
