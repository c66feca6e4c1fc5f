// Package scram implements the server side of SCRAM (RFC 5802, RFC 7677)
// with SHA-256 and SHA-512, the mechanism shared by Kafka SASL and
// PostgreSQL authentication. Passwords are never stored: a Verifier holds
// the salt, iteration count, stored key and server key, which is enough to
// check a client's proof and to prove the server's own knowledge.
package scram

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// Mechanism names a SCRAM hash, spelled as SASL names it.
type Mechanism string

// The mechanisms rewire supports.
const (
	SHA256 Mechanism = "SCRAM-SHA-256"
	SHA512 Mechanism = "SCRAM-SHA-512"
)

// DefaultIterations is the PBKDF2 iteration count for new verifiers; it is
// the minimum Kafka accepts and PostgreSQL's default.
const DefaultIterations = 4096

// ErrAuth is returned when a client's proof does not match.
var ErrAuth = errors.New("scram: authentication failed")

// ErrProtocol is returned for malformed SCRAM messages.
var ErrProtocol = errors.New("scram: malformed message")

func (m Mechanism) newHash() func() hash.Hash {
	if m == SHA512 {
		return sha512.New
	}
	return sha256.New
}

// Verifier is what the server stores for one password and mechanism.
type Verifier struct {
	Mechanism  Mechanism
	Salt       []byte
	Iterations int
	StoredKey  []byte
	ServerKey  []byte
}

// NewVerifier derives a verifier for password with a fresh random salt.
func NewVerifier(m Mechanism, password string, iterations int) (Verifier, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return Verifier{}, err
	}
	return DeriveVerifier(m, password, salt, iterations)
}

// DeriveVerifier derives the verifier for password with the given salt.
func DeriveVerifier(m Mechanism, password string, salt []byte, iterations int) (Verifier, error) {
	h := m.newHash()
	salted, err := pbkdf2.Key(h, password, salt, iterations, h().Size())
	if err != nil {
		return Verifier{}, fmt.Errorf("scram: derive key: %w", err)
	}
	clientKey := mac(h, salted, "Client Key")
	stored := h()
	stored.Write(clientKey)
	return Verifier{
		Mechanism:  m,
		Salt:       salt,
		Iterations: iterations,
		StoredKey:  stored.Sum(nil),
		ServerKey:  mac(h, salted, "Server Key"),
	}, nil
}

// CheckPassword reports whether password matches the verifier, for
// mechanisms that send the password itself (SASL PLAIN, HTTP basic auth,
// NATS user/password, PostgreSQL cleartext over TLS).
func (v Verifier) CheckPassword(password string) bool {
	d, err := DeriveVerifier(v.Mechanism, password, v.Salt, v.Iterations)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(d.StoredKey, v.StoredKey) == 1
}

