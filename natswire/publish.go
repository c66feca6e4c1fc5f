package natswire

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// publishTimeout bounds the wait for a stream's acknowledgement when the
// caller's context has no deadline.
const publishTimeout = 10 * time.Second

// PublishResult is what Publish reports: the stream and sequence that
// stored the message, or Stream "" when no stream captures the subject
// (the message then went to the tenant's subscribers only).
type PublishResult struct {
	Stream    string
	Sequence  uint64
	Duplicate bool
}

// Publish sends one message in tenant's account exactly as a client
// connection would, so that streams capture it, consumers deliver it and
// subscribers receive it. It is how rewire's other interfaces (the MCP
// tools) publish without holding the tenant's password. When a stream
// captures the subject, Publish waits for its acknowledgement, so a nil
// error means the message is durable.
func (s *Server) Publish(ctx context.Context, tenant, subject string, header nats.Header, data []byte) (PublishResult, error) {
	if !server.IsValidPublishSubject(subject) {
		return PublishResult{}, fmt.Errorf("natswire: invalid subject %q", subject)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, publishTimeout)
		defer cancel()
	}
	info, err := s.store.Control().Tenant(ctx, tenant)
	if err != nil {
		return PublishResult{}, err
	}
	h, err := s.hostFor(info)
	if err != nil {
		return PublishResult{}, err
	}
	captured := false
	for _, st := range h.streamList() {
		st.mu.Lock()
		for _, f := range st.cfg.Subjects {
			captured = captured || server.SubjectMatchesFilter(subject, f)
		}
		st.mu.Unlock()
	}
	// The connection presents the server secret, like a host's internal
	// client, and so lands in the tenant's account and nowhere else.
	nc, err := nats.Connect("", nats.InProcessServer(s.ns), nats.UserInfo(tenant, s.secret),
		nats.Name("rewire-publish"), nats.NoReconnect())
	if err != nil {
		return PublishResult{}, fmt.Errorf("natswire: internal connection: %w", err)
	}
	defer nc.Close()
	msg := &nats.Msg{Subject: subject, Header: header, Data: data}
	if !captured {
		if err := nc.PublishMsg(msg); err != nil {
			return PublishResult{}, err
		}
		return PublishResult{}, nc.FlushWithContext(ctx)
	}
	resp, err := nc.RequestMsgWithContext(ctx, msg)
	if err != nil {
		return PublishResult{}, fmt.Errorf("natswire: publish to a stream: %w", err)
	}
	var ack server.JSPubAckResponse
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return PublishResult{}, fmt.Errorf("natswire: publish ack: %w", err)
	}
	if ack.Error != nil {
		return PublishResult{}, errors.New(ack.Error.Description)
	}
	if ack.PubAck == nil {
		return PublishResult{}, errors.New("natswire: empty publish ack")
	}
	return PublishResult{Stream: ack.Stream, Sequence: ack.Sequence, Duplicate: ack.Duplicate}, nil
}
