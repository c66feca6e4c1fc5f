package sqltrans

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"
)

// dynamicValue marks a literal whose value depends on the time of
// execution ('now', 'today').
type dynamicValue struct{}

// Dynamic is returned by Coerce for literals that must be evaluated when
// the statement runs.
var Dynamic any = dynamicValue{}

func invalidText(typ, s string) *Error {
	return Errorf(CodeInvalidText, "invalid input syntax for type %s: \"%s\"", typ, s)
}

// Coerce converts PostgreSQL text input for type oid into the value rewire
// stores in SQLite. It returns an *Error with SQLSTATE 22xxx for bad input.
func Coerce(s string, oid uint32, typmod int32) (any, error) {
	switch oid {
	case OidInt2, OidInt4, OidInt8, OidOid:
		return parseInt(strings.TrimSpace(s), oid)
	case OidFloat4, OidFloat8:
		return parseFloat(strings.TrimSpace(s), oid)
	case OidNumeric:
		return parseNumeric(strings.TrimSpace(s), typmod)
	case OidBool:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "t", "true", "yes", "y", "on", "1":
			return int64(1), nil
		case "f", "false", "no", "n", "off", "0":
			return int64(0), nil
		}
		return nil, invalidText("boolean", s)
	case OidBytea:
		return parseBytea(s)
	case OidUUID:
		return parseUUID(s)
	case OidDate, OidTimestamp, OidTimestamptz, OidTime:
		low := strings.ToLower(strings.TrimSpace(s))
		if low == "now" || low == "today" || low == "tomorrow" || low == "yesterday" || low == "current_timestamp" {
			return Dynamic, nil
		}
		return ParseTime(s, oid)
	case OidInterval:
		iv, err := ParseInterval(s)
		if err != nil {
			return nil, err
		}
		return iv.String(), nil
	case OidJSON:
		if !json.Valid([]byte(s)) {
			return nil, invalidText("json", s)
		}
		return s, nil
	case OidJSONB:
		return NormalizeJSONB(s)
	case OidVarchar:
		if typmod > 4 && len([]rune(s)) > int(typmod-4) {
			return nil, Errorf(CodeStringTooLong, "value too long for type character varying(%d)", typmod-4)
		}
		return s, nil
	case OidBpchar:
		if typmod > 4 {
			n := int(typmod - 4)
			r := []rune(strings.TrimRight(s, " "))
			if len(r) > n {
				return nil, Errorf(CodeStringTooLong, "value too long for type character(%d)", n)
			}
			return string(r) + strings.Repeat(" ", n-len(r)), nil
		}
		return s, nil
	}
	if t := Types[oid]; t != nil && t.Elem != 0 {
		elems, err := ParseArray(s)
		if err != nil {
			return nil, err
		}
		out := make([]any, len(elems))
		for i, e := range elems {
			if e == nil {
				continue
			}
			v, err := Coerce(*e, t.Elem, -1)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return FormatArray(out, t.Elem), nil
	}
	return s, nil
}

func parseInt(s string, oid uint32) (any, error) {
	name, bits := intType(oid)
	n, err := strconv.ParseInt(s, 10, bits)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return nil, Errorf(CodeNumericRange, "value \"%s\" is out of range for type %s", s, name)
		}
		return nil, invalidText(name, s)
	}
	return n, nil
}

// intType is the SQL name and the width in bits of an integer type.
// (parseInt runs for every integer parameter and COPY field, so no map
// is built per call.)
func intType(oid uint32) (string, int) {
	switch oid {
	case OidInt2:
		return "smallint", 16
	case OidInt4:
		return "integer", 32
	case OidOid:
		return "oid", 64
	}
	return "bigint", 64
}

func parseFloat(s string, oid uint32) (any, error) {
	name := "double precision"
	if oid == OidFloat4 {
		name = "real"
	}
	switch strings.ToLower(s) {
	case "nan":
		return math.NaN(), nil
	case "infinity", "inf", "+infinity":
		return math.Inf(1), nil
	case "-infinity", "-inf":
		return math.Inf(-1), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return nil, Errorf(CodeNumericRange, "\"%s\" is out of range for type %s", s, name)
		}
		return nil, invalidText(name, s)
	}
	return f, nil
}

