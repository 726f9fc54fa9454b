import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  canonicalKeystore,
  decideJoin,
  formatNetworkToken,
  JoinRefusal,
  MAX_NETWORK_TOKEN_BYTES,
  NETWORK_TOKEN_FORMAT,
  parseNetworkToken,
  type NetworkToken,
} from './network-token.js';

const FP_A = 'AA:'.repeat(31) + 'AA';
const FP_B = 'BB:'.repeat(31) + 'BB';

const token: NetworkToken = {
  format: NETWORK_TOKEN_FORMAT,
  clusterId: 'c0ffee00-0000-4000-8000-000000000001',
  serial: 7,
  keystoreDigest: 'ab'.repeat(32),
  createdAt: '2026-11-28T12:00:00.000Z',
  signature: 'A'.repeat(86),
};
const current = { clusterId: token.clusterId, serial: 7, location: '/var/lib/certfleet/certfleet-network-token' };

describe('network token (H3)', () => {
  it('describes the keystore by order, fingerprint and active flag, whatever order the rows come in', () => {
    const a = canonicalKeystore([
      { position: 2, sha256Fingerprint: FP_B, active: false },
      { position: 1, sha256Fingerprint: FP_A, active: true },
    ]);
    assert.equal(a, `1 ${FP_A} active\n2 ${FP_B} inactive\n`);
    const swapped = canonicalKeystore([
      { position: 1, sha256Fingerprint: FP_B, active: false },
      { position: 2, sha256Fingerprint: FP_A, active: true },
    ]);
    assert.notEqual(swapped, a);
    const deactivated = canonicalKeystore([
      { position: 1, sha256Fingerprint: FP_A, active: false },
      { position: 2, sha256Fingerprint: FP_B, active: false },
    ]);
    assert.notEqual(deactivated, a);
  });

  it('reads back the file it writes', () => {
    assert.deepEqual(parseNetworkToken(formatNetworkToken(token)), { kind: 'token', token });
  });

  it('refuses files that are not a token, saying which field is wrong', () => {
    const text = (patch: Record<string, unknown>) => JSON.stringify({ ...token, ...patch });
    assert.deepEqual(parseNetworkToken('{'), { kind: 'unreadable', reason: 'not JSON' });
    assert.deepEqual(parseNetworkToken('[]'), { kind: 'unreadable', reason: 'not a JSON object' });
    assert.deepEqual(parseNetworkToken(text({ format: 'x' })), { kind: 'unreadable', reason: `format is not ${NETWORK_TOKEN_FORMAT}` });
    assert.deepEqual(parseNetworkToken(text({ serial: 0 })), { kind: 'unreadable', reason: 'serial' });
    assert.deepEqual(parseNetworkToken(text({ serial: '7' })), { kind: 'unreadable', reason: 'serial' });
    assert.deepEqual(parseNetworkToken(text({ keystoreDigest: 'AB'.repeat(32) })), { kind: 'unreadable', reason: 'keystoreDigest' });
    assert.deepEqual(parseNetworkToken(text({ createdAt: 'yesterday' })), { kind: 'unreadable', reason: 'createdAt' });
    assert.deepEqual(parseNetworkToken(text({ signature: 'not base64url!' })), { kind: 'unreadable', reason: 'signature' });
    assert.deepEqual(parseNetworkToken(' '.repeat(MAX_NETWORK_TOKEN_BYTES + 1)), {
      kind: 'unreadable',
      reason: `larger than ${MAX_NETWORK_TOKEN_BYTES} bytes`,
    });
  });

  it('lets a new node join with the current, signed token of this cluster only', () => {
    const parsed = parseNetworkToken(formatNetworkToken(token));
    assert.deepEqual(decideJoin(parsed, true, current), { kind: 'accepted', serial: 7 });

    const forged = decideJoin(parsed, false, current);
    assert.equal(forged.kind === 'refused' && forged.reason, JoinRefusal.forged);

    const outdated = decideJoin(parsed, true, { ...current, serial: 9 });
    assert.equal(outdated.kind === 'refused' && outdated.reason, JoinRefusal.outdated);
    // The message names the serial presented, the current one, and where the current token is.
    assert.match(outdated.kind === 'refused' ? outdated.message : '', /serial 7.*current serial is 9.*\/var\/lib\/certfleet\/certfleet-network-token/s);

    const other = decideJoin(parsed, true, { ...current, clusterId: 'another' });
    assert.equal(other.kind === 'refused' && other.reason, JoinRefusal.otherCluster);

    const unreadable = decideJoin(parseNetworkToken('nonsense'), false, current);
    assert.equal(unreadable.kind === 'refused' && unreadable.reason, JoinRefusal.unreadable);
  });
});
