package storage

import "errors"

// Errors returned by the core. Protocol packages translate them into their
// own error codes at one place per listener.
var (
	ErrInvalidName  = errors.New("invalid name")
	ErrTenantExists = errors.New("tenant already exists")
	ErrNoTenant     = errors.New("no such tenant")
	ErrAuthFailed   = errors.New("authentication failed")
	ErrNotFound     = errors.New("not found")
	ErrExists       = errors.New("already exists")
	ErrCorrupt      = errors.New("stored data is corrupt")
	ErrClosed       = errors.New("storage closed")
	ErrOutOfRange   = errors.New("offset out of range")
	ErrTooLarge     = errors.New("too large")
	ErrInvalidArg   = errors.New("invalid argument")
)
