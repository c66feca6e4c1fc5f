package pgwire

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestTimeZone sets the session's TimeZone and checks what PostgreSQL
// does with it: timestamptz prints in the zone, input without an offset
// is wall time there, wall-time functions and casts use it, and another
// session still sees UTC.
func TestTimeZone(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	c := ts.connect(t, "acme", "acme")
	other := ts.connect(t, "acme", "acme")
	mustExec(t, c, `CREATE TABLE ev (id int, at timestamptz)`)
	mustExec(t, c, `INSERT INTO ev VALUES (1, '2024-03-10 06:30:00+00')`)
	mustExec(t, c, `SET TIME ZONE 'America/New_York'`)
	mustExec(t, c, `INSERT INTO ev VALUES (2, '2024-07-01 09:00:00')`) // EDT, UTC-4
	text := func(c *pgx.Conn, q string, args ...any) string {
		t.Helper()
		var s string
		if err := c.QueryRow(ctx, q, append([]any{pgx.QueryExecModeSimpleProtocol}, args...)...).Scan(&s); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return s
	}
	for _, tc := range []struct{ q, want string }{
		{`SELECT at::text FROM ev WHERE id = 1`, "2024-03-10 01:30:00-05"},
		{`SELECT at::text FROM ev WHERE id = 2`, "2024-07-01 09:00:00-04"},
		{`SELECT (at AT TIME ZONE 'UTC')::text FROM ev WHERE id = 2`, "2024-07-01 13:00:00"},
		{`SELECT at::date::text FROM ev WHERE id = 1`, "2024-03-10"},
		{`SELECT at::timestamp::text FROM ev WHERE id = 1`, "2024-03-10 01:30:00"},
		{`SELECT date_trunc('day', at)::text FROM ev WHERE id = 1`, "2024-03-10 00:00:00-05"},
		{`SELECT extract(hour FROM at)::text FROM ev WHERE id = 2`, "9"},
		{`SELECT extract(epoch FROM at)::bigint::text FROM ev WHERE id = 1`, "1710052200"},
		{`SELECT '2024-01-01'::date::timestamptz::text`, "2024-01-01 00:00:00-05"},
		{`SELECT '2024-01-01 12:00:00+02'::timestamptz::text`, "2024-01-01 05:00:00-05"},
		{`SELECT count(*)::text FROM ev WHERE at < '2024-03-10 01:31'`, "1"},
		{`SELECT to_char(at, 'YYYY-MM-DD HH24:MI') FROM ev WHERE id = 1`, "2024-03-10 01:30"},
		{`SHOW timezone`, "America/New_York"},
	} {
		if got := text(c, tc.q); got != tc.want {
			t.Errorf("%s = %q, want %q", tc.q, got, tc.want)
		}
	}
	// Extended protocol: a parameter in text is wall time in the zone.
	var at time.Time
	if err := c.QueryRow(ctx, `SELECT at FROM ev WHERE at = $1::timestamptz`, "2024-07-01 09:00:00").Scan(&at); err != nil {
		t.Fatalf("text parameter in the zone: %v", err)
	}
	if !at.Equal(time.Date(2024, 7, 1, 13, 0, 0, 0, time.UTC)) {
		t.Errorf("binary result %v", at)
	}
	// Another session, same statement text, UTC.
	if got := text(other, `SELECT at::text FROM ev WHERE id = 1`); got != "2024-03-10 06:30:00+00" {
		t.Errorf("other session: %q", got)
	}
	if _, err := c.Exec(ctx, `SET TIME ZONE 'Mars/Olympus'`); sqlState(err) != "22023" {
		t.Errorf("unknown zone: %v", err)
	}
	mustExec(t, c, `SET TIME ZONE 'Asia/Kolkata'`)
	if got := text(c, `SELECT at::text FROM ev WHERE id = 1`); got != "2024-03-10 12:00:00+05:30" {
		t.Errorf("half-hour zone: %q", got)
	}
	mustExec(t, c, `RESET TIME ZONE`)
	if got := text(c, `SELECT at::text FROM ev WHERE id = 1`); got != "2024-03-10 06:30:00+00" {
		t.Errorf("after RESET: %q", got)
	}
}
