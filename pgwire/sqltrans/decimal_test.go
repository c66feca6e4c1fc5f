package sqltrans

import (
	"strings"
	"testing"
)

func TestDecimalArithmetic(t *testing.T) {
	d := func(s string) *decimal {
		x, ok := parseDecimal(s)
		if !ok {
			t.Fatalf("parse %q", s)
		}
		return x
	}
	div := func(a, b string) string {
		q, err := decimalDiv(d(a), d(b))
		if err != nil {
			t.Fatal(err)
		}
		return q.String()
	}
	// Quotient scales as PostgreSQL gives them.
	for _, c := range [][3]string{
		{"1", "3", "0.33333333333333333333"},
		{"10", "3", "3.3333333333333333"},
		{"2", "3", "0.66666666666666666667"},
		{"-2", "3", "-0.66666666666666666667"},
		{"100000", "3", "33333.333333333333"},
		{"1", "0.0003", "3333.3333333333333333"},
		{"39.59", "4", "9.8975000000000000"},
		{"1.000000000000000000001", "1", "1.000000000000000000001"},
		{"0.00001", "7", "0.000001428571428571428571"},
	} {
		if got := div(c[0], c[1]); got != c[2] {
			t.Errorf("%s / %s = %s, want %s", c[0], c[1], got, c[2])
		}
	}
	for _, c := range [][3]string{
		{"1.5", "0", "2"}, {"2.5", "0", "3"}, {"-2.5", "0", "-3"}, {"0.125", "2", "0.13"},
		{"-0.125", "2", "-0.13"}, {"9.995", "2", "10.00"}, {"1", "3", "1.000"}, {"1e3", "0", "1000"},
		{"1.5E-3", "4", "0.0015"},
	} {
		sc := int32(c[1][0] - '0')
		if got := d(c[0]).rescaled(sc).String(); got != c[2] {
			t.Errorf("round(%s, %d) = %s, want %s", c[0], sc, got, c[2])
		}
	}
	if got := decimalMul(d("1.10"), d("-0.5")).String(); got != "-0.550" {
		t.Errorf("1.10 * -0.5 = %s", got)
	}
	if r, _ := decimalMod(d("-7.5"), d("2")); r.String() != "-1.5" {
		t.Errorf("-7.5 %% 2 = %s", r)
	}
	for _, bad := range []string{"", ".", "1..2", "1e", "abc", "--1", "1 2", "0x10"} {
		if _, ok := parseDecimal(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestNumericCollation(t *testing.T) {
	ordered := []string{"-100", "-9.5", "-0.001", "0", "0.00", "-0", "1e-3", "0.01", "1.5", "1.50", "9.99", "10", "1e2", "NaN", "junk"}
	rank := []int{0, 1, 2, 3, 3, 3, 4, 5, 6, 6, 7, 8, 9, 10, 11}
	for i, a := range ordered {
		for j, b := range ordered {
			want := 0
			if rank[i] < rank[j] {
				want = -1
			} else if rank[i] > rank[j] {
				want = 1
			}
			if got := compareNumericText(a, b); got != want {
				t.Errorf("compare(%q, %q) = %d, want %d", a, b, got, want)
			}
		}
	}
}

// FuzzDecimal checks that numeric text that parses prints back to a value
// equal to it, and that the collation is antisymmetric and agrees with
// arithmetic.
func FuzzDecimal(f *testing.F) {
	for _, s := range []string{"0", "1.50", "-0.001", "1e5", "NaN", "123456789012345678901234567890.5", "9.999", ".5", "5."} {
		f.Add(s, "1")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		x, okx := parseDecimal(a)
		if okx {
			y, ok := parseDecimal(x.String())
			if !ok || x.cmp(y) != 0 || (!x.nan && y.scale != x.scale) {
				t.Fatalf("%q printed as %q", a, x.String())
			}
		}
		c1, c2 := compareNumericText(a, b), compareNumericText(b, a)
		if c1 != -c2 {
			t.Fatalf("compare(%q, %q) = %d but compare back = %d", a, b, c1, c2)
		}
		if y, oky := parseDecimal(b); okx && oky && !x.nan && !y.nan {
			diff := decimalAdd(x, y, true)
			if s := diff.coef.Sign(); s != c1 {
				t.Fatalf("%q - %q has sign %d, collation says %d", a, b, s, c1)
			}
		}
	})
}

// TestPlainNumeric checks parseNumeric's fast path against the exact one.
func TestPlainNumeric(t *testing.T) {
	mod := func(p, s int) int32 { return int32(p<<16|s) + 4 }
	for _, c := range []struct {
		in  string
		mod int32
	}{
		{"12.5", mod(12, 2)}, {"-0.00", mod(5, 2)}, {"007.10", -1}, {"-0", -1}, {"123", -1}, {".5", -1},
		{"5.", -1}, {"5.", mod(4, 1)}, {"99999999999999999999", -1}, {"12.345", mod(12, 2)},
		{"1234", mod(5, 2)}, {"-1234.5", mod(6, 2)}, {"0.001", mod(3, 3)}, {"1e3", -1}, {"+1", -1},
	} {
		want, werr := func() (string, error) {
			d, ok := parseDecimal(c.in)
			if !ok {
				return "", invalidText("numeric", c.in)
			}
			if c.mod > 4 {
				return roundDecimal(d, c.mod)
			}
			return d.String(), nil
		}()
		got, err := parseNumeric(c.in, c.mod)
		gs, _ := FormatText(got, OidNumeric, -1)
		if (err != nil) != (werr != nil) || err == nil && gs != want {
			t.Errorf("parseNumeric(%q, %d) = %q, %v; exact path %q, %v", c.in, c.mod, gs, err, want, werr)
		}
	}
}

// TestStoredForm checks the COPY fast path for times against the full
// parse and format.
func TestStoredForm(t *testing.T) {
	for _, c := range []struct {
		in  string
		oid uint32
	}{
		{"2024-01-02", OidDate}, {"2024-02-29", OidDate}, {"2023-02-29", OidDate}, {"2024-13-01", OidDate},
		{"2024-01-02 03:04:05", OidTimestamp}, {"2024-01-02 03:04:05.5", OidTimestamp},
		{"2024-01-02 03:04:05.50", OidTimestamp}, {"2024-01-02 24:00:00", OidTimestamp},
		{"2024-01-02 03:04:05+00", OidTimestamptz}, {"2024-01-02 03:04:05.123456+00", OidTimestamptz},
		{"2024-01-02 03:04:05+01", OidTimestamptz}, {"2024-01-02 03:04:05.1234567+00", OidTimestamptz},
		{"0001-01-01 00:00:00+00", OidTimestamptz}, {"2024-1-02 03:04:05+00", OidTimestamptz},
	} {
		fast := storedForm(c.in, c.oid)
		v, err := Coerce(c.in, c.oid, -1) // takes the fast path when it applies
		if !fast {
			continue
		}
		tm, perr := StoredTime(c.in, c.oid)
		if err != nil || perr != nil || v != FormatTime(tm, c.oid) {
			t.Errorf("%q (%d): fast path kept %v (%v), full path gives %q (%v)", c.in, c.oid, v, err, FormatTime(tm, c.oid), perr)
		}
	}
	for _, bad := range []string{"2023-02-29", "2024-13-01", "2024-01-02 24:00:00", "2024-01-02 03:04:05.50", "2024-01-02 03:04:05+01"} {
		oid := OidTimestamptz
		if len(bad) == 10 {
			oid = OidDate
		} else if !strings.HasSuffix(bad, "+01") {
			oid = OidTimestamp
		}
		if storedForm(bad, oid) {
			t.Errorf("%q taken as stored form", bad)
		}
	}
}
