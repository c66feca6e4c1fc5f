package sqltrans

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

func funcName(f *pg.FuncCall) string {
	n := f.Funcname[len(f.Funcname)-1].GetString_().Sval
	return strings.ToLower(n)
}

// simpleFuncs map PostgreSQL functions to SQLite ones with the same
// arguments, and give the result type (0: the first argument's type).
var simpleFuncs = map[string]struct {
	name string
	oid  uint32
}{
	"lower": {"lower", OidText}, "upper": {"upper", OidText},
	"length": {"length", OidInt4}, "char_length": {"length", OidInt4}, "character_length": {"length", OidInt4},
	"octet_length": {"pgw_octet_length", OidInt4},
	"replace":      {"replace", OidText}, "btrim": {"trim", OidText}, "ltrim": {"ltrim", OidText}, "rtrim": {"rtrim", OidText},
	"abs": {"abs", 0}, "round": {"pgw_round", 0}, "trunc": {"pgw_trunc", 0},
	"ceil": {"pgw_ceil", 0}, "ceiling": {"pgw_ceil", 0}, "floor": {"pgw_floor", 0},
	"sqrt": {"pgw_sqrt", OidFloat8}, "power": {"pgw_pow", OidFloat8}, "pow": {"pgw_pow", OidFloat8},
	"exp": {"pgw_exp", OidFloat8}, "ln": {"pgw_ln", OidFloat8}, "log": {"pgw_log10", OidFloat8},
	"mod": {"pgw_mod", 0}, "sign": {"sign", 0}, "random": {"pgw_random", OidFloat8},
	"concat": {"pgw_concat", OidText}, "concat_ws": {"pgw_concat_ws", OidText},
	"left": {"pgw_left", OidText}, "right": {"pgw_right", OidText},
	"strpos": {"instr", OidInt4}, "reverse": {"pgw_reverse", OidText},
	"repeat": {"pgw_repeat", OidText}, "lpad": {"pgw_lpad", OidText}, "rpad": {"pgw_rpad", OidText},
	"split_part": {"pgw_split_part", OidText}, "initcap": {"pgw_initcap", OidText},
	"md5": {"pgw_md5", OidText}, "chr": {"char", OidText}, "ascii": {"unicode", OidInt4},
	"to_hex": {"pgw_to_hex", OidText}, "regexp_replace": {"pgw_regexp_replace", OidText},
	"now": {"pgw_now(1184)", OidTimestamptz}, "transaction_timestamp": {"pgw_now(1184)", OidTimestamptz},
	"statement_timestamp": {"pgw_now(1184)", OidTimestamptz}, "clock_timestamp": {"pgw_now(1184)", OidTimestamptz},
	"timeofday":  {"pgw_now(25)", OidText},
	"date_trunc": {"pgw_date_trunc", 0}, "date_part": {"pgw_date_part", OidFloat8},
	"age": {"pgw_age", OidInterval}, "to_char": {"pgw_to_char", OidText},
	"make_date": {"pgw_make_date", OidDate}, "to_timestamp": {"pgw_to_timestamp", OidTimestamptz},
	"gen_random_uuid": {"pgw_uuid", OidUUID}, "uuid_generate_v4": {"pgw_uuid", OidUUID},
	"version": {"pgw_session('version')", OidText}, "current_database": {"pgw_session('database')", OidName},
	"current_schema": {"'public'", OidName}, "current_user": {"pgw_session('user')", OidName},
	"session_user": {"pgw_session('user')", OidName}, "pg_backend_pid": {"pgw_session('pid')", OidInt4},
	"inet_server_addr": {"NULL", OidText}, "inet_server_port": {"NULL", OidInt4},
	"json_build_object": {"json_object", OidJSON}, "jsonb_build_object": {"json_object", OidJSONB},
	"json_build_array": {"json_array", OidJSON}, "jsonb_build_array": {"json_array", OidJSONB},
	"json_array_length": {"json_array_length", OidInt4}, "jsonb_array_length": {"json_array_length", OidInt4},
	"json_typeof": {"pgw_json_typeof", OidText}, "jsonb_typeof": {"pgw_json_typeof", OidText},
	"to_json": {"pgw_to_json", OidJSON}, "to_jsonb": {"pgw_to_json", OidJSONB},
	"jsonb_set": {"pgw_jsonb_set", OidJSONB}, "jsonb_pretty": {"pgw_jsonb_pretty", OidText},
	"json_extract_path_text": {"pgw_json_extract_text", OidText}, "jsonb_extract_path_text": {"pgw_json_extract_text", OidText},
	"json_extract_path": {"pgw_json_extract", OidJSON}, "jsonb_extract_path": {"pgw_json_extract", OidJSONB},
	"jsonb_strip_nulls": {"pgw_jsonb_strip_nulls", OidJSONB},
	"array_length":      {"pgw_array_length", OidInt4}, "cardinality": {"pgw_array_cardinality", OidInt4},
	"array_to_string": {"pgw_array_to_string", OidText}, "array_position": {"pgw_array_position", OidInt4},
	"array_append": {"pgw_array_append", 0}, "array_prepend": {"pgw_array_prepend", 0},
	"array_cat": {"pgw_array_cat", 0}, "array_remove": {"pgw_array_remove", 0},
	"array_upper": {"pgw_array_length", OidInt4}, "array_lower": {"pgw_array_lower", OidInt4},
	"string_to_array": {"pgw_string_to_array", OidTextArray},
	"format_type":     {"pgw_format_type", OidText}, "pg_get_userbyid": {"pgw_session('user')", OidName},
	"pg_type_is_visible": {"pgw_true", OidBool}, "pg_operator_is_visible": {"pgw_true", OidBool},
	"pg_opclass_is_visible": {"pgw_true", OidBool}, "pg_collation_is_visible": {"pgw_true", OidBool},
	"pg_function_is_visible": {"pgw_true", OidBool},
	"has_table_privilege":    {"pgw_true", OidBool}, "has_schema_privilege": {"pgw_true", OidBool},
	"has_database_privilege": {"pgw_true", OidBool}, "pg_has_role": {"pgw_true", OidBool},
	"obj_description": {"pgw_null", OidText}, "col_description": {"pgw_null", OidText},
	"shobj_description": {"pgw_null", OidText}, "pg_get_expr": {"pgw_get_expr", OidText},
	"pg_get_indexdef": {"pgw_get_indexdef", OidText}, "pg_get_constraintdef": {"pgw_get_constraintdef", OidText},
	"pg_encoding_to_char": {"pgw_encoding", OidName},
	"pg_relation_size":    {"pgw_zero", OidInt8}, "pg_total_relation_size": {"pgw_zero", OidInt8},
	"pg_table_size": {"pgw_zero", OidInt8}, "pg_database_size": {"pgw_zero", OidInt8},
	"pg_size_pretty": {"pgw_size_pretty", OidText}, "pg_is_in_recovery": {"pgw_false", OidBool},
	"pg_get_function_result": {"pgw_null", OidText}, "pg_get_function_arguments": {"pgw_null", OidText},
	"pg_get_statisticsobjdef_columns": {"pgw_null", OidText}, "pg_get_partkeydef": {"pgw_null", OidText},
	"pg_get_triggerdef": {"pgw_null", OidText}, "pg_get_ruledef": {"pgw_null", OidText},
	"quote_ident": {"pgw_quote_ident", OidText}, "quote_literal": {"pgw_quote_literal", OidText},
	"pg_cancel_backend": {"pgw_false", OidBool}, "pg_terminate_backend": {"pgw_false", OidBool},
	"txid_current": {"pgw_session('txid')", OidInt8}, "pg_current_xact_id": {"pgw_session('txid')", OidInt8},
	"pg_postmaster_start_time": {"pgw_now(1184)", OidTimestamptz},
	"array_to_json":            {"pgw_array_to_json", OidJSON}, "row_to_json": {"pgw_null", OidJSON},
	"pg_get_serial_sequence": {"pgw_serial_seq", OidText}, "pg_backend_memory_contexts": {"pgw_null", OidText},
	"isfinite": {"pgw_true", OidBool}, "pg_relation_is_publishable": {"pgw_false", OidBool},
	"pg_get_statisticsobjdef": {"pgw_null", OidText}, "pg_tablespace_location": {"pgw_null", OidText},
	"pg_get_function_identity_arguments": {"pgw_null", OidText}, "pg_get_function_sqlbody": {"pgw_null", OidText},
	"pg_column_size": {"pgw_zero", OidInt4}, "pg_indexes_size": {"pgw_zero", OidInt8}, "position": {"instr", OidInt4},
}

