import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { NETWORK_TOKEN_FORMAT, tokenSigningInput, type NetworkTokenBody } from '../domain/network-token.js';
import { generateClusterSigningKey, keystoreDigest, signNetworkToken, verifyNetworkToken } from './network-token-signer.js';

const body: NetworkTokenBody = {
  format: NETWORK_TOKEN_FORMAT,
  clusterId: 'c0ffee00-0000-4000-8000-000000000001',
  serial: 3,
  keystoreDigest: keystoreDigest([{ position: 1, sha256Fingerprint: 'AB:CD', active: true }]),
  createdAt: '2026-11-28T12:00:00.000Z',
};

describe('network token signatures (H3)', () => {
  it('digests the canonical keystore with SHA-256', () => {
    // the same digest as openssl computes over the canonical text
    const expected = execFileSync('openssl', ['dgst', '-sha256', '-r'], { input: '1 AB:CD active\n' }).toString().split(' ')[0];
    assert.equal(body.keystoreDigest, expected);
  });

  it('verifies its own signature, and refuses a changed field or another cluster key', () => {
    const key = generateClusterSigningKey();
    const token = signNetworkToken(body, key.privateKeyDer);
    assert.equal(verifyNetworkToken(token, key.publicKeyDer), true);
    assert.equal(verifyNetworkToken({ ...token, serial: 4 }, key.publicKeyDer), false);
    assert.equal(verifyNetworkToken({ ...token, keystoreDigest: '0'.repeat(64) }, key.publicKeyDer), false);
    assert.equal(verifyNetworkToken(token, generateClusterSigningKey().publicKeyDer), false);
    assert.equal(verifyNetworkToken({ ...token, signature: 'AAAA' }, key.publicKeyDer), false);
  });

  it('makes signatures that openssl verifies with the public key alone', () => {
    const key = generateClusterSigningKey();
    const token = signNetworkToken(body, key.privateKeyDer);
    const dir = mkdtempSync(join(tmpdir(), 'certfleet-token-'));
    try {
      writeFileSync(join(dir, 'pub.der'), key.publicKeyDer);
      writeFileSync(join(dir, 'input'), tokenSigningInput(token));
      writeFileSync(join(dir, 'sig'), Buffer.from(token.signature, 'base64url'));
      const out = execFileSync('openssl', [
        'pkeyutl', '-verify', '-rawin', '-pubin', '-keyform', 'DER', '-inkey', join(dir, 'pub.der'),
        '-in', join(dir, 'input'), '-sigfile', join(dir, 'sig'),
      ]).toString();
      assert.match(out, /Signature Verified Successfully/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
