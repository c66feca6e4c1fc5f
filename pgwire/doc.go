// Package pgwire serves the PostgreSQL frontend/backend protocol, version
// 3.0, over the tenants of a rewire store. A client connects with the
// tenant's name as user and its password; each tenant SQL database is its
// own SQLite file under the tenant's directory (sql/<dbname>.db). The
// databases "postgres" and the one named after the tenant always exist;
// CREATE DATABASE adds files.
//
// # Message flow
//
// Startup: SSLRequest is answered 'S' and the connection upgraded when
// Config.TLS is set, else 'N'; GSSENCRequest is answered 'N'; a
// CancelRequest interrupts the statement running on the connection with
// that key. The StartupMessage is followed by SCRAM-SHA-256
// (AuthenticationSASL, SASLContinue, SASLFinal) against the tenant's stored
// verifier (or, with Config.PasswordOverTLS on a TLS connection, a
// cleartext password checked against it), then AuthenticationOk,
// ParameterStatus for the settings drivers read, BackendKeyData and
// ReadyForQuery.
//
// Queries: the simple protocol (Query, possibly several statements) and
// the extended protocol (Parse, Bind, Describe, Execute with row limits and
// PortalSuspended, Close, Sync, Flush; after an error messages are skipped
// up to Sync). Results are sent in text or binary format per column.
// COPY FROM STDIN and COPY TO STDOUT work in text and CSV formats.
//
// SQL is parsed with PostgreSQL's own grammar (pg_query) and translated to
// SQLite by package sqltrans; translations are cached per database until
// its schema changes. Errors carry PostgreSQL SQLSTATEs.
//
// # Transactions and isolation
//
// BEGIN opens a transaction block; the SQLite transaction starts at the
// first statement (IMMEDIATE when it writes). SQLite has one writer per
// database and readers see a snapshot, so every transaction is
// serializable: concurrent sessions see only committed data, and a
// transaction that read a snapshot and then tries to write after another
// session committed fails with 40001. SHOW transaction_isolation reports
// "serializable". A failed statement aborts the block (25P02) until
// ROLLBACK or ROLLBACK TO SAVEPOINT. A COMMIT is acknowledged only
// once it is on disk: SQLite writes the WAL with synchronous=NORMAL and
// the session then waits for an fdatasync of the WAL that began after
// its commit, one fsync serving every session that committed meanwhile
// (walsync.go). Sessions that write queue for the database's write token
// (a lone write runs in an implicit transaction), rather than in
// SQLite's busy handler, which sleeps between tries.
//
// # Sandbox
//
// Tenant SQL runs with an SQLite authorizer that denies ATTACH/DETACH,
// every pragma but a few read-only schema pragmas, virtual tables and
// extension loading; database names are restricted to safe file names.
// One string or blob a query builds is capped at 256 MB (54000), and
// statement_timeout and CancelRequest interrupt SQLite, pg_sleep and
// advisory lock waits included.
//
// # Schemas, sequences and locks
//
// A table of schema s is the SQLite table "s.t"; CREATE SCHEMA records
// the name in "?rw_schema" and DROP SCHEMA … CASCADE drops the schema's
// tables, views and sequences. Sequences are rows of "?rw_seq", but for
// the sequence of a serial primary key: that key is the table's rowid,
// declared AUTOINCREMENT so that no key is handed out twice, and its
// sequence TABLE_COLUMN_seq is SQLite's sqlite_sequence row of the
// table. Advisory locks live in the server process, per database file, and are released
// with their transaction or session.
//
// # Left out
//
// Implicit transactions: the statements of one Query message, and the
// writes of an extended-protocol pipeline up to Sync, commit or roll back
// together, as in PostgreSQL; reads in a pipeline run outside it.
//
// INSERT, UPDATE and DELETE inside WITH run first, in order, in the
// statement's transaction, their RETURNING rows kept in temporary tables
// the statement reads (pre.go); unlike PostgreSQL, the statement sees
// their changes rather than one snapshot taken before them all.
//
// LISTEN, UNLISTEN, NOTIFY and pg_notify: notifications reach the
// listening sessions of the same database (never another tenant's) when
// the sending transaction commits, and none when it rolls back; an idle
// listener gets them at once, a busy one before its next ReadyForQuery.
// LISTEN takes effect at once rather than at commit (notify.go).
//
// TimeZone: timestamptz is stored in UTC and printed in the session's
// zone (text format; binary is zone-free); input without an offset is
// wall time in the zone, and casts to and from date, timestamp and text,
// date_trunc, extract, to_char, current_date and localtimestamp use it. A
// translation made under a zone other than UTC is not shared.
//
// search_path: an unqualified name resolves to the first schema of the
// path holding such a relation (pg_catalog's relations first), and a
// relation created unqualified goes to the first schema of the path that
// exists; "$user" is ignored and an empty path reads as the default.
// Translations made under a path other than the default are not shared.
// SELECT set_config('name', 'value', is_local) with constants works as
// SET does (pg_dump's scripts use it).
//
// ALTER TABLE ADD FOREIGN KEY and ADD CHECK rebuild the table
// (rebuild.go): its rows are checked against the new constraint, and its
// indexes and triggers and other tables' references to it stay.
//
// Sequences: nextval, currval and setval work anywhere an expression
// does, column defaults included, and a serial column that is not the
// primary key draws from its own sequence. Unlike PostgreSQL, a sequence
// change is part of the calling transaction: a nextval that rolls back
// hands the same value out again, and currval reads the database's last
// value rather than the session's.
//
// SQL cursors (DECLARE, FETCH, MOVE, CLOSE) read forward only; a WITH
// HOLD cursor keeps its remaining rows in memory (at most 1 Mi rows) once
// its transaction ends.
//
// Not done: the TZ and OF fields of to_char in a session TimeZone other
// than UTC;
// more than one set-returning function in a select list, or one inside
// an expression;
// lastval; dropping a
// table does not drop the sequences of its serial columns;
// setval on the serial key of a table made before serial keys were
// AUTOINCREMENT (it has no effect there); COPY TO in binary format;
// scrollable cursors; the function-call protocol.
//
// Numeric: values are exact decimal text in columns of TEXT affinity
// declared numeric_text, under the collation pgw_numeric, which orders
// decimal text by value (so 1.5 and 1.50 are equal in comparisons,
// indexes and UNIQUE, and each keeps its scale). +, -, *, /, %, unary
// minus, sum and avg on numeric run exactly in Go with PostgreSQL's
// result scales (a quotient keeps at least 16 significant digits);
// numeric(p,s) rounds half away from zero and refuses values beyond its
// precision (22003). Other functions (round, abs, power, …) compute in
// float8. Tables made before this kept numeric as SQLite numbers and
// still read as numeric.
package pgwire
