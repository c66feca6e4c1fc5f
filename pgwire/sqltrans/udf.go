package sqltrans

import (
	"crypto/rand"
	"database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
)

// SQLite functions that carry PostgreSQL semantics. They are registered
// once for every SQLite connection of the process; none touches files.
func init() {
	reg := func(name string, n int32, det bool, f func(args []driver.Value) (driver.Value, error)) {
		fn := func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) { return f(args) }
		if det {
			sqlite.MustRegisterDeterministicScalarFunction(name, n, fn)
		} else {
			sqlite.MustRegisterScalarFunction(name, n, fn)
		}
	}
	reg("pgw_in", 2, true, func(a []driver.Value) (driver.Value, error) {
		if a[0] == nil {
			return nil, nil
		}
		s, _ := FormatText(a[0], OidText, -1)
		oid := uint32(asInt(a[1]))
		low := strings.ToLower(strings.TrimSpace(s))
		if isTimeType(oid) && (low == "now" || low == "today" || low == "tomorrow" || low == "yesterday" || low == "current_timestamp") {
			t := time.Now().UTC()
			switch low {
			case "today":
				t = t.Truncate(24 * time.Hour)
			case "tomorrow":
				t = t.Truncate(24 * time.Hour).Add(24 * time.Hour)
			case "yesterday":
				t = t.Truncate(24 * time.Hour).Add(-24 * time.Hour)
			}
			return FormatTime(t, oid), nil
		}
		return udfErr(Coerce(s, oid, -1))
	})
	reg("pgw_cast", 4, true, func(a []driver.Value) (driver.Value, error) {
		return udfErr(Cast(a[0], uint32(asInt(a[1])), uint32(asInt(a[2])), int32(asInt(a[3]))))
	})
	reg("pgw_div", 2, true, func(a []driver.Value) (driver.Value, error) {
		if a[0] == nil || a[1] == nil {
			return nil, nil
		}
		x, xi := num(a[0])
		y, yi := num(a[1])
		if y == 0 {
			return nil, udfError(Errorf(CodeDivisionByZero, "division by zero"))
		}
		if xi && yi {
			return int64(x) / int64(y), nil
		}
		return x / y, nil
	})
	reg("pgw_mod", 2, true, func(a []driver.Value) (driver.Value, error) {
		if a[0] == nil || a[1] == nil {
			return nil, nil
		}
		x, xi := num(a[0])
		y, yi := num(a[1])
		if y == 0 {
			return nil, udfError(Errorf(CodeDivisionByZero, "division by zero"))
		}
		if xi && yi {
			return int64(x) % int64(y), nil
		}
		return math.Mod(x, y), nil
	})
	reg("pgw_pow", 2, true, func(a []driver.Value) (driver.Value, error) {
		if a[0] == nil || a[1] == nil {
			return nil, nil
		}
		x, _ := num(a[0])
		y, _ := num(a[1])
		return math.Pow(x, y), nil
	})
	reg("pgw_round", -1, true, func(a []driver.Value) (driver.Value, error) {
		return roundDigits(a, math.Round)
	})
	reg("pgw_random", 0, false, func(a []driver.Value) (driver.Value, error) {
		var b [8]byte
		rand.Read(b[:])
		return float64(uint64FromBytes(b[:])>>11) / (1 << 53), nil
	})
	reg("pgw_now", 1, false, func(a []driver.Value) (driver.Value, error) {
		oid := uint32(asInt(a[0]))
		now := time.Now().UTC()
		if oid == OidText {
			return now.Format(time.UnixDate), nil
		}
		return FormatTime(now, oid), nil
	})
	minmax := func(greatest bool) func([]driver.Value) (driver.Value, error) {
		return func(a []driver.Value) (driver.Value, error) {
			var best driver.Value
			for _, v := range a {
				if v == nil {
					continue
				}
				if best == nil || (compare(v, best) > 0) == greatest && compare(v, best) != 0 {
					best = v
				}
			}
			return best, nil
		}
	}
	reg("pgw_greatest", -1, true, minmax(true))
	reg("pgw_least", -1, true, minmax(false))
	reg("pgw_true", -1, true, func([]driver.Value) (driver.Value, error) { return int64(1), nil })
	reg("pgw_false", -1, true, func([]driver.Value) (driver.Value, error) { return int64(0), nil })
	reg("pgw_null", -1, true, func([]driver.Value) (driver.Value, error) { return nil, nil })
	reg("pgw_zero", -1, true, func([]driver.Value) (driver.Value, error) { return int64(0), nil })
	reg("pgw_uuid", 0, false, func([]driver.Value) (driver.Value, error) {
		var b [16]byte
		rand.Read(b[:])
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
		h := hex.EncodeToString(b[:])
		return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
	})
	reg("pgw_array_item", 2, true, func(a []driver.Value) (driver.Value, error) {
		return ArrayItem(a[0], uint32(asInt(a[1]))), nil
	})
	reg("pgw_array", -1, true, func(a []driver.Value) (driver.Value, error) {
		elem := uint32(asInt(a[0]))
		return FormatArray(toAny(a[1:]), elem), nil
	})
	reg("pgw_array_to_json", 1, true, func(a []driver.Value) (driver.Value, error) {
		if a[0] == nil {
			return nil, nil
		}
		s, _ := FormatText(a[0], OidText, -1)
		elems, err := ParseArray(s)
		if err != nil {
			return nil, udfError(err)
		}
		out := make([]any, len(elems))
		for i, e := range elems {
			if e != nil {
				out[i] = *e
			}
		}
		b, _ := json.Marshal(out)
		return string(b), nil
	})
	reg("pgw_elem", 2, true, func(a []driver.Value) (driver.Value, error) {
		if a[0] == nil {
			return nil, nil
		}
		s, _ := FormatText(a[0], OidText, -1)
		return udfErr(Coerce(s, uint32(asInt(a[1])), -1))
	})
	reg("pgw_json_text", 2, true, func(a []driver.Value) (driver.Value, error) {
		// a[0] is SQLite's ->> result, a[1] the -> (JSON) result: use the
		// JSON text for containers and booleans, as PostgreSQL prints them.
		if a[0] == nil {
			return nil, nil
		}
		j, _ := a[1].(string)
		if strings.HasPrefix(j, "{") || strings.HasPrefix(j, "[") || j == "true" || j == "false" {
			if strings.HasPrefix(j, "{") || strings.HasPrefix(j, "[") {
				n, err := NormalizeJSONB(j)
				if err == nil {
					return n, nil
				}
			}
			return j, nil
		}
		if _, ok := a[0].(float64); ok {
			return j, nil
		}
		s, _ := FormatText(a[0], OidText, -1)
		return s, nil
	})
	reg("pgw_jsonb_contains", 2, true, func(a []driver.Value) (driver.Value, error) {
		if a[0] == nil || a[1] == nil {
			return nil, nil
		}
		var x, y any
		if err := json.Unmarshal([]byte(toString(a[0])), &x); err != nil {
			return nil, udfError(invalidText("json", toString(a[0])))
		}
		if err := json.Unmarshal([]byte(toString(a[1])), &y); err != nil {
			return nil, udfError(invalidText("json", toString(a[1])))
		}
		return boolInt(jsonContains(x, y, true)), nil
	})
	reg("pgw_jsonb_exists", 2, true, func(a []driver.Value) (driver.Value, error) {
		if a[0] == nil || a[1] == nil {
			return nil, nil
		}
		var x any
		json.Unmarshal([]byte(toString(a[0])), &x)
		key := toString(a[1])
		switch v := x.(type) {
		case map[string]any:
			_, ok := v[key]
			return boolInt(ok), nil
		case []any:
			for _, e := range v {
				if s, ok := e.(string); ok && s == key {
					return int64(1), nil
				}
			}
		case string:
			return boolInt(v == key), nil
		}
		return int64(0), nil
	})
	reg("pgw_array_contains", 2, true, func(a []driver.Value) (driver.Value, error) {
		if a[0] == nil || a[1] == nil {
			return nil, nil
		}
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
			if e == nil || !set[*e] {
				return int64(0), nil
			}
		}
		return int64(1), nil
	})
	reg("pgw_array_length", -1, true, func(a []driver.Value) (driver.Value, error) {
		if len(a) == 0 || a[0] == nil {
			return nil, nil
		}
		x, err := ParseArray(toString(a[0]))
		if err != nil {
			return nil, udfError(err)
		}
		if len(x) == 0 {
			return nil, nil
		}
		return int64(len(x)), nil
	})
	reg("pgw_array_cardinality", 1, true, func(a []driver.Value) (driver.Value, error) {
		if a[0] == nil {
			return nil, nil
		}
		x, err := ParseArray(toString(a[0]))
		if err != nil {
			return nil, udfError(err)
		}
		return int64(len(x)), nil
	})
	reg("pgw_array_to_string", -1, true, func(a []driver.Value) (driver.Value, error) {
		if len(a) < 2 || a[0] == nil {
			return nil, nil
		}
		x, err := ParseArray(toString(a[0]))
		if err != nil {
			return nil, udfError(err)
		}
		var parts []string
		for _, e := range x {
			if e != nil {
				parts = append(parts, *e)
			} else if len(a) > 2 && a[2] != nil {
				parts = append(parts, toString(a[2]))
			}
		}
		return strings.Join(parts, toString(a[1])), nil
	})
	var reCache sync.Map
	reg("pgw_regex", 3, true, func(a []driver.Value) (driver.Value, error) {
		if a[0] == nil || a[1] == nil {
			return nil, nil
		}
		pat := toString(a[1])
		if toString(a[2]) == "i" {
			pat = "(?i)" + pat
		}
		re, ok := reCache.Load(pat)
		if !ok {
			r, err := regexp.Compile(pat)
			if err != nil {
				return nil, udfError(Errorf("2201B", "invalid regular expression: %v", err))
			}
			re = r
			reCache.Store(pat, r)
		}
		return boolInt(re.(*regexp.Regexp).MatchString(toString(a[0]))), nil
	})
	reg("pgw_regexp_replace", -1, true, func(a []driver.Value) (driver.Value, error) {
		if len(a) < 3 || a[0] == nil || a[1] == nil {
			return nil, nil
		}
		re, err := regexp.Compile(toString(a[1]))
		if err != nil {
			return nil, udfError(Errorf("2201B", "invalid regular expression: %v", err))
		}
		repl := regexp.MustCompile(`\\(\d)`).ReplaceAllString(toString(a[2]), "$${$1}")
		if len(a) > 3 && strings.Contains(toString(a[3]), "g") {
			return re.ReplaceAllString(toString(a[0]), repl), nil
		}
		s := toString(a[0])
		loc := re.FindStringSubmatchIndex(s)
		if loc == nil {
			return s, nil
		}
		var dst []byte
		dst = re.ExpandString(dst, repl, s, loc)
		return s[:loc[0]] + string(dst) + s[loc[1]:], nil
	})
	reg("pgw_concat", -1, true, func(a []driver.Value) (driver.Value, error) {
		var b strings.Builder
		for _, v := range a {
			if v != nil {
				b.WriteString(toString(v))
			}
		}
		return b.String(), nil
	})
	reg("pgw_concat_ws", -1, true, func(a []driver.Value) (driver.Value, error) {
		if len(a) == 0 || a[0] == nil {
			return nil, nil
		}
		var parts []string
		for _, v := range a[1:] {
			if v != nil {
				parts = append(parts, toString(v))
			}
		}
		return strings.Join(parts, toString(a[0])), nil
	})
	reg("pgw_left", 2, true, func(a []driver.Value) (driver.Value, error) {
		if a[0] == nil || a[1] == nil {
			return nil, nil
		}
		r := []rune(toString(a[0]))
		n := int(asInt(a[1]))
		if n < 0 {
			n = max(len(r)+n, 0)
		}
		return string(r[:min(n, len(r))]), nil
	})
	reg("pgw_right", 2, true, func(a []driver.Value) (driver.Value, error) {
		if a[0] == nil || a[1] == nil {
			return nil, nil
		}
		r := []rune(toString(a[0]))
		n := int(asInt(a[1]))
		if n < 0 {
			n = max(len(r)+n, 0)
		}
		return string(r[len(r)-min(n, len(r)):]), nil
	})
	reg("pgw_repeat", 2, true, func(a []driver.Value) (driver.Value, error) {
		if a[0] == nil || a[1] == nil {
			return nil, nil
		}
		n := int(asInt(a[1]))
		if n < 0 {
			n = 0
		}
		if n > 64<<20 || n*len(toString(a[0])) > 64<<20 {
			return nil, udfError(Errorf(CodeProgramLimit, "requested length too large"))
		}
		return strings.Repeat(toString(a[0]), n), nil
	})
	reg("pgw_split_part", 3, true, func(a []driver.Value) (driver.Value, error) {
		if a[0] == nil || a[1] == nil || a[2] == nil {
			return nil, nil
		}
		parts := strings.Split(toString(a[0]), toString(a[1]))
		n := int(asInt(a[2]))
		if n < 0 {
			n = len(parts) + n + 1
		}
		if n < 1 || n > len(parts) {
			return "", nil
		}
		return parts[n-1], nil
	})
	reg("pgw_octet_length", 1, true, func(a []driver.Value) (driver.Value, error) {
		if a[0] == nil {
			return nil, nil
		}
		return int64(len(toString(a[0]))), nil
	})
	reg("pgw_date_trunc", 2, true, func(a []driver.Value) (driver.Value, error) {
		if a[0] == nil || a[1] == nil {
			return nil, nil
		}
		s := toString(a[1])
		oid := OidTimestamptz
		if !strings.ContainsAny(s[min(len(s), 19):], "+-Z") {
			oid = OidTimestamp
		}
		t, err := StoredTime(s, oid)
		if err != nil {
			return nil, udfError(Errorf(CodeInvalidDatetime, "invalid timestamp \"%s\"", s))
		}
		t = t.UTC()
		switch strings.ToLower(toString(a[0])) {
		case "microseconds":
		case "milliseconds":
			t = t.Truncate(time.Millisecond)
		case "second":
			t = t.Truncate(time.Second)
		case "minute":
			t = t.Truncate(time.Minute)
		case "hour":
			t = t.Truncate(time.Hour)
		case "day":
			t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		case "week":
			t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
			t = t.AddDate(0, 0, -((int(t.Weekday()) + 6) % 7))
		case "month":
			t = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		case "quarter":
			t = time.Date(t.Year(), ((t.Month()-1)/3)*3+1, 1, 0, 0, 0, 0, time.UTC)
		case "year":
			t = time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
		case "decade":
			t = time.Date(t.Year()/10*10, 1, 1, 0, 0, 0, 0, time.UTC)
		default:
			return nil, udfError(Errorf(CodeFeature, "unit \"%s\" not recognized for type timestamp", toString(a[0])))
		}
		return FormatTime(t, oid), nil
	})
	reg("pgw_date_part", 2, true, func(a []driver.Value) (driver.Value, error) {
		if a[0] == nil || a[1] == nil {
			return nil, nil
		}
		s := toString(a[1])
		if iv, err := ParseInterval(s); err == nil && !strings.Contains(s, "-") {
			switch strings.ToLower(toString(a[0])) {
			case "epoch":
				return float64(iv.Micros)/1e6 + float64(iv.Days)*86400 + float64(iv.Months)*30*86400, nil
			case "day", "days":
				return int64(iv.Days), nil
			case "hour":
				return iv.Micros / 3600e6, nil
			case "minute":
				return (iv.Micros / 60e6) % 60, nil
			}
		}
		t, err := StoredTime(s, OidTimestamptz)
		if err != nil {
			if t, err = StoredTime(s, OidDate); err != nil {
				return nil, udfError(Errorf(CodeInvalidDatetime, "invalid timestamp \"%s\"", s))
			}
		}
		t = t.UTC()
		switch strings.ToLower(toString(a[0])) {
		case "year":
			return int64(t.Year()), nil
		case "month":
			return int64(t.Month()), nil
		case "day":
			return int64(t.Day()), nil
		case "hour":
			return int64(t.Hour()), nil
		case "minute":
			return int64(t.Minute()), nil
		case "second":
			return float64(t.Second()) + float64(t.Nanosecond())/1e9, nil
		case "dow":
			return int64(t.Weekday()), nil
		case "isodow":
			return int64((int(t.Weekday())+6)%7 + 1), nil
		case "doy":
			return int64(t.YearDay()), nil
		case "week":
			_, w := t.ISOWeek()
			return int64(w), nil
		case "quarter":
			return int64((t.Month()-1)/3 + 1), nil
		case "epoch":
			return float64(t.UnixMicro()) / 1e6, nil
		case "milliseconds":
			return float64(t.Second()*1000) + float64(t.Nanosecond())/1e6, nil
		case "microseconds":
			return int64(t.Second()*1e6 + t.Nanosecond()/1e3), nil
		case "century":
			return int64((t.Year()-1)/100 + 1), nil
		case "decade":
			return int64(t.Year() / 10), nil
		}
		return nil, udfError(Errorf(CodeFeature, "unit \"%s\" not recognized", toString(a[0])))
	})
	reg("pgw_datearith", 6, true, func(a []driver.Value) (driver.Value, error) {
		return udfErr(dateArith(toString(a[0]), a[1], uint32(asInt(a[2])), a[3], uint32(asInt(a[4])), uint32(asInt(a[5]))))
	})
	reg("pgw_format_type", -1, true, func(a []driver.Value) (driver.Value, error) {
		if len(a) == 0 || a[0] == nil {
			return nil, nil
		}
		oid := uint32(asInt(a[0]))
		t := Types[oid]
		if t == nil {
			return "???", nil
		}
		mod := int32(-1)
		if len(a) > 1 && a[1] != nil {
			mod = int32(asInt(a[1]))
		}
		return FormatType(oid, mod), nil
	})
	reg("pgw_not_null_check", 2, true, func(a []driver.Value) (driver.Value, error) {
		if asInt(a[0]) > 0 {
			return nil, udfError(Errorf(CodeNotNullViolation, "column \"%s\" contains null values", toString(a[1])))
		}
		return nil, nil
	})
	reg("pgw_size_pretty", 1, true, func(a []driver.Value) (driver.Value, error) {
		return fmt.Sprintf("%d bytes", asInt(a[0])), nil
	})
	reg("pgw_quote_ident", 1, true, func(a []driver.Value) (driver.Value, error) {
		return `"` + strings.ReplaceAll(toString(a[0]), `"`, `""`) + `"`, nil
	})
	reg("pgw_quote_literal", 1, true, func(a []driver.Value) (driver.Value, error) {
		return qs(toString(a[0])), nil
	})
	reg("pgw_json_typeof", 1, true, func(a []driver.Value) (driver.Value, error) {
		if a[0] == nil {
			return nil, nil
		}
		var v any
		if err := json.Unmarshal([]byte(toString(a[0])), &v); err != nil {
			return nil, udfError(invalidText("json", toString(a[0])))
		}
		switch v.(type) {
		case map[string]any:
			return "object", nil
		case []any:
			return "array", nil
		case string:
			return "string", nil
		case float64:
			return "number", nil
		case bool:
			return "boolean", nil
		}
		return "null", nil
	})
	reg("pgw_to_json", 1, true, func(a []driver.Value) (driver.Value, error) {
		b, _ := json.Marshal(a[0])
		if s, ok := a[0].([]byte); ok {
			b, _ = json.Marshal(`\x` + hex.EncodeToString(s))
		}
		return string(b), nil
	})
	reg("pgw_json_value", 2, true, func(a []driver.Value) (driver.Value, error) {
		// Used inside json_group_array: returns JSON for JSON types, else
		// the plain value.
		oid := uint32(asInt(a[1]))
		if oid == OidBool {
			if a[0] == nil {
				return nil, nil
			}
			if asInt(a[0]) != 0 {
				return "true", nil
			}
			return "false", nil
		}
		return a[0], nil
	})
	reg("pgw_md5", 1, true, func(a []driver.Value) (driver.Value, error) {
		if a[0] == nil {
			return nil, nil
		}
		return md5hex(toString(a[0])), nil
	})
	reg("pgw_regtype", 1, true, func(a []driver.Value) (driver.Value, error) {
		if n, ok := a[0].(int64); ok {
			return n, nil
		}
		return int64(TypeByName(toString(a[0]))), nil
	})
	reg("pgw_array_position", 2, true, func(a []driver.Value) (driver.Value, error) {
		if a[0] == nil {
			return nil, nil
		}
		x, err := ParseArray(toString(a[0]))
		if err != nil {
			return nil, udfError(err)
		}
		want := toString(a[1])
		for i, e := range x {
			if e != nil && *e == want {
				return int64(i + 1), nil
			}
		}
		return nil, nil
	})
	arr := func(v driver.Value) ([]any, error) {
		if v == nil {
			return nil, nil
		}
		s := toString(v)
		if !strings.HasPrefix(strings.TrimSpace(s), "{") {
			return []any{s}, nil // a scalar appended to an array
		}
		items, err := ParseArray(s)
		if err != nil {
			return nil, udfError(err)
		}
		out := make([]any, len(items))
		for i, e := range items {
			if e != nil {
				out[i] = *e
			}
		}
		return out, nil
	}
	reg("pgw_array_cat", 2, true, func(a []driver.Value) (driver.Value, error) {
		if a[0] == nil && a[1] == nil {
			return nil, nil
		}
		x, err := arr(a[0])
		if err != nil {
			return nil, err
		}
		y, err := arr(a[1])
		if err != nil {
			return nil, err
		}
		return FormatArray(append(x, y...), OidText), nil
	})
	reg("pgw_array_append", 2, true, func(a []driver.Value) (driver.Value, error) {
		x, err := arr(a[0])
		if err != nil {
			return nil, err
		}
		return FormatArray(append(x, a[1]), OidText), nil
	})
	reg("pgw_array_prepend", 2, true, func(a []driver.Value) (driver.Value, error) {
		y, err := arr(a[1])
		if err != nil {
			return nil, err
		}
		return FormatArray(append([]any{a[0]}, y...), OidText), nil
	})
	reg("pgw_array_remove", 2, true, func(a []driver.Value) (driver.Value, error) {
		x, err := arr(a[0])
		if err != nil || a[0] == nil {
			return nil, err
		}
		var out []any
		for _, e := range x {
			if e == nil || toString(e) != toString(a[1]) {
				out = append(out, e)
			}
		}
		return FormatArray(out, OidText), nil
	})
	reg("pgw_array_lower", 2, true, func(a []driver.Value) (driver.Value, error) {
		x, err := arr(a[0])
		if err != nil || len(x) == 0 {
			return nil, err
		}
		return int64(1), nil
	})
	reg("pgw_string_to_array", -1, true, func(a []driver.Value) (driver.Value, error) {
		if len(a) < 2 || a[0] == nil {
			return nil, nil
		}
		var out []any
		for _, p := range strings.Split(toString(a[0]), toString(a[1])) {
			if len(a) > 2 && a[2] != nil && p == toString(a[2]) {
				out = append(out, nil)
			} else {
				out = append(out, p)
			}
		}
		return FormatArray(out, OidText), nil
	})
	reg("pgw_jsonb_norm", 1, true, func(a []driver.Value) (driver.Value, error) {
		if a[0] == nil {
			return nil, nil
		}
		return udfErr(NormalizeJSONB(toString(a[0])))
	})
	reg("pgw_encoding", 1, true, func([]driver.Value) (driver.Value, error) { return "UTF8", nil })
	reg("pgw_raise", 2, false, func(a []driver.Value) (driver.Value, error) {
		return nil, udfError(Errorf(toString(a[0]), "%s", toString(a[1])))
	})
	reg("pgw_seqname", 1, true, func(a []driver.Value) (driver.Value, error) {
		if a[0] == nil {
			return nil, nil
		}
		return SeqName(toString(a[0])), nil
	})
	reg("pgw_regclass", 1, true, func(a []driver.Value) (driver.Value, error) {
		if a[0] == nil {
			return nil, nil
		}
		if n, ok := a[0].(int64); ok {
			return n, nil
		}
		// A number names the relation by oid, as psql's '16385'::regclass.
		if n, err := strconv.ParseInt(toString(a[0]), 10, 64); err == nil && n >= 0 {
			return n, nil
		}
		return RelOid(strings.TrimPrefix(strings.Trim(toString(a[0]), `"`), "public.")), nil
	})
}

