package sqltrans

import (
	"crypto/md5"
	"encoding/hex"
	"strconv"
	"time"
)

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// Cast converts a stored value of type from to type to, as a PostgreSQL
// cast does.
func Cast(v any, from, to uint32, typmod int32) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch to {
	case OidText, OidVarchar, OidBpchar, OidName:
		s, _ := FormatText(v, from, -1)
		if from == OidUnknown || from == 0 {
			s, _ = FormatText(v, OidText, -1)
		}
		if typmod > 4 {
			r := []rune(s)
			if n := int(typmod - 4); len(r) > n {
				if to == OidVarchar || to == OidBpchar {
					s = string(r[:n])
				}
			}
		}
		return Coerce(s, to, typmod)
	case OidInt2, OidInt4, OidInt8:
		switch x := v.(type) {
		case int64:
			return Coerce(strconv.FormatInt(x, 10), to, -1)
		case float64:
			return Coerce(strconv.FormatFloat(roundHalfEven(x), 'f', 0, 64), to, -1)
		}
		s, _ := FormatText(v, OidText, -1)
		if from == OidNumeric {
			// Round half away from zero, exactly.
			if d, ok := parseDecimal(s); ok && !d.nan {
				return Coerce(d.rescaled(0).String(), to, -1)
			}
		}
		return Coerce(s, to, -1)
	case OidFloat4, OidFloat8:
		switch x := v.(type) {
		case int64:
			return float64(x), nil
		case float64:
			return x, nil
		}
	case OidBool:
		if x, ok := v.(int64); ok {
			return boolInt(x != 0), nil
		}
	case OidNumeric:
		if typmod < 0 {
			switch x := v.(type) {
			case int64:
				return x, nil
			case float64:
				d, err := decimalOf(x)
				if err != nil {
					return nil, err
				}
				return d.String(), nil
			}
		}
	case OidDate, OidTimestamp, OidTimestamptz:
		s, _ := FormatText(v, OidText, -1)
		if isTimeType(from) {
			if t, err := StoredTime(s, from); err == nil {
				if to == OidTimestamp && from == OidTimestamptz {
					t = t.UTC()
				}
				return FormatTime(t, to), nil
			}
		}
	case OidJSONB:
		s, _ := FormatText(v, OidText, -1)
		return NormalizeJSONB(s)
	}
	s, _ := FormatText(v, from, -1)
	if from == OidBool && (to == OidInt4 || to == OidInt8) {
		return v, nil
	}
	return Coerce(s, to, typmod)
}

func roundHalfEven(f float64) float64 {
	r := f
	if r >= 0 {
		r = float64(int64(r + 0.5))
	} else {
		r = float64(int64(r - 0.5))
	}
	return r
}

// dateArith implements +, - between dates, times, timestamps and
// intervals.
func dateArith(op string, l any, lo uint32, r any, ro uint32, res uint32) (any, error) {
	if l == nil || r == nil {
		return nil, nil
	}
	ls, _ := FormatText(l, OidText, -1)
	rs, _ := FormatText(r, OidText, -1)
	if lo == OidUnknown || lo == 0 {
		lo = OidTimestamptz
	}
	switch {
	case isTimeType(lo) && (ro == OidInterval || ro == OidUnknown || ro == 0) && res != OidInterval && !(lo == OidDate && ro != OidInterval):
		t, err := StoredTime(ls, lo)
		if err != nil {
			return nil, err
		}
		iv, err := ParseInterval(rs)
		if err != nil {
			return nil, err
		}
		if op == "-" {
			iv = Interval{-iv.Months, -iv.Days, -iv.Micros}
		}
		t = t.AddDate(0, int(iv.Months), int(iv.Days)).Add(time.Duration(iv.Micros) * time.Microsecond)
		return FormatTime(t, res), nil
	case lo == OidDate && res == OidDate:
		t, err := StoredTime(ls, lo)
		if err != nil {
			return nil, err
		}
		n, _ := strconv.Atoi(rs)
		if op == "-" {
			n = -n
		}
		return FormatTime(t.AddDate(0, 0, n), OidDate), nil
	case isTimeType(lo) && isTimeType(ro):
		a, err := StoredTime(ls, lo)
		if err != nil {
			return nil, err
		}
		b, err := StoredTime(rs, ro)
		if err != nil {
			return nil, err
		}
		d := a.Sub(b)
		if res == OidInt4 {
			return int64(d / (24 * time.Hour)), nil
		}
		days := int32(d / (24 * time.Hour))
		return Interval{Days: days, Micros: int64(d%(24*time.Hour)) / 1000}.String(), nil
	case lo == OidInterval && ro == OidInterval:
		a, err := ParseInterval(ls)
		if err != nil {
			return nil, err
		}
		b, err := ParseInterval(rs)
		if err != nil {
			return nil, err
		}
		if op == "-" {
			b = Interval{-b.Months, -b.Days, -b.Micros}
		}
		return Interval{a.Months + b.Months, a.Days + b.Days, a.Micros + b.Micros}.String(), nil
	case lo == OidInterval && isTimeType(ro):
		return dateArith(op, r, ro, l, lo, res)
	case lo == OidInterval && op == "*":
		a, err := ParseInterval(ls)
		if err != nil {
			return nil, err
		}
		f, _ := strconv.ParseFloat(rs, 64)
		return Interval{int32(float64(a.Months) * f), int32(float64(a.Days) * f), int64(float64(a.Micros) * f)}.String(), nil
	}
	return nil, Errorf(CodeUndefinedFunction, "operator does not exist for these date/time types")
}
