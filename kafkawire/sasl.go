package kafkawire

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"rewire/storage"
	"rewire/storage/scram"
)

// saslMechanisms are the mechanisms offered in SaslHandshake.
var saslMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

// saslExchange runs one authentication: step consumes a client token and
// returns the reply; done reports completion, and user the tenant on
// success.
type saslExchange interface {
	step(c *conn, msg []byte) (reply []byte, done bool, user string, err error)
}

var errSASLFailed = errors.New("authentication failed")

type plainExchange struct{}

func (plainExchange) step(c *conn, msg []byte) ([]byte, bool, string, error) {
	// authzid NUL authcid NUL passwd
	parts := bytes.Split(msg, []byte{0})
	if len(parts) != 3 {
		return nil, true, "", fmt.Errorf("%w: malformed PLAIN message", errSASLFailed)
	}
	authz, user, pass := string(parts[0]), string(parts[1]), string(parts[2])
	if authz != "" && authz != user {
		return nil, true, "", fmt.Errorf("%w: authorization id differs from user", errSASLFailed)
	}
	if _, err := c.s.store.Control().Authenticate(c.ctx, user, pass); err != nil {
		if errors.Is(err, storage.ErrAuthFailed) {
			return nil, true, "", fmt.Errorf("%w: invalid credentials", errSASLFailed)
		}
		return nil, true, "", err
	}
	return nil, true, user, nil
}

type scramExchange struct {
	srv *scram.Server
}

func newSCRAM(c *conn, m scram.Mechanism) *scramExchange {
	return &scramExchange{srv: scram.NewServer(m, c.s.store.Control().SCRAMLookup(c.ctx, m, ""))}
}

func (e *scramExchange) step(c *conn, msg []byte) ([]byte, bool, string, error) {
	reply, done, err := e.srv.Step(msg)
	if err != nil {
		return nil, true, "", fmt.Errorf("%w: %w", errSASLFailed, err)
	}
	if !done {
		return reply, false, "", nil
	}
	return reply, true, e.srv.User(), nil
}

func (c *conn) handleSASLHandshake(r *kmsg.SASLHandshakeRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.SASLHandshakeResponse)
	resp.SupportedMechanisms = saslMechanisms
	if c.b != nil {
		resp.ErrorCode = errIllegalSASLState
		return resp
	}
	switch r.Mechanism {
	case "PLAIN":
		c.sasl = plainExchange{}
	case "SCRAM-SHA-256":
		c.sasl = newSCRAM(c, scram.SHA256)
	case "SCRAM-SHA-512":
		c.sasl = newSCRAM(c, scram.SHA512)
	default:
		resp.ErrorCode = errUnsupportedSASLMech
		return resp
	}
	c.saslMech = r.Mechanism
	// Version 0 handshakes are followed by bare tokens, not requests.
	c.rawSASL = r.Version == 0
	return resp
}

func (c *conn) handleSASLAuthenticate(r *kmsg.SASLAuthenticateRequest) (kmsg.Response, error) {
	resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	if c.sasl == nil || c.b != nil {
		resp.ErrorCode = errIllegalSASLState
		resp.ErrorMessage = errMsg(errors.New("SaslAuthenticate without SaslHandshake"))
		return resp, nil
	}
	reply, done, user, err := c.sasl.step(c, r.SASLAuthBytes)
	if err == nil && done {
		err = c.bind(user)
	}
	if err != nil {
		c.log.Warn("kafka authentication failed", "mechanism", c.saslMech, "err", err)
		resp.ErrorCode = errSASLAuthFailed
		msg := "Authentication failed: invalid credentials for mechanism " + c.saslMech
		resp.ErrorMessage = &msg
		c.sasl = nil
		// Kafka sends the failure, then closes the connection.
		c.stopping.Store(true)
		return resp, nil
	}
	resp.SASLAuthBytes = reply
	if done {
		c.sasl = nil
	}
	return resp, nil
}

// rawSASLStep serves one bare token after a v0 handshake.
func (c *conn) rawSASLStep(frame []byte) (*slot, error) {
	reply, done, user, err := c.sasl.step(c, frame)
	if err == nil && done {
		err = c.bind(user)
	}
	if err != nil {
		c.log.Warn("kafka authentication failed", "mechanism", c.saslMech, "err", err)
		return nil, errClose
	}
	if done {
		c.rawSASL = false
		c.sasl = nil
	}
	return &slot{raw: reply, bare: true}, nil
}
