// node-postgres against rewire: run by TestNodePostgres with PGHOST,
// PGPORT, PGUSER, PGPASSWORD and PGDATABASE set. Exits non-zero on the
// first failed assertion.
'use strict';
const assert = require('node:assert/strict');
const { Client, Pool } = require('pg');

async function main() {
  const c = new Client();
  await c.connect();

  // Simple query of several statements, a later one using an earlier one.
  const multi = await c.query('CREATE TABLE nt (id serial PRIMARY KEY, s smallint, i integer, b bigint, ' +
    'n numeric(12,3), r real, d double precision, ok boolean, t text, v varchar(10), by bytea, dt date, ' +
    'tz timestamptz, j json, jb jsonb, u uuid, ai integer[], at text[]); INSERT INTO nt (t) VALUES (\'first\'); ' +
    'SELECT count(*) AS n FROM nt');
  assert.equal(multi.length, 3);
  assert.equal(multi[2].rows[0].n, '1');

  // Extended protocol: parameters and result types.
  const tz = new Date(Date.UTC(2024, 1, 29, 13, 14, 15, 123));
  const ins = await c.query(
    'INSERT INTO nt (s, i, b, n, r, d, ok, t, v, by, dt, tz, j, jb, u, ai, at) ' +
    'VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING id',
    [-7, 123456, '1099511627776', '1234.567', 1.5, 2.25, true, 'héllo', 'short', Buffer.from([0, 1, 2, 255]),
      '2020-01-02', tz, JSON.stringify({ a: 1 }), { k: [1, 'x'] }, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      [1, 2, 3], ['a', 'b c', '']]);
  assert.equal(ins.rowCount, 1);
  const id = ins.rows[0].id;
  const { rows, fields } = await c.query('SELECT s, i, b, n, r, d, ok, t, v, by, dt::text AS dt, tz, j, jb, u, ai, at FROM nt WHERE id = $1', [id]);
  const row = rows[0];
  assert.equal(row.s, -7);
  assert.equal(row.i, 123456);
  assert.equal(row.b, '1099511627776');
  assert.equal(row.n, '1234.567');
  assert.equal(row.r, 1.5);
  assert.equal(row.d, 2.25);
  assert.equal(row.ok, true);
  assert.equal(row.t, 'héllo');
  assert.equal(row.v, 'short');
  assert.deepEqual([...row.by], [0, 1, 2, 255]);
  assert.equal(row.dt, '2020-01-02');
  assert.equal(row.tz.getTime(), tz.getTime());
  assert.deepEqual(row.j, { a: 1 });
  assert.deepEqual(row.jb, { k: [1, 'x'] });
  assert.equal(row.u, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
  assert.deepEqual(row.ai, [1, 2, 3]);
  assert.deepEqual(row.at, ['a', 'b c', '']);
  // numeric keeps more digits than a float, and its scale.
  await c.query('CREATE TABLE nnum (n numeric(38,18), free numeric)');
  await c.query('INSERT INTO nnum VALUES ($1, $2)', ['12345678901234567890.123456789012345678', '1.50']);
  const num = (await c.query('SELECT n, free, n + free AS s FROM nnum')).rows[0];
  assert.equal(num.n, '12345678901234567890.123456789012345678');
  assert.equal(num.free, '1.50');
  assert.equal(num.s, '12345678901234567891.623456789012345678');
  const oids = Object.fromEntries(fields.map((f) => [f.name, f.dataTypeID]));
  assert.deepEqual(oids, { s: 21, i: 23, b: 20, n: 1700, r: 700, d: 701, ok: 16, t: 25, v: 1043, by: 17,
    dt: 25, tz: 1184, j: 114, jb: 3802, u: 2950, ai: 1007, at: 1009 });

  // NULLs, a named prepared statement reused, rowMode array.
  for (let k = 0; k < 3; k++) {
    const r = await c.query({ name: 'byid', text: 'SELECT t, s FROM nt WHERE id = $1', values: [1], rowMode: 'array' });
    assert.deepEqual(r.rows, [['first', null]]);
  }

  // Transactions and savepoints.
  await c.query('BEGIN');
  await c.query("INSERT INTO nt (t) VALUES ('kept')");
  await c.query('SAVEPOINT sp');
  await c.query("INSERT INTO nt (t) VALUES ('undone')");
  await c.query('ROLLBACK TO SAVEPOINT sp');
  await c.query('COMMIT');
  const kept = await c.query("SELECT t FROM nt WHERE t IN ('kept', 'undone')");
  assert.deepEqual(kept.rows, [{ t: 'kept' }]);

  // Errors carry SQLSTATE, detail and position; an aborted block refuses
  // statements until ROLLBACK.
  await c.query('CREATE TABLE nu (k int PRIMARY KEY, v int NOT NULL)');
  await c.query('INSERT INTO nu VALUES (1, 1)');
  const code = async (q, p) => {
    try { await c.query(q, p); } catch (e) { return e.code; }
    return 'no error';
  };
  assert.equal(await code('INSERT INTO nu VALUES (1, 2)'), '23505');
  assert.equal(await code('INSERT INTO nu VALUES (2, NULL)'), '23502');
  assert.equal(await code('SELECT * FROM nope'), '42P01');
  assert.equal(await code('SELECT nope FROM nu'), '42703');
  assert.equal(await code('SELECT 1/0'), '22012');
  assert.equal(await code('SELEC 1'), '42601');
  assert.equal(await code('SELECT $1::int', ['x']), '22P02');
  await c.query('BEGIN');
  assert.equal(await code('INSERT INTO nu VALUES (1, 3)'), '23505');
  assert.equal(await code('SELECT 1'), '25P02');
  await c.query('ROLLBACK');
  await assert.rejects(c.query('SELECT nope FROM nu'), (e) => e.position === '8' && e.severity === 'ERROR');

  // A large result arrives whole.
  const big = await c.query('WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < 20000) SELECT sum(x) AS s, count(*) AS c FROM g');
  assert.deepEqual(big.rows, [{ s: '200010000', c: '20000' }]);
  await c.end();

  // A pool of connections sees committed data only.
  const pool = new Pool({ max: 2 });
  const a = await pool.connect();
  const b = await pool.connect();
  await a.query('BEGIN');
  await a.query("INSERT INTO nt (t) VALUES ('pending')");
  assert.equal((await b.query("SELECT count(*) AS n FROM nt WHERE t = 'pending'")).rows[0].n, '0');
  await a.query('COMMIT');
  assert.equal((await b.query("SELECT count(*) AS n FROM nt WHERE t = 'pending'")).rows[0].n, '1');
  a.release();
  b.release();
  await pool.end();

  // A wrong password is refused.
  const bad = new Client({ password: 'wrong' });
  await assert.rejects(bad.connect(), (e) => e.code === '28P01');
  console.log('node-postgres: ok');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
