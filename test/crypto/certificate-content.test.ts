import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { certificateContent, formatCertificateContent } from '../../src/crypto/certificate-content.js';
import { certificateFacts } from '../../src/crypto/certificate-facts.js';
import { readKeystore } from '../../src/crypto/keystore-reader.js';
import { pemToDer } from '../../src/crypto/pem.js';
import { createSelfSignedCertificate } from '../../src/crypto/self-signed.js';
import { fixture, fixturePath, FIXTURE_PASSWORDS } from '../fixtures/fixtures.js';
import { poolKeyPairSource } from '../support/key-pool.js';
import { runTool } from './tools.js';

const NOW = new Date('2026-03-01T08:00:00Z');

describe('certificateContent (K9)', () => {
  it('shows everything in a generated certificate, readable', async () => {
    const keys = await poolKeyPairSource().generate({ kind: 'RSA', bits: 2048 });
    const der = await createSelfSignedCertificate({ keys, commonName: 'fleet.example.org', algorithm: 'SHA384withRSA', days: 365, now: NOW, serialNumber: '0a0b0c' });
    const c = certificateContent(der);
    const facts = certificateFacts(der);
    assert.equal(c.version, 3);
    assert.equal(c.serialNumber, 'a0b0c');
    assert.deepEqual(c.signatureAlgorithm, { name: 'SHA384withRSA', oid: '1.2.840.113549.1.1.12' });
    assert.equal(c.subject.name, 'CN=fleet.example.org');
    assert.deepEqual(c.subject.rdns, [[{ type: 'CN', value: 'fleet.example.org' }]]);
    assert.equal(c.issuer.name, c.subject.name);
    assert.deepEqual(c.validity, { notBefore: facts.notBefore, notAfter: facts.notAfter });
    assert.equal(c.publicKey.algorithm, 'RSA');
    assert.equal(c.publicKey.oid, '1.2.840.113549.1.1.1');
    assert.equal(c.publicKey.size, 2048);
    assert.equal(c.publicKey.exponent, 65537);
    assert.equal(c.publicKey.curve, null);
    const spki = new X509Certificate(der).publicKey.export({ type: 'spki', format: 'der' });
    assert.equal(c.publicKey.sha256, createHash('sha256').update(spki).digest('hex').toUpperCase().match(/../g)?.join(':'));
    assert.deepEqual(c.fingerprints, { sha1: facts.sha1Fingerprint, sha256: facts.sha256Fingerprint });
    assert.ok(pemToDer(c.pem, 'CERTIFICATE')?.equals(der));

    const byName = new Map(c.extensions.map((e) => [e.name, e]));
    assert.deepEqual(byName.get('basicConstraints'), { oid: '2.5.29.19', name: 'basicConstraints', critical: true, value: { ca: false, pathLength: null } });
    assert.deepEqual(byName.get('keyUsage')?.value, ['digitalSignature', 'keyEncipherment']);
    assert.equal(byName.get('keyUsage')?.critical, true);
    assert.deepEqual(byName.get('extKeyUsage')?.value, ['serverAuth']);
    assert.deepEqual(byName.get('subjectAltName')?.value, ['DNS:fleet.example.org']);
    assert.match(String(byName.get('subjectKeyIdentifier')?.value), /^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
    // survives JSON as it is (a plain object, nothing lost)
    assert.deepEqual(JSON.parse(JSON.stringify(c)), c);
  });

  it('shows the authority key identifier, and unknown extensions as hex', async () => {
    // openssl adds an authorityKeyIdentifier and an extension certfleet does not know
    const r = await runTool('openssl', [
      'req', '-x509', '-key', fixturePath('keys/ec-p256-1.pem'), '-subj', '/C=DE/O=Fleet Org/CN=content.test',
      '-days', '10', '-sha256', '-addext', '1.2.3.4.5=ASN1:UTF8String:hello', '-addext', 'subjectAltName=DNS:a.test,IP:10.0.0.1,email:x@a.test',
      '-outform', 'DER',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const der = r.stdoutBytes;
    const c = certificateContent(der);
    assert.equal(c.subject.name, 'CN=content.test, O=Fleet Org, C=DE');
    assert.equal(c.publicKey.curve, 'P-256');
    assert.equal(c.publicKey.size, 256);
    assert.equal(c.publicKey.exponent, null);
    const ext = (oid: string) => c.extensions.find((e) => e.oid === oid);
    const aki = ext('2.5.29.35')?.value as { keyIdentifier: string | null };
    assert.equal(aki.keyIdentifier, ext('2.5.29.14')?.value); // self-signed: AKI = SKI
    assert.deepEqual(ext('2.5.29.17')?.value, ['DNS:a.test', 'IP:10.0.0.1', 'email:x@a.test']);
    const unknown = ext('1.2.3.4.5');
    assert.equal(unknown?.name, null);
    assert.equal(unknown?.value, Buffer.concat([Buffer.from([0x0c, 0x05]), Buffer.from('hello')]).toString('hex'));
  });

  it('renders text in the manner of keytool -printcert', async () => {
    const read = await readKeystore({ file: fixture('keytool-ec-p384.p12'), password: FIXTURE_PASSWORDS.storePassword });
    const der = read.certificates[0] as Buffer;
    const text = formatCertificateContent(certificateContent(der));
    const facts = certificateFacts(der);
    assert.match(text, /^Owner: CN=keytool-ec-p384\.certfleet\.test, O=certfleet fixtures$/m);
    assert.match(text, new RegExp(`^Serial number: ${facts.serialNumber}$`, 'm'));
    assert.ok(text.includes(`\t SHA256: ${facts.sha256Fingerprint}`));
    assert.match(text, /^Signature algorithm name: SHA384withECDSA \(1\.2\.840\.10045\.4\.3\.3\)$/m);
    assert.match(text, /^Subject Public Key Algorithm: 384-bit EC \(P-384\) key$/m);
    assert.match(text, /^#1: ObjectId: 2\.5\.29\.14 Criticality=false$/m);
    assert.match(text, /-----BEGIN CERTIFICATE-----/);
  });
});