func parseNumeric(s string, typmod int32) (any, error) {
	if v, ok := plainNumeric(s, typmod); ok {
		return v, nil
	}
	d, ok := parseDecimal(s)
	if !ok {
		return nil, invalidText("numeric", s)
	}
	if typmod > 4 {
		return roundDecimal(d, typmod)
	}
	if !d.nan && d.scale == 0 && d.coef.IsInt64() {
		return d.coef.Int64(), nil
	}
	return d.String(), nil
}

// plainNumeric is parseNumeric's fast path for plain decimal text (no
// exponent, no spaces) that needs no rounding: most of what COPY and
// INSERT bring. It reports false for anything else.
func plainNumeric(s string, typmod int32) (any, bool) {
	p, ok := splitPlain(s)
	if !ok || p.nan || s == "" || s[0] == '+' {
		return nil, false
	}
	frac := "" // the fraction as written, zeros kept
	if i := strings.IndexByte(s, '.'); i >= 0 {
		frac = s[i+1:]
	}
	neg := p.neg
	ip := p.ip
	if ip == "" {
		ip = "0"
	}
	if typmod < 0 {
		if frac == "" {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return n, true
			}
		}
		if strings.Trim(ip+frac, "0") == "" {
			neg = false
		}
		out := ip
		if frac != "" {
			out += "." + frac
		}
		if neg {
			out = "-" + out
		}
		return out, true
	}
	prec := int((typmod - 4) >> 16)
	sc := int((typmod - 4) & 0xffff)
	if len(frac) > sc {
		return nil, false // needs rounding
	}
	if p.ip != "" && len(p.ip) > prec-sc {
		return nil, false // the slow path reports the overflow
	}
	if strings.Trim(ip+frac, "0") == "" {
		neg = false
	}
	out := ip
	if sc > 0 {
		out += "." + frac + strings.Repeat("0", sc-len(frac))
	}
	if neg {
		out = "-" + out
	}
	return out, true
}

// RoundNumeric rounds decimal text to the scale of a numeric(p,s) typmod
// and checks its precision.
func RoundNumeric(s string, typmod int32) (string, error) {
	d, ok := parseDecimal(s)
	if !ok {
		return "", invalidText("numeric", s)
	}
	return roundDecimal(d, typmod)
}

func roundDecimal(d *decimal, typmod int32) (string, error) {
	p := int((typmod - 4) >> 16)
	sc := int32((typmod - 4) & 0xffff)
	if d.nan {
		return "NaN", nil
	}
	r := d.rescaled(sc)
	digits := len(new(big.Int).Abs(&r.coef).String())
	if r.coef.Sign() != 0 && digits-int(sc) > p-int(sc) {
		return "", &Error{Code: CodeNumericRange, Message: "numeric field overflow",
			Detail: fmt.Sprintf("A field with precision %d, scale %d must round to an absolute value less than 10^%d.", p, sc, p-int(sc))}
	}
	return r.String(), nil
}

func parseBytea(s string) (any, error) {
	if strings.HasPrefix(s, `\x`) {
		b, err := hex.DecodeString(s[2:])
		if err != nil {
			return nil, invalidText("bytea", s)
		}
		return b, nil
	}
	// Escape format: \\ and \ooo.
	var out []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			out = append(out, s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '\\' {
			out = append(out, '\\')
			i++
			continue
		}
		if i+3 < len(s) {
			n, err := strconv.ParseUint(s[i+1:i+4], 8, 8)
			if err == nil {
				out = append(out, byte(n))
				i += 3
				continue
			}
		}
		return nil, invalidText("bytea", s)
	}
	if out == nil {
		out = []byte{}
	}
	return out, nil
}