// blockedFuncs are SQLite functions tenant SQL may never call.
var blockedFuncs = map[string]bool{
	"load_extension": true, "readfile": true, "writefile": true, "edit": true, "fts3_tokenizer": true,
	"sqlite_compileoption_get": false,
}

func (t *tr) funcCall(f *pg.FuncCall) (string, uint32) {
	name := funcName(f)
	if len(f.Funcname) == 2 {
		if s := f.Funcname[0].GetString_().Sval; s != "pg_catalog" && s != "public" && s != "information_schema" {
			fail(CodeUndefinedFunction, "function %s.%s does not exist", s, name)
		}
	}
	if blockedFuncs[name] || strings.HasPrefix(name, "pgw_") || strings.HasPrefix(name, "sqlite_") {
		fail(CodeUndefinedFunction, "function %s does not exist", name)
	}
	over := ""
	if f.Over != nil {
		if f.Over.Name != "" && len(f.Over.PartitionClause) == 0 && len(f.Over.OrderClause) == 0 {
			over = " OVER " + qi(f.Over.Name)
		} else {
			over = " OVER " + t.windowDef(f.Over)
		}
	}
	filter := ""
	if f.AggFilter != nil {
		e, _ := t.exprTyped(f.AggFilter, OidBool)
		filter = " FILTER (WHERE " + e + ")"
	}
	distinct := ""
	if f.AggDistinct {
		distinct = "DISTINCT "
	}
	order := ""
	if len(f.AggOrder) > 0 {
		order = " ORDER BY " + strings.Join(t.sortList(f.AggOrder, nil), ", ")
	}
	args := func(want uint32) ([]string, uint32) {
		var out []string
		var first uint32
		for i, a := range f.Args {
			e, o := t.exprTyped(a, want)
			if i == 0 {
				first = o
			}
			out = append(out, e)
		}
		return out, first
	}
	agg := func(fn string, a []string, oid uint32) (string, uint32) {
		return fn + "(" + distinct + strings.Join(a, ", ") + order + ")" + filter + over, oid
	}

	switch name {
	case "count":
		if f.AggStar {
			return "count(*)" + filter + over, OidInt8
		}
		a, _ := args(0)
		return agg("count", a, OidInt8)
	case "sum":
		a, o := args(0)
		switch o {
		case OidInt2, OidInt4:
			o = OidInt8
		case OidInt8:
			o = OidNumeric
		case OidNumeric:
			e, _ := agg("pgw_nsum", a, o)
			return "(" + e + " COLLATE pgw_numeric)", o
		}
		return agg("sum", a, o)
	case "avg":
		a, o := args(0)
		switch o {
		case OidFloat4, OidFloat8:
			return agg("avg", a, o)
		case OidInt2, OidInt4, OidInt8, OidNumeric:
			// avg of integers and numerics is numeric, with the scale
			// of PostgreSQL's numeric division.
			e, _ := agg("pgw_navg", a, OidNumeric)
			return "(" + e + " COLLATE pgw_numeric)", OidNumeric
		}
		return agg("avg", a, OidNumeric)
	case "min", "max":
		a, o := args(0)
		if o == OidNumeric && len(a) == 1 {
			a[0] += " COLLATE pgw_numeric"
		}
		return agg(name, a, o)
	case "stddev", "stddev_samp", "variance", "var_samp", "stddev_pop", "var_pop":
		fail(CodeFeature, "function %s is not supported", name)
	case "bool_and", "every":
		a, _ := args(OidBool)
		return agg("min", a, OidBool)
	case "bool_or":
		a, _ := args(OidBool)
		return agg("max", a, OidBool)
	case "string_agg":
		a, _ := args(OidText)
		return agg("group_concat", a, OidText)
	case "array_agg":
		a, o := args(0)
		if o == 0 || o == OidUnknown {
			o = OidText
		}
		arr := OidTextArray
		if ti := Types[o]; ti != nil && ti.Array != 0 {
			arr = ti.Array
		}
		e, _ := agg("group_concat", []string{"pgw_array_item(" + a[0] + ", " + itoa(int(o)) + ")", "','"}, arr)
		if over != "" {
			return "('{' || " + e + " || '}')", arr
		}
		return "('{' || " + e + " || '}')", arr
	case "json_agg", "jsonb_agg":
		a, o := args(0)
		e, _ := agg("json_group_array", []string{jsonArg(a[0], o)}, OidJSON)
		if name == "json_agg" {
			return "pgw_json_fmt(" + e + ", 0)", OidJSON
		}
		return "pgw_jsonb_norm(" + e + ")", OidJSONB
	case "json_object_agg", "jsonb_object_agg":
		if len(f.Args) != 2 {
			fail(CodeUndefinedFunction, "function %s needs two arguments", name)
		}
		k, _ := t.expr(f.Args[0])
		v, vo := t.expr(f.Args[1])
		e, _ := agg("json_group_object", []string{k, jsonArg(v, vo)}, OidJSON)
		if name == "json_object_agg" {
			return "pgw_json_fmt(" + e + ", 2)", OidJSON
		}
		return "pgw_jsonb_norm(" + e + ")", OidJSONB
	case "row_number", "rank", "dense_rank", "ntile":
		a, _ := args(OidInt4)
		return name + "(" + strings.Join(a, ", ") + ")" + over, OidInt8
	case "percent_rank", "cume_dist":
		return name + "()" + over, OidFloat8
	case "lag", "lead", "first_value", "last_value", "nth_value":
		a, o := args(0)
		return name + "(" + strings.Join(a, ", ") + ")" + over, o
	case "coalesce":
		a, o := args(0)
		return "coalesce(" + strings.Join(a, ", ") + ")", o
	case "nullif":
		a, o := args(0)
		return "nullif(" + strings.Join(a, ", ") + ")", o
	case "greatest", "least":
		a, o := args(0)
		return "pgw_" + name + "(" + strings.Join(a, ", ") + ")", o
	case "substring", "substr":
		var a []string
		for i, x := range f.Args {
			want := OidInt4
			if i == 0 {
				want = OidText
			}
			e, _ := t.exprTyped(x, want)
			a = append(a, e)
		}
		if len(a) == 2 {
			return "substr(" + a[0] + ", " + a[1] + ")", OidText
		}
		return "substr(" + strings.Join(a, ", ") + ")", OidText
	case "extract", "date_part":
		res := uint32(OidNumeric)
		if name == "date_part" {
			res = OidFloat8
		}
		a, o := args(0)
		if len(f.Args) == 2 {
			_, o = t.expr(f.Args[1])
		}
		if len(a) == 2 && o == OidTimestamptz && !isEpoch(f.Args[0]) {
			if z := t.zonedCast(a[1], OidTimestamptz, OidTimestamp); z != "" {
				a[1] = z // fields of the wall time in the session zone
			}
		}
		return "pgw_date_part(" + strings.Join(a, ", ") + ")", res
	case "trim":
		a, _ := args(OidText)
		return "trim(" + strings.Join(reverse(a), ", ") + ")", OidText
	case "overlay", "normalize", "xmlconcat":
		fail(CodeFeature, "function %s is not supported", name)
	case "date_trunc":
		a, o := args(0)
		if len(f.Args) == 2 {
			_, o = t.expr(f.Args[1])
		}
		if o == OidUnknown || o == 0 {
			o = OidTimestamptz
		}
		if len(a) == 2 && o == OidTimestamptz {
			// Truncated in the session zone's wall time.
			if z := t.zonedCast(a[1], OidTimestamptz, OidTimestamp); z != "" {
				return t.zonedCast("pgw_date_trunc("+a[0]+", "+z+")", OidTimestamp, OidTimestamptz), o
			}
		}
		return "pgw_date_trunc(" + strings.Join(a, ", ") + ")", o
	case "pg_get_indexdef", "pg_get_constraintdef":
		if len(f.Args) == 0 {
			fail(CodeUndefinedFunction, "function %s() does not exist", name)
		}
		a, _ := t.outerExpr(f.Args[0])
		if name == "pg_get_indexdef" {
			return "(SELECT indexdef FROM \"pg_catalog.pg_indexes_def\" WHERE oid = " + a + ")", OidText
		}
		return "(SELECT condef FROM \"pg_catalog.pg_constraint\" WHERE oid = " + a + ")", OidText
	case "pg_get_expr":
		a, _ := args(0)
		return a[0], OidText
	case "json_build_object", "jsonb_build_object", "json_build_array", "jsonb_build_array":
		var a []string
		for i, n := range f.Args {
			e, o := t.expr(n)
			if name[len(name)-6:] != "object" || i%2 == 1 {
				e = jsonArg(e, o) // values, not keys
			}
			a = append(a, e)
		}
		fn, style := "json_object", "1"
		if strings.HasSuffix(name, "array") {
			fn, style = "json_array", "0"
		}
		e := fn + "(" + strings.Join(a, ", ") + ")"
		if strings.HasPrefix(name, "jsonb") {
			return "pgw_jsonb_norm(" + e + ")", OidJSONB
		}
		return "pgw_json_fmt(" + e + ", " + style + ")", OidJSON
	case "pg_advisory_lock", "pg_advisory_lock_shared", "pg_advisory_xact_lock", "pg_advisory_xact_lock_shared",
		"pg_try_advisory_lock", "pg_try_advisory_lock_shared", "pg_try_advisory_xact_lock", "pg_try_advisory_xact_lock_shared",
		"pg_advisory_unlock", "pg_advisory_unlock_shared", "pg_advisory_unlock_all":
		e, oid, _ := t.advisoryCall(name, f)
		return e, oid
	case "timezone":
		// x AT TIME ZONE zone.
		if len(f.Args) != 2 {
			fail(CodeUndefinedFunction, "function timezone needs two arguments")
		}
		zone, zo := t.expr(f.Args[0])
		v, vo := t.exprTyped(f.Args[1], OidTimestamptz)
		if zo == OidInterval {
			zone = "'@' || " + zone
		}
		switch vo {
		case OidTimestamp:
			return "pgw_timezone(" + zone + ", " + v + ", 1)", OidTimestamptz
		case OidTimestamptz, OidUnknown, OidText, OidDate, 0:
			return "pgw_timezone(" + zone + ", " + v + ", 0)", OidTimestamp
		}
		fail(CodeUndefinedFunction, "function timezone(text, %s) does not exist", FormatType(vo, -1))
	case "to_regclass":
		if len(f.Args) != 1 {
			fail(CodeUndefinedFunction, "function to_regclass needs one argument")
		}
		a, _ := t.exprTyped(f.Args[0], OidText)
		return "(SELECT r.oid FROM \"pg_catalog.pg_class\" r WHERE r.oid = pgw_regclass(" + a + "))", OidRegclass
	case "pg_sleep":
		if len(f.Args) != 1 {
			fail(CodeUndefinedFunction, "function pg_sleep needs one argument")
		}
		a, _ := t.exprTyped(f.Args[0], OidFloat8)
		// Sleeping in steps keeps the statement cancellable.
		return "(WITH RECURSIVE \"?rw_sleep\"(d, go) AS (SELECT pgw_deadline(" + a + "), 1 UNION ALL " +
			"SELECT d, pgw_sleep_step(d) FROM \"?rw_sleep\" WHERE go) SELECT '' FROM \"?rw_sleep\" WHERE NOT go)", OidText
	case "current_setting":
		if len(f.Args) == 0 {
			fail(CodeUndefinedFunction, "function current_setting() does not exist")
		}
		if f.Args[0].GetAConst() == nil || f.Args[0].GetAConst().GetSval() == nil {
			// A computed name (psql's \dconfig): the server defaults.
			a, _ := t.outerExpr(f.Args[0])
			return "(SELECT st.setting FROM \"pg_catalog.pg_settings\" st WHERE st.name = lower(" + a + "))", OidText
		}
		missingOK := len(f.Args) > 1
		key := strings.ToLower(f.Args[0].GetAConst().GetSval().Sval)
		t.noCache = true
		if t.cat == nil {
			return "NULL", OidText
		}
		v := t.cat.Session("setting:" + key)
		if v == "\x00" {
			if missingOK {
				return "NULL", OidText
			}
			fail(CodeUndefinedObject, "unrecognized configuration parameter \"%s\"", key)
		}
		return qs(v), OidText
	case "to_char":
		a, o := args(0)
		if len(a) == 2 && o == OidTimestamptz {
			if z := t.zonedCast(a[0], OidTimestamptz, OidTimestamp); z != "" {
				a[0] = z // the wall time in the session zone
			}
		}
		if len(a) != 2 {
			fail(CodeUndefinedFunction, "function to_char needs two arguments")
		}
		return "pgw_to_char(" + a[0] + ", " + a[1] + ")", OidText
	case "pg_notify":
		if len(f.Args) != 2 {
			fail(CodeUndefinedFunction, "function pg_notify needs two arguments")
		}
		a, _ := args(OidText)
		return "pgw_notify(" + a[0] + ", " + a[1] + ")", OidText
	case "set_config":
		fail(CodeFeature, "set_config is supported only as SELECT set_config('name', 'value', is_local) with constants; use SET")
	case "pg_get_viewdef":
		if len(f.Args) == 0 {
			fail(CodeUndefinedFunction, "function pg_get_viewdef() does not exist")
		}
		a, _ := t.outerExpr(f.Args[0])
		return "(SELECT ' ' || substr(v.sql, instr(upper(v.sql), ' AS ') + 4) || ';' FROM main.sqlite_schema v WHERE v.type = 'view' AND pgw_reloid(v.name) = " + a + ")", OidText
	case "pg_table_is_visible":
		if len(f.Args) != 1 {
			fail(CodeUndefinedFunction, "function pg_table_is_visible needs one argument")
		}
		// TODO: visibility ignores a search_path other than the default.
		a, _ := t.outerExpr(f.Args[0])
		return "coalesce((SELECT v.relnamespace IN (11, 2200) FROM \"pg_catalog.pg_class\" v WHERE v.oid = " + a + "), 1)", OidBool
	case "pg_partition_ancestors", "pg_partition_root":
		a, _ := args(0)
		return a[0], OidRegclass
	case "current_schemas":
		if p := t.searchPath(); p != nil {
			return qs("{pg_catalog," + strings.Join(t.existingSchemas(p), ",") + "}"), OidNameArray
		}
		return "'{pg_catalog,public}'", OidNameArray
	case "current_schema":
		if p := t.searchPath(); p != nil {
			if s := t.existingSchemas(p); len(s) > 0 {
				return qs(s[0]), OidName
			}
			return "NULL", OidName
		}
	case "nextval", "currval", "setval":
		return t.seqExpr(name, f), OidInt8
	case "lastval":
		fail(CodeFeature, "lastval is not supported; use currval with the sequence's name")
	case "generate_series", "unnest":
		fail(CodeFeature, "set-returning function %s is only supported in FROM", name)
	}
	if m, ok := simpleFuncs[name]; ok {
		a, o := args(0)
		res := m.oid
		if res == 0 {
			res = o
		}
		if key, ok := strings.CutPrefix(m.name, "pgw_session('"); ok {
			return t.session(strings.TrimSuffix(key, "')")), res
		}
		if strings.HasSuffix(m.name, ")") || strings.HasPrefix(m.name, "'") || m.name == "NULL" {
			return m.name, res // a constant: current_schema(), inet_server_addr()
		}
		return m.name + "(" + strings.Join(a, ", ") + ")" + over, res
	}
	fail(CodeUndefinedFunction, "function %s does not exist", name)
	return "", 0
}

