package sqltrans

import "strings"

// PostgreSQL type OIDs that rewire reports in row and parameter
// descriptions.
const (
	OidBool         uint32 = 16
	OidBytea        uint32 = 17
	OidChar         uint32 = 18
	OidName         uint32 = 19
	OidInt8         uint32 = 20
	OidInt2         uint32 = 21
	OidInt4         uint32 = 23
	OidRegproc      uint32 = 24
	OidText         uint32 = 25
	OidOid          uint32 = 26
	OidJSON         uint32 = 114
	OidFloat4       uint32 = 700
	OidFloat8       uint32 = 701
	OidUnknown      uint32 = 705
	OidBpchar       uint32 = 1042
	OidVarchar      uint32 = 1043
	OidDate         uint32 = 1082
	OidTime         uint32 = 1083
	OidTimestamp    uint32 = 1114
	OidTimestamptz  uint32 = 1184
	OidInterval     uint32 = 1186
	OidNumeric      uint32 = 1700
	OidUUID         uint32 = 2950
	OidJSONB        uint32 = 3802
	OidRegclass     uint32 = 2205
	OidRegtype      uint32 = 2206
	OidRegnamespace uint32 = 4089
	OidRegrole      uint32 = 4096

	OidBoolArray        uint32 = 1000
	OidInt2Array        uint32 = 1005
	OidInt4Array        uint32 = 1007
	OidTextArray        uint32 = 1009
	OidVarcharArray     uint32 = 1015
	OidInt8Array        uint32 = 1016
	OidFloat4Array      uint32 = 1021
	OidFloat8Array      uint32 = 1022
	OidTimestampArray   uint32 = 1115
	OidDateArray        uint32 = 1182
	OidTimestamptzArray uint32 = 1185
	OidNumericArray     uint32 = 1231
	OidUUIDArray        uint32 = 2951
	OidJSONBArray       uint32 = 3807
	OidOidArray         uint32 = 1028
	OidNameArray        uint32 = 1003
	OidCharArray        uint32 = 1002
)

// TypeInfo describes one supported type.
type TypeInfo struct {
	Oid   uint32
	Name  string // canonical name, as format_type prints it
	Elem  uint32 // element type of an array type
	Array uint32 // array type of a scalar type
	Len   int16  // typlen
	Cat   byte   // typcategory
}

// Types lists every type rewire knows, by OID.
var Types = map[uint32]*TypeInfo{}

var typeNames = map[string]uint32{}

func addType(oid uint32, name string, array uint32, length int16, cat byte, aliases ...string) {
	Types[oid] = &TypeInfo{Oid: oid, Name: name, Array: array, Len: length, Cat: cat}
	for _, a := range aliases {
		typeNames[a] = oid
	}
	if array != 0 {
		Types[array] = &TypeInfo{Oid: array, Name: name + "[]", Elem: oid, Len: -1, Cat: 'A'}
	}
}

func init() {
	addType(OidBool, "boolean", OidBoolArray, 1, 'B', "bool", "boolean")
	addType(OidBytea, "bytea", 1001, -1, 'U', "bytea")
	addType(OidChar, "\"char\"", OidCharArray, 1, 'Z', "char")
	addType(OidName, "name", OidNameArray, 64, 'S', "name")
	addType(OidInt8, "bigint", OidInt8Array, 8, 'N', "int8", "bigint", "bigserial", "serial8")
	addType(OidInt2, "smallint", OidInt2Array, 2, 'N', "int2", "smallint", "smallserial", "serial2")
	addType(OidInt4, "integer", OidInt4Array, 4, 'N', "int4", "int", "integer", "serial", "serial4")
	addType(OidText, "text", OidTextArray, -1, 'S', "text")
	addType(OidOid, "oid", OidOidArray, 4, 'N', "oid")
	addType(OidRegproc, "regproc", 0, 4, 'N', "regproc")
	addType(OidRegclass, "regclass", 0, 4, 'N', "regclass")
	addType(OidRegtype, "regtype", 0, 4, 'N', "regtype")
	addType(OidRegnamespace, "regnamespace", 0, 4, 'N', "regnamespace")
	addType(OidRegrole, "regrole", 0, 4, 'N', "regrole")
	addType(OidJSON, "json", 199, -1, 'U', "json")
	addType(OidFloat4, "real", OidFloat4Array, 4, 'N', "float4", "real")
	addType(OidFloat8, "double precision", OidFloat8Array, 8, 'N', "float8", "double precision", "float")
	addType(OidUnknown, "unknown", 0, -2, 'X', "unknown")
	addType(OidBpchar, "character", 1014, -1, 'S', "bpchar", "character")
	addType(OidVarchar, "character varying", OidVarcharArray, -1, 'S', "varchar", "character varying")
	addType(OidDate, "date", OidDateArray, 4, 'D', "date")
	addType(OidTime, "time without time zone", 1183, 8, 'D', "time", "time without time zone")
	addType(OidTimestamp, "timestamp without time zone", OidTimestampArray, 8, 'D', "timestamp", "timestamp without time zone")
	addType(OidTimestamptz, "timestamp with time zone", OidTimestamptzArray, 8, 'D', "timestamptz", "timestamp with time zone")
	addType(OidInterval, "interval", 1187, 16, 'T', "interval")
	addType(OidNumeric, "numeric", OidNumericArray, -1, 'N', "numeric", "decimal")
	addType(OidUUID, "uuid", OidUUIDArray, 16, 'U', "uuid")
	addType(OidJSONB, "jsonb", OidJSONBArray, -1, 'U', "jsonb")
}

