package sqltrans

import (
	"database/sql/driver"
	"fmt"
	"regexp"
	"strings"
	"time"

	"modernc.org/sqlite"
)

// A session's TimeZone shapes how timestamptz reads and prints: values
// are stored in UTC, printed in the session's zone, and input without an
// offset is taken as wall time there. Functions that see a timestamptz
// as wall time (date_trunc, extract, casts to date and timestamp and
// back, current_date, localtimestamp) take the zone as an argument the
// translator adds, so a translation made under a zone other than UTC is
// not shared (see tr.zone).

// SessionZone resolves a TimeZone setting: a zone name, UTC and its
// aliases, or a POSIX-style offset. It returns nil for UTC.
func SessionZone(name string) (*time.Location, error) {
	loc, err := zoneLocation(name)
	if err != nil {
		return nil, Errorf(CodeInvalidParameter, "invalid value for parameter \"TimeZone\": \"%s\"", name)
	}
	if loc == time.UTC {
		return nil, nil
	}
	return loc, nil
}

// FormatTextIn formats a stored value as FormatText does, with a
// timestamptz shown in loc (nil: UTC).
func FormatTextIn(v any, oid uint32, typmod int32, loc *time.Location) (string, bool) {
	s, ok := FormatText(v, oid, typmod)
	if !ok || loc == nil || oid != OidTimestamptz {
		return s, ok
	}
	t, err := StoredTime(s, oid)
	if err != nil {
		return s, ok // infinity
	}
	return formatInZone(t, loc), true
}

// formatInZone prints an instant as PostgreSQL prints a timestamptz in a
// session zone: the wall time and the offset in hours, with minutes and
// seconds only when they are not zero.
func formatInZone(t time.Time, loc *time.Location) string {
	t = t.In(loc)
	_, off := t.Zone()
	sign := '+'
	if off < 0 {
		sign, off = '-', -off
	}
	z := fmt.Sprintf("%c%02d", sign, off/3600)
	if m, s := off%3600/60, off%60; m != 0 || s != 0 {
		z += fmt.Sprintf(":%02d", m)
		if s != 0 {
			z += fmt.Sprintf(":%02d", s)
		}
	}
	return t.Format(layoutTimestamp) + z
}

// explicitZone matches a time of day followed by an offset or a zone
// abbreviation of UTC.
var explicitZone = regexp.MustCompile(`(?i)\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[+-]\d{1,2}(?::?\d{2}){0,2}|z|utc|gmt)$`)

// CoerceIn converts input text as Coerce does, reading a timestamptz
// written without an offset as wall time in loc (nil: UTC).
func CoerceIn(s string, oid uint32, typmod int32, loc *time.Location) (any, error) {
	if loc == nil || oid != OidTimestamptz || explicitZone.MatchString(strings.TrimSpace(s)) {
		return Coerce(s, oid, typmod)
	}
	v, err := Coerce(s, OidTimestamp, typmod)
	if err != nil || v == Dynamic {
		if err != nil {
			// Report the type the input was for.
			return nil, Errorf(CodeInvalidDatetime, "invalid input syntax for type timestamp with time zone: \"%s\"", s)
		}
		return v, nil
	}
	w, ok := v.(string)
	if !ok {
		return v, nil
	}
	t, err := StoredTime(w, OidTimestamp)
	if err != nil {
		return w, nil // infinity
	}
	t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), loc)
	return FormatTime(t, OidTimestamptz), nil
}

func init() {
	// pgw_tstz_out(v, zone) and pgw_tstz_in(text, zone): timestamptz to
	// and from text in a session zone, for casts the translator makes
	// when the zone is not UTC.
	reg := func(name string, f func(v any, loc *time.Location) (driver.Value, error)) {
		sqlite.MustRegisterDeterministicScalarFunction(name, 2, func(_ *sqlite.FunctionContext, a []driver.Value) (driver.Value, error) {
			if a[0] == nil {
				return nil, nil
			}
			loc, err := zoneLocation(toString(a[1]))
			if err != nil {
				return nil, udfError(err)
			}
			return f(a[0], loc)
		})
	}
	reg("pgw_tstz_out", func(v any, loc *time.Location) (driver.Value, error) {
		s, _ := FormatTextIn(v, OidTimestamptz, -1, loc)
		return s, nil
	})
	reg("pgw_tstz_in", func(v any, loc *time.Location) (driver.Value, error) {
		return udfErr(CoerceIn(toString(v), OidTimestamptz, -1, loc))
	})
}
