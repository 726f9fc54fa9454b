import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { looksLikePem, pemBlocks, pemToDer, toPem } from './pem.js';

describe('pem', () => {
  it('round-trips DER through PEM with 64-character lines', () => {
    const der = randomBytes(200);
    const pem = toPem(der, 'CERTIFICATE');
    assert.match(pem, /^-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=]{64}\n){4}[A-Za-z0-9+/=]{1,64}\n-----END CERTIFICATE-----\n$/);
    assert.ok(pemToDer(pem, 'CERTIFICATE')?.equals(der));
    assert.ok(pemToDer(pem)?.equals(der));
    assert.equal(pemToDer(pem, 'PRIVATE KEY'), null);
  });

  it('finds every block among other text and CRLF line ends, keeping RFC 1421 headers', () => {
    const a = randomBytes(40);
    const b = randomBytes(50);
    const text =
      'Bag Attributes\r\n    friendlyName: server\r\n' +
      toPem(a, 'CERTIFICATE').replace(/\n/g, '\r\n') +
      'junk between\n' +
      `-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n\n${b.toString('base64')}\n-----END RSA PRIVATE KEY-----\n`;
    const blocks = pemBlocks(text);
    assert.deepEqual(blocks.map((x) => x.label), ['CERTIFICATE', 'RSA PRIVATE KEY']);
    assert.ok(blocks[0]?.der.equals(a));
    assert.ok(blocks[1]?.der.equals(b));
    assert.deepEqual(blocks[1]?.headers, { 'Proc-Type': '4,ENCRYPTED', 'DEK-Info': 'AES-256-CBC,00112233445566778899AABBCCDDEEFF' });
    assert.match(blocks[1]?.text ?? '', /^-----BEGIN RSA PRIVATE KEY-----\nProc-Type/);
  });

  it('ignores mismatched or non-base64 blocks', () => {
    assert.deepEqual(pemBlocks('-----BEGIN CERTIFICATE-----\nAAAA\n-----END PRIVATE KEY-----\n'), []);
    assert.deepEqual(pemBlocks('-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n'), []);
  });

  it('tells PEM text from binary', () => {
    assert.ok(looksLikePem(Buffer.from(toPem(randomBytes(10), 'X'))));
    assert.ok(!looksLikePem(randomBytes(100).fill(0x30, 0, 1)));
  });
});
