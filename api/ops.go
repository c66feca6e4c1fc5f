package api

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"unicode/utf8"

	"rewire/api/wire"
	"rewire/storage"
	"rewire/storage/files"
)

// Limits on what one call may carry. Larger files go through the
// streaming endpoints under /v1/files/.
const (
	MaxInline    = 8 << 20  // bytes of file content in one JSON call
	MaxBody      = 24 << 20 // bytes of one JSON-RPC request body
	MaxPathLen   = 4096
	maxBatchSize = 100 // calls in one JSON-RPC batch
)

// Ops are the operations of the API on one acquired tenant. Both the
// JSON-RPC methods and the MCP tools call them, so the two agree. An Ops
// is cheap; make one per call. Methods are safe for concurrent use.
type Ops struct {
	t     *storage.Tenant
	fs    *files.FS
	paths *files.Paths
}

// NewOps returns the operations on t, which the caller keeps acquired.
func NewOps(t *storage.Tenant) *Ops {
	fs := files.New(t)
	return &Ops{t: t, fs: fs, paths: fs.Paths()}
}

// Tenant returns the tenant the operations act on.
func (o *Ops) Tenant() *storage.Tenant { return o.t }

// invalid returns an invalid-params error.
func invalid(format string, args ...any) error {
	return wire.Errorf(wire.CodeInvalidParams, format, args...)
}

// CleanPath checks a path given by a caller and returns it in canonical
// form ("" for the root, otherwise "a/b/c"). It refuses "..", NUL bytes
// and overlong paths, so that no path leaves the tenant's tree.
func CleanPath(p string) (string, error) {
	if len(p) > MaxPathLen {
		return "", invalid("path longer than %d bytes", MaxPathLen)
	}
	if strings.IndexByte(p, 0) >= 0 || !utf8.ValidString(p) {
		return "", invalid("path must be valid UTF-8 without NUL bytes")
	}
	var parts []string
	for _, s := range strings.Split(p, "/") {
		switch s {
		case "", ".":
			continue
		case "..":
			return "", invalid("path %q leaves its directory (\"..\" is not allowed)", p)
		}
		if len(s) > files.MaxNameLen {
			return "", invalid("path element longer than %d bytes", files.MaxNameLen)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "/"), nil
}

// decode turns content in the given encoding into bytes.
func decode(content, enc string) ([]byte, error) {
	switch enc {
	case "", wire.EncodingUTF8:
		return []byte(content), nil
	case wire.EncodingBase64:
		b, err := base64.StdEncoding.DecodeString(content)
		if err != nil {
			return nil, invalid("content is not valid base64: %v", err)
		}
		return b, nil
	}
	return nil, invalid("unknown encoding %q (utf8 or base64)", enc)
}

// encode turns bytes into content in the given encoding; utf8 falls back
// to base64 for data that is not valid UTF-8.
func encode(b []byte, enc string) (string, string, error) {
	switch enc {
	case "", wire.EncodingUTF8:
		if utf8.Valid(b) {
			return string(b), wire.EncodingUTF8, nil
		}
		return base64.StdEncoding.EncodeToString(b), wire.EncodingBase64, nil
	case wire.EncodingBase64:
		return base64.StdEncoding.EncodeToString(b), wire.EncodingBase64, nil
	}
	return "", "", invalid("unknown encoding %q (utf8 or base64)", enc)
}

var errnoNames = map[syscall.Errno]string{
	syscall.ENOENT: "ENOENT", syscall.EEXIST: "EEXIST", syscall.ENOTDIR: "ENOTDIR",
	syscall.EISDIR: "EISDIR", syscall.ENOTEMPTY: "ENOTEMPTY", syscall.EINVAL: "EINVAL",
	syscall.ENAMETOOLONG: "ENAMETOOLONG", syscall.EBUSY: "EBUSY", syscall.EDQUOT: "EDQUOT",
	syscall.ENOSPC: "ENOSPC", syscall.EFBIG: "EFBIG", syscall.EPERM: "EPERM",
	syscall.EXDEV: "EXDEV", syscall.ELOOP: "ELOOP",
}

// ToError maps an error of the core onto a JSON-RPC error object: core
// sentinels and file errnos become rewire's application codes, anything
// else an internal error.
func ToError(err error) *wire.Error {
	var we *wire.Error
	if errors.As(err, &we) {
		return we
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		data := &wire.ErrorData{Errno: errnoNames[errno]}
		code := wire.CodeInvalidOp
		switch errno {
		case syscall.ENOENT:
			code = wire.CodeNotFound
		case syscall.EEXIST:
			code = wire.CodeExists
		case syscall.EFBIG, syscall.EDQUOT, syscall.ENOSPC:
			code = wire.CodeTooLarge
		}
		return &wire.Error{Code: code, Message: err.Error(), Data: data}
	}
	switch {
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrNoTenant):
		return &wire.Error{Code: wire.CodeNotFound, Message: err.Error()}
	case errors.Is(err, storage.ErrExists), errors.Is(err, storage.ErrTenantExists):
		return &wire.Error{Code: wire.CodeExists, Message: err.Error()}
	case errors.Is(err, storage.ErrInvalidArg), errors.Is(err, storage.ErrInvalidName):
		return &wire.Error{Code: wire.CodeInvalidParams, Message: err.Error()}
	case errors.Is(err, storage.ErrTooLarge):
		return &wire.Error{Code: wire.CodeTooLarge, Message: err.Error()}
	case errors.Is(err, storage.ErrOutOfRange):
		return &wire.Error{Code: wire.CodeOutOfRange, Message: err.Error()}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &wire.Error{Code: wire.CodeServerError, Message: "request cancelled"}
	}
	return &wire.Error{Code: wire.CodeServerError, Message: fmt.Sprintf("internal error: %v", err)}
}