func parseUUID(s string) (any, error) {
	h := strings.NewReplacer("-", "", "{", "", "}", "").Replace(strings.TrimSpace(s))
	if len(h) != 32 {
		return nil, invalidText("uuid", s)
	}
	if _, err := hex.DecodeString(h); err != nil {
		return nil, invalidText("uuid", s)
	}
	h = strings.ToLower(h)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

// Time layouts rewire stores: they sort as text in time order.
const (
	layoutDate        = "2006-01-02"
	layoutTimestamp   = "2006-01-02 15:04:05.999999"
	layoutTimestamptz = "2006-01-02 15:04:05.999999-07"
	layoutTime        = "15:04:05.999999"
)

var inputLayouts = []string{
	"2006-01-02 15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999-07", "2006-01-02T15:04:05.999999999-07",
	"2006-01-02 15:04:05.999999999-0700", "2006-01-02 15:04:05.999999999 -07:00",
	"2006-01-02 15:04:05.999999999Z", "2006-01-02T15:04:05.999999999Z",
	"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02",
	"2006-01-02 15:04:05.999999999 MST", "Mon Jan 2 15:04:05 2006",
	"January 2, 2006", "Jan 2, 2006", "02 Jan 2006",
}

// ParseTime parses date/time input and returns the stored text form.
func ParseTime(s string, oid uint32) (any, error) {
	in := strings.TrimSpace(s)
	name := Types[oid].Name
	low := strings.ToLower(in)
	switch low {
	case "infinity", "-infinity":
		return low, nil
	case "epoch":
		in = "1970-01-01 00:00:00+00"
	}
	if oid == OidTime {
		for _, l := range []string{"15:04:05.999999999", "15:04", "15:04:05.999999999Z07:00", "15:04:05.999999999-07"} {
			if tm, err := time.Parse(l, in); err == nil {
				return tm.Format(layoutTime), nil
			}
		}
		return nil, &Error{Code: CodeInvalidDatetime, Message: fmt.Sprintf("invalid input syntax for type %s: \"%s\"", name, s)}
	}
	in = strings.TrimSuffix(in, " UTC")
	in = strings.TrimSuffix(in, " GMT")
	if storedForm(in, oid) {
		return in, nil // already as FormatTime would write it
	}
	if tm, ok := parseISOTime(in); ok {
		return FormatTime(tm, oid), nil
	}
	var tm time.Time
	var err error
	for _, l := range inputLayouts {
		tm, err = time.Parse(l, in)
		if err == nil {
			break
		}
	}
	if err != nil {
		return nil, &Error{Code: CodeInvalidDatetime, Message: fmt.Sprintf("invalid input syntax for type %s: \"%s\"", name, s)}
	}
	return FormatTime(tm, oid), nil
}

// storedForm reports whether s is a valid date, timestamp or (UTC)
// timestamptz written exactly as rewire stores it ("2006-01-02",
// "2006-01-02 15:04:05[.ffffff]" and the same with "+00"), so that COPY,
// which mostly brings such text, keeps it without parsing and formatting.
func storedForm(s string, oid uint32) bool {
	switch oid {
	case OidDate:
	case OidTimestamp:
	case OidTimestamptz:
		var ok bool
		if s, ok = strings.CutSuffix(s, "+00"); !ok {
			return false
		}
	default:
		return false
	}
	num := func(b string) (int, bool) {
		n := 0
		for i := 0; i < len(b); i++ {
			if b[i] < '0' || b[i] > '9' {
				return 0, false
			}
			n = n*10 + int(b[i]-'0')
		}
		return n, true
	}
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	y, ok1 := num(s[0:4])
	m, ok2 := num(s[5:7])
	d, ok3 := num(s[8:10])
	if !ok1 || !ok2 || !ok3 || y < 1 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return false
	}
	if oid == OidDate {
		return len(s) == 10
	}
	if len(s) < 19 || s[10] != ' ' || s[13] != ':' || s[16] != ':' {
		return false
	}
	h, ok1 := num(s[11:13])
	mi, ok2 := num(s[14:16])
	sec, ok3 := num(s[17:19])
	if !ok1 || !ok2 || !ok3 || h > 23 || mi > 59 || sec > 59 {
		return false
	}
	frac := s[19:]
	if frac == "" {
		return true
	}
	// A fraction of 1 to 6 digits without a trailing zero, as ".999999"
	// writes it.
	if frac[0] != '.' || len(frac) < 2 || len(frac) > 7 || frac[len(frac)-1] == '0' {
		return false
	}
	_, ok := num(frac[1:])
	return ok
}

