package pgwire

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"rewire/pgwire/sqltrans"
)

// pgEpoch is the zero of PostgreSQL's binary date and time formats.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// encodeValue encodes a stored value for a DataRow in the given format.
// A nil result is SQL NULL.
func encodeValue(v any, col resCol, format int16, loc *time.Location) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	if format == 0 {
		s, _ := sqltrans.FormatTextIn(v, col.oid, col.typmod, loc)
		return []byte(s), nil
	}
	return encodeBinary(v, col.oid, col.typmod)
}

func invalidBinary(oid uint32, v any) error {
	return sqltrans.Errorf(sqltrans.CodeInvalidText, "cannot encode %v as binary %s", v, typeName(oid))
}

func typeName(oid uint32) string {
	if t := sqltrans.Types[oid]; t != nil {
		return t.Name
	}
	return strconv.Itoa(int(oid))
}

func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case float64:
		return int64(math.RoundToEven(x)), true
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			f, ferr := strconv.ParseFloat(strings.TrimSpace(x), 64)
			if ferr != nil {
				return 0, false
			}
			return int64(math.RoundToEven(f)), true
		}
		return n, true
	case []byte:
		return toInt(string(x))
	}
	return 0, false
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	}
	return 0, false
}

// encodeBinary encodes v in PostgreSQL's binary format for oid.
func encodeBinary(v any, oid uint32, typmod int32) ([]byte, error) {
	switch oid {
	case sqltrans.OidBool:
		n, ok := toInt(v)
		if s, isStr := v.(string); isStr {
			n, ok = 0, true
			if s == "t" || s == "true" || s == "1" {
				n = 1
			}
		}
		if !ok {
			return nil, invalidBinary(oid, v)
		}
		if n != 0 {
			return []byte{1}, nil
		}
		return []byte{0}, nil
	case sqltrans.OidInt2, sqltrans.OidInt4, sqltrans.OidInt8, sqltrans.OidOid, sqltrans.OidRegclass, sqltrans.OidRegproc:
		n, ok := toInt(v)
		if !ok {
			return nil, invalidBinary(oid, v)
		}
		switch oid {
		case sqltrans.OidInt2:
			if n < math.MinInt16 || n > math.MaxInt16 {
				return nil, sqltrans.Errorf(sqltrans.CodeNumericRange, "smallint out of range")
			}
			return binary.BigEndian.AppendUint16(nil, uint16(n)), nil
		case sqltrans.OidInt4:
			if n < math.MinInt32 || n > math.MaxInt32 {
				return nil, sqltrans.Errorf(sqltrans.CodeNumericRange, "integer out of range")
			}
			return binary.BigEndian.AppendUint32(nil, uint32(n)), nil
		case sqltrans.OidInt8:
			return binary.BigEndian.AppendUint64(nil, uint64(n)), nil
		}
		return binary.BigEndian.AppendUint32(nil, uint32(n)), nil
	case sqltrans.OidFloat4:
		f, ok := toFloat(v)
		if !ok {
			return nil, invalidBinary(oid, v)
		}
		return binary.BigEndian.AppendUint32(nil, math.Float32bits(float32(f))), nil
	case sqltrans.OidFloat8:
		f, ok := toFloat(v)
		if !ok {
			return nil, invalidBinary(oid, v)
		}
		return binary.BigEndian.AppendUint64(nil, math.Float64bits(f)), nil
	case sqltrans.OidBytea:
		switch x := v.(type) {
		case []byte:
			return x, nil
		case string:
			return []byte(x), nil
		}
		s, _ := sqltrans.FormatText(v, sqltrans.OidText, -1)
		return []byte(s), nil
	case sqltrans.OidUUID:
		s, _ := sqltrans.FormatText(v, oid, -1)
		b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
		if err != nil || len(b) != 16 {
			return nil, invalidBinary(oid, v)
		}
		return b, nil
	case sqltrans.OidJSONB:
		s, _ := sqltrans.FormatText(v, oid, -1)
		return append([]byte{1}, s...), nil
	case sqltrans.OidDate:
		s, _ := sqltrans.FormatText(v, oid, -1)
		switch s {
		case "infinity":
			return binary.BigEndian.AppendUint32(nil, math.MaxInt32), nil
		case "-infinity":
			return binary.BigEndian.AppendUint32(nil, 1<<31), nil
		}
		t, err := sqltrans.StoredTime(s, oid)
		if err != nil {
			return nil, invalidBinary(oid, v)
		}
		days := int32(math.Floor(t.Sub(pgEpoch).Hours() / 24))
		return binary.BigEndian.AppendUint32(nil, uint32(days)), nil
	case sqltrans.OidTimestamp, sqltrans.OidTimestamptz:
		s, _ := sqltrans.FormatText(v, oid, -1)
		switch s {
		case "infinity":
			return binary.BigEndian.AppendUint64(nil, math.MaxInt64), nil
		case "-infinity":
			return binary.BigEndian.AppendUint64(nil, 1<<63), nil
		}
		t, err := sqltrans.StoredTime(s, oid)
		if err != nil {
			return nil, invalidBinary(oid, v)
		}
		us := t.Unix()*1e6 + int64(t.Nanosecond()/1e3) - pgEpoch.Unix()*1e6
		return binary.BigEndian.AppendUint64(nil, uint64(us)), nil
	case sqltrans.OidTime:
		s, _ := sqltrans.FormatText(v, oid, -1)
		t, err := sqltrans.StoredTime(s, oid)
		if err != nil {
			return nil, invalidBinary(oid, v)
		}
		us := int64(t.Hour())*3600e6 + int64(t.Minute())*60e6 + int64(t.Second())*1e6 + int64(t.Nanosecond()/1e3)
		return binary.BigEndian.AppendUint64(nil, uint64(us)), nil
	case sqltrans.OidInterval:
		s, _ := sqltrans.FormatText(v, oid, -1)
		iv, err := sqltrans.ParseInterval(s)
		if err != nil {
			return nil, err
		}
		b := binary.BigEndian.AppendUint64(nil, uint64(iv.Micros))
		b = binary.BigEndian.AppendUint32(b, uint32(iv.Days))
		return binary.BigEndian.AppendUint32(b, uint32(iv.Months)), nil
	case sqltrans.OidNumeric:
		s, _ := sqltrans.FormatText(v, oid, typmod)
		return encodeNumeric(s)
	case sqltrans.OidChar:
		s, _ := sqltrans.FormatText(v, oid, -1)
		if s == "" {
			return []byte{0}, nil
		}
		return []byte{s[0]}, nil
	}
	if t := sqltrans.Types[oid]; t != nil && t.Elem != 0 {
		return encodeArray(v, t.Elem)
	}
	// text, varchar, bpchar, name, json, unknown: the text bytes.
	s, _ := sqltrans.FormatText(v, oid, typmod)
	return []byte(s), nil
}

