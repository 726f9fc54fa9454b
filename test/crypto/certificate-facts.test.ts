import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { certificateFacts, normalizeCertificateInput, serialNumberHex } from '../../src/crypto/certificate-facts.js';
import { readKeystore } from '../../src/crypto/keystore-reader.js';
import { toPem } from '../../src/crypto/pem.js';
import { createSelfSignedCertificate } from '../../src/crypto/self-signed.js';
import { isCertfleetError } from '../../src/domain/errors.js';
import { ACCEPTED, fixture, FIXTURE_PASSWORDS } from '../fixtures/fixtures.js';
import { poolKeyPairSource } from '../support/key-pool.js';
import { keytool, runTool } from './tools.js';

const NOW = new Date('2026-01-15T12:00:00Z');

describe('certificateFacts', () => {
  const certs: { name: string; der: Buffer }[] = [];
  let dir = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'certfleet-facts-'));
    for (const f of ACCEPTED) {
      const read = await readKeystore({
        file: fixture(f.file),
        password: f.password,
        ...(f.keyPassword ? { keyPassword: f.keyPassword } : {}),
        ...(f.entry ? { entry: f.entry } : {}),
      });
      certs.push({ name: f.file, der: read.certificates[0] as Buffer });
    }
    const pool = poolKeyPairSource();
    certs.push({
      name: 'generated, CN with a comma',
      der: await createSelfSignedCertificate({
        keys: await pool.generate({ kind: 'EC', curve: 'P-256' }),
        commonName: 'Fleet, Inc. "server" #1',
        algorithm: 'SHA256withECDSA',
        days: 30,
        now: NOW,
      }),
    });
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('spells subject, issuer, serial, fingerprints, algorithms and key as keytool -printcert does', async () => {
    const file = join(dir, 'all.pem');
    writeFileSync(file, certs.map((c) => toPem(c.der, 'CERTIFICATE')).join(''));
    const r = await keytool(['-printcert', '-file', file]);
    assert.equal(r.code, 0, r.stderr);
    const sections = r.stdout.split(/^Certificate\[\d+\]:$/m).slice(1);
    assert.equal(sections.length, certs.length);
    sections.forEach((text, i) => {
      const c = certs[i];
      if (c === undefined) throw new Error(`keytool printed ${sections.length} certificates, the file holds ${certs.length}`);
      const field = (label: string): string => text.match(new RegExp(`^\\s*${label}:? (.*)$`, 'm'))?.[1]?.trim() ?? `<no ${label}>`;
      const facts = certificateFacts(c.der);
      if (!c.name.includes('comma')) {
        // keytool quotes special characters RFC 1779 style (CN="a, b"); certfleet escapes them as RFC 4514 does (CN=a\, b)
        assert.equal(facts.subject, field('Owner'), c.name);
        assert.equal(facts.issuer, field('Issuer'), c.name);
      }
      assert.equal(facts.serialNumber, field('Serial number'), c.name);
      assert.equal(facts.sha1Fingerprint, field('SHA1'), c.name);
      assert.equal(facts.sha256Fingerprint, field('SHA256'), c.name);
      assert.equal(facts.signatureAlgorithm, field('Signature algorithm name'), c.name);
      const key = field('Subject Public Key Algorithm');
      const expected =
        facts.keyAlgorithm === 'EC'
          ? `${facts.keySize}-bit EC (${facts.curve === 'P-256' ? 'secp256r1' : 'secp384r1'}) key`
          : `${facts.keySize}-bit ${facts.keyAlgorithm} key`;
      assert.equal(key, expected, c.name);
    });
  });

  it('escapes special characters in names as RFC 4514 asks', () => {
    const facts = certificateFacts(certs.at(-1)?.der ?? Buffer.alloc(0));
    assert.equal(facts.subject, 'CN=Fleet\\, Inc. \\"server\\" #1');
  });

  it('gives ISO 8601 dates equal to what openssl prints', async () => {
    const der = certs[0]?.der ?? Buffer.alloc(0);
    const r = await runTool('openssl', ['x509', '-inform', 'DER', '-noout', '-startdate', '-enddate'], der);
    const start = r.stdout.match(/notBefore=(.*)/)?.[1] ?? '';
    const end = r.stdout.match(/notAfter=(.*)/)?.[1] ?? '';
    const facts = certificateFacts(der);
    assert.match(facts.notBefore, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    assert.equal(Date.parse(facts.notBefore), Date.parse(start));
    assert.equal(Date.parse(facts.notAfter), Date.parse(end));
  });

  it('reads the refused kinds too: DSA, Ed25519, MD5 (the domain decides what to refuse)', async () => {
    const read = async (file: string): Promise<Buffer> =>
      (await readKeystore({ file: fixture(file), password: FIXTURE_PASSWORDS.storePassword })).certificates[0] as Buffer;
    const dsa = certificateFacts(await read('dsa-selfsigned.p12'));
    assert.deepEqual([dsa.keyAlgorithm, dsa.keySize, dsa.signatureAlgorithm], ['DSA', 2048, 'SHA256withDSA']);
    const ed = certificateFacts(await read('ed25519-selfsigned.p12'));
    assert.deepEqual([ed.keyAlgorithm, ed.keySize, ed.signatureAlgorithm, ed.signatureAlgorithmOid], ['Ed25519', 255, 'Ed25519', '1.3.101.112']);
    const md5 = certificateFacts(await read('md5-rsa.p12'));
    assert.deepEqual([md5.signatureAlgorithm, md5.signatureAlgorithmOid], ['MD5withRSA', '1.2.840.113549.1.1.4']);
    const small = certificateFacts(await read('rsa1024.p12'));
    assert.equal(small.keySize, 1024);
  });

  it('writes serial numbers as keytool does: lower-case hex without leading zeros', () => {
    assert.equal(serialNumberHex('00D4FC9F654A2BFACB'), 'd4fc9f654a2bfacb');
    assert.equal(serialNumberHex('0000'), '0');
    assert.equal(serialNumberHex('01'), '1');
  });
});

describe('normalizeCertificateInput', () => {
  const der = fixture('cert-only.der');

  it('accepts DER and PEM (text or bytes, with text around the block) and returns the DER', () => {
    assert.ok(normalizeCertificateInput(der).equals(der));
    const pem = fixture('cert-only.pem');
    assert.ok(normalizeCertificateInput(pem).equals(der));
    assert.ok(normalizeCertificateInput(`subject=whatever\n${pem.toString('utf8')}`).equals(der));
  });

  it('refuses what is not a certificate with file_unreadable', () => {
    for (const bad of [Buffer.from('hello'), fixture('random.bin'), fixture('key-only.pem'), der.subarray(0, 100)]) {
      assert.throws(() => normalizeCertificateInput(bad), (e: unknown) => isCertfleetError(e) && e.code === 'file_unreadable');
    }
    assert.throws(() => certificateFacts(Buffer.from('nope')), (e: unknown) => isCertfleetError(e) && e.code === 'file_unreadable');
  });
});
