/**
 * A lookup a test relies on: the value, or a failure that says what was not found. Clearer than
 * `assert.ok(x)`, which passes for any value at all and names nothing when it fails.
 *
 *   const entry = found(list.find((c) => c.alias === 'ec1'), 'the entry ec1 in cert list');
 */
import assert from 'node:assert/strict';

export function found<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) assert.fail(`${what} was not found`);
  return value;
}