func encodeArray(v any, elem uint32) ([]byte, error) {
	s, _ := sqltrans.FormatText(v, sqltrans.OidText, -1)
	items, err := sqltrans.ParseArray(s)
	if err != nil {
		return nil, err
	}
	hasNull := uint32(0)
	for _, it := range items {
		if it == nil {
			hasNull = 1
		}
	}
	var b []byte
	if len(items) == 0 {
		b = binary.BigEndian.AppendUint32(b, 0)
		b = binary.BigEndian.AppendUint32(b, 0)
		return binary.BigEndian.AppendUint32(b, elem), nil
	}
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint32(b, hasNull)
	b = binary.BigEndian.AppendUint32(b, elem)
	b = binary.BigEndian.AppendUint32(b, uint32(len(items)))
	b = binary.BigEndian.AppendUint32(b, 1)
	for _, it := range items {
		if it == nil {
			b = binary.BigEndian.AppendUint32(b, 0xffffffff)
			continue
		}
		sv, err := sqltrans.Coerce(*it, elem, -1)
		if err != nil {
			return nil, err
		}
		eb, err := encodeBinary(sv, elem, -1)
		if err != nil {
			return nil, err
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(eb)))
		b = append(b, eb...)
	}
	return b, nil
}

// encodeNumeric writes decimal text in PostgreSQL's base-10000 numeric
// binary format.
func encodeNumeric(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "NaN" {
		return []byte{0, 0, 0, 0, 0xC0, 0, 0, 0}, nil
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimLeft(s, "+-")
	if strings.ContainsAny(s, "eE") {
		f, ok := new(big.Float).SetString(s)
		if !ok {
			return nil, sqltrans.Errorf(sqltrans.CodeInvalidText, "invalid numeric %q", s)
		}
		s = f.Text('f', -1)
	}
	intPart, frac, _ := strings.Cut(s, ".")
	for _, ch := range intPart + frac {
		if ch < '0' || ch > '9' {
			return nil, sqltrans.Errorf(sqltrans.CodeInvalidText, "invalid input syntax for type numeric: \"%s\"", s)
		}
	}
	dscale := len(frac)
	intPart = strings.TrimLeft(intPart, "0")
	// Pad to whole base-10000 groups on both sides of the point.
	if pad := (4 - len(intPart)%4) % 4; pad > 0 {
		intPart = strings.Repeat("0", pad) + intPart
	}
	if pad := (4 - len(frac)%4) % 4; pad > 0 {
		frac += strings.Repeat("0", pad)
	}
	var digits []uint16
	for i := 0; i < len(intPart); i += 4 {
		n, _ := strconv.Atoi(intPart[i : i+4])
		digits = append(digits, uint16(n))
	}
	weight := len(digits) - 1
	for i := 0; i < len(frac); i += 4 {
		n, _ := strconv.Atoi(frac[i : i+4])
		digits = append(digits, uint16(n))
	}
	// Strip leading and trailing zero groups.
	for len(digits) > 0 && digits[0] == 0 {
		digits = digits[1:]
		weight--
	}
	for len(digits) > 0 && digits[len(digits)-1] == 0 {
		digits = digits[:len(digits)-1]
	}
	sign := uint16(0)
	if neg && len(digits) > 0 {
		sign = 0x4000
	}
	if len(digits) == 0 {
		weight = 0
	}
	b := binary.BigEndian.AppendUint16(nil, uint16(len(digits)))
	b = binary.BigEndian.AppendUint16(b, uint16(int16(weight)))
	b = binary.BigEndian.AppendUint16(b, sign)
	b = binary.BigEndian.AppendUint16(b, uint16(dscale))
	for _, d := range digits {
		b = binary.BigEndian.AppendUint16(b, d)
	}
	return b, nil
}

// decodeNumeric reads the binary numeric format into decimal text.
func decodeNumeric(b []byte) (string, error) {
	if len(b) < 8 {
		return "", fmt.Errorf("numeric too short")
	}
	n := int(binary.BigEndian.Uint16(b))
	weight := int(int16(binary.BigEndian.Uint16(b[2:])))
	sign := binary.BigEndian.Uint16(b[4:])
	dscale := int(binary.BigEndian.Uint16(b[6:]))
	if sign == 0xC000 {
		return "NaN", nil
	}
	if len(b) != 8+2*n || n > 1000 || dscale > 1000 {
		return "", fmt.Errorf("bad numeric length")
	}
	var intPart, frac strings.Builder
	for i := 0; i <= weight || i < n; i++ {
		d := 0
		if i < n {
			d = int(binary.BigEndian.Uint16(b[8+2*i:]))
		}
		if i <= weight {
			if intPart.Len() == 0 {
				intPart.WriteString(strconv.Itoa(d))
			} else {
				fmt.Fprintf(&intPart, "%04d", d)
			}
		} else {
			fmt.Fprintf(&frac, "%04d", d)
		}
		if i > weight+2000 {
			break
		}
	}
	// Digits before the point when weight < 0.
	f := frac.String()
	if weight < -1 {
		f = strings.Repeat("0000", -weight-1) + f
	}
	ip := intPart.String()
	if ip == "" {
		ip = "0"
	}
	if len(f) < dscale {
		f += strings.Repeat("0", dscale-len(f))
	}
	f = f[:dscale]
	out := ip
	if dscale > 0 {
		out += "." + f
	}
	if sign == 0x4000 {
		out = "-" + out
	}
	return out, nil
}

// decodeParam turns a Bind parameter into the value bound to SQLite.
func decodeParam(raw []byte, oid uint32, format int16, loc *time.Location) (any, error) {
	if raw == nil {
		return nil, nil
	}
	if format == 0 {
		s := string(raw)
		switch oid {
		case sqltrans.OidText, sqltrans.OidVarchar, sqltrans.OidUnknown, sqltrans.OidName, 0:
			return s, nil
		}
		v, err := sqltrans.CoerceIn(s, oid, -1, loc)
		if err != nil {
			return nil, err
		}
		if v == sqltrans.Dynamic {
			return sqltrans.FormatTime(time.Now().UTC(), oid), nil
		}
		return v, nil
	}
	bad := func() error {
		return sqltrans.Errorf(sqltrans.CodeInvalidParameter, "incorrect binary data format in bind parameter of type %s", typeName(oid))
	}
	switch oid {
	case sqltrans.OidBool:
		if len(raw) != 1 {
			return nil, bad()
		}
		return int64(raw[0] & 1), nil
	case sqltrans.OidInt2:
		if len(raw) != 2 {
			return nil, bad()
		}
		return int64(int16(binary.BigEndian.Uint16(raw))), nil
	case sqltrans.OidInt4:
		if len(raw) != 4 {
			return nil, bad()
		}
		return int64(int32(binary.BigEndian.Uint32(raw))), nil
	case sqltrans.OidOid, sqltrans.OidRegclass:
		if len(raw) != 4 {
			return nil, bad()
		}
		return int64(binary.BigEndian.Uint32(raw)), nil
	case sqltrans.OidInt8:
		if len(raw) != 8 {
			return nil, bad()
		}
		return int64(binary.BigEndian.Uint64(raw)), nil
	case sqltrans.OidFloat4:
		if len(raw) != 4 {
			return nil, bad()
		}
		return float64(math.Float32frombits(binary.BigEndian.Uint32(raw))), nil
	case sqltrans.OidFloat8:
		if len(raw) != 8 {
			return nil, bad()
		}
		return math.Float64frombits(binary.BigEndian.Uint64(raw)), nil
	case sqltrans.OidBytea:
		return append([]byte{}, raw...), nil
	case sqltrans.OidUUID:
		if len(raw) != 16 {
			return nil, bad()
		}
		h := hex.EncodeToString(raw)
		return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
	case sqltrans.OidJSONB:
		if len(raw) < 1 || raw[0] != 1 {
			return nil, bad()
		}
		return sqltrans.NormalizeJSONB(string(raw[1:]))
	case sqltrans.OidDate:
		if len(raw) != 4 {
			return nil, bad()
		}
		d := int32(binary.BigEndian.Uint32(raw))
		switch d {
		case math.MaxInt32:
			return "infinity", nil
		case math.MinInt32:
			return "-infinity", nil
		}
		return sqltrans.FormatTime(pgEpoch.AddDate(0, 0, int(d)), oid), nil
	case sqltrans.OidTimestamp, sqltrans.OidTimestamptz:
		if len(raw) != 8 {
			return nil, bad()
		}
		us := int64(binary.BigEndian.Uint64(raw))
		switch us {
		case math.MaxInt64:
			return "infinity", nil
		case math.MinInt64:
			return "-infinity", nil
		}
		t := pgEpoch.Add(time.Duration(us/1e6) * time.Second).Add(time.Duration(us%1e6) * time.Microsecond)
		return sqltrans.FormatTime(t, oid), nil
	case sqltrans.OidTime:
		if len(raw) != 8 {
			return nil, bad()
		}
		us := int64(binary.BigEndian.Uint64(raw))
		return sqltrans.FormatTime(pgEpoch.Add(time.Duration(us)*time.Microsecond), oid), nil
	case sqltrans.OidInterval:
		if len(raw) != 16 {
			return nil, bad()
		}
		iv := sqltrans.Interval{
			Micros: int64(binary.BigEndian.Uint64(raw)),
			Days:   int32(binary.BigEndian.Uint32(raw[8:])),
			Months: int32(binary.BigEndian.Uint32(raw[12:])),
		}
		return iv.String(), nil
	case sqltrans.OidNumeric:
		s, err := decodeNumeric(raw)
		if err != nil {
			return nil, bad()
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
		return s, nil
	}
	if t := sqltrans.Types[oid]; t != nil && t.Elem != 0 {
		return decodeArray(raw, t.Elem)
	}
	return string(raw), nil
}

func decodeArray(raw []byte, elem uint32) (any, error) {
	bad := sqltrans.Errorf(sqltrans.CodeInvalidParameter, "incorrect binary data format in array parameter")
	if len(raw) < 12 {
		return nil, bad
	}
	ndim := int(binary.BigEndian.Uint32(raw))
	if ndim == 0 {
		return "{}", nil
	}
	if ndim != 1 || len(raw) < 20 {
		return nil, sqltrans.Errorf(sqltrans.CodeFeature, "multidimensional arrays are not supported")
	}
	n := int(binary.BigEndian.Uint32(raw[12:]))
	p := raw[20:]
	if n < 0 || n > len(p)/4 {
		return nil, bad
	}
	items := make([]any, n)
	for i := 0; i < n; i++ {
		if len(p) < 4 {
			return nil, bad
		}
		l := int32(binary.BigEndian.Uint32(p))
		p = p[4:]
		if l < 0 {
			continue
		}
		if int(l) > len(p) {
			return nil, bad
		}
		v, err := decodeParam(p[:l], elem, 1, nil)
		if err != nil {
			return nil, err
		}
		items[i] = v
		p = p[l:]
	}
	return sqltrans.FormatArray(items, elem), nil
}
