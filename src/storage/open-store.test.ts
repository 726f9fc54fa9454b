import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDatabaseUrl } from './open-store.js';

describe('parseDatabaseUrl', () => {
  it('reads SQLite paths in every accepted form', () => {
    assert.deepEqual(parseDatabaseUrl('./data/certfleet.db'), { dialect: 'sqlite', path: './data/certfleet.db' });
    assert.deepEqual(parseDatabaseUrl(':memory:'), { dialect: 'sqlite', path: ':memory:' });
    assert.deepEqual(parseDatabaseUrl('sqlite:data/x.db'), { dialect: 'sqlite', path: 'data/x.db' });
    assert.deepEqual(parseDatabaseUrl('sqlite:///var/lib/certfleet.db'), { dialect: 'sqlite', path: '/var/lib/certfleet.db' });
    assert.deepEqual(parseDatabaseUrl('C:\\data\\certfleet.db'), { dialect: 'sqlite', path: 'C:\\data\\certfleet.db' });
  });

  it('recognises PostgreSQL URLs of both spellings', () => {
    for (const url of ['postgres://u@h/db', 'postgresql://u:p@h:5432/db?sslmode=require', 'POSTGRES://h/db']) {
      assert.deepEqual(parseDatabaseUrl(url), { dialect: 'postgres', connectionString: url });
    }
  });

  it('refuses other databases and an empty URL, without echoing credentials', () => {
    assert.throws(() => parseDatabaseUrl('mysql://root:secret@h/db'), (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.match(e.message, /Unsupported database URL "mysql:\/\/…"/);
      assert.doesNotMatch(e.message, /secret/);
      return true;
    });
    assert.throws(() => parseDatabaseUrl(' '), /empty/);
  });
});
