import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { certificateContent } from '../../src/crypto/certificate-content.js';
import { certificateFacts } from '../../src/crypto/certificate-facts.js';
import { nodeKeyPairSource, type KeySpec } from '../../src/crypto/key-generation.js';
import { privateKeyMatchesCertificate } from '../../src/crypto/key-match.js';
import { toPem } from '../../src/crypto/pem.js';
import { CLOCK_SKEW_MS, createSelfSignedCertificate } from '../../src/crypto/self-signed.js';
import { GENERATION_ALGORITHMS, type GenerationAlgorithm } from '../../src/domain/algorithms.js';
import { importRefusal } from '../../src/domain/certificate.js';
import { isCertfleetError } from '../../src/domain/errors.js';
import { poolKeyPairSource } from '../support/key-pool.js';
import { runTool } from './tools.js';

const NOW = new Date('2026-05-01T10:00:00Z');
const pool = poolKeyPairSource();
const dir = mkdtempSync(join(tmpdir(), 'certfleet-selfsigned-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const CASES: readonly { algorithm: GenerationAlgorithm; spec: KeySpec; keySize: number; curve: string | null }[] = [
  { algorithm: 'SHA256withRSA', spec: { kind: 'RSA', bits: 2048 }, keySize: 2048, curve: null },
  { algorithm: 'SHA384withRSA', spec: { kind: 'RSA', bits: 3072 }, keySize: 3072, curve: null },
  { algorithm: 'SHA512withRSA', spec: { kind: 'RSA', bits: 4096 }, keySize: 4096, curve: null },
  { algorithm: 'SHA256withECDSA', spec: { kind: 'EC', curve: 'P-256' }, keySize: 256, curve: 'P-256' },
  { algorithm: 'SHA384withECDSA', spec: { kind: 'EC', curve: 'P-384' }, keySize: 384, curve: 'P-384' },
];

describe('createSelfSignedCertificate (K1, K5)', () => {
  for (const c of CASES) {
    it(`${c.algorithm}: right facts, and the signature verifies (Node and openssl verify)`, async () => {
      const keys = await pool.generate(c.spec);
      const der = await createSelfSignedCertificate({ keys, commonName: 'certfleet.example.net', algorithm: c.algorithm, days: 3650, now: NOW });
      const facts = certificateFacts(der);
      assert.equal(facts.signatureAlgorithm, c.algorithm);
      assert.equal(facts.keyAlgorithm, GENERATION_ALGORITHMS[c.algorithm].keyAlgorithm);
      assert.equal(facts.keySize, c.keySize);
      assert.equal(facts.curve, c.curve);
      assert.equal(facts.subject, 'CN=certfleet.example.net');
      assert.equal(facts.issuer, facts.subject);
      assert.equal(facts.notBefore, new Date(NOW.getTime() - CLOCK_SKEW_MS).toISOString());
      assert.equal(facts.notAfter, new Date(NOW.getTime() + 3650 * 86_400_000).toISOString());
      assert.match(facts.serialNumber, /^[4-7][0-9a-f]{31}$/); // 16 bytes, positive
      assert.ok(privateKeyMatchesCertificate(der, keys.privateKey));
      assert.equal(importRefusal({ facts, chainLength: 1, privateKeyAlgorithm: facts.keyAlgorithm, keyMatchesCertificate: true }, new Date(NOW.getTime() + 1000)), null);

      const x = new X509Certificate(der);
      assert.ok(x.verify(keys.publicKey));
      const file = join(dir, `${c.algorithm}.pem`);
      writeFileSync(file, toPem(der, 'CERTIFICATE'));
      const r = await runTool('openssl', ['verify', '-CAfile', file, '-partial_chain', '-attime', String(NOW.getTime() / 1000 + 3600), '-purpose', 'sslserver', file]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /: OK/);
    });
  }

  it('has the extensions a TLS server certificate needs', async () => {
    const rsa = certificateContent(
      await createSelfSignedCertificate({ keys: await pool.generate({ kind: 'RSA', bits: 2048 }), commonName: 'host.example', algorithm: 'SHA256withRSA', days: 1, now: NOW }),
    );
    const ec = certificateContent(
      await createSelfSignedCertificate({ keys: await pool.generate({ kind: 'EC', curve: 'P-256' }), commonName: 'host.example', algorithm: 'SHA256withECDSA', days: 1, now: NOW }),
    );
    const ext = (c: typeof rsa, name: string) => c.extensions.find((e) => e.name === name);
    assert.deepEqual(ext(rsa, 'basicConstraints')?.value, { ca: false, pathLength: null });
    assert.equal(ext(rsa, 'basicConstraints')?.critical, true);
    assert.deepEqual(ext(rsa, 'keyUsage')?.value, ['digitalSignature', 'keyEncipherment']);
    assert.deepEqual(ext(ec, 'keyUsage')?.value, ['digitalSignature']);
    assert.deepEqual(ext(rsa, 'extKeyUsage')?.value, ['serverAuth']);
    assert.deepEqual(ext(rsa, 'subjectAltName')?.value, ['DNS:host.example']);
    assert.ok(ext(rsa, 'subjectKeyIdentifier'));
  });

  it('adds a DNS name only for host names, an IP address for IP literals', async () => {
    const san = async (commonName: string) =>
      certificateContent(
        await createSelfSignedCertificate({ keys: await pool.generate({ kind: 'EC', curve: 'P-256' }), commonName, algorithm: 'SHA256withECDSA', days: 1, now: NOW }),
      ).extensions.find((e) => e.name === 'subjectAltName')?.value ?? null;
    assert.deepEqual(await san('tc-server'), ['DNS:tc-server']);
    assert.deepEqual(await san('10.1.2.3'), ['IP:10.1.2.3']);
    assert.equal(await san('My Fleet Server'), null);
    assert.equal(await san('under_score.example'), null);
  });

  it('draws a new serial number each time, and takes a given one', async () => {
    const keys = await pool.generate({ kind: 'EC', curve: 'P-256' });
    const make = (serialNumber?: string) =>
      createSelfSignedCertificate({ keys, commonName: 'a.test', algorithm: 'SHA256withECDSA', days: 1, now: NOW, ...(serialNumber ? { serialNumber } : {}) });
    const a = certificateFacts(await make());
    const b = certificateFacts(await make());
    assert.notEqual(a.serialNumber, b.serialNumber);
    assert.equal(certificateFacts(await make('01f2')).serialNumber, '1f2');
  });

  it('refuses a key that does not fit the algorithm, and impossible validities', async () => {
    const rsa = await pool.generate({ kind: 'RSA', bits: 2048 });
    const p256 = await pool.generate({ kind: 'EC', curve: 'P-256' });
    const refused = (code: string) => (e: unknown) => isCertfleetError(e) && e.code === code;
    await assert.rejects(createSelfSignedCertificate({ keys: rsa, commonName: 'a', algorithm: 'SHA256withECDSA', days: 1, now: NOW }), refused('unsupported_generation_algorithm'));
    await assert.rejects(createSelfSignedCertificate({ keys: p256, commonName: 'a', algorithm: 'SHA384withECDSA', days: 1, now: NOW }), refused('unsupported_generation_algorithm'));
    await assert.rejects(createSelfSignedCertificate({ keys: p256, commonName: 'a', algorithm: 'SHA512withRSA', days: 1, now: NOW }), refused('unsupported_generation_algorithm'));
    await assert.rejects(createSelfSignedCertificate({ keys: rsa, commonName: 'a', algorithm: 'SHA256withRSA', days: 0, now: NOW }), refused('invalid_validity'));
    await assert.rejects(createSelfSignedCertificate({ keys: rsa, commonName: '', algorithm: 'SHA256withRSA', days: 1, now: NOW }), refused('invalid_request'));
  });
});

describe('key pair sources', () => {
  it('nodeKeyPairSource makes real keys of the asked kind', async () => {
    const ec = await nodeKeyPairSource.generate({ kind: 'EC', curve: 'P-384' });
    assert.equal(ec.privateKey.asymmetricKeyDetails?.namedCurve, 'secp384r1');
    const rsa = await nodeKeyPairSource.generate({ kind: 'RSA', bits: 2048 });
    assert.equal(rsa.privateKey.asymmetricKeyDetails?.modulusLength, 2048);
    assert.equal(rsa.privateKey.asymmetricKeyDetails?.publicExponent, 65537n);
    assert.equal(rsa.publicKey.type, 'public');
  });

  it('nodeKeyPairSource refuses sizes that are not RSA key sizes', async () => {
    for (const bits of [1024, 2047, 16384]) {
      await assert.rejects(nodeKeyPairSource.generate({ kind: 'RSA', bits }), (e: unknown) => isCertfleetError(e) && e.code === 'invalid_key_size');
    }
  });

  it('the test pool hands out its keys round robin per kind', async () => {
    const p = poolKeyPairSource();
    const [a, b, c, d] = [
      await p.generate({ kind: 'RSA', bits: 4096 }),
      await p.generate({ kind: 'RSA', bits: 4096 }),
      await p.generate({ kind: 'RSA', bits: 4096 }),
      await p.generate({ kind: 'EC', curve: 'P-256' }),
    ];
    assert.equal(a.privateKey.asymmetricKeyDetails?.modulusLength, 4096);
    assert.ok(!a.privateKey.equals(b.privateKey));
    assert.ok(a.privateKey.equals(c.privateKey));
    assert.equal(d.privateKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.equal(p.handedOut, 4);
  });
});