func daysIn(y, m int) int {
	return time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// parseISOTime parses the common "2006-01-02 15:04:05[.frac][±hh[:mm]]"
// form with the one layout its shape calls for (COPY's hot path); ok is
// false for any other form.
func parseISOTime(in string) (time.Time, bool) {
	if len(in) < 19 || in[4] != '-' || in[7] != '-' || in[10] != ' ' || in[13] != ':' {
		return time.Time{}, false
	}
	layout := "2006-01-02 15:04:05.999999999"
	n := len(in)
	switch {
	case n >= 22 && (in[n-3] == '+' || in[n-3] == '-'):
		layout += "-07"
	case n >= 25 && (in[n-6] == '+' || in[n-6] == '-') && in[n-3] == ':':
		layout += "Z07:00"
	case in[n-1] == 'Z':
		layout += "Z"
	}
	tm, err := time.Parse(layout, in)
	return tm, err == nil
}

// FormatTime formats t as rewire stores type oid.
func FormatTime(t time.Time, oid uint32) string {
	switch oid {
	case OidDate:
		return t.Format(layoutDate)
	case OidTimestamp:
		return t.Format(layoutTimestamp)
	case OidTime:
		return t.Format(layoutTime)
	}
	return t.UTC().Format(layoutTimestamptz)
}

// StoredTime parses a stored date/time value back into a time.Time.
func StoredTime(v string, oid uint32) (time.Time, error) {
	switch oid {
	case OidDate:
		return time.Parse(layoutDate, v)
	case OidTime:
		return time.Parse(layoutTime, v)
	}
	for _, l := range inputLayouts {
		if tm, err := time.Parse(l, v); err == nil {
			return tm, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad stored time %q", v)
}

// Interval is a PostgreSQL interval.
type Interval struct {
	Months int32
	Days   int32
	Micros int64
}

// ParseInterval parses the common PostgreSQL interval spellings.
func ParseInterval(s string) (Interval, error) {
	var iv Interval
	bad := &Error{Code: CodeInvalidDatetime, Message: fmt.Sprintf("invalid input syntax for type interval: \"%s\"", s)}
	f := strings.Fields(strings.ToLower(strings.TrimSpace(s)))
	if len(f) == 0 {
		return iv, bad
	}
	ago := false
	if f[len(f)-1] == "ago" {
		ago = true
		f = f[:len(f)-1]
	}
	for i := 0; i < len(f); i++ {
		tok := f[i]
		if strings.Contains(tok, ":") {
			neg := strings.HasPrefix(tok, "-")
			tok = strings.TrimLeft(tok, "+-")
			parts := strings.Split(tok, ":")
			var h, m int64
			var sec float64
			var err error
			if h, err = strconv.ParseInt(parts[0], 10, 64); err != nil {
				return iv, bad
			}
			if len(parts) > 1 {
				if m, err = strconv.ParseInt(parts[1], 10, 64); err != nil {
					return iv, bad
				}
			}
			if len(parts) > 2 {
				if sec, err = strconv.ParseFloat(parts[2], 64); err != nil {
					return iv, bad
				}
			}
			us := h*3600e6 + m*60e6 + int64(math.Round(sec*1e6))
			if neg {
				us = -us
			}
			iv.Micros += us
			continue
		}
		num, err := strconv.ParseFloat(strings.TrimPrefix(tok, "@"), 64)
		unit := ""
		if err != nil {
			// "1day" style: split digits from the unit.
			j := strings.IndexFunc(tok, func(r rune) bool { return (r < '0' || r > '9') && r != '.' && r != '-' && r != '+' })
			if j <= 0 {
				return iv, bad
			}
			if num, err = strconv.ParseFloat(tok[:j], 64); err != nil {
				return iv, bad
			}
			unit = tok[j:]
		} else if i+1 < len(f) {
			i++
			unit = f[i]
		} else {
			unit = "second"
		}
		unit = strings.TrimSuffix(unit, ",")
		switch strings.TrimSuffix(unit, "s") {
		case "year", "yr", "y":
			iv.Months += int32(num * 12)
		case "mon", "month", "mo":
			iv.Months += int32(num)
		case "week", "w":
			iv.Days += int32(num * 7)
		case "day", "d":
			iv.Days += int32(num)
		case "hour", "hr", "h":
			iv.Micros += int64(num * 3600e6)
		case "minute", "min", "m":
			iv.Micros += int64(num * 60e6)
		case "second", "sec", "":
			iv.Micros += int64(math.Round(num * 1e6))
		case "millisecond":
			iv.Micros += int64(num * 1e3)
		case "microsecond":
			iv.Micros += int64(num)
		default:
			if unit == "ms" || unit == "msec" || unit == "msecs" || unit == "milliseconds" {
				iv.Micros += int64(num * 1e3)
				continue
			}
			return iv, bad
		}
	}
	if ago {
		iv = Interval{-iv.Months, -iv.Days, -iv.Micros}
	}
	return iv, nil
}

// String formats the interval as PostgreSQL's default output style does.
func (iv Interval) String() string {
	var parts []string
	plural := func(n int64, unit string) string {
		if n == 1 || n == -1 {
			return strconv.FormatInt(n, 10) + " " + unit
		}
		return strconv.FormatInt(n, 10) + " " + unit + "s"
	}
	if y := iv.Months / 12; y != 0 {
		parts = append(parts, plural(int64(y), "year"))
	}
	if m := iv.Months % 12; m != 0 {
		parts = append(parts, plural(int64(m), "mon"))
	}
	if iv.Days != 0 {
		parts = append(parts, plural(int64(iv.Days), "day"))
	}
	if iv.Micros != 0 || len(parts) == 0 {
		us := iv.Micros
		sign := ""
		if us < 0 {
			sign = "-"
			us = -us
		}
		h := us / 3600e6
		m := (us / 60e6) % 60
		sec := us % 60e6
		t := fmt.Sprintf("%s%02d:%02d:%02d", sign, h, m, sec/1e6)
		if frac := sec % 1e6; frac != 0 {
			t += strings.TrimRight(fmt.Sprintf(".%06d", frac), "0")
		}
		parts = append(parts, t)
	}
	return strings.Join(parts, " ")
}

// NormalizeJSONB validates JSON text and formats it as PostgreSQL prints
// jsonb: object keys sorted by length then bytes, last duplicate wins,
// ", " and ": " separators.
func NormalizeJSONB(s string) (string, error) {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return "", invalidText("json", s)
	}
	if d.More() {
		return "", invalidText("json", s)
	}
	var b bytes.Buffer
	writeJSONB(&b, v)
	return b.String(), nil
}

func writeJSONB(b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if len(keys[i]) != len(keys[j]) {
				return len(keys[i]) < len(keys[j])
			}
			return keys[i] < keys[j]
		})
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			kb, _ := json.Marshal(k)
			b.Write(kb)
			b.WriteString(": ")
			writeJSONB(b, x[k])
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeJSONB(b, e)
		}
		b.WriteByte(']')
	case string:
		enc := json.NewEncoder(b)
		enc.SetEscapeHTML(false)
		enc.Encode(x)
		b.Truncate(b.Len() - 1)
	case json.Number:
		b.WriteString(x.String())
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case nil:
		b.WriteString("null")
	}
}