func mac(h func() hash.Hash, key []byte, msg string) []byte {
	m := hmac.New(h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// Lookup finds the verifier for a user name taken from the client's first
// message. PostgreSQL clients send an empty name; the caller then knows the
// user from the startup message and ignores the argument.
type Lookup func(user string) (Verifier, error)

// Server runs one SCRAM exchange. It is not safe for concurrent use.
type Server struct {
	mech   Mechanism
	lookup Lookup

	step            int
	user            string
	verifier        Verifier
	nonce           string // client nonce + server nonce
	cnonce          string
	clientFirstBare string
	serverFirst     string
	gs2Header       string
}

// NewServer returns an exchange for mechanism m.
func NewServer(m Mechanism, lookup Lookup) *Server {
	return &Server{mech: m, lookup: lookup}
}

// User is the user name the client sent in its first message.
func (s *Server) User() string { return s.user }

// Step consumes one client message and returns the server's reply. done is
// true after the server-final message; the exchange succeeded only when
// err is nil. A lookup failure is reported as ErrAuth so that unknown users
// and wrong passwords look alike to the client.
func (s *Server) Step(msg []byte) (reply []byte, done bool, err error) {
	switch s.step {
	case 0:
		s.step++
		return s.first(string(msg))
	case 1:
		s.step++
		return s.final(string(msg))
	default:
		return nil, true, ErrProtocol
	}
}

func (s *Server) first(msg string) ([]byte, bool, error) {
	// gs2-header: cbind-flag "," [authzid] ","
	parts := strings.SplitN(msg, ",", 3)
	if len(parts) != 3 {
		return nil, true, ErrProtocol
	}
	switch {
	case parts[0] == "n", parts[0] == "y":
	case strings.HasPrefix(parts[0], "p="):
		// Channel binding is not offered, so a client may not require it.
		return nil, true, fmt.Errorf("%w: channel binding not supported", ErrProtocol)
	default:
		return nil, true, ErrProtocol
	}
	s.gs2Header = parts[0] + "," + parts[1] + ","
	s.clientFirstBare = parts[2]

	var cnonce string
	for _, attr := range strings.Split(parts[2], ",") {
		switch {
		case strings.HasPrefix(attr, "n="):
			s.user = unescapeName(attr[2:])
		case strings.HasPrefix(attr, "r="):
			cnonce = attr[2:]
		case strings.HasPrefix(attr, "m="):
			return nil, true, fmt.Errorf("%w: mandatory extension", ErrProtocol)
		}
	}
	if cnonce == "" {
		return nil, true, ErrProtocol
	}
	v, err := s.lookup(s.user)
	if err != nil {
		return nil, true, fmt.Errorf("%w: %w", ErrAuth, err)
	}
	if v.Mechanism != s.mech {
		return nil, true, fmt.Errorf("%w: no %s verifier", ErrAuth, s.mech)
	}
	s.verifier = v

	sn := make([]byte, 18)
	if _, err := rand.Read(sn); err != nil {
		return nil, true, err
	}
	s.cnonce = cnonce
	s.nonce = cnonce + base64.RawStdEncoding.EncodeToString(sn)
	s.serverFirst = "r=" + s.nonce + ",s=" + base64.StdEncoding.EncodeToString(v.Salt) +
		",i=" + strconv.Itoa(v.Iterations)
	return []byte(s.serverFirst), false, nil
}

func (s *Server) final(msg string) ([]byte, bool, error) {
	i := strings.LastIndex(msg, ",p=")
	if i < 0 {
		return nil, true, ErrProtocol
	}
	withoutProof, proofB64 := msg[:i], msg[i+3:]
	proof, err := base64.StdEncoding.DecodeString(proofB64)
	if err != nil {
		return nil, true, ErrProtocol
	}
	var cbind, nonce string
	for _, attr := range strings.Split(withoutProof, ",") {
		switch {
		case strings.HasPrefix(attr, "c="):
			cbind = attr[2:]
		case strings.HasPrefix(attr, "r="):
			nonce = attr[2:]
		}
	}
	// librdkafka echoes its own nonce followed by the whole combined nonce
	// instead of the combined nonce alone; Kafka brokers accept that
	// (the echo ends with the server's nonce), so rewire does too. The
	// proof still covers exactly what the client sent.
	if nonce != s.nonce && nonce != s.cnonce+s.nonce {
		return nil, true, fmt.Errorf("%w: nonce mismatch", ErrProtocol)
	}
	if cb, err := base64.StdEncoding.DecodeString(cbind); err != nil || string(cb) != s.gs2Header {
		return nil, true, fmt.Errorf("%w: channel binding mismatch", ErrProtocol)
	}

	h := s.mech.newHash()
	authMsg := s.clientFirstBare + "," + s.serverFirst + "," + withoutProof
	sig := mac(h, s.verifier.StoredKey, authMsg)
	if len(proof) != len(sig) {
		return nil, true, ErrAuth
	}
	clientKey := make([]byte, len(sig))
	for i := range sig {
		clientKey[i] = proof[i] ^ sig[i]
	}
	hh := h()
	hh.Write(clientKey)
	if !bytes.Equal(hh.Sum(nil), s.verifier.StoredKey) {
		return nil, true, ErrAuth
	}
	serverSig := mac(h, s.verifier.ServerKey, authMsg)
	return []byte("v=" + base64.StdEncoding.EncodeToString(serverSig)), true, nil
}

// unescapeName decodes the saslname escapes "=2C" and "=3D".
func unescapeName(s string) string {
	if !strings.Contains(s, "=") {
		return s
	}
	return strings.NewReplacer("=2C", ",", "=3D", "=").Replace(s)
}
