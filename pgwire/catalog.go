package pgwire

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"modernc.org/sqlite"

	"rewire/pgwire/sqltrans"
)

// The catalog is a set of temporary SQLite views on every session
// connection, derived from SQLite's own schema, named like the
// PostgreSQL relations they emulate ("pg_catalog.pg_class").

// catCol is one column of an emulated catalog relation.
type catCol struct {
	name string
	oid  uint32
}

type catView struct {
	name string // e.g. pg_catalog.pg_class
	cols []catCol
	sql  string // SELECT producing the columns in order; %DIR% is the tenant's sql directory
}

func cols(spec string) []catCol {
	var out []catCol
	for _, f := range strings.Split(spec, ",") {
		name, typ, _ := strings.Cut(strings.TrimSpace(f), " ")
		oid := sqltrans.TypeByName(typ)
		if oid == 0 {
			oid = sqltrans.OidText
		}
		out = append(out, catCol{name: name, oid: oid})
	}
	return out
}

// userRels lists the tenant's tables, views and indexes.
const userRels = `SELECT type, name, tbl_name, sql FROM main.sqlite_schema
	WHERE type IN ('table', 'view', 'index') AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name NOT LIKE '?rw\_%' ESCAPE '\'`

// emptyView builds a view with the given columns and no rows.
func emptyView(name, spec string) catView {
	c := cols(spec)
	var sel []string
	for range c {
		sel = append(sel, "NULL")
	}
	return catView{name: name, cols: c, sql: "SELECT " + strings.Join(sel, ", ") + " WHERE 0"}
}

