package sqltrans

import "fmt"

// SQLSTATE codes used by the translator and the server.
const (
	CodeSyntax            = "42601"
	CodeUndefinedTable    = "42P01"
	CodeUndefinedColumn   = "42703"
	CodeUndefinedFunction = "42883"
	CodeUndefinedObject   = "42704"
	CodeDuplicateTable    = "42P07"
	CodeDuplicateObject   = "42710"
	CodeDuplicateDatabase = "42P04"
	CodeInvalidCatalog    = "3D000"
	CodeAmbiguousColumn   = "42702"
	CodeDatatypeMismatch  = "42804"
	CodeFeature           = "0A000"
	CodeInvalidText       = "22P02"
	CodeObjectNotInState  = "55000"
	CodeDivisionByZero    = "22012"
	CodeNumericRange      = "22003"
	CodeStringTooLong     = "22001"
	CodeInvalidDatetime   = "22007"
	CodeDatetimeOverflow  = "22008"
	CodeInvalidParameter  = "22023"
	CodeInsufficientPriv  = "42501"
	CodeUniqueViolation   = "23505"
	CodeNotNullViolation  = "23502"
	CodeForeignKey        = "23503"
	CodeCheckViolation    = "23514"
	CodeSerialization     = "40001"
	CodeInFailedTx        = "25P02"
	CodeNoActiveTx        = "25P01"
	CodeActiveTx          = "25001"
	CodeInvalidSavepoint  = "3B001"
	CodeQueryCanceled     = "57014"
	CodeAdminShutdown     = "57P01"
	CodeProtocolViolation = "08P01"
	CodeInvalidPassword   = "28P01"
	CodeInvalidAuthSpec   = "28000"
	CodeInternal          = "XX000"
	CodeUndefinedParam    = "42704"
	CodeInvalidName       = "42602"
	CodeProgramLimit      = "54000"
	CodeOutOfMemory       = "53200"
	CodeObjectInUse       = "55006"
	CodeUndefinedPrepared = "26000"
	CodeDuplicatePrepared = "42P05"
	CodeUndefinedCursor   = "34000"
	CodeCardinality       = "21000"
)

// Error is an error with a SQLSTATE and the fields PostgreSQL clients
// display.
type Error struct {
	Code     string
	Message  string
	Detail   string
	Hint     string
	Position int    // 1-based character position in the query, 0 if none
	Where    string // context, such as the COPY line

	// The object an integrity error is about, as drivers report it
	// (pgx's PgError.ConstraintName, psycopg2's Diagnostics).
	Table      string
	Column     string
	Constraint string
}

func (e *Error) Error() string { return e.Message }

// Errorf builds an *Error with the given SQLSTATE.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func unsupported(what string) *Error {
	return Errorf(CodeFeature, "%s is not supported", what)
}