// TypeByName resolves a PostgreSQL type name (any common spelling, with
// or without a pg_catalog qualifier and a trailing []) to its OID; 0 means
// unknown.
func TypeByName(name string) uint32 {
	name = strings.ToLower(strings.TrimSpace(name))
	name = strings.TrimPrefix(name, "pg_catalog.")
	if base, ok := strings.CutSuffix(name, "[]"); ok {
		if t := Types[TypeByName(base)]; t != nil {
			return t.Array
		}
		return 0
	}
	if i := strings.IndexByte(name, '('); i > 0 {
		name = strings.TrimSpace(name[:i])
	}
	return typeNames[name]
}

// IsArray reports whether oid is an array type.
func IsArray(oid uint32) bool {
	t := Types[oid]
	return t != nil && t.Elem != 0
}

// DeclType is the SQLite declared type rewire stores for a column of the
// given PostgreSQL type and modifier. It keeps the PostgreSQL name so the
// type can be recovered from SQLite's schema, while SQLite's affinity rules
// (INT → integer, CHAR/TEXT → text, FLOA/DOUB/REAL → real, else numeric)
// pick a sensible storage class.
// ColumnType is the declaration of a column of type oid in CREATE TABLE:
// its DeclType, and for numeric the collation that orders decimal text by
// value.
func ColumnType(oid uint32, typmod int32) string {
	if oid == OidNumeric {
		return DeclType(oid, typmod) + " COLLATE pgw_numeric"
	}
	return DeclType(oid, typmod)
}

func DeclType(oid uint32, typmod int32) string {
	switch oid {
	case OidInt2:
		return "int2"
	case OidInt4:
		return "int4"
	case OidInt8:
		return "int8"
	case OidFloat4:
		return "float4"
	case OidFloat8:
		return "float8"
	case OidBool:
		return "bool"
	case OidText:
		return "text"
	case OidVarchar:
		if typmod > 4 {
			return "varchar(" + itoa(int(typmod-4)) + ")"
		}
		return "varchar"
	case OidBpchar:
		if typmod > 4 {
			return "bpchar(" + itoa(int(typmod-4)) + ")"
		}
		return "bpchar"
	case OidNumeric:
		// TEXT affinity keeps the exact decimal text (see decimal.go);
		// tables made before kept numbers as SQLite numbers under the
		// name numeric, which still reads as numeric.
		if typmod > 4 {
			p, s := (typmod-4)>>16, (typmod-4)&0xffff
			return "numeric_text(" + itoa(int(p)) + "," + itoa(int(s)) + ")"
		}
		return "numeric_text"
	case OidInterval:
		// "interval" contains INT; avoid integer affinity.
		return "pg_interval"
	}
	if t := Types[oid]; t != nil {
		if t.Elem != 0 {
			// Arrays are stored as their text form.
			return "text_" + strings.TrimSuffix(DeclType(t.Elem, -1), "()") + "_array"
		}
		switch oid {
		case OidTimestamp:
			return "timestamp"
		case OidTimestamptz:
			return "timestamptz"
		case OidTime:
			return "time"
		}
		return strings.ReplaceAll(t.Name, " ", "_")
	}
	return "text"
}

// ParseDeclType reverses DeclType: it returns the PostgreSQL type and
// modifier of a SQLite declared column type. Unknown names yield text.
func ParseDeclType(decl string) (oid uint32, typmod int32) {
	d := strings.ToLower(strings.TrimSpace(decl))
	if d == "" {
		return 0, -1
	}
	if strings.HasPrefix(d, "text_") && strings.HasSuffix(d, "_array") {
		elem, _ := ParseDeclType(strings.TrimSuffix(strings.TrimPrefix(d, "text_"), "_array"))
		if t := Types[elem]; t != nil && t.Array != 0 {
			return t.Array, -1
		}
		return OidTextArray, -1
	}
	typmod = -1
	base := d
	if i := strings.IndexByte(d, '('); i > 0 && strings.HasSuffix(d, ")") {
		base = d[:i]
		args := strings.Split(d[i+1:len(d)-1], ",")
		n0 := atoi(args[0])
		switch base {
		case "numeric", "decimal", "numeric_text":
			s := 0
			if len(args) > 1 {
				s = atoi(args[1])
			}
			typmod = int32(n0<<16|s) + 4
		case "varchar", "bpchar", "char", "character", "character varying":
			typmod = int32(n0) + 4
		}
	}
	switch base {
	case "pg_interval":
		return OidInterval, typmod
	case "numeric_text":
		return OidNumeric, typmod
	case "integer", "int":
		return OidInt4, typmod
	case "real":
		return OidFloat4, typmod
	case "double", "double_precision":
		return OidFloat8, typmod
	case "blob":
		return OidBytea, typmod
	}
	if o := TypeByName(strings.ReplaceAll(base, "_", " ")); o != 0 {
		return o, typmod
	}
	return OidText, typmod
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

func atoi(s string) int {
	n := 0
	for _, c := range strings.TrimSpace(s) {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}
