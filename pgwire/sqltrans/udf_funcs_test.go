package sqltrans

import (
	"testing"
	"time"
)

func TestToCharNumber(t *testing.T) {
	for _, c := range []struct {
		x    float64
		f    string
		want string
	}{
		{1234.5, "9999.99", " 1234.50"},
		{1234.5, "FM9,999.00", "1,234.50"},
		{1234.5, "FM9999.99", "1234.5"},
		{-5, "999", "  -5"},
		{0.5, "0.99", " 0.50"},
		{12345, "999", " ###"},
		{7, "000", " 007"},
	} {
		if got := toCharNumber(c.x, c.f); got != c.want {
			t.Errorf("to_char(%v, %q) = %q, want %q", c.x, c.f, got, c.want)
		}
	}
}

func TestToCharTime(t *testing.T) {
	tm := time.Date(2024, 5, 7, 13, 4, 5, 123456000, time.UTC)
	for _, c := range []struct{ f, want string }{
		{"YYYY-MM-DD HH24:MI:SS", "2024-05-07 13:04:05"},
		{"FMMonth DD, YYYY HH12:MI:SS AM Dy", "May 07, 2024 01:04:05 PM Tue"},
		{"Mon DDD Q MS US", "May 128 2 123 123456"},
		{`YYYY"年"MM`, "2024年05"},
	} {
		if got := toCharTime(tm, c.f, ""); got != c.want {
			t.Errorf("to_char(%q) = %q, want %q", c.f, got, c.want)
		}
	}
}

func TestAge(t *testing.T) {
	ts := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct{ a, b, want string }{
		{"2024-03-01 00:00", "2023-01-31 12:00", "1 year 1 mon 12:00:00"},
		{"2024-01-01 00:00", "2024-03-15 00:00", "-2 mons -14 days"},
		{"2024-03-31 00:00", "2024-02-29 00:00", "1 mon 2 days"},
	} {
		if got := age(ts(c.a), ts(c.b)).String(); got != c.want {
			t.Errorf("age(%s, %s) = %q, want %q", c.a, c.b, got, c.want)
		}
	}
}
