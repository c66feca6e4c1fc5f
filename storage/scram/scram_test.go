package scram

import (
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// clientExchange plays a SCRAM client by RFC 5802, independently of the
// server code, and returns the server's final message or error.
func clientExchange(t *testing.T, s *Server, m Mechanism, user, password string, tamper bool) error {
	t.Helper()
	cnonce := "rOprNGfwEbeRWgbNEkqO"
	first := "n,,n=" + user + ",r=" + cnonce
	reply, done, err := s.Step([]byte(first))
	if err != nil || done {
		return err
	}
	attrs := map[string]string{}
	for _, a := range strings.Split(string(reply), ",") {
		attrs[a[:1]] = a[2:]
	}
	if !strings.HasPrefix(attrs["r"], cnonce) {
		t.Fatalf("server nonce %q does not extend client nonce", attrs["r"])
	}
	salt, _ := base64.StdEncoding.DecodeString(attrs["s"])
	var iters int
	for _, c := range attrs["i"] {
		iters = iters*10 + int(c-'0')
	}
	h := m.newHash()
	// ClientKey = HMAC(SaltedPassword, "Client Key"); recompute it here.
	salted := saltedPassword(t, m, password, salt, iters)
	clientKey := mac(h, salted, "Client Key")
	withoutProof := "c=biws,r=" + attrs["r"]
	authMsg := first[3:] + "," + string(reply) + "," + withoutProof
	stored := h()
	stored.Write(clientKey)
	sig := mac(h, stored.Sum(nil), authMsg)
	proof := make([]byte, len(sig))
	for i := range sig {
		proof[i] = clientKey[i] ^ sig[i]
	}
	if tamper {
		proof[0] ^= 1
	}
	final, done, err := s.Step([]byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)))
	if err != nil {
		return err
	}
	if !done {
		t.Fatal("exchange not done after client-final")
	}
	serverKey := mac(h, salted, "Server Key")
	want := "v=" + base64.StdEncoding.EncodeToString(mac(h, serverKey, authMsg))
	if !hmac.Equal(final, []byte(want)) {
		t.Fatalf("server signature %q, want %q", final, want)
	}
	return nil
}

func saltedPassword(t *testing.T, m Mechanism, pw string, salt []byte, iters int) []byte {
	// Hi() from RFC 5802 written out, to check against crypto/pbkdf2.
	h := m.newHash()
	u := hmac.New(h, []byte(pw))
	u.Write(salt)
	u.Write([]byte{0, 0, 0, 1})
	prev := u.Sum(nil)
	out := append([]byte(nil), prev...)
	for i := 1; i < iters; i++ {
		u = hmac.New(h, []byte(pw))
		u.Write(prev)
		prev = u.Sum(nil)
		for j := range out {
			out[j] ^= prev[j]
		}
	}
	return out
}

func TestExchange(t *testing.T) {
	for _, m := range []Mechanism{SHA256, SHA512} {
		v, err := NewVerifier(m, "pencil", 4096)
		if err != nil {
			t.Fatal(err)
		}
		lookup := func(user string) (Verifier, error) {
			if user != "user" {
				return Verifier{}, errors.New("no such user")
			}
			return v, nil
		}
		if err := clientExchange(t, NewServer(m, lookup), m, "user", "pencil", false); err != nil {
			t.Errorf("%s: right password: %v", m, err)
		}
		if err := clientExchange(t, NewServer(m, lookup), m, "user", "wrong", false); !errors.Is(err, ErrAuth) {
			t.Errorf("%s: wrong password: %v", m, err)
		}
		if err := clientExchange(t, NewServer(m, lookup), m, "user", "pencil", true); !errors.Is(err, ErrAuth) {
			t.Errorf("%s: tampered proof: %v", m, err)
		}
		if err := clientExchange(t, NewServer(m, lookup), m, "nobody", "pencil", false); !errors.Is(err, ErrAuth) {
			t.Errorf("%s: unknown user: %v", m, err)
		}
		if !v.CheckPassword("pencil") || v.CheckPassword("pen") {
			t.Errorf("%s: CheckPassword wrong", m)
		}
	}
}

func FuzzServer(f *testing.F) {
	f.Add([]byte("n,,n=user,r=abc"), []byte("c=biws,r=abcdef,p=AAAA"))
	f.Add([]byte("p=tls-server-end-point,,n=u,r=x"), []byte(""))
	f.Add([]byte("y,a=admin,n=u=2Cx,r=x,m=ext"), []byte("c=eSws,r=x,p=="))
	v, _ := NewVerifier(SHA256, "pw", 4096)
	f.Fuzz(func(t *testing.T, first, final []byte) {
		s := NewServer(SHA256, func(string) (Verifier, error) { return v, nil })
		if _, done, err := s.Step(first); err != nil || done {
			return
		}
		if _, _, err := s.Step(final); err == nil {
			t.Fatalf("fuzzed proof accepted: %q %q", first, final)
		}
	})
}

// TestLibrdkafkaNonceEcho covers librdkafka's client-final message, which
// repeats the client nonce before the combined nonce.
func TestLibrdkafkaNonceEcho(t *testing.T) {
	v, _ := NewVerifier(SHA256, "pw", 4096)
	s := NewServer(SHA256, func(string) (Verifier, error) { return v, nil })
	reply, _, err := s.Step([]byte("n,,n=u,r=cn"))
	if err != nil {
		t.Fatal(err)
	}
	combined := strings.TrimPrefix(strings.Split(string(reply), ",")[0], "r=")
	_, _, err = s.Step([]byte("c=biws,r=cn" + combined + ",p=AAAA"))
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("echoed nonce rejected before the proof check: %v", err)
	}
	s = NewServer(SHA256, func(string) (Verifier, error) { return v, nil })
	s.Step([]byte("n,,n=u,r=cn"))
	if _, _, err = s.Step([]byte("c=biws,r=other,p=AAAA")); !errors.Is(err, ErrProtocol) {
		t.Fatalf("foreign nonce: %v", err)
	}
}
