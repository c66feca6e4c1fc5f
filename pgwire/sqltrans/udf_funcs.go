package sqltrans

import (
	"bytes"
	"database/sql/driver"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // AT TIME ZONE needs the zone database on any host
	"unicode"
	"unicode/utf8"

	"modernc.org/sqlite"
)

// The string, math, date, JSON and array functions the translator maps
// PostgreSQL's common functions to (simpleFuncs and the JSON and array
// operators).
func init() {
	reg := func(name string, n int32, f func(a []driver.Value) (driver.Value, error)) {
		sqlite.MustRegisterDeterministicScalarFunction(name, n, func(_ *sqlite.FunctionContext, a []driver.Value) (driver.Value, error) {
			for _, v := range a {
				if v == nil {
					return nil, nil // strict, as these functions are in PostgreSQL
				}
			}
			return f(a)
		})
	}

	// Math. Integers stay integers where PostgreSQL keeps the type.
	rounder := func(f func(float64) float64) func(a []driver.Value) (driver.Value, error) {
		return func(a []driver.Value) (driver.Value, error) {
			x, isInt := num(a[0])
			if isInt {
				return a[0], nil
			}
			return f(x), nil
		}
	}
	reg("pgw_ceil", 1, rounder(math.Ceil))
	reg("pgw_floor", 1, rounder(math.Floor))
	reg("pgw_trunc", -1, func(a []driver.Value) (driver.Value, error) {
		return roundDigits(a, math.Trunc)
	})
	float1 := func(name string, f func(float64) (float64, *Error)) {
		reg(name, 1, func(a []driver.Value) (driver.Value, error) {
			x, _ := num(a[0])
			r, err := f(x)
			if err != nil {
				return nil, udfError(err)
			}
			return r, nil
		})
	}
	float1("pgw_sqrt", func(x float64) (float64, *Error) {
		if x < 0 {
			return 0, Errorf("2201F", "cannot take square root of a negative number")
		}
		return math.Sqrt(x), nil
	})
	float1("pgw_exp", func(x float64) (float64, *Error) { return math.Exp(x), nil })
	logOf := func(x float64, f func(float64) float64) (float64, *Error) {
		if x == 0 {
			return 0, Errorf("2201E", "cannot take logarithm of zero")
		}
		if x < 0 {
			return 0, Errorf("2201E", "cannot take logarithm of a negative number")
		}
		return f(x), nil
	}
	float1("pgw_ln", func(x float64) (float64, *Error) { return logOf(x, math.Log) })
	reg("pgw_log10", -1, func(a []driver.Value) (driver.Value, error) {
		if len(a) == 2 { // log(base, x)
			b, _ := num(a[0])
			x, _ := num(a[1])
			lb, err := logOf(b, math.Log)
			if err != nil {
				return nil, udfError(err)
			}
			lx, err := logOf(x, math.Log)
			if err != nil {
				return nil, udfError(err)
			}
			return lx / lb, nil
		}
		x, _ := num(a[0])
		r, err := logOf(x, math.Log10)
		if err != nil {
			return nil, udfError(err)
		}
		return r, nil
	})

	// Strings.
	reg("pgw_reverse", 1, func(a []driver.Value) (driver.Value, error) {
		r := []rune(toString(a[0]))
		for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
		return string(r), nil
	})
	pad := func(left bool) func(a []driver.Value) (driver.Value, error) {
		return func(a []driver.Value) (driver.Value, error) {
			s := []rune(toString(a[0]))
			n := int(asInt(a[1]))
			fill := []rune(" ")
			if len(a) > 2 {
				fill = []rune(toString(a[2]))
			}
			if n < 0 {
				n = 0
			}
			if n > 64<<20 {
				return nil, udfError(Errorf(CodeProgramLimit, "requested length too large"))
			}
			if len(s) >= n {
				return string(s[:n]), nil
			}
			if len(fill) == 0 {
				return string(s), nil
			}
			p := make([]rune, 0, n-len(s))
			for i := 0; len(p) < n-len(s); i++ {
				p = append(p, fill[i%len(fill)])
			}
			if left {
				return string(p) + string(s), nil
			}
			return string(s) + string(p), nil
		}
	}
	reg("pgw_lpad", -1, pad(true))
	reg("pgw_rpad", -1, pad(false))
	reg("pgw_initcap", 1, func(a []driver.Value) (driver.Value, error) {
		var b strings.Builder
		start := true
		for _, r := range toString(a[0]) {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				if start {
					b.WriteRune(unicode.ToUpper(r))
				} else {
					b.WriteRune(unicode.ToLower(r))
				}
				start = false
			} else {
				b.WriteRune(r)
				start = true
			}
		}
		return b.String(), nil
	})
	reg("pgw_to_hex", 1, func(a []driver.Value) (driver.Value, error) {
		n := asInt(a[0])
		return strconv.FormatUint(uint64(n), 16), nil
	})

	// Dates and times.
	reg("pgw_make_date", 3, func(a []driver.Value) (driver.Value, error) {
		y, m, d := int(asInt(a[0])), int(asInt(a[1])), int(asInt(a[2]))
		t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
		if t.Year() != y || int(t.Month()) != m || t.Day() != d {
			return nil, udfError(Errorf(CodeDatetimeOverflow, "date field value out of range: %d-%02d-%02d", y, m, d))
		}
		return t.Format(layoutDate), nil
	})
	reg("pgw_to_timestamp", -1, func(a []driver.Value) (driver.Value, error) {
		if len(a) == 1 {
			x, _ := num(a[0])
			sec, frac := math.Modf(x)
			t := time.Unix(int64(sec), int64(math.Round(frac*1e6))*1000)
			return FormatTime(t, OidTimestamptz), nil
		}
		t, err := parseWithFormat(toString(a[0]), toString(a[1]))
		if err != nil {
			return nil, udfError(err)
		}
		return FormatTime(t, OidTimestamptz), nil
	})
	reg("pgw_age", -1, func(a []driver.Value) (driver.Value, error) {
		var t1, t2 time.Time
		var err error
		if len(a) == 1 {
			now := time.Now().UTC()
			t1 = time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
			t2, err = anyTime(a[0])
		} else {
			if t1, err = anyTime(a[0]); err == nil {
				t2, err = anyTime(a[1])
			}
		}
		if err != nil {
			return nil, udfError(err)
		}
		return age(t1, t2).String(), nil
	})
	reg("pgw_to_char", 2, func(a []driver.Value) (driver.Value, error) {
		f := toString(a[1])
		switch v := a[0].(type) {
		case int64, float64:
			x, _ := num(v)
			return toCharNumber(x, f), nil
		case string:
			if t, err := anyTime(v); err == nil {
				return toCharTime(t, f, v), nil
			}
			if iv, err := ParseInterval(v); err == nil {
				return toCharTime(time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(iv.Micros)*time.Microsecond), f, v), nil
			}
			if x, err := strconv.ParseFloat(v, 64); err == nil {
				return toCharNumber(x, f), nil
			}
		}
		return nil, udfError(Errorf(CodeInvalidText, "invalid input for to_char"))
	})

	// JSON.
	reg("pgw_json_extract", -1, func(a []driver.Value) (driver.Value, error) {
		return jsonPathValue(a[0], jsonPathArgs(a[1:]), false)
	})
	reg("pgw_json_extract_text", -1, func(a []driver.Value) (driver.Value, error) {
		return jsonPathValue(a[0], jsonPathArgs(a[1:]), true)
	})
	reg("pgw_json_path", 3, func(a []driver.Value) (driver.Value, error) {
		p, err := ParseArray(toString(a[1]))
		if err != nil {
			return nil, udfError(Errorf(CodeInvalidText, "malformed array literal: \"%s\"", toString(a[1])))
		}
		var path []string
		for _, e := range p {
			if e == nil {
				return nil, nil
			}
			path = append(path, *e)
		}
		return jsonPathValue(a[0], path, asInt(a[2]) != 0)
	})
	reg("pgw_jsonb_concat", 2, func(a []driver.Value) (driver.Value, error) {
		x, err1 := decodeJSON(a[0])
		y, err2 := decodeJSON(a[1])
		if err1 != nil || err2 != nil {
			return nil, udfError(Errorf(CodeInvalidText, "invalid input syntax for type json"))
		}
		xo, ok1 := x.(map[string]any)
		yo, ok2 := y.(map[string]any)
		var out any
		switch {
		case ok1 && ok2:
			for k, v := range yo {
				xo[k] = v
			}
			out = xo
		default:
			out = append(asJSONArray(x), asJSONArray(y)...)
		}
		return encodeJSONB(out)
	})
	reg("pgw_jsonb_delete", 2, func(a []driver.Value) (driver.Value, error) {
		x, err := decodeJSON(a[0])
		if err != nil {
			return nil, udfError(Errorf(CodeInvalidText, "invalid input syntax for type json"))
		}
		var keys []string
		if i, ok := a[1].(int64); ok {
			arr, isArr := x.([]any)
			if !isArr {
				return nil, udfError(Errorf(CodeInvalidParameter, "cannot delete from object using integer index"))
			}
			if i < 0 {
				i += int64(len(arr))
			}
			if i >= 0 && i < int64(len(arr)) {
				arr = append(arr[:i:i], arr[i+1:]...)
			}
			return encodeJSONB(arr)
		}
		s := toString(a[1])
		if strings.HasPrefix(s, "{") {
			p, err := ParseArray(s)
			if err == nil {
				for _, e := range p {
					if e != nil {
						keys = append(keys, *e)
					}
				}
			}
		} else {
			keys = []string{s}
		}
		switch v := x.(type) {
		case map[string]any:
			for _, k := range keys {
				delete(v, k)
			}
		case []any:
			var kept []any
			for _, e := range v {
				if s, ok := e.(string); ok && contains(keys, s) {
					continue
				}
				kept = append(kept, e)
			}
			x = kept
			if kept == nil {
				x = []any{}
			}
		default:
			return nil, udfError(Errorf(CodeInvalidParameter, "cannot delete from scalar"))
		}
		return encodeJSONB(x)
	})
	reg("pgw_jsonb_set", -1, func(a []driver.Value) (driver.Value, error) {
		x, err1 := decodeJSON(a[0])
		val, err2 := decodeJSON(a[2])
		if err1 != nil || err2 != nil {
			return nil, udfError(Errorf(CodeInvalidText, "invalid input syntax for type json"))
		}
		p, err := ParseArray(toString(a[1]))
		if err != nil {
			return nil, udfError(Errorf(CodeInvalidText, "malformed array literal"))
		}
		create := len(a) < 4 || asInt(a[3]) != 0
		var path []string
		for _, e := range p {
			if e == nil {
				return nil, udfError(Errorf(CodeInvalidParameter, "path element must not be null"))
			}
			path = append(path, *e)
		}
		return encodeJSONB(jsonSet(x, path, val, create))
	})
	reg("pgw_jsonb_strip_nulls", 1, func(a []driver.Value) (driver.Value, error) {
		x, err := decodeJSON(a[0])
		if err != nil {
			return nil, udfError(Errorf(CodeInvalidText, "invalid input syntax for type json"))
		}
		return encodeJSONB(stripNulls(x))
	})
	reg("pgw_jsonb_pretty", 1, func(a []driver.Value) (driver.Value, error) {
		n, err := NormalizeJSONB(toString(a[0]))
		if err != nil {
			return nil, udfError(err)
		}
		var b bytes.Buffer
		if err := json.Indent(&b, []byte(n), "", "    "); err != nil {
			return n, nil
		}
		return b.String(), nil
	})

	// pg_sleep: a deadline, then steps of at most 10 ms, so that a
	// cancelled statement stops between steps (see funcs.go).
	sqlite.MustRegisterScalarFunction("pgw_deadline", 1, func(_ *sqlite.FunctionContext, a []driver.Value) (driver.Value, error) {
		x, _ := num(a[0])
		if x > 86400 {
			x = 86400
		}
		return time.Now().UnixMicro() + int64(x*1e6), nil
	})
	sqlite.MustRegisterScalarFunction("pgw_sleep_step", 1, func(_ *sqlite.FunctionContext, a []driver.Value) (driver.Value, error) {
		left := time.Duration(asInt(a[0])-time.Now().UnixMicro()) * time.Microsecond
		if left <= 0 {
			return int64(0), nil
		}
		time.Sleep(min(left, 10*time.Millisecond))
		return int64(1), nil
	})

	reg("pgw_array_json", 2, func(a []driver.Value) (driver.Value, error) {
		elems, err := ParseArray(toString(a[0]))
		if err != nil {
			return nil, udfError(err)
		}
		elem := uint32(asInt(a[1]))
		parts := make([]string, len(elems))
		for i, e := range elems {
			switch {
			case e == nil:
				parts[i] = "null"
			case elem == OidBool:
				parts[i] = strconv.FormatBool(*e == "t" || *e == "true")
			case elem == OidInt2 || elem == OidInt4 || elem == OidInt8 || elem == OidFloat4 || elem == OidFloat8 || elem == OidNumeric:
				if _, err := strconv.ParseFloat(*e, 64); err == nil {
					parts[i] = *e
					continue
				}
				fallthrough
			default:
				b, _ := json.Marshal(*e)
				parts[i] = string(b)
			}
		}
		return "[" + strings.Join(parts, ",") + "]", nil
	})
	reg("pgw_timezone", 3, func(a []driver.Value) (driver.Value, error) {
		loc, err := zoneLocation(toString(a[0]))
		if err != nil {
			return nil, udfError(err)
		}
		if asInt(a[2]) == 1 {
			// timestamp AT TIME ZONE zone: the wall time in zone, as an instant.
			t, err := StoredTime(toString(a[1]), OidTimestamp)
			if err != nil {
				return nil, udfError(Errorf(CodeInvalidDatetime, "invalid timestamp \"%s\"", toString(a[1])))
			}
			w := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), loc)
			return FormatTime(w, OidTimestamptz), nil
		}
		// timestamptz AT TIME ZONE zone: the wall time there.
		t, terr := anyTime(a[1])
		if terr != nil {
			return nil, udfError(terr)
		}
		return FormatTime(t.In(loc), OidTimestamp), nil
	})
	reg("pgw_series_json", 3, func(a []driver.Value) (driver.Value, error) {
		from, to, step := asInt(a[0]), asInt(a[1]), asInt(a[2])
		if step == 0 {
			return nil, udfError(Errorf(CodeInvalidParameter, "step size cannot equal zero"))
		}
		if n := (to-from)/step + 1; n > maxSeriesJSON {
			return nil, udfError(Errorf(CodeProgramLimit, "generate_series in the select list is limited to %d rows", maxSeriesJSON))
		}
		var b strings.Builder
		b.WriteByte('[')
		for v := from; step > 0 && v <= to || step < 0 && v >= to; v += step {
			if b.Len() > 1 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatInt(v, 10))
		}
		b.WriteByte(']')
		return b.String(), nil
	})
	reg("pgw_json_fmt", 2, func(a []driver.Value) (driver.Value, error) {
		return jsonBuildFormat(toString(a[0]), int(asInt(a[1]))), nil
	})

	// Arrays.
	reg("pgw_array_overlap", 2, func(a []driver.Value) (driver.Value, error) {
		x, err1 := ParseArray(toString(a[0]))
		y, err2 := ParseArray(toString(a[1]))
		if err1 != nil || err2 != nil {
			return nil, udfError(Errorf(CodeInvalidText, "malformed array literal"))
		}
		set := map[string]bool{}
		for _, e := range x {
			if e != nil {
				set[*e] = true
			}
		}
		for _, e := range y {
			if e != nil && set[*e] {
				return int64(1), nil
			}
		}
		return int64(0), nil
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// anyTime reads a stored date, timestamp or timestamptz.
func anyTime(v driver.Value) (time.Time, error) {
	s := toString(v)
	for _, oid := range []uint32{OidTimestamptz, OidDate} {
		if t, err := StoredTime(s, oid); err == nil {
			return t, nil
		}
	}
	return time.Time{}, Errorf(CodeInvalidDatetime, "invalid input syntax for type timestamp: \"%s\"", s)
}

// age is PostgreSQL's symbolic difference t1 - t2 in years, months, days
// and time.
func age(t1, t2 time.Time) Interval {
	neg := t1.Before(t2)
	if neg {
		t1, t2 = t2, t1
	}
	y := t1.Year() - t2.Year()
	m := int(t1.Month()) - int(t2.Month())
	d := t1.Day() - t2.Day()
	tod := func(t time.Time) int64 {
		return int64(t.Hour())*3600e6 + int64(t.Minute())*60e6 + int64(t.Second())*1e6 + int64(t.Nanosecond()/1000)
	}
	us := tod(t1) - tod(t2)
	if us < 0 {
		us += 86400e6
		d--
	}
	for d < 0 {
		// Borrow the length of the earlier timestamp's month, as
		// PostgreSQL does.
		d += time.Date(t2.Year(), t2.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
		m--
	}
	if m < 0 {
		m += 12
		y--
	}
	iv := Interval{Months: int32(y*12 + m), Days: int32(d), Micros: us}
	if neg {
		iv = Interval{Months: -iv.Months, Days: -iv.Days, Micros: -iv.Micros}
	}
	return iv
}

// toCharTime formats t with a PostgreSQL to_char template.
func toCharTime(t time.Time, f, raw string) string {
	var b strings.Builder
	fm := false
	pad := func(n, w int) {
		s := strconv.Itoa(n)
		if !fm {
			for len(s) < w {
				s = "0" + s
			}
		}
		b.WriteString(s)
		fm = false
	}
	word := func(s string, w int) {
		if !fm {
			for utf8.RuneCountInString(s) < w {
				s += " "
			}
		}
		b.WriteString(s)
		fm = false
	}
	hour12 := t.Hour() % 12
	if hour12 == 0 {
		hour12 = 12
	}
	for i := 0; i < len(f); {
		rest := f[i:]
		up := strings.ToUpper(rest)
		switch {
		case strings.HasPrefix(up, "FM"):
			fm = true
			i += 2
		case rest[0] == '"':
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				b.WriteString(rest[1:])
				return b.String()
			}
			b.WriteString(rest[1 : end+1])
			i += end + 2
		case strings.HasPrefix(up, "YYYY"):
			pad(t.Year(), 4)
			i += 4
		case strings.HasPrefix(up, "YY"):
			pad(t.Year()%100, 2)
			i += 2
		case strings.HasPrefix(up, "MONTH"):
			s := t.Month().String()
			if rest[:5] == "MONTH" {
				s = strings.ToUpper(s)
			} else if rest[:5] == "month" {
				s = strings.ToLower(s)
			}
			word(s, 9)
			i += 5
		case strings.HasPrefix(up, "MON"):
			s := t.Month().String()[:3]
			if rest[:3] == "MON" {
				s = strings.ToUpper(s)
			} else if rest[:3] == "mon" {
				s = strings.ToLower(s)
			}
			b.WriteString(s)
			i += 3
		case strings.HasPrefix(up, "MM"):
			pad(int(t.Month()), 2)
			i += 2
		case strings.HasPrefix(up, "DAY"):
			s := t.Weekday().String()
			if rest[:3] == "DAY" {
				s = strings.ToUpper(s)
			} else if rest[:3] == "day" {
				s = strings.ToLower(s)
			}
			word(s, 9)
			i += 3
		case strings.HasPrefix(up, "DY"):
			s := t.Weekday().String()[:3]
			if rest[:2] == "DY" {
				s = strings.ToUpper(s)
			} else if rest[:2] == "dy" {
				s = strings.ToLower(s)
			}
			b.WriteString(s)
			i += 2
		case strings.HasPrefix(up, "DDD"):
			pad(t.YearDay(), 3)
			i += 3
		case strings.HasPrefix(up, "DD"):
			pad(t.Day(), 2)
			i += 2
		case strings.HasPrefix(up, "D"):
			pad(int(t.Weekday())+1, 1)
			i++
		case strings.HasPrefix(up, "HH24"):
			pad(t.Hour(), 2)
			i += 4
		case strings.HasPrefix(up, "HH12"):
			pad(hour12, 2)
			i += 4
		case strings.HasPrefix(up, "HH"):
			pad(hour12, 2)
			i += 2
		case strings.HasPrefix(up, "MI"):
			pad(t.Minute(), 2)
			i += 2
		case strings.HasPrefix(up, "SS"):
			pad(t.Second(), 2)
			i += 2
		case strings.HasPrefix(up, "MS"):
			pad(t.Nanosecond()/1e6, 3)
			i += 2
		case strings.HasPrefix(up, "US"):
			pad(t.Nanosecond()/1e3, 6)
			i += 2
		case strings.HasPrefix(up, "AM"), strings.HasPrefix(up, "PM"):
			s := "AM"
			if t.Hour() >= 12 {
				s = "PM"
			}
			if rest[0] == 'a' || rest[0] == 'p' {
				s = strings.ToLower(s)
			}
			b.WriteString(s)
			i += 2
		case strings.HasPrefix(up, "Q"):
			pad((int(t.Month())-1)/3+1, 1)
			i++
		case strings.HasPrefix(up, "TZ"):
			if rest[:2] == "tz" {
				b.WriteString("utc")
			} else {
				b.WriteString("UTC")
			}
			i += 2
		case strings.HasPrefix(up, "OF"):
			b.WriteString("+00")
			i += 2
		default:
			r, n := utf8.DecodeRuneInString(rest)
			b.WriteRune(r)
			i += n
		}
	}
	_ = raw
	return b.String()
}

// toCharNumber formats x with a numeric to_char template of 9, 0, ., D,
// comma and G, and FM, S, MI and PR for the sign.
func toCharNumber(x float64, f string) string {
	up := strings.ToUpper(f)
	fm := strings.Contains(up, "FM")
	up = strings.ReplaceAll(up, "FM", "")
	intDigits, fracDigits, seenDot := 0, 0, false
	for _, c := range up {
		switch c {
		case '9', '0':
			if seenDot {
				fracDigits++
			} else {
				intDigits++
			}
		case '.', 'D':
			seenDot = true
		}
	}
	neg := x < 0
	s := strconv.FormatFloat(math.Abs(x), 'f', fracDigits, 64)
	ip, fp, _ := strings.Cut(s, ".")
	if len(ip) > intDigits {
		// PostgreSQL fills the field with # when the value does not fit.
		hashes := strings.Repeat("#", intDigits)
		if fracDigits > 0 {
			hashes += "." + strings.Repeat("#", fracDigits)
		}
		if fm {
			return hashes
		}
		return " " + hashes
	}
	// Walk the integer part of the template right to left.
	intTpl := up
	if k := strings.IndexAny(up, ".D"); k >= 0 {
		intTpl = up[:k]
	}
	var out []byte
	di := len(ip) - 1
	for k := len(intTpl) - 1; k >= 0; k-- {
		switch c := intTpl[k]; c {
		case '9', '0':
			switch {
			case di >= 0:
				out = append(out, ip[di])
				di--
			case c == '0':
				out = append(out, '0')
			case !fm:
				out = append(out, ' ')
			}
		case ',', 'G':
			if di >= 0 {
				out = append(out, ',')
			} else if !fm {
				out = append(out, ' ')
			}
		}
	}
	for l, r := 0, len(out)-1; l < r; l, r = l+1, r-1 {
		out[l], out[r] = out[r], out[l]
	}
	res := string(out)
	if ip == "0" && strings.HasSuffix(res, " ") && !strings.Contains(intTpl, "0") {
		res = strings.TrimSuffix(res, " ") + "0"
	}
	if fracDigits > 0 {
		if fm {
			// FM drops trailing zeros that stand for 9s, not for 0s.
			fracTpl := up[strings.IndexAny(up, ".D")+1:]
			keep := len(fp)
			for keep > 0 && fp[keep-1] == '0' && keep-1 < len(fracTpl) && fracTpl[keep-1] == '9' {
				keep--
			}
			fp = fp[:keep]
		}
		res += "." + fp
	}
	// The sign goes right before the first digit.
	sign := " "
	if neg {
		sign = "-"
	}
	lead := len(res) - len(strings.TrimLeft(res, " "))
	if fm {
		return strings.TrimSpace(sign) + res[lead:]
	}
	return res[:lead] + sign + res[lead:]
}

// parseWithFormat parses s with a to_timestamp template of the common
// fields.
func parseWithFormat(s, f string) (time.Time, *Error) {
	layout := strings.NewReplacer("YYYY", "2006", "MM", "01", "DD", "02", "HH24", "15", "HH12", "03", "HH", "03",
		"MI", "04", "SS", "05", "MS", "000", "US", "000000", "Mon", "Jan", "MON", "Jan", "AM", "PM", "PM", "PM").Replace(f)
	t, err := time.Parse(layout, s)
	if err != nil {
		return time.Time{}, Errorf(CodeInvalidDatetime, "invalid value \"%s\" for \"%s\"", s, f)
	}
	return t, nil
}

func decodeJSON(v driver.Value) (any, error) {
	d := json.NewDecoder(strings.NewReader(toString(v)))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil {
		return nil, err
	}
	return x, nil
}

func encodeJSONB(x any) (driver.Value, error) {
	b, err := json.Marshal(x)
	if err != nil {
		return nil, udfError(Errorf(CodeInvalidText, "invalid json"))
	}
	return udfErr(NormalizeJSONB(string(b)))
}

func asJSONArray(x any) []any {
	if a, ok := x.([]any); ok {
		return a
	}
	return []any{x}
}

// jsonPathArgs turns variadic path arguments into strings.
func jsonPathArgs(a []driver.Value) []string {
	out := make([]string, len(a))
	for i, v := range a {
		out[i] = toString(v)
	}
	return out
}

// jsonPathValue follows path (object keys or array indexes) in a JSON
// value; asText returns strings unquoted, as ->> and #>> do.
func jsonPathValue(v driver.Value, path []string, asText bool) (driver.Value, error) {
	x, err := decodeJSON(v)
	if err != nil {
		return nil, udfError(Errorf(CodeInvalidText, "invalid input syntax for type json"))
	}
	for _, p := range path {
		switch c := x.(type) {
		case map[string]any:
			var ok bool
			if x, ok = c[p]; !ok {
				return nil, nil
			}
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil {
				return nil, nil
			}
			if i < 0 {
				i += len(c)
			}
			if i < 0 || i >= len(c) {
				return nil, nil
			}
			x = c[i]
		default:
			return nil, nil
		}
	}
	if asText {
		switch c := x.(type) {
		case nil:
			return nil, nil
		case string:
			return c, nil
		}
	}
	return encodeJSONB(x)
}

// jsonSet replaces or adds the value at path, as jsonb_set does.
func jsonSet(x any, path []string, val any, create bool) any {
	if len(path) == 0 {
		return val
	}
	switch c := x.(type) {
	case map[string]any:
		old, ok := c[path[0]]
		if !ok && (len(path) > 1 || !create) {
			return c
		}
		c[path[0]] = jsonSet(old, path[1:], val, create)
		return c
	case []any:
		i, err := strconv.Atoi(path[0])
		if err != nil {
			return c
		}
		if i < 0 {
			i += len(c)
		}
		switch {
		case i >= 0 && i < len(c):
			c[i] = jsonSet(c[i], path[1:], val, create)
		case len(path) == 1 && create && i >= len(c):
			c = append(c, val)
		case len(path) == 1 && create && i < 0:
			c = append([]any{val}, c...)
		}
		return c
	}
	return x
}

func stripNulls(x any) any {
	switch c := x.(type) {
	case map[string]any:
		for k, v := range c {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = stripNulls(v)
			}
		}
	case []any:
		for i, v := range c {
			c[i] = stripNulls(v)
		}
	}
	return x
}

// maxSeriesJSON bounds a generate_series in a select list with FROM,
// which is built whole for each row.
const maxSeriesJSON = 1 << 20

// jsonBuildFormat lays out the top level of a json value built by
// json_build_array or json_agg (style 0: [a, b]), json_build_object (1:
// {"k" : v, …}) or json_object_agg (2: { "k" : v, … }) as PostgreSQL
// prints them; nested values stay as they are.
func jsonBuildFormat(s string, style int) string {
	d := json.NewDecoder(strings.NewReader(s))
	tok, err := d.Token()
	if err != nil {
		return s
	}
	var parts []string
	switch tok {
	case json.Delim('['):
		for d.More() {
			var v json.RawMessage
			if d.Decode(&v) != nil {
				return s
			}
			parts = append(parts, string(v))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case json.Delim('{'):
		for d.More() {
			k, err := d.Token()
			if err != nil {
				return s
			}
			key, _ := json.Marshal(k)
			var v json.RawMessage
			if d.Decode(&v) != nil {
				return s
			}
			parts = append(parts, string(key)+" : "+string(v))
		}
		if style == 2 {
			return "{ " + strings.Join(parts, ", ") + " }"
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return s
}

// zoneLocation resolves a time zone as AT TIME ZONE reads it: a name
// (UTC, Europe/Paris), a POSIX-style offset ('+3' and 'UTC+3' are three
// hours west of Greenwich), or '@' and an interval from AT TIME ZONE
// INTERVAL (east of Greenwich).
func zoneLocation(z string) (*time.Location, *Error) {
	z = strings.TrimSpace(z)
	bad := Errorf(CodeInvalidParameter, "time zone \"%s\" not recognized", z)
	if iv, ok := strings.CutPrefix(z, "@"); ok {
		v, err := ParseInterval(iv)
		if err != nil || v.Months != 0 || v.Days != 0 {
			return nil, bad
		}
		return time.FixedZone(iv, int(v.Micros/1e6)), nil
	}
	switch strings.ToUpper(z) {
	case "UTC", "GMT", "Z", "ZULU", "UCT", "UNIVERSAL":
		return time.UTC, nil
	}
	off := z
	for _, p := range []string{"UTC", "GMT", "utc", "gmt"} {
		off = strings.TrimPrefix(off, p)
	}
	if off != "" && (off[0] == '+' || off[0] == '-' || off[0] >= '0' && off[0] <= '9') {
		sign := -1 // POSIX: positive is west
		switch off[0] {
		case '-':
			sign, off = 1, off[1:]
		case '+':
			off = off[1:]
		}
		h, m, _ := strings.Cut(off, ":")
		hh, err1 := strconv.Atoi(h)
		mm := 0
		var err2 error
		if m != "" {
			mm, err2 = strconv.Atoi(m)
		}
		if err1 != nil || err2 != nil || hh > 15 || mm > 59 {
			return nil, bad
		}
		return time.FixedZone(z, sign*(hh*3600+mm*60)), nil
	}
	loc, err := time.LoadLocation(z)
	if err != nil {
		return nil, bad
	}
	return loc, nil
}
