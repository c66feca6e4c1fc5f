package storage

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"rewire/storage/scram"
)

const controlSchema = `
CREATE TABLE IF NOT EXISTS tenants (
	name    TEXT PRIMARY KEY,
	id      TEXT NOT NULL UNIQUE,
	created INTEGER NOT NULL,
	policy  TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS credentials (
	tenant     TEXT NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
	mechanism  TEXT NOT NULL,
	salt       BLOB NOT NULL,
	iterations INTEGER NOT NULL,
	stored_key BLOB NOT NULL,
	server_key BLOB NOT NULL,
	PRIMARY KEY (tenant, mechanism)
);
`

// TenantInfo describes one tenant in the control database.
type TenantInfo struct {
	Name    string
	ID      string // random; names the tenant's directory and bucket prefix
	Created time.Time
	Policy  Policy // per-tenant overrides of the server's tier policy
}

// Control is the control database: tenants and their credentials. It is a
// SQLite file shared by the server and the `rewire tenant` commands, which
// may run at the same time; every lookup reads the file, so a change made
// by a command applies to the next connection the server accepts.
type Control struct {
	db *sql.DB
}

func openControl(path string) (*Control, error) {
	db, err := openSQLite(path, dbOptions{cacheKiB: 512, durability: DurabilityFsync})
	if err != nil {
		return nil, err
	}
	if _, err := db.Exec(controlSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("control schema: %w", err)
	}
	return &Control{db: db}, nil
}

// Close closes the control database.
func (c *Control) Close() error { return c.db.Close() }

// CreateTenant adds a tenant whose password is stored only as SCRAM
// verifiers.
func (c *Control) CreateTenant(ctx context.Context, name, password string) (TenantInfo, error) {
	if err := ValidateTenantName(name); err != nil {
		return TenantInfo{}, err
	}
	if password == "" {
		return TenantInfo{}, fmt.Errorf("%w: empty password", ErrInvalidArg)
	}
	var verifiers []scram.Verifier
	for _, m := range []scram.Mechanism{scram.SHA256, scram.SHA512} {
		v, err := scram.NewVerifier(m, password, scram.DefaultIterations)
		if err != nil {
			return TenantInfo{}, err
		}
		verifiers = append(verifiers, v)
	}
	idBytes := make([]byte, 8)
	if _, err := rand.Read(idBytes); err != nil {
		return TenantInfo{}, err
	}
	info := TenantInfo{Name: name, ID: hex.EncodeToString(idBytes), Created: time.Now().UTC()}

	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return TenantInfo{}, err
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `INSERT INTO tenants(name, id, created) VALUES (?, ?, ?)`,
		info.Name, info.ID, info.Created.UnixNano())
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE") {
			return TenantInfo{}, fmt.Errorf("%w: %s", ErrTenantExists, name)
		}
		return TenantInfo{}, fmt.Errorf("create tenant: %w", err)
	}
	for _, v := range verifiers {
		_, err = tx.ExecContext(ctx, `INSERT INTO credentials VALUES (?, ?, ?, ?, ?, ?)`,
			name, string(v.Mechanism), v.Salt, v.Iterations, v.StoredKey, v.ServerKey)
		if err != nil {
			return TenantInfo{}, fmt.Errorf("create tenant: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return TenantInfo{}, fmt.Errorf("create tenant: %w", err)
	}
	return info, nil
}

// SetPassword replaces a tenant's verifiers.
func (c *Control) SetPassword(ctx context.Context, name, password string) error {
	if password == "" {
		return fmt.Errorf("%w: empty password", ErrInvalidArg)
	}
	if _, err := c.Tenant(ctx, name); err != nil {
		return err
	}
	for _, m := range []scram.Mechanism{scram.SHA256, scram.SHA512} {
		v, err := scram.NewVerifier(m, password, scram.DefaultIterations)
		if err != nil {
			return err
		}
		_, err = c.db.ExecContext(ctx, `INSERT OR REPLACE INTO credentials VALUES (?, ?, ?, ?, ?, ?)`,
			name, string(v.Mechanism), v.Salt, v.Iterations, v.StoredKey, v.ServerKey)
		if err != nil {
			return fmt.Errorf("set password: %w", err)
		}
	}
	return nil
}

// Tenant looks a tenant up by name.
func (c *Control) Tenant(ctx context.Context, name string) (TenantInfo, error) {
	var info TenantInfo
	var created int64
	var policy string
	err := c.db.QueryRowContext(ctx, `SELECT name, id, created, policy FROM tenants WHERE name = ?`, name).
		Scan(&info.Name, &info.ID, &created, &policy)
	if errors.Is(err, sql.ErrNoRows) {
		return TenantInfo{}, fmt.Errorf("%w: %s", ErrNoTenant, name)
	}
	if err != nil {
		return TenantInfo{}, fmt.Errorf("look up tenant: %w", err)
	}
	info.Created = time.Unix(0, created).UTC()
	if err := json.Unmarshal([]byte(policy), &info.Policy); err != nil {
		return TenantInfo{}, fmt.Errorf("tenant %s policy: %w", name, err)
	}
	return info, nil
}

// SetPolicy stores a tenant's tier policy overrides.
func (c *Control) SetPolicy(ctx context.Context, name string, p Policy) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	res, err := c.db.ExecContext(ctx, `UPDATE tenants SET policy = ? WHERE name = ?`, string(b), name)
	if err != nil {
		return fmt.Errorf("set policy: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: %s", ErrNoTenant, name)
	}
	return nil
}

