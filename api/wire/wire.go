// Package wire holds the request and response types of rewire's HTTP API
// (JSON-RPC 2.0 at /rpc), shared by the server (package api), the MCP
// tools (package mcpserver) and the Go client (package client), so that
// all three agree on field names and JSON shapes.
package wire

import "fmt"

// JSON-RPC 2.0 error codes. The first five are the specification's; the
// rest are rewire's application errors (the -32000 to -32099 range is
// reserved for implementation-defined server errors).
const (
	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
	CodeInternal       = -32603

	CodeServerError = -32000 // an unexpected failure of the core
	CodeNotFound    = -32001 // the named file, repository, topic… does not exist
	CodeExists      = -32002 // the name is taken
	CodeInvalidOp   = -32003 // the operation does not apply (not a directory, not empty…)
	CodeTooLarge    = -32004 // a size limit was exceeded
	CodeOutOfRange  = -32005 // an offset outside the log
	CodeForbidden   = -32006 // the credentials do not allow the operation
)

// Error is a JSON-RPC error object.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

func (e *Error) Error() string {
	if e.Data != nil {
		return fmt.Sprintf("rpc error %d: %s (%v)", e.Code, e.Message, e.Data)
	}
	return fmt.Sprintf("rpc error %d: %s", e.Code, e.Message)
}

// Errorf returns an *Error with a formatted message.
func Errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorData is the data member of rewire's application errors.
type ErrorData struct {
	Errno string `json:"errno,omitempty"` // POSIX name for file errors: ENOENT, EISDIR…
	Path  string `json:"path,omitempty"`
}
