import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { daysUntilExpiry, importRefusal, type CertificateFacts, type ImportCandidate } from './certificate.js';
import { isAllowedSignatureAlgorithm, signatureAlgorithmName } from './algorithms.js';

const now = new Date('2026-06-01T00:00:00Z');
const facts: CertificateFacts = {
  subject: 'CN=server', issuer: 'CN=server', serialNumber: '1a', notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2027-01-01T00:00:00.000Z',
  signatureAlgorithm: 'SHA256withRSA', signatureAlgorithmOid: '1.2.840.113549.1.1.11', keyAlgorithm: 'RSA', keySize: 2048, curve: null,
  sha1Fingerprint: 'AA', sha256Fingerprint: 'BB',
};
const good: ImportCandidate = { facts, chainLength: 1, privateKeyAlgorithm: 'RSA', keyMatchesCertificate: true };
const refusal = (c: Partial<Omit<ImportCandidate, 'facts'>> & { facts?: Partial<CertificateFacts> }) =>
  importRefusal({ ...good, ...c, facts: { ...facts, ...c.facts } }, now)?.code ?? null;

describe('import checks (K6)', () => {
  it('accepts a valid RSA-2048 SHA256withRSA entry', () => assert.equal(refusal({}), null));
  it('accepts EC keys signed with ECDSA', () =>
    assert.equal(refusal({ facts: { keyAlgorithm: 'EC', keySize: 256, curve: 'P-256', signatureAlgorithm: 'SHA256withECDSA' }, privateKeyAlgorithm: 'EC' }), null));
  it('refuses chains', () => assert.equal(refusal({ chainLength: 2 }), 'chain_not_supported'));
  it('refuses MD5 and algorithms off the allow-list', () => {
    assert.equal(refusal({ facts: { signatureAlgorithm: 'MD5withRSA' } }), 'algorithm_not_allowed');
    assert.equal(refusal({ facts: { signatureAlgorithm: 'SHA1withDSA', keyAlgorithm: 'DSA' } }), 'algorithm_not_allowed');
    assert.equal(refusal({ facts: { signatureAlgorithm: 'RSASSA-PSS' } }), 'algorithm_not_allowed');
  });
  it('refuses keys of other kinds', () =>
    assert.equal(refusal({ facts: { signatureAlgorithm: 'SHA256withECDSA', keyAlgorithm: 'Ed25519' }, privateKeyAlgorithm: 'Ed25519' }), 'key_type_not_supported'));
  it('refuses a private key that does not match', () => {
    assert.equal(refusal({ keyMatchesCertificate: false }), 'key_mismatch');
    assert.equal(refusal({ privateKeyAlgorithm: 'EC' }), 'key_mismatch');
  });
  it('refuses RSA keys shorter than 2048 bits', () => assert.equal(refusal({ facts: { keySize: 1024 } }), 'key_too_short'));
  it('refuses expired and not yet valid certificates', () => {
    assert.equal(refusal({ facts: { notAfter: '2026-05-31T23:59:59.000Z' } }), 'certificate_expired');
    assert.equal(refusal({ facts: { notBefore: '2026-07-01T00:00:00.000Z' } }), 'certificate_not_yet_valid');
  });
  it('tells the administrator what to do next in every refusal', () => {
    const r = importRefusal({ ...good, chainLength: 3 }, now);
    assert.equal(r?.code, 'chain_not_supported');
    assert.match(r?.message ?? '', /Export the server certificate and its key alone/);
  });
});

describe('algorithm names', () => {
  it('names signature algorithms from their OID, MD5 included', () => {
    assert.equal(signatureAlgorithmName('1.2.840.113549.1.1.4'), 'MD5withRSA');
    assert.equal(signatureAlgorithmName('1.2.840.113549.1.1.13'), 'SHA512withRSA');
    assert.equal(signatureAlgorithmName('1.2.3.4'), 'OID.1.2.3.4');
  });
  it('allows exactly the SPEC list', () => {
    assert.ok(isAllowedSignatureAlgorithm('SHA1withRSA'));
    assert.ok(!isAllowedSignatureAlgorithm('SHA1withECDSA'));
    assert.ok(!isAllowedSignatureAlgorithm('MD5withRSA'));
  });
  it('counts days until expiry', () => {
    assert.equal(daysUntilExpiry('2026-06-11T00:00:00Z', now), 10);
    assert.equal(daysUntilExpiry('2026-05-31T00:00:00Z', now), -1);
  });
});