var catalogViews = []catView{
	{name: "pg_catalog.pg_namespace", cols: cols("oid oid, nspname name, nspowner oid, nspacl text"),
		sql: `SELECT 11, 'pg_catalog', 10, NULL UNION ALL SELECT 2200, 'public', 10, NULL UNION ALL SELECT 13000, 'information_schema', 10, NULL
			UNION ALL SELECT pgw_nspoid(name), name, 10, NULL FROM (SELECT name FROM main."?rw_schema"
				UNION SELECT pgw_nsp(name) FROM (` + userRels + `) WHERE instr(name, '.') > 0)`},
	{name: "pg_catalog.pg_class", cols: cols("oid oid, relname name, relnamespace oid, reltype oid, reloftype oid, relowner oid, relam oid, relfilenode oid, reltablespace oid, relpages int4, reltuples float4, relallvisible int4, reltoastrelid oid, relhasindex bool, relisshared bool, relpersistence char, relkind char, relnatts int2, relchecks int2, relhasrules bool, relhastriggers bool, relhassubclass bool, relrowsecurity bool, relforcerowsecurity bool, relispopulated bool, relreplident char, relispartition bool, relrewrite oid, relfrozenxid int8, relminmxid int8, relacl text, reloptions text, relpartbound text"),
		sql: `SELECT pgw_reloid(s.name), pgw_short(s.name), pgw_nspoid(pgw_nsp(s.name)), 0, 0, 10, CASE s.type WHEN 'table' THEN 2 ELSE 0 END, 0, 0, 0, -1, 0, 0,
			EXISTS (SELECT 1 FROM pragma_index_list(s.name)) OR EXISTS (SELECT 1 FROM pragma_table_info(s.name) p WHERE p.pk AND p.type = 'INTEGER'), 0, 'p',
			CASE s.type WHEN 'table' THEN 'r' ELSE 'v' END,
			(SELECT count(*) FROM pragma_table_info(s.name)), CASE s.type WHEN 'table' THEN json_array_length(pgw_checks(s.name, s.sql)) ELSE 0 END, 0,
			EXISTS (SELECT 1 FROM pragma_foreign_key_list(s.name)) OR EXISTS (SELECT 1 FROM main.sqlite_schema x, pragma_foreign_key_list(x.name) f WHERE x.type = 'table' AND f."table" = s.name),
			0, 0, 0, 1, 'd', 0, 0, 0, 0, NULL, NULL, NULL
			FROM (` + userRels + `) s WHERE s.type IN ('table', 'view')
			UNION ALL
			SELECT d.oid, pgw_short(d.indexname), pgw_nspoid(pgw_nsp(d.tablename)), 0, 0, 10, 403, 0, 0, 0, -1, 0, 0, 0, 0, 'p', 'i', 1, 0, 0, 0, 0, 0, 0, 1, 'd', 0, 0, 0, 0, NULL, NULL, NULL
			FROM "pg_catalog.pg_indexes_def" d
			UNION ALL
			SELECT q.oid, pgw_short(q.name), pgw_nspoid(pgw_nsp(q.name)), 0, 0, 10, 0, 0, 0, 0, -1, 0, 0, 0, 0, 'p', 'S', 3, 0, 0, 0, 0, 0, 0, 1, 'n', 0, 0, 0, 0, NULL, NULL, NULL
			FROM "pg_catalog.pg_sequence_def" q`},
	{name: "pg_catalog.pg_sequence_def", cols: cols("oid oid, name name, typid oid, start int8, incr int8, max int8, last int8, called bool"),
		sql: `SELECT pgw_reloid(name), name, 20, start, incr, 9223372036854775807, last, called FROM main."?rw_seq"
			UNION ALL
			SELECT pgw_reloid(s.name || '_' || p.name || '_seq'), s.name || '_' || p.name || '_seq', 23, 1, 1, 2147483647, 1, 0
			FROM (` + userRels + `) s, pragma_table_info(s.name) p WHERE s.type = 'table' AND p.pk AND p.type = 'INTEGER'`},
	{name: "pg_catalog.pg_attribute", cols: cols("attrelid oid, attname name, atttypid oid, attstattarget int4, attlen int2, attnum int2, attndims int4, attcacheoff int4, atttypmod int4, attbyval bool, attalign char, attstorage char, attcompression char, attnotnull bool, atthasdef bool, atthasmissing bool, attidentity char, attgenerated char, attisdropped bool, attislocal bool, attinhcount int4, attcollation oid, attacl text, attoptions text, attfdwoptions text, attmissingval text"),
		sql: `SELECT pgw_reloid(s.name), p.name, pgw_decl_oid(p.type), -1, -1, p.cid + 1, 0, -1, pgw_decl_mod(p.type), 0, 'i', pgw_storage(pgw_decl_oid(p.type)), '',
			p."notnull" OR p.pk > 0, p.dflt_value IS NOT NULL OR p.pk AND p.type = 'INTEGER', 0, '', '', 0, 1, 0, 0, NULL, NULL, NULL, NULL
			FROM (` + userRels + `) s, pragma_table_info(s.name) p WHERE s.type IN ('table', 'view')`},
	{name: "pg_catalog.pg_attrdef", cols: cols("oid oid, adrelid oid, adnum int2, adbin text"),
		sql: `SELECT pgw_reloid(s.name) + p.cid + 1, pgw_reloid(s.name), p.cid + 1,
			CASE WHEN p.pk AND p.type = 'INTEGER' THEN 'nextval(''' || s.name || '_' || p.name || '_seq''::regclass)' ELSE pgw_pretty_default(p.dflt_value, p.type) END
			FROM (` + userRels + `) s, pragma_table_info(s.name) p WHERE s.type = 'table' AND (p.dflt_value IS NOT NULL OR p.pk AND p.type = 'INTEGER')`},
	{name: "pg_catalog.pg_index", cols: cols("indexrelid oid, indrelid oid, indnatts int2, indnkeyatts int2, indisunique bool, indisprimary bool, indisexclusion bool, indimmediate bool, indisclustered bool, indisvalid bool, indcheckxmin bool, indisready bool, indislive bool, indisreplident bool, indkey text, indcollation text, indclass text, indoption text, indexprs text, indpred text, indnullsnotdistinct bool"),
		sql: `SELECT pgw_reloid(CASE WHEN l.origin = 'pk' THEN s.name || '_pkey' WHEN l.origin = 'u' AND l.name LIKE 'sqlite\_autoindex\_%' ESCAPE '\' THEN s.name || '_' || (SELECT group_concat(name, '_') FROM pragma_index_info(l.name)) || '_key' ELSE l.name END),
			pgw_reloid(s.name), (SELECT count(*) FROM pragma_index_info(l.name)), (SELECT count(*) FROM pragma_index_info(l.name)),
			l."unique", l.origin = 'pk' OR l.name LIKE '%\_pkey' ESCAPE '\', 0, 1, 0, 1, 0, 1, 1, 0,
			(SELECT group_concat(cid + 1, ' ') FROM pragma_index_info(l.name)), '', '', '', NULL, CASE WHEN l.partial THEN '' END, 0
			FROM (` + userRels + `) s, pragma_index_list(s.name) l WHERE s.type = 'table'
			UNION ALL
			SELECT pgw_reloid(s.name || '_pkey'), pgw_reloid(s.name), 1, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 0, p.cid + 1, '', '', '', NULL, NULL, 0
			FROM (` + userRels + `) s, pragma_table_info(s.name) p WHERE s.type = 'table' AND p.pk AND p.type = 'INTEGER'`},
	{name: "pg_catalog.pg_indexes_def", cols: cols("oid oid, indexname name, tablename name, indexdef text, isprimary bool, isunique bool, keys text"),
		sql: `SELECT pgw_reloid(CASE WHEN l.origin = 'pk' THEN s.name || '_pkey' WHEN l.origin = 'u' AND l.name LIKE 'sqlite\_autoindex\_%' ESCAPE '\' THEN s.name || '_' || (SELECT group_concat(name, '_') FROM pragma_index_info(l.name)) || '_key' ELSE l.name END),
			CASE WHEN l.origin = 'pk' THEN s.name || '_pkey' WHEN l.origin = 'u' AND l.name LIKE 'sqlite\_autoindex\_%' ESCAPE '\' THEN s.name || '_' || (SELECT group_concat(name, '_') FROM pragma_index_info(l.name)) || '_key' ELSE l.name END, s.name,
			'CREATE ' || CASE WHEN l."unique" THEN 'UNIQUE ' ELSE '' END || 'INDEX ' ||
			CASE WHEN l.origin = 'pk' THEN s.name || '_pkey' WHEN l.origin = 'u' AND l.name LIKE 'sqlite\_autoindex\_%' ESCAPE '\' THEN s.name || '_' || (SELECT group_concat(name, '_') FROM pragma_index_info(l.name)) || '_key' ELSE l.name END ||
			' ON ' || pgw_nsp(s.name) || '.' || pgw_short(s.name) || ' USING btree (' || (SELECT group_concat(name, ', ') FROM pragma_index_info(l.name)) || ')',
			l.origin = 'pk' OR l.name LIKE '%\_pkey' ESCAPE '\', l."unique",
			'{' || (SELECT group_concat(cid + 1, ',') FROM pragma_index_info(l.name)) || '}'
			FROM (` + userRels + `) s, pragma_index_list(s.name) l WHERE s.type = 'table'
			UNION ALL
			SELECT pgw_reloid(s.name || '_pkey'), s.name || '_pkey', s.name, 'CREATE UNIQUE INDEX ' || s.name || '_pkey ON ' || pgw_nsp(s.name) || '.' || pgw_short(s.name) || ' USING btree (' || p.name || ')', 1, 1,
			'{' || (p.cid + 1) || '}'
			FROM (` + userRels + `) s, pragma_table_info(s.name) p WHERE s.type = 'table' AND p.pk AND p.type = 'INTEGER'`},
	{name: "pg_catalog.pg_constraint", cols: cols("oid oid, conname name, connamespace oid, contype char, condeferrable bool, condeferred bool, convalidated bool, conrelid oid, contypid oid, conindid oid, conparentid oid, confrelid oid, confupdtype char, confdeltype char, confmatchtype char, conislocal bool, coninhcount int4, connoinherit bool, conkey int2[], confkey int2[], conbin text, condef text"),
		sql: `SELECT d.oid, d.indexname, 2200, CASE WHEN d.isprimary THEN 'p' ELSE 'u' END, 0, 0, 1, pgw_reloid(d.tablename), 0, d.oid, 0, 0, ' ', ' ', ' ', 1, 0, 0, d.keys, NULL, NULL,
			CASE WHEN d.isprimary THEN 'PRIMARY KEY (' ELSE 'UNIQUE (' END || substr(d.indexdef, instr(d.indexdef, '(') + 1)
			FROM "pg_catalog.pg_indexes_def" d WHERE d.isprimary OR d.isunique AND d.indexname NOT IN (SELECT name FROM main.sqlite_schema WHERE type = 'index' AND sql IS NOT NULL)
			UNION ALL
			SELECT pgw_reloid(s.name || '_' || f."from" || '_fkey'), s.name || '_' || f."from" || '_fkey', 2200, 'f', 0, 0, 1, pgw_reloid(s.name), 0, 0, 0, pgw_reloid(f."table"), 'a', 'a', 's', 1, 0, 0,
			'{' || (SELECT x.cid + 1 FROM pragma_table_info(s.name) x WHERE x.name = f."from") || '}',
			'{' || coalesce((SELECT x.cid + 1 FROM pragma_table_info(f."table") x WHERE x.name = f."to"), (SELECT x.cid + 1 FROM pragma_table_info(f."table") x WHERE x.pk = 1)) || '}', NULL,
			'FOREIGN KEY (' || f."from" || ') REFERENCES ' || f."table" || '(' || coalesce(f."to", 'id') || ')'
			FROM (` + userRels + `) s, pragma_foreign_key_list(s.name) f WHERE s.type = 'table'
			UNION ALL
			SELECT pgw_reloid(json_extract(k.value, '$[0]')), json_extract(k.value, '$[0]'), 2200, 'c', 0, 0, 1, pgw_reloid(s.name), 0, 0, 0, 0, ' ', ' ', ' ', 1, 0, 0, NULL, NULL, NULL,
			json_extract(k.value, '$[1]')
			FROM (` + userRels + `) s, json_each(pgw_checks(s.name, s.sql)) k WHERE s.type = 'table'`},
	{name: "pg_catalog.pg_database", cols: cols("oid oid, datname name, datdba oid, encoding int4, datlocprovider char, datistemplate bool, datallowconn bool, datconnlimit int4, datfrozenxid int8, datminmxid int8, dattablespace oid, datcollate text, datctype text, daticulocale text, datcollversion text, datacl text"),
		sql: `SELECT 16384 + key, value, 10, 6, 'c', 0, 1, -1, 0, 0, 1663, 'C', 'C', NULL, NULL, NULL FROM json_each(pgw_databases('%DIR%', '%TENANT%'))`},
	{name: "pg_catalog.pg_roles", cols: cols("oid oid, rolname name, rolsuper bool, rolinherit bool, rolcreaterole bool, rolcreatedb bool, rolcanlogin bool, rolreplication bool, rolconnlimit int4, rolpassword text, rolvaliduntil timestamptz, rolbypassrls bool, rolconfig text"),
		sql: `SELECT 10, '%TENANT%', 1, 1, 0, 1, 1, 0, -1, '********', NULL, 0, NULL`},
	{name: "pg_catalog.pg_user", cols: cols("usename name, usesysid oid, usecreatedb bool, usesuper bool, userepl bool, usebypassrls bool, passwd text, valuntil timestamptz, useconfig text"),
		sql: `SELECT '%TENANT%', 10, 1, 1, 0, 0, '********', NULL, NULL`},
	{name: "pg_catalog.pg_am", cols: cols("oid oid, amname name, amhandler text, amtype char"),
		sql: `SELECT 2, 'heap', 'heap_tableam_handler', 't' UNION ALL SELECT 403, 'btree', 'bthandler', 'i'`},
	{name: "pg_catalog.pg_tablespace", cols: cols("oid oid, spcname name, spcowner oid, spcacl text, spcoptions text"),
		sql: `SELECT 1663, 'pg_default', 10, NULL, NULL`},
	{name: "pg_catalog.pg_settings", cols: cols("name text, setting text, unit text, category text, short_desc text, extra_desc text, context text, vartype text, source text, min_val text, max_val text, enumvals text, boot_val text, reset_val text, sourcefile text, sourceline int4, pending_restart bool"),
		sql: `SELECT key, value, NULL, '', '', NULL, 'user', 'string', 'default', NULL, NULL, NULL, value, value, NULL, NULL, 0 FROM json_each(pgw_settings())`},
	{name: "pg_catalog.pg_type", cols: cols("oid oid, typname name, typnamespace oid, typowner oid, typlen int2, typbyval bool, typtype char, typcategory char, typispreferred bool, typisdefined bool, typdelim char, typrelid oid, typsubscript text, typelem oid, typarray oid, typinput text, typoutput text, typreceive text, typsend text, typmodin text, typmodout text, typanalyze text, typalign char, typstorage char, typnotnull bool, typbasetype oid, typtypmod int4, typndims int4, typcollation oid, typdefaultbin text, typdefault text, typacl text"),
		sql: `SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), 11, 10, json_extract(value, '$[2]'), json_extract(value, '$[2]') BETWEEN 1 AND 8, 'b', json_extract(value, '$[3]'), 0, 1, ',', 0, NULL,
			json_extract(value, '$[4]'), json_extract(value, '$[5]'), json_extract(value, '$[1]') || 'in', json_extract(value, '$[1]') || 'out', json_extract(value, '$[1]') || 'recv', json_extract(value, '$[1]') || 'send', '-', '-', '-', 'i', 'p', 0, 0, -1, 0, 0, NULL, NULL, NULL
			FROM json_each(pgw_types())`},
	{name: "information_schema.tables", cols: cols("table_catalog name, table_schema name, table_name name, table_type text, self_referencing_column_name name, reference_generation text, user_defined_type_catalog name, user_defined_type_schema name, user_defined_type_name name, is_insertable_into text, is_typed text, commit_action text"),
		sql: `SELECT '%DB%', pgw_nsp(name), pgw_short(name), CASE type WHEN 'view' THEN 'VIEW' ELSE 'BASE TABLE' END, NULL, NULL, NULL, NULL, NULL, 'YES', 'NO', NULL FROM (` + userRels + `) WHERE type IN ('table', 'view')`},
	{name: "information_schema.columns", cols: cols("table_catalog name, table_schema name, table_name name, column_name name, ordinal_position int4, column_default text, is_nullable text, data_type text, character_maximum_length int4, numeric_precision int4, numeric_scale int4, udt_catalog name, udt_schema name, udt_name name, is_identity text, is_generated text"),
		sql: `SELECT '%DB%', pgw_nsp(s.name), pgw_short(s.name), p.name, p.cid + 1,
			CASE WHEN p.pk AND p.type = 'INTEGER' THEN 'nextval(''' || s.name || '_' || p.name || '_seq''::regclass)' ELSE pgw_pretty_default(p.dflt_value, p.type) END, CASE WHEN p."notnull" OR p.pk AND p.type = 'INTEGER' THEN 'NO' ELSE 'YES' END,
			pgw_format_type(pgw_decl_oid(p.type)), pgw_char_len(p.type), NULL, NULL, '%DB%', 'pg_catalog', pgw_typname(pgw_decl_oid(p.type)), 'NO', 'NEVER'
			FROM (` + userRels + `) s, pragma_table_info(s.name) p WHERE s.type IN ('table', 'view')`},
	{name: "information_schema.schemata", cols: cols("catalog_name name, schema_name name, schema_owner name, default_character_set_catalog name, default_character_set_schema name, default_character_set_name name, sql_path text"),
		sql: `SELECT '%DB%', 'public', '%TENANT%', NULL, NULL, NULL, NULL UNION ALL SELECT '%DB%', 'pg_catalog', '%TENANT%', NULL, NULL, NULL, NULL UNION ALL SELECT '%DB%', 'information_schema', '%TENANT%', NULL, NULL, NULL, NULL
			UNION ALL SELECT '%DB%', nspname, '%TENANT%', NULL, NULL, NULL, NULL FROM "pg_catalog.pg_namespace" WHERE oid NOT IN (11, 2200, 13000)`},
	{name: "information_schema.table_constraints", cols: cols("constraint_catalog name, constraint_schema name, constraint_name name, table_catalog name, table_schema name, table_name name, constraint_type text, is_deferrable text, initially_deferred text, enforced text, nulls_distinct text"),
		sql: `SELECT '%DB%', 'public', c.conname, '%DB%', pgw_nsp(r.name), pgw_short(r.name),
			CASE c.contype WHEN 'p' THEN 'PRIMARY KEY' WHEN 'u' THEN 'UNIQUE' WHEN 'f' THEN 'FOREIGN KEY' ELSE 'CHECK' END, 'NO', 'NO', 'YES', CASE WHEN c.contype = 'u' THEN 'YES' END
			FROM "pg_catalog.pg_constraint" c JOIN (SELECT name FROM (` + userRels + `) WHERE type = 'table') r ON pgw_reloid(r.name) = c.conrelid`},
	{name: "information_schema.key_column_usage", cols: cols("constraint_catalog name, constraint_schema name, constraint_name name, table_catalog name, table_schema name, table_name name, column_name name, ordinal_position int4, position_in_unique_constraint int4"),
		sql: `SELECT '%DB%', 'public', c.conname, '%DB%', pgw_nsp(r.name), pgw_short(r.name), a.name, k.key + 1, CASE WHEN c.contype = 'f' THEN k.key + 1 END
			FROM "pg_catalog.pg_constraint" c JOIN (SELECT name FROM (` + userRels + `) WHERE type = 'table') r ON pgw_reloid(r.name) = c.conrelid,
			json_each(pgw_array_to_json(c.conkey)) k JOIN pragma_table_info(r.name) a ON a.cid + 1 = CAST(k.value AS INTEGER)
			WHERE c.contype IN ('p', 'u', 'f')`},
	{name: "pg_catalog.pg_views", cols: cols("schemaname name, viewname name, viewowner name, definition text"),
		sql: `SELECT pgw_nsp(name), pgw_short(name), '%TENANT%', sql FROM (` + userRels + `) WHERE type = 'view'`},
	{name: "pg_catalog.pg_tables", cols: cols("schemaname name, tablename name, tableowner name, tablespace name, hasindexes bool, hasrules bool, hastriggers bool, rowsecurity bool"),
		sql: `SELECT pgw_nsp(name), pgw_short(name), '%TENANT%', NULL, 0, 0, 0, 0 FROM (` + userRels + `) WHERE type = 'table'`},
	{name: "pg_catalog.pg_indexes", cols: cols("schemaname name, tablename name, indexname name, tablespace name, indexdef text"),
		sql: `SELECT pgw_nsp(tablename), pgw_short(tablename), pgw_short(indexname), NULL, indexdef FROM "pg_catalog.pg_indexes_def"`},
	emptyView("pg_catalog.pg_description", "objoid oid, classoid oid, objsubid int4, description text"),
	emptyView("pg_catalog.pg_shdescription", "objoid oid, classoid oid, description text"),
	emptyView("pg_catalog.pg_proc", "oid oid, proname name, pronamespace oid, proowner oid, prolang oid, procost float4, prorows float4, provariadic oid, prosupport text, prokind char, prosecdef bool, proleakproof bool, proisstrict bool, proretset bool, provolatile char, proparallel char, pronargs int2, pronargdefaults int2, prorettype oid, proargtypes text, proallargtypes text, proargmodes text, proargnames text, proargdefaults text, protrftypes text, prosrc text, probin text, prosqlbody text, proconfig text, proacl text"),
	emptyView("pg_catalog.pg_inherits", "inhrelid oid, inhparent oid, inhseqno int4, inhdetachpending bool"),
	emptyView("pg_catalog.pg_partitioned_table", "partrelid oid, partstrat char, partnatts int2, partdefid oid, partattrs text, partclass text, partcollation text, partexprs text"),
	emptyView("pg_catalog.pg_trigger", "oid oid, tgrelid oid, tgparentid oid, tgname name, tgfoid oid, tgtype int2, tgenabled char, tgisinternal bool, tgconstrrelid oid, tgconstrindid oid, tgconstraint oid, tgdeferrable bool, tginitdeferred bool, tgnargs int2, tgattr text, tgargs bytea, tgqual text, tgoldtable name, tgnewtable name"),
	emptyView("pg_catalog.pg_policy", "oid oid, polname name, polrelid oid, polcmd char, polpermissive bool, polroles text, polqual text, polwithcheck text"),
	emptyView("pg_catalog.pg_rewrite", "oid oid, rulename name, ev_class oid, ev_type char, ev_enabled char, is_instead bool, ev_qual text, ev_action text"),
	emptyView("pg_catalog.pg_statistic_ext", "oid oid, stxrelid oid, stxname name, stxnamespace oid, stxowner oid, stxstattarget int4, stxkeys text, stxkind text, stxexprs text"),
	emptyView("pg_catalog.pg_publication", "oid oid, pubname name, pubowner oid, puballtables bool, pubinsert bool, pubupdate bool, pubdelete bool, pubtruncate bool, pubviaroot bool"),
	emptyView("pg_catalog.pg_publication_rel", "oid oid, prpubid oid, prrelid oid, prqual text, prattrs text"),
	emptyView("pg_catalog.pg_publication_namespace", "oid oid, pnpubid oid, pnnspid oid"),
	emptyView("pg_catalog.pg_subscription", "oid oid, subdbid oid, subname name, subowner oid, subenabled bool"),
	emptyView("pg_catalog.pg_auth_members", "roleid oid, member oid, grantor oid, admin_option bool"),
	emptyView("pg_catalog.pg_collation", "oid oid, collname name, collnamespace oid, collowner oid, collprovider char, collisdeterministic bool, collencoding int4, collcollate name, collctype name, colliculocale text, collversion text"),
	emptyView("pg_catalog.pg_foreign_table", "ftrelid oid, ftserver oid, ftoptions text"),
	{name: "pg_catalog.pg_sequences", cols: cols("schemaname name, sequencename name, sequenceowner name, data_type text, start_value int8, min_value int8, max_value int8, increment_by int8, cycle bool, cache_size int8, last_value int8"),
		sql: `SELECT pgw_nsp(name), pgw_short(name), '%TENANT%', pgw_format_type(typid), start, 1, max, incr, 0, 1, CASE WHEN called THEN last END FROM "pg_catalog.pg_sequence_def"`},
	{name: "pg_catalog.pg_sequence", cols: cols("seqrelid oid, seqtypid oid, seqstart int8, seqincrement int8, seqmax int8, seqmin int8, seqcache int8, seqcycle bool"),
		sql: `SELECT oid, typid, start, incr, max, 1, 1, 0 FROM "pg_catalog.pg_sequence_def"`},
	emptyView("pg_catalog.pg_extension", "oid oid, extname name, extowner oid, extnamespace oid, extrelocatable bool, extversion text, extconfig text, extcondition text"),
	emptyView("pg_catalog.pg_enum", "oid oid, enumtypid oid, enumsortorder float4, enumlabel name"),
	emptyView("pg_catalog.pg_range", "rngtypid oid, rngsubtype oid, rngmultitypid oid, rngcollation oid, rngsubopc oid, rngcanonical text, rngsubdiff text"),
	emptyView("pg_catalog.pg_event_trigger", "oid oid, evtname name, evtevent name, evtowner oid, evtfoid oid, evtenabled char, evttags text"),
	emptyView("pg_catalog.pg_stat_activity", "datid oid, datname name, pid int4, usesysid oid, usename name, application_name text, client_addr text, state text, query text"),
	emptyView("pg_catalog.pg_locks", "locktype text, database oid, relation oid, pid int4, mode text, granted bool"),
	emptyView("pg_catalog.pg_depend", "classid oid, objid oid, objsubid int4, refclassid oid, refobjid oid, refobjsubid int4, deptype char"),
	emptyView("pg_catalog.pg_init_privs", "objoid oid, classoid oid, objsubid int4, privtype char, initprivs text"),
	emptyView("pg_catalog.pg_opclass", "oid oid, opcmethod oid, opcname name, opcnamespace oid, opcowner oid, opcfamily oid, opcintype oid, opcdefault bool, opckeytype oid"),
	emptyView("pg_catalog.pg_language", "oid oid, lanname name, lanowner oid, lanispl bool, lanpltrusted bool"),
	emptyView("pg_catalog.pg_cast", "oid oid, castsource oid, casttarget oid, castfunc oid, castcontext char, castmethod char"),
	emptyView("pg_catalog.pg_operator", "oid oid, oprname name, oprnamespace oid, oprowner oid, oprkind char, oprleft oid, oprright oid, oprresult oid, oprcode text"),
	emptyView("pg_catalog.pg_aggregate", "aggfnoid oid, aggkind char"),
	emptyView("pg_catalog.pg_conversion", "oid oid, conname name, connamespace oid, conowner oid, conforencoding int4, contoencoding int4, conproc text, condefault bool"),
	emptyView("pg_catalog.pg_default_acl", "oid oid, defaclrole oid, defaclnamespace oid, defaclobjtype char, defaclacl text"),
	emptyView("pg_catalog.pg_ts_config", "oid oid, cfgname name, cfgnamespace oid, cfgowner oid, cfgparser oid"),
	emptyView("pg_catalog.pg_foreign_server", "oid oid, srvname name, srvowner oid, srvfdw oid, srvtype text, srvversion text, srvacl text, srvoptions text"),
	emptyView("pg_catalog.pg_foreign_data_wrapper", "oid oid, fdwname name, fdwowner oid, fdwhandler oid, fdwvalidator oid, fdwacl text, fdwoptions text"),
	emptyView("pg_catalog.pg_user_mappings", "umid oid, srvid oid, srvname name, umuser oid, usename name, umoptions text"),
	emptyView("pg_catalog.pg_largeobject_metadata", "oid oid, lomowner oid, lomacl text"),
	emptyView("pg_catalog.pg_db_role_setting", "setdatabase oid, setrole oid, setconfig text"),
}

