package storage

import (
	"fmt"
	"regexp"
)

// tenantNamePattern is deliberately strict: a tenant name is used as a
// NATS account, a PostgreSQL user, a URL path segment and a log field, so it
// must be safe in all of them. It is never used as a file path; tenant
// directories are named by the tenant's random id.
var tenantNamePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// reservedNames cannot be tenants: they collide with HTTP routes, NATS
// system accounts or well-known users.
var reservedNames = map[string]bool{
	"admin": true, "api": true, "default": true, "git": true, "global": true,
	"health": true, "mcp": true, "metrics": true, "postgres": true,
	"root": true, "rpc": true, "system": true, "sys": true, "v1": true,
}

// ValidateTenantName reports whether name can be used for a new tenant.
// The error wraps ErrInvalidName.
func ValidateTenantName(name string) error {
	if !tenantNamePattern.MatchString(name) {
		return fmt.Errorf("%w: %q must match %s", ErrInvalidName, name, tenantNamePattern)
	}
	if reservedNames[name] {
		return fmt.Errorf("%w: %q is reserved", ErrInvalidName, name)
	}
	return nil
}