// ParseArray splits a one-dimensional PostgreSQL array literal into its
// elements; a nil element is NULL.
func ParseArray(s string) ([]*string, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, Errorf(CodeInvalidText, "malformed array literal: \"%s\"", s)
	}
	body := s[1 : len(s)-1]
	var out []*string
	if strings.TrimSpace(body) == "" {
		return out, nil
	}
	i := 0
	for {
		for i < len(body) && body[i] == ' ' {
			i++
		}
		var elem strings.Builder
		quoted := false
		if i < len(body) && body[i] == '"' {
			quoted = true
			i++
			for i < len(body) && body[i] != '"' {
				if body[i] == '\\' && i+1 < len(body) {
					i++
				}
				elem.WriteByte(body[i])
				i++
			}
			if i >= len(body) {
				return nil, Errorf(CodeInvalidText, "malformed array literal: \"%s\"", s)
			}
			i++
		} else {
			for i < len(body) && body[i] != ',' {
				if body[i] == '{' || body[i] == '"' {
					return nil, Errorf(CodeFeature, "multidimensional arrays are not supported")
				}
				if body[i] == '\\' && i+1 < len(body) {
					i++
				}
				elem.WriteByte(body[i])
				i++
			}
		}
		v := strings.TrimRight(elem.String(), " ")
		if quoted {
			v = elem.String()
		}
		if !quoted && strings.EqualFold(v, "null") {
			out = append(out, nil)
		} else {
			out = append(out, &v)
		}
		for i < len(body) && body[i] == ' ' {
			i++
		}
		if i >= len(body) {
			break
		}
		if body[i] != ',' {
			return nil, Errorf(CodeInvalidText, "malformed array literal: \"%s\"", s)
		}
		i++
	}
	return out, nil
}

