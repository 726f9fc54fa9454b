import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseObject, parseStringList, timestamp, toInt } from './columns.js';
import { escapeLike } from './dialect.js';

describe('storage columns', () => {
  it('writes every timestamp in one form that sorts like the instants', () => {
    assert.equal(timestamp('2025-06-01T13:00:00+01:00'), '2025-06-01T12:00:00.000Z');
    assert.equal(timestamp('2025-06-01T12:00:00Z'), '2025-06-01T12:00:00.000Z');
    assert.throws(() => timestamp('yesterday'), RangeError);
  });

  it('turns PostgreSQL int8 strings into numbers, and refuses what a number cannot hold', () => {
    assert.equal(toInt('42'), 42);
    assert.equal(toInt(7n), 7);
    assert.equal(toInt(null), 0);
    assert.throws(() => toInt('9007199254740993'), /expected an integer/);
  });

  it('reads JSON columns only in the shape it wrote', () => {
    assert.deepEqual(parseStringList('["SHA256withRSA"]'), ['SHA256withRSA']);
    assert.equal(parseStringList(null), null);
    assert.throws(() => parseStringList('[1]'), /expected a JSON array of strings/);
    assert.throws(() => parseObject('[]'), /expected a JSON object/);
  });

  it('escapes LIKE wildcards and the escape character', () => {
    assert.equal(escapeLike('50%_a\\b'), '50\\%\\_a\\\\b');
  });
});