func reverse(a []string) []string {
	out := make([]string, len(a))
	for i := range a {
		out[len(a)-1-i] = a[i]
	}
	return out
}

func (t *tr) windowDef(w *pg.WindowDef) string {
	var parts []string
	if w.Refname != "" {
		parts = append(parts, qi(w.Refname))
	}
	if len(w.PartitionClause) > 0 {
		var p []string
		for _, n := range w.PartitionClause {
			e, _ := t.expr(n)
			p = append(p, e)
		}
		parts = append(parts, "PARTITION BY "+strings.Join(p, ", "))
	}
	if len(w.OrderClause) > 0 {
		parts = append(parts, "ORDER BY "+strings.Join(t.sortList(w.OrderClause, nil), ", "))
	}
	// Frame options: PostgreSQL's defaults equal SQLite's; explicit frames
	// with ROWS/RANGE and offsets are decoded from the bit mask.
	if fo := w.FrameOptions; fo&frameNonDefault != 0 {
		parts = append(parts, t.frameClause(w))
	}
	return "(" + strings.Join(parts, " ") + ")"
}

// Frame option bits from PostgreSQL's parsenodes.h.
const (
	frameNonDefault             = 0x00001
	frameRange                  = 0x00002
	frameRows                   = 0x00004
	frameGroups                 = 0x00008
	frameBetween                = 0x00010
	frameStartUnboundedPreced   = 0x00020
	frameEndUnboundedFollowing  = 0x00100
	frameStartCurrentRow        = 0x00200
	frameEndCurrentRow          = 0x00400
	frameStartOffsetPreceding   = 0x00800
	frameEndOffsetPreceding     = 0x01000
	frameStartOffsetFollowing   = 0x02000
	frameEndOffsetFollowing     = 0x04000
	frameStartUnboundedFollow   = 0x00080
	frameEndUnboundedPrecedeing = 0x00040
)