// udfError wraps an error so that the SQLSTATE survives SQLite's error
// text: the server parses "pgerr:CODE:" back out.
func udfError(err error) error {
	if e, ok := err.(*Error); ok {
		return fmt.Errorf("pgerr:%s:%s", e.Code, e.Message)
	}
	return err
}

func udfErr(v any, err error) (driver.Value, error) {
	if err != nil {
		return nil, udfError(err)
	}
	return v, nil
}

func asInt(v driver.Value) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case float64:
		return int64(x)
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	return 0
}

func num(v driver.Value) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, false
	case string:
		if n, err := strconv.ParseInt(x, 10, 64); err == nil {
			return float64(n), true
		}
		f, _ := strconv.ParseFloat(x, 64)
		return f, false
	}
	return 0, false
}

func toString(v driver.Value) string {
	s, _ := FormatText(v, OidText, -1)
	return s
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func uint64FromBytes(b []byte) uint64 {
	var n uint64
	for _, c := range b {
		n = n<<8 | uint64(c)
	}
	return n
}

func compare(a, b driver.Value) int {
	x, xok := a.(string)
	y, yok := b.(string)
	if xok && yok {
		return strings.Compare(x, y)
	}
	fx, _ := num(a)
	fy, _ := num(b)
	switch {
	case fx < fy:
		return -1
	case fx > fy:
		return 1
	}
	return 0
}

// jsonContains implements jsonb @>.
func jsonContains(x, y any, top bool) bool {
	switch yv := y.(type) {
	case map[string]any:
		xv, ok := x.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range yv {
			xe, ok := xv[k]
			if !ok || !jsonContains(xe, v, false) {
				return false
			}
		}
		return true
	case []any:
		xv, ok := x.([]any)
		if !ok {
			return false
		}
		for _, v := range yv {
			found := false
			for _, xe := range xv {
				if jsonContains(xe, v, false) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	default:
		if xa, ok := x.([]any); ok && top {
			for _, xe := range xa {
				if jsonEqual(xe, y) {
					return true
				}
			}
			return false
		}
		return jsonEqual(x, y)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// FormatType prints a type as format_type does.
func FormatType(oid uint32, typmod int32) string {
	t := Types[oid]
	if t == nil {
		return "???"
	}
	switch oid {
	case OidVarchar, OidBpchar:
		if typmod > 4 {
			return t.Name + "(" + itoa(int(typmod-4)) + ")"
		}
	case OidNumeric:
		if typmod > 4 {
			return "numeric(" + itoa(int((typmod-4)>>16)) + "," + itoa(int((typmod-4)&0xffff)) + ")"
		}
	}
	return t.Name
}

// RelOid gives a relation a stable object id derived from its name, the
// same in the catalog views and in ::regclass.
func RelOid(name string) int64 {
	var h uint32 = 2166136261
	for i := 0; i < len(name); i++ {
		h ^= uint32(name[i])
		h *= 16777619
	}
	return int64(16384 + h%1000000000)
}

func toAny(v []driver.Value) []any {
	out := make([]any, len(v))
	for i := range v {
		out[i] = v[i]
	}
	return out
}

// roundDigits applies f (math.Round or math.Trunc) to a[0] at a[1]
// decimal digits (0 when absent), as round(x, d) and trunc(x, d) do: an
// integer with d >= 0 is returned as it is, and a positive d keeps that
// many digits in the text of the result.
func roundDigits(a []driver.Value, f func(float64) float64) (driver.Value, error) {
	if len(a) == 0 || a[0] == nil {
		return nil, nil
	}
	x, isInt := num(a[0])
	d := 0
	if len(a) > 1 {
		d = int(asInt(a[1]))
	}
	if isInt && d >= 0 {
		return a[0], nil
	}
	p := math.Pow(10, float64(d))
	r := f(x*p) / p
	if d > 0 {
		return strconv.FormatFloat(r, 'f', d, 64), nil
	}
	return r, nil
}
