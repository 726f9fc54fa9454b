import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonText, printable, table } from './cli-io.js';

describe('CLI output of server text', () => {
  it('printable drops C0, DEL, C1, separators and bidi controls; keeps line breaks only when asked', () => {
    assert.equal(printable('a\x1b[31mb\x9bc\x7fd\u202ee\u2066f\u2028g\th\ni'), 'a[31mbcdefghi');
    assert.equal(printable('one\ntwo\x07', { multiline: true }), 'one\ntwo');
    assert.equal(printable('Zoë → 日本'), 'Zoë → 日本');
  });

  it('table pads by what is shown, not by the bytes removed', () => {
    assert.equal(table(['A', 'B'], [['x\x1b[2J', 'y']]), 'A     B\nx[2J  y\n');
  });

  it('jsonText escapes what JSON.stringify leaves raw, and parses back to the same value', () => {
    const value = { s: 'a\x7fb\x9bc\u202ed\u2028e\x1b' };
    const text = jsonText(value);
    assert.doesNotMatch(text, /[\x7f-\x9f\u2028\u202e\x1b]/);
    assert.deepEqual(JSON.parse(text), value);
  });
});