// ListTenants returns every tenant, ordered by name.
func (c *Control) ListTenants(ctx context.Context) ([]TenantInfo, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT name, id, created FROM tenants ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	defer rows.Close()
	var out []TenantInfo
	for rows.Next() {
		var t TenantInfo
		var created int64
		if err := rows.Scan(&t.Name, &t.ID, &created); err != nil {
			return nil, err
		}
		t.Created = time.Unix(0, created).UTC()
		out = append(out, t)
	}
	return out, rows.Err()
}

// deleteTenant removes the tenant's row and credentials; the caller
// removes its data.
func (c *Control) deleteTenant(ctx context.Context, name string) (TenantInfo, error) {
	info, err := c.Tenant(ctx, name)
	if err != nil {
		return TenantInfo{}, err
	}
	if _, err := c.db.ExecContext(ctx, `DELETE FROM tenants WHERE name = ? AND id = ?`, name, info.ID); err != nil {
		return TenantInfo{}, fmt.Errorf("delete tenant: %w", err)
	}
	return info, nil
}

// Verifier returns the tenant's stored verifier for mechanism m. An unknown
// tenant yields ErrNoTenant.
func (c *Control) Verifier(ctx context.Context, name string, m scram.Mechanism) (scram.Verifier, error) {
	v := scram.Verifier{Mechanism: m}
	err := c.db.QueryRowContext(ctx,
		`SELECT salt, iterations, stored_key, server_key FROM credentials WHERE tenant = ? AND mechanism = ?`,
		name, string(m)).Scan(&v.Salt, &v.Iterations, &v.StoredKey, &v.ServerKey)
	if errors.Is(err, sql.ErrNoRows) {
		return scram.Verifier{}, fmt.Errorf("%w: %s", ErrNoTenant, name)
	}
	if err != nil {
		return scram.Verifier{}, fmt.Errorf("look up verifier: %w", err)
	}
	return v, nil
}

// Authenticate checks a cleartext password (SASL PLAIN, HTTP basic auth,
// NATS user/password). Every failure, unknown tenant included, wraps
// ErrAuthFailed so that callers cannot leak which tenants exist.
func (c *Control) Authenticate(ctx context.Context, name, password string) (TenantInfo, error) {
	v, err := c.Verifier(ctx, name, scram.SHA256)
	if err != nil {
		if errors.Is(err, ErrNoTenant) {
			return TenantInfo{}, fmt.Errorf("%w: %s", ErrAuthFailed, name)
		}
		return TenantInfo{}, err
	}
	if !v.CheckPassword(password) {
		return TenantInfo{}, fmt.Errorf("%w: %s", ErrAuthFailed, name)
	}
	return c.Tenant(ctx, name)
}

// SCRAMLookup returns a scram.Lookup that finds verifiers in the control
// database. If fixedUser is not empty it is used instead of the name in
// the client's message (PostgreSQL sends the user in its startup packet).
func (c *Control) SCRAMLookup(ctx context.Context, m scram.Mechanism, fixedUser string) scram.Lookup {
	return func(user string) (scram.Verifier, error) {
		if fixedUser != "" {
			user = fixedUser
		}
		return c.Verifier(ctx, user, m)
	}
}