func (t *tr) frameClause(w *pg.WindowDef) string {
	fo := w.FrameOptions
	mode := "RANGE"
	if fo&frameRows != 0 {
		mode = "ROWS"
	} else if fo&frameGroups != 0 {
		mode = "GROUPS"
	}
	bound := func(start bool) string {
		switch {
		case start && fo&frameStartUnboundedPreced != 0, !start && fo&frameEndUnboundedPrecedeing != 0:
			return "UNBOUNDED PRECEDING"
		case start && fo&frameStartUnboundedFollow != 0, !start && fo&frameEndUnboundedFollowing != 0:
			return "UNBOUNDED FOLLOWING"
		case start && fo&frameStartCurrentRow != 0, !start && fo&frameEndCurrentRow != 0:
			return "CURRENT ROW"
		case start && fo&frameStartOffsetPreceding != 0:
			e, _ := t.expr(w.StartOffset)
			return e + " PRECEDING"
		case start && fo&frameStartOffsetFollowing != 0:
			e, _ := t.expr(w.StartOffset)
			return e + " FOLLOWING"
		case !start && fo&frameEndOffsetPreceding != 0:
			e, _ := t.expr(w.EndOffset)
			return e + " PRECEDING"
		case !start && fo&frameEndOffsetFollowing != 0:
			e, _ := t.expr(w.EndOffset)
			return e + " FOLLOWING"
		}
		return "CURRENT ROW"
	}
	if fo&frameBetween != 0 {
		return mode + " BETWEEN " + bound(true) + " AND " + bound(false)
	}
	return mode + " " + bound(true)
}

