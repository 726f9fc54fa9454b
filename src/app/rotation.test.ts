import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { algorithmMask } from '../domain/compatibility.js';
import type { DeviceEntry } from './records.js';
import { decideCohorts } from './rotation.js';

const entry = (id: string, signatureAlgorithm: string): DeviceEntry => ({
  id, alias: id, position: 1, active: true, signatureAlgorithm, sha256Fingerprint: 'AA', certDer: Buffer.alloc(0),
});
const ALL = algorithmMask(['SHA256withRSA', 'SHA512withRSA', 'SHA256withECDSA']);
const LEGACY = algorithmMask(['SHA256withRSA']);

describe('deciding per cohort', () => {
  it('counts every decision of decideRotation, weighted by the cohort size', () => {
    const counts = decideCohorts(
      [
        { certificateId: 'B', supportedMask: ALL, pendingCertificateId: null, count: 5 }, // already current
        { certificateId: 'A', supportedMask: ALL, pendingCertificateId: null, count: 7 }, // schedule
        { certificateId: 'A', supportedMask: ALL, pendingCertificateId: 'X', count: 2 }, // schedule (re-pointed)
        { certificateId: 'A', supportedMask: ALL, pendingCertificateId: 'B', count: 3 }, // awaiting
        { certificateId: 'A', supportedMask: LEGACY, pendingCertificateId: 'B', count: 11 }, // incompatible
      ],
      entry('B', 'SHA512withRSA'),
    );
    assert.deepEqual(counts, { alreadyCurrent: 5, scheduled: 9, awaitingConfirmation: 3, incompatible: 11, total: 28 });
  });

  it('treats an algorithm off the allow-list as one no firmware supports', () => {
    const counts = decideCohorts([{ certificateId: 'A', supportedMask: ALL, pendingCertificateId: null, count: 1 }], entry('B', 'MD5withRSA'));
    assert.equal(counts.incompatible, 1);
  });
});
