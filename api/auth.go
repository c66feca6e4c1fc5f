package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"rewire/api/wire"
	"rewire/storage"
)

func init() {
	storage.RegisterSchema("api", tokenSchema)
	register("tokens.create", bind((*Ops).CreateToken))
	register("tokens.list", bind(func(o *Ops, ctx context.Context, _ struct{}) (wire.TokenList, error) {
		return o.ListTokens(ctx)
	}))
	register("tokens.revoke", bind((*Ops).RevokeToken))
}

// tokenSchema is the API's part of every tenant database: API tokens,
// stored as the SHA-256 of the whole token (the token carries 256 random
// bits, so a plain hash is enough; the cleartext is shown once).
const tokenSchema = `
CREATE TABLE IF NOT EXISTS api_tokens (
	id      TEXT PRIMARY KEY,
	hash    BLOB NOT NULL UNIQUE,
	name    TEXT NOT NULL,
	created INTEGER NOT NULL
) WITHOUT ROWID;
`

// TokenPrefix starts every API token: rw_<tenant>_<id>_<secret>. The
// tenant part says which tenant database holds the token's hash; it
// grants nothing by itself, since the hash must match in that database.
const TokenPrefix = "rw_"

// parseToken splits a token into its tenant and id.
func parseToken(tok string) (tenant, id string, ok bool) {
	rest, ok := strings.CutPrefix(tok, TokenPrefix)
	if !ok || len(tok) > 200 {
		return "", "", false
	}
	parts := strings.SplitN(rest, "_", 3)
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", false
	}
	return parts[0], parts[1], true
}

func hashToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// tokenCache remembers recently checked credentials for a short time so
// that a client calling in a loop does not pay a password hash or a
// database lookup per request. Revocation clears it.
type tokenCache struct {
	mu sync.Mutex // guards m
	m  map[[32]byte]cacheEntry
}

type cacheEntry struct {
	tenant  string
	expires time.Time
	gen     int64 // revocations when the entry was made
}

// revocations counts token revocations in this process; a cached entry
// made before the latest revocation is checked again, so revoking a
// token through one handler (the API) takes effect at once in every other
// (the MCP server), not only after the cache's lifetime.
var revocations atomic.Int64

const authCacheTTL = 30 * time.Second

func newTokenCache() *tokenCache { return &tokenCache{m: map[[32]byte]cacheEntry{}} }

func (c *tokenCache) get(key [32]byte) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || time.Now().After(e.expires) || e.gen != revocations.Load() {
		delete(c.m, key)
		return "", false
	}
	return e.tenant, true
}

func (c *tokenCache) put(key [32]byte, tenant string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) > 10000 {
		clear(c.m)
	}
	c.m[key] = cacheEntry{tenant: tenant, expires: time.Now().Add(authCacheTTL), gen: revocations.Load()}
}

// Authenticator checks the credentials of an HTTP request: basic auth
// with a tenant's name and password, or an API token as a bearer token
// (or as the basic-auth password). It is shared by the API and the MCP
// server.
type Authenticator struct {
	store *storage.Store
	cache *tokenCache
}

// NewAuthenticator returns an authenticator over the store's tenants.
func NewAuthenticator(store *storage.Store) *Authenticator {
	return &Authenticator{store: store, cache: newTokenCache()}
}

// ErrUnauthorized is returned for missing or wrong credentials.
var ErrUnauthorized = errors.New("unauthorized")

// Tenant returns the tenant the request's credentials name.
func (a *Authenticator) Tenant(r *http.Request) (string, error) {
	var secret, user string
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		secret = strings.TrimSpace(h[len("Bearer "):])
	} else if u, p, ok := r.BasicAuth(); ok {
		user, secret = u, p
	} else {
		return "", fmt.Errorf("%w: no credentials", ErrUnauthorized)
	}
	key := sha256.Sum256([]byte(user + "\x00" + secret))
	if t, ok := a.cache.get(key); ok {
		return t, nil
	}
	tenant, err := a.check(r.Context(), user, secret)
	if err != nil {
		return "", err
	}
	a.cache.put(key, tenant)
	return tenant, nil
}

