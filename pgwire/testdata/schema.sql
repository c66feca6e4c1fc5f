CREATE SCHEMA s1;
CREATE SCHEMA s1;
CREATE SCHEMA IF NOT EXISTS s1;
CREATE SCHEMA empty1;
CREATE TABLE s1.t (id int PRIMARY KEY, v text);
CREATE INDEX t_v_idx ON s1.t (v);
CREATE VIEW s1.tv AS SELECT id FROM s1.t;
CREATE TABLE pt (a int);
INSERT INTO s1.t VALUES (1, 'x');
SELECT * FROM s1.t;
\dn
\dt
\dt s1.*
\d s1.t
SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2;
SELECT schemaname, tablename FROM pg_tables WHERE schemaname = 's1';
DROP SCHEMA s1;
DROP SCHEMA nope;
DROP SCHEMA IF EXISTS nope;
DROP SCHEMA s1 CASCADE;
DROP SCHEMA empty1;
SELECT * FROM s1.t;
\dn