var catalogByName = map[string]*catView{}

func init() {
	for i := range catalogViews {
		v := &catalogViews[i]
		catalogByName[v.name] = v
		_, short, _ := strings.Cut(v.name, ".")
		if strings.HasPrefix(v.name, "pg_catalog.") {
			sqltrans.CatalogRelations[short] = v.name
		}
	}
	reg := func(name string, n int32, f func(a []driver.Value) (driver.Value, error)) {
		sqlite.MustRegisterDeterministicScalarFunction(name, n, func(_ *sqlite.FunctionContext, a []driver.Value) (driver.Value, error) { return f(a) })
	}
	reg("pgw_reloid", 1, func(a []driver.Value) (driver.Value, error) {
		s, _ := a[0].(string)
		return sqltrans.RelOid(s), nil
	})
	reg("pgw_decl_oid", 1, func(a []driver.Value) (driver.Value, error) {
		s, _ := a[0].(string)
		oid, _ := sqltrans.ParseDeclType(s)
		if oid == 0 {
			oid = sqltrans.OidText
		}
		return int64(oid), nil
	})
	reg("pgw_pretty_default", 2, func(a []driver.Value) (driver.Value, error) {
		s, _ := a[0].(string)
		decl, _ := a[1].(string)
		return prettyDefault(s, decl), nil
	})
	reg("pgw_checks", 2, func(a []driver.Value) (driver.Value, error) {
		table, _ := a[0].(string)
		ddl, _ := a[1].(string)
		rows := [][2]string{}
		for _, c := range sqltrans.Checks(table, ddl) {
			rows = append(rows, [2]string{c.Name, c.Def})
		}
		b, _ := json.Marshal(rows)
		return string(b), nil
	})
	reg("pgw_storage", 1, func(a []driver.Value) (driver.Value, error) {
		oid, _ := a[0].(int64)
		return storageOf(uint32(oid)), nil
	})
	reg("pgw_nsp", 1, func(a []driver.Value) (driver.Value, error) {
		s, _ := a[0].(string)
		nsp, _ := splitRel(s)
		return nsp, nil
	})
	reg("pgw_short", 1, func(a []driver.Value) (driver.Value, error) {
		s, _ := a[0].(string)
		_, rel := splitRel(s)
		return rel, nil
	})
	reg("pgw_nspoid", 1, func(a []driver.Value) (driver.Value, error) {
		s, _ := a[0].(string)
		return nspOid(s), nil
	})
	reg("pgw_decl_mod", 1, func(a []driver.Value) (driver.Value, error) {
		s, _ := a[0].(string)
		_, mod := sqltrans.ParseDeclType(s)
		return int64(mod), nil
	})
	reg("pgw_char_len", 1, func(a []driver.Value) (driver.Value, error) {
		s, _ := a[0].(string)
		oid, mod := sqltrans.ParseDeclType(s)
		if (oid == sqltrans.OidVarchar || oid == sqltrans.OidBpchar) && mod > 4 {
			return int64(mod - 4), nil
		}
		return nil, nil
	})
	reg("pgw_typname", 1, func(a []driver.Value) (driver.Value, error) {
		oid, _ := a[0].(int64)
		return typname(uint32(oid)), nil
	})
	reg("pgw_types", 0, func([]driver.Value) (driver.Value, error) {
		oids := make([]int, 0, len(sqltrans.Types))
		for o := range sqltrans.Types {
			oids = append(oids, int(o))
		}
		sort.Ints(oids)
		var rows [][]any
		for _, o := range oids {
			t := sqltrans.Types[uint32(o)]
			rows = append(rows, []any{o, typname(t.Oid), t.Len, string(t.Cat), t.Elem, t.Array})
		}
		b, _ := json.Marshal(rows)
		return string(b), nil
	})
	reg("pgw_settings", 0, func([]driver.Value) (driver.Value, error) {
		b, _ := json.Marshal(defaultSettings)
		return string(b), nil
	})
	// pgw_databases lists the tenant's databases; dir is fixed when the
	// session's views are created and is always the tenant's own.
	sqlite.MustRegisterScalarFunction("pgw_databases", 2, func(_ *sqlite.FunctionContext, a []driver.Value) (driver.Value, error) {
		dir, _ := a[0].(string)
		tenant, _ := a[1].(string)
		names := map[string]bool{"postgres": true, tenant: true}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if n, ok := strings.CutSuffix(e.Name(), ".db"); ok && validDBName.MatchString(n) {
				names[n] = true
			}
		}
		list := make([]string, 0, len(names))
		for n := range names {
			list = append(list, n)
		}
		sort.Strings(list)
		b, _ := json.Marshal(list)
		return string(b), nil
	})
}

