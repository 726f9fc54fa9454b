import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { enrollmentTokenState, normalizeUnitId } from './enrollment.js';

describe('enrollment tokens', () => {
  it('spells a MAC address one way, whatever separators it came with', () => {
    for (const written of ['00:e0:c5:12:34:ab', '00-E0-C5-12-34-AB', '00e0c51234ab', '00e0.c512.34ab', ' 00:E0:C5:12:34:AB ']) {
      assert.equal(normalizeUnitId(written), '00:E0:C5:12:34:AB', written);
    }
    assert.equal(normalizeUnitId('thin-client-7'), 'thin-client-7');
    assert.equal(normalizeUnitId('00:e0:c5:12:34'), '00:e0:c5:12:34', 'five pairs are not a MAC address');
  });

  it('names the state: revoked before used before expired', () => {
    const t = { id: 't', usesAllowed: 2, usesLeft: 1, expiresAt: '2030-01-02T00:00:00.000Z', unitId: null, createdBy: 'a', createdAt: '2030-01-01T00:00:00.000Z', revokedAt: null };
    const before = new Date('2030-01-01T12:00:00Z');
    const after = new Date('2030-01-03T00:00:00Z');
    assert.equal(enrollmentTokenState(t, before), 'active');
    assert.equal(enrollmentTokenState(t, after), 'expired');
    assert.equal(enrollmentTokenState({ ...t, usesLeft: 0 }, after), 'used');
    assert.equal(enrollmentTokenState({ ...t, usesLeft: 0, revokedAt: '2030-01-01T01:00:00.000Z' }, before), 'revoked');
  });
});
