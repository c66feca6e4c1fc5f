CREATE TABLE cp (id int, t text, n numeric(6,2), b boolean, ts timestamptz, j jsonb, a int[]);
COPY cp FROM STDIN WITH (FORMAT csv, HEADER true);
id,t,n,b,ts,j,a
1,"a,b",1.5,t,2020-01-01 00:00:00+00,"{""k"": 1}","{1,2}"
2,"line1
line2",,false,,,
3,"",2,true,2021-06-01 12:00:00+00,[],{}
4,"say ""hi""",3.25,f,,null,
\.
COPY cp FROM STDIN;
5	tab\there	1	t	\N	{"a": [1]}	{3}
6	back\\slash\nnl	\N	\N	\N	\N	\N
\.
SELECT * FROM cp ORDER BY id;
COPY cp TO STDOUT WITH (FORMAT csv, HEADER);
COPY cp TO STDOUT;
COPY (SELECT id, t FROM cp WHERE id > 3 ORDER BY id) TO STDOUT WITH CSV HEADER DELIMITER ';' FORCE QUOTE *;
COPY cp (id, t) TO STDOUT (FORMAT csv, NULL 'NULL');
COPY cp (id, t) FROM STDIN (FORMAT csv, DELIMITER '|', NULL 'NULL');
7|NULL
8|x|y
\.
COPY cp (id, t) FROM STDIN (FORMAT csv);
9
\.
SELECT count(*) FROM cp;
\copy cp (id, t) from '%DIR%/in.csv' csv
\copy (select id, t from cp where id = 9) to '%DIR%/out.csv' csv header
\copy cp to '%DIR%/out.txt'
SELECT count(*) FROM cp;
CREATE TABLE cq (a text, b text, c text);
COPY cq FROM STDIN WITH (FORMAT csv, FORCE_NOT_NULL (a), FORCE_NULL (b));
,"",""
x,,y
\.
SELECT a IS NULL, b IS NULL, c IS NULL, a, b, c FROM cq;
COPY cq TO STDOUT WITH (FORMAT csv, ESCAPE '\', FORCE_QUOTE (a));
INSERT INTO cq VALUES ('q"\x', NULL, '');
COPY cq TO STDOUT WITH (FORMAT csv, ESCAPE '\', QUOTE '''');
COPY cq TO STDOUT WITH (FORMAT csv, FORCE_QUOTE (nope));
COPY cq TO STDOUT WITH (FORCE_QUOTE (a));
COPY cq FROM STDIN WITH (FORMAT csv, FORCE_QUOTE (a));