// prettyDefault shows a column default stored by SQLite the way
// pg_get_expr shows PostgreSQL's: rewire's functions by their PostgreSQL
// names, and a string constant with a cast to the column's type.
// nextvalDefault matches a sequence call as a column default stores it.
var nextvalDefault = regexp.MustCompile(`pgw_nextval\(('(?:[^']|'')*')\)`)

func prettyDefault(s, decl string) string {
	s = strings.TrimSpace(s)
	for len(s) >= 2 && s[0] == '(' && closingParen(s) == len(s)-1 {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	s = strings.NewReplacer("pgw_now(1184)", "now()", "pgw_now(1082)", "CURRENT_DATE", "pgw_now(1114)", "LOCALTIMESTAMP",
		"pgw_uuid()", "gen_random_uuid()").Replace(s)
	s = nextvalDefault.ReplaceAllString(s, "nextval($1::regclass)")
	if len(s) >= 2 && s[0] == '\'' && strings.Index(strings.ReplaceAll(s[1:len(s)-1], "''", ""), "'") < 0 && s[len(s)-1] == '\'' {
		if oid, _ := sqltrans.ParseDeclType(decl); oid != 0 {
			s += "::" + sqltrans.FormatType(oid, -1)
		}
	}
	return s
}

// closingParen returns the index of the parenthesis closing the one that
// opens s, skipping quoted text, or -1.
func closingParen(s string) int {
	depth := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			}
		case ch == '\'' || ch == '"':
			quote = ch
		case ch == '(':
			depth++
		case ch == ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// splitRel splits a relation's SQLite name into its schema and name:
// tables of schemas other than public carry the schema as a prefix.
func splitRel(s string) (string, string) {
	if nsp, rel, ok := strings.Cut(s, "."); ok && nsp != "" && rel != "" {
		return nsp, rel
	}
	return "public", s
}

// nspOid is the oid of a schema in pg_namespace.
func nspOid(name string) int64 {
	switch name {
	case "public":
		return 2200
	case "pg_catalog":
		return 11
	case "information_schema":
		return 13000
	}
	return sqltrans.RelOid("?schema:" + name)
}

// storageOf is a type's typstorage, which psql's \d+ shows per column:
// main for numeric, extended for the other variable-length types, plain
// for fixed-length ones.
func storageOf(oid uint32) string {
	switch oid {
	case sqltrans.OidNumeric:
		return "m"
	case sqltrans.OidText, sqltrans.OidVarchar, sqltrans.OidBpchar, sqltrans.OidBytea, sqltrans.OidJSON, sqltrans.OidJSONB:
		return "x"
	}
	if sqltrans.IsArray(oid) {
		return "x"
	}
	return "p"
}

// typname is a type's internal name, as pg_type.typname holds it.
func typname(oid uint32) string {
	names := map[uint32]string{
		sqltrans.OidBool: "bool", sqltrans.OidInt2: "int2", sqltrans.OidInt4: "int4", sqltrans.OidInt8: "int8",
		sqltrans.OidFloat4: "float4", sqltrans.OidFloat8: "float8", sqltrans.OidVarchar: "varchar",
		sqltrans.OidBpchar: "bpchar", sqltrans.OidTimestamp: "timestamp", sqltrans.OidTimestamptz: "timestamptz",
		sqltrans.OidTime: "time", sqltrans.OidChar: "char",
	}
	t := sqltrans.Types[oid]
	if t == nil {
		return "unknown"
	}
	if t.Elem != 0 {
		return "_" + typname(t.Elem)
	}
	if n, ok := names[oid]; ok {
		return n
	}
	return t.Name
}

// catalogTable returns the columns of an emulated catalog relation.
func catalogTable(name string) ([]sqltrans.Column, bool) {
	v, ok := catalogByName[name]
	if !ok {
		return nil, false
	}
	out := make([]sqltrans.Column, len(v.cols))
	for i, c := range v.cols {
		out[i] = sqltrans.Column{Name: c.name, Oid: c.oid, Typmod: -1}
	}
	return out, true
}

// installCatalog creates the catalog views on a session connection.
func installCatalog(ctx context.Context, sc *sql.Conn, tenantDir, tenant, db string) error {
	// A pooled connection keeps its temporary views: skip the work then.
	var n int
	if err := sc.QueryRowContext(ctx, `SELECT count(*) FROM temp.sqlite_schema WHERE type = 'view'`).Scan(&n); err == nil && n == len(catalogViews) {
		return nil
	}
	r := strings.NewReplacer("%DIR%", strings.ReplaceAll(filepath.Join(tenantDir, "sql"), "'", "''"),
		"%TENANT%", strings.ReplaceAll(tenant, "'", "''"), "%DB%", strings.ReplaceAll(db, "'", "''"))
	for _, v := range catalogViews {
		var names []string
		for _, c := range v.cols {
			names = append(names, quoteIdent(c.name))
		}
		q := "CREATE TEMP VIEW IF NOT EXISTS " + quoteIdent(v.name) + " (" + strings.Join(names, ", ") + ") AS " + r.Replace(v.sql)
		if _, err := sc.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}