// outerExpr translates an expression that is placed inside a catalog
// subquery: a bare column name is qualified with its relation, so that
// psql's pg_get_constraintdef(oid) keeps meaning the outer row's oid and
// not the subquery's own.
func (t *tr) outerExpr(n *pg.Node) (string, uint32) {
	cr := n.GetColumnRef()
	if cr == nil || len(cr.Fields) != 1 || cr.Fields[0].GetString_() == nil {
		return t.expr(n)
	}
	name := cr.Fields[0].GetString_().Sval
	if alias := t.relOf(name); alias != "" {
		e, oid := t.expr(n)
		if !strings.Contains(e, ".") {
			e = qi(alias) + "." + qi(name)
		}
		return e, oid
	}
	return t.expr(n)
}

// relOf returns the alias of the innermost relation with a column name,
// or "" when none has one, or the one that has it is unnamed.
func (t *tr) relOf(name string) string {
	for i := len(t.scopes) - 1; i >= 0; i-- {
		for _, r := range t.scopes[i] {
			for _, c := range r.cols {
				if c.Name == name {
					return r.alias
				}
			}
		}
	}
	return ""
}

// jsonArg passes a value of type oid to SQLite's JSON builders as
// PostgreSQL's to_json would: json and jsonb as JSON, not as a string,
// booleans as true and false, arrays as JSON arrays.
// isEpoch reports whether a date_part field argument is the literal
// 'epoch', which counts from the instant rather than the wall time.
func isEpoch(n *pg.Node) bool {
	c := n.GetAConst()
	return c != nil && c.GetSval() != nil && strings.EqualFold(c.GetSval().Sval, "epoch")
}

func jsonArg(e string, oid uint32) string {
	switch {
	case oid == OidJSON || oid == OidJSONB:
		return "json(" + e + ")"
	case oid == OidNumeric:
		// Decimal text is a JSON number as it is written.
		return "json(CAST(" + e + " AS TEXT))"
	case oid == OidBool:
		return "(CASE WHEN " + e + " IS NULL THEN NULL WHEN " + e + " THEN json('true') ELSE json('false') END)"
	case IsArray(oid):
		elem := uint32(OidText)
		if ti := Types[oid]; ti != nil {
			elem = ti.Elem
		}
		return "json(pgw_array_json(" + e + ", " + itoa(int(elem)) + "))"
	}
	return e
}
