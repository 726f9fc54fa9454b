import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { PrecompiledStatement } from './precompiled-statement.js';

interface Db {
  t: { id: string; n: number; note: string | null };
}

type Values = { readonly id: string; readonly n: number | undefined; readonly note: string | null };

async function database(): Promise<Kysely<Db>> {
  const db = new Kysely<Db>({ dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }) });
  await db.schema.createTable('t').addColumn('id', 'text', (c) => c.primaryKey()).addColumn('n', 'integer').addColumn('note', 'text').execute();
  await db.insertInto('t').values([{ id: 'a', n: 1, note: null }, { id: 'b', n: 2, note: 'x' }, { id: 'c', n: 3, note: 'x' }]).execute();
  return db;
}

const select = (db: Kysely<Db>) => (v: Values) => {
  let q = db.selectFrom('t').select(['id', 'n']).where('id', '>=', v.id).where('n', '<', 10);
  if (v.n !== undefined) q = q.where('n', '>=', v.n);
  q = v.note === null ? q.where('note', 'is', null) : q.where('note', '=', v.note);
  return q.orderBy('id');
};

describe('PrecompiledStatement', () => {
  it('answers what the builder answers, compiling once per shape (which values are absent or null)', async () => {
    const db = await database();
    let builds = 0;
    const build = select(db);
    const statement = new PrecompiledStatement(db, (v: Values) => {
      builds++;
      return build(v);
    });
    const cases: Values[] = [
      { id: 'a', n: undefined, note: 'x' },
      { id: 'c', n: undefined, note: 'x' },
      { id: 'a', n: 3, note: 'x' },
      { id: 'a', n: 1, note: 'x' },
      { id: 'a', n: undefined, note: null },
      { id: 'b', n: undefined, note: null },
      { id: 'b', n: 2, note: null },
    ];
    for (const v of cases) {
      assert.deepEqual((await statement.execute(v)).rows, await build(v).execute(), JSON.stringify(v));
    }
    assert.equal(statement.compiledShapes, 4);
    assert.equal(builds, 4);
    await db.destroy();
  });

  it('refuses a builder that changes a value or writes it into the SQL text, when the shape is first compiled', async () => {
    const db = await database();
    const transformed = new PrecompiledStatement(db, (v: Values) => db.selectFrom('t').selectAll().where('id', '=', v.id.toUpperCase()));
    await assert.rejects(transformed.execute({ id: 'a', n: undefined, note: null }), /id did not reach the parameters/);
    const inlined = new PrecompiledStatement(db, (v: Values) => db.selectFrom('t').selectAll().where('id', '=', sql.lit(v.id)));
    await assert.rejects(inlined.execute({ id: 'a', n: undefined, note: null }), /id did not reach the parameters/);
    assert.equal(inlined.compiledShapes, 0);
    await db.destroy();
  });
});
