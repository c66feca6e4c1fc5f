package sqltrans

import (
	"testing"
	"time"
)

// TestParseISOTimeMatchesLayouts checks the fast path against the full
// list of input layouts.
func TestParseISOTimeMatchesLayouts(t *testing.T) {
	for _, in := range []string{
		"2024-01-02 03:04:05+00", "2024-01-02 03:04:05.123456-07", "2024-01-02 03:04:05+05:30",
		"2024-01-02 03:04:05.5Z", "2024-01-02 03:04:05", "2024-01-02 03:04:05.999999999",
		"2024-01-02 03:04:05-03:00",
	} {
		fast, ok := parseISOTime(in)
		if !ok {
			t.Errorf("%s: fast path refused", in)
			continue
		}
		var slow time.Time
		found := false
		for _, l := range inputLayouts {
			if tm, err := time.Parse(l, in); err == nil {
				slow, found = tm, true
				break
			}
		}
		if !found || !fast.Equal(slow) || fast.Format(time.RFC3339Nano) != slow.Format(time.RFC3339Nano) {
			t.Errorf("%s: fast %v, layouts %v", in, fast, slow)
		}
	}
	for _, in := range []string{"2024-01-02T03:04:05Z", "Jan 2, 2006", "2024-01-02", "2024-01-02 03:04"} {
		if _, ok := parseISOTime(in); ok {
			t.Errorf("%s: fast path took a form it does not handle", in)
		}
	}
}