// FormatArray formats stored element values as a PostgreSQL array literal.
func FormatArray(elems []any, elem uint32) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range elems {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(ArrayItem(e, elem))
	}
	b.WriteByte('}')
	return b.String()
}

// ArrayItem formats one stored value as an array element, quoting it
// where PostgreSQL would.
func ArrayItem(v any, elem uint32) string {
	s, ok := FormatText(v, elem, -1)
	if !ok {
		return "NULL"
	}
	if s == "" || strings.EqualFold(s, "null") || strings.ContainsAny(s, "{},\"\\ \t\n") {
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
	}
	return s
}

// FormatText converts a stored SQLite value to PostgreSQL text output for
// type oid. ok is false for NULL.
func FormatText(v any, oid uint32, typmod int32) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case int64:
		switch oid {
		case OidBool:
			if x != 0 {
				return "t", true
			}
			return "f", true
		case OidNumeric:
			if typmod > 4 {
				if sc := int((typmod - 4) & 0xffff); sc > 0 {
					return strconv.FormatInt(x, 10) + "." + strings.Repeat("0", sc), true
				}
			}
		case OidBytea:
			return `\x` + hex.EncodeToString([]byte(strconv.FormatInt(x, 10))), true
		}
		return strconv.FormatInt(x, 10), true
	case float64:
		switch oid {
		case OidInt2, OidInt4, OidInt8:
			return strconv.FormatInt(int64(math.RoundToEven(x)), 10), true
		case OidBool:
			if x != 0 {
				return "t", true
			}
			return "f", true
		case OidFloat4:
			return formatFloat(x, 32), true
		case OidNumeric:
			if typmod > 4 {
				return strconv.FormatFloat(x, 'f', int((typmod-4)&0xffff), 64), true
			}
			if math.IsNaN(x) {
				return "NaN", true
			}
			return strconv.FormatFloat(x, 'f', -1, 64), true
		}
		return formatFloat(x, 64), true
	case []byte:
		if oid == OidBytea {
			return `\x` + hex.EncodeToString(x), true
		}
		return string(x), true
	case string:
		switch oid {
		case OidBytea:
			return `\x` + hex.EncodeToString([]byte(x)), true
		case OidBool:
			switch x {
			case "1", "t", "true":
				return "t", true
			case "0", "f", "false":
				return "f", true
			}
		case OidNumeric:
			if typmod > 4 {
				if r, err := RoundNumeric(x, typmod); err == nil {
					return r, true
				}
			}
		}
		return x, true
	case bool:
		if x {
			return "t", true
		}
		return "f", true
	case time.Time:
		return FormatTime(x, oid), true
	}
	return fmt.Sprint(v), true
}

func formatFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	s := strconv.FormatFloat(f, 'g', -1, bits)
	// PostgreSQL switches to exponent form at 1e15 and below 1e-4.
	if strings.Contains(s, "e") {
		abs := math.Abs(f)
		if abs >= 1e-4 && abs < 1e15 {
			s = strconv.FormatFloat(f, 'f', -1, bits)
		}
	} else if abs := math.Abs(f); abs >= 1e15 && bits == 64 || abs >= 1e6 && bits == 32 {
		s = strconv.FormatFloat(f, 'e', -1, bits)
	}
	return s
}

// SQLLiteral formats a stored value as a SQLite literal.
func SQLLiteral(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		if math.IsInf(x, 1) {
			return "9e999"
		}
		if math.IsInf(x, -1) {
			return "-9e999"
		}
		if math.IsNaN(x) {
			return "NULL"
		}
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		return s
	case []byte:
		return "X'" + hex.EncodeToString(x) + "'"
	case string:
		return qs(x)
	}
	return qs(fmt.Sprint(v))
}