func (a *Authenticator) check(ctx context.Context, user, secret string) (string, error) {
	if tenant, id, ok := parseToken(secret); ok && (user == "" || user == tenant) {
		if err := a.checkToken(ctx, tenant, id, secret); err != nil {
			return "", err
		}
		return tenant, nil
	}
	if user == "" {
		return "", fmt.Errorf("%w: malformed token", ErrUnauthorized)
	}
	if _, err := a.store.Control().Authenticate(ctx, user, secret); err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	return user, nil
}

func (a *Authenticator) checkToken(ctx context.Context, tenant, id, tok string) error {
	if storage.ValidateTenantName(tenant) != nil {
		return fmt.Errorf("%w: malformed token", ErrUnauthorized)
	}
	t, err := a.store.Acquire(ctx, tenant)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	defer t.Release()
	var stored []byte
	err = t.DB().QueryRowContext(ctx, `SELECT hash FROM api_tokens WHERE id = ?`, id).Scan(&stored)
	if err != nil || subtle.ConstantTimeCompare(stored, hashToken(tok)) != 1 {
		return fmt.Errorf("%w: unknown or revoked token", ErrUnauthorized)
	}
	return nil
}

// CreateToken makes a new API token for the tenant and returns it; the
// secret is not stored and cannot be shown again.
func (o *Ops) CreateToken(ctx context.Context, p wire.TokenParams) (wire.Token, error) {
	if len(p.Name) > 200 {
		return wire.Token{}, invalid("token name longer than 200 bytes")
	}
	idb := make([]byte, 6)
	sec := make([]byte, 32)
	rand.Read(idb)
	rand.Read(sec)
	id := hex.EncodeToString(idb)
	tok := TokenPrefix + o.t.Name() + "_" + id + "_" + base64.RawURLEncoding.EncodeToString(sec)
	now := time.Now()
	err := o.t.Update(ctx, func(tx *storage.Tx) error {
		_, err := tx.Exec(`INSERT INTO api_tokens(id, hash, name, created) VALUES (?, ?, ?, ?)`,
			id, hashToken(tok), p.Name, now.UnixNano())
		return err
	})
	if err != nil {
		return wire.Token{}, fmt.Errorf("create token: %w", err)
	}
	return wire.Token{ID: id, Name: p.Name, Created: now.UTC(), Secret: tok}, nil
}

// ListTokens lists the tenant's tokens (without secrets).
func (o *Ops) ListTokens(ctx context.Context) (wire.TokenList, error) {
	rows, err := o.t.DB().QueryContext(ctx, `SELECT id, name, created FROM api_tokens ORDER BY created`)
	if err != nil {
		return wire.TokenList{}, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	out := wire.TokenList{Tokens: []wire.Token{}}
	for rows.Next() {
		var tk wire.Token
		var created int64
		if err := rows.Scan(&tk.ID, &tk.Name, &created); err != nil {
			return wire.TokenList{}, err
		}
		tk.Created = time.Unix(0, created).UTC()
		out.Tokens = append(out.Tokens, tk)
	}
	return out, rows.Err()
}

// RevokeToken deletes a token; requests using it fail from then on.
func (o *Ops) RevokeToken(ctx context.Context, p wire.TokenID) (wire.OK, error) {
	var n int64
	err := o.t.Update(ctx, func(tx *storage.Tx) error {
		res, err := tx.Exec(`DELETE FROM api_tokens WHERE id = ?`, p.ID)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return wire.OK{}, fmt.Errorf("revoke token: %w", err)
	}
	if n == 0 {
		return wire.OK{}, wire.Errorf(wire.CodeNotFound, "no token %q", p.ID)
	}
	revocations.Add(1)
	return wire.OK{OK: true}, nil
}

var _ = sql.ErrNoRows
