import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { certificateFacts } from '../../src/crypto/certificate-facts.js';
import { privateKeyMatchesCertificate } from '../../src/crypto/key-match.js';
import { readKeystore } from '../../src/crypto/keystore-reader.js';
import { pemBlocks } from '../../src/crypto/pem.js';
import { writePkcs12 } from '../../src/crypto/pkcs12-writer.js';
import { createSelfSignedCertificate } from '../../src/crypto/self-signed.js';
import { isCertfleetError } from '../../src/domain/errors.js';
import { poolKeyPairSource } from '../support/key-pool.js';
import { keytool, runTool } from './tools.js';

const PASSWORD = 'export-pass-1';
const NOW = new Date();
const dir = mkdtempSync(join(tmpdir(), 'certfleet-p12-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Written {
  readonly file: string;
  readonly certDer: Buffer;
  readonly p12: Buffer;
}

const written = new Map<'RSA' | 'EC', Written>();

before(async () => {
  const pool = poolKeyPairSource();
  for (const kind of ['RSA', 'EC'] as const) {
    const keys = await pool.generate(kind === 'RSA' ? { kind: 'RSA', bits: 2048 } : { kind: 'EC', curve: 'P-384' });
    const certDer = await createSelfSignedCertificate({
      keys,
      commonName: `export-${kind.toLowerCase()}.test`,
      algorithm: kind === 'RSA' ? 'SHA256withRSA' : 'SHA384withECDSA',
      days: 30,
      now: NOW,
    });
    const p12 = await writePkcs12({ certDer, privateKey: keys.privateKey, password: PASSWORD, friendlyName: `alias-${kind.toLowerCase()}` });
    const file = join(dir, `${kind}.p12`);
    writeFileSync(file, p12);
    written.set(kind, { file, certDer, p12 });
  }
});

function get(kind: 'RSA' | 'EC'): Written {
  const w = written.get(kind);
  if (w === undefined) throw new Error(`no ${kind} PKCS#12 was written in before()`);
  return w;
}

describe('writePkcs12 (K8)', () => {
  for (const kind of ['RSA', 'EC'] as const) {
    it(`${kind}: openssl pkcs12 opens it with the password, and the key inside matches the certificate`, async () => {
      const w = get(kind);
      const r = await runTool('openssl', ['pkcs12', '-in', w.file, '-passin', `pass:${PASSWORD}`, '-nodes', '-info']);
      assert.equal(r.code, 0, r.stderr);
      // the work factor current guidance asks (OWASP: 600 000 PBKDF2-HMAC-SHA-256 rounds) on the
      // key, and as many SHA-512 blocks as 210 000 PBKDF2-HMAC-SHA-512 rounds on the MAC that a
      // password guess could otherwise be checked against cheaply
      assert.match(r.stderr, /MAC: sha512, Iteration 420000/);
      assert.match(r.stderr, /Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 600000, PRF hmacWithSHA256/);
      // the certificate is public: in a plain safe, not under a third derivation
      assert.match(r.stderr, /PKCS7 Data\nCertificate bag/);
      assert.doesNotMatch(r.stderr, /PKCS7 Encrypted data/);
      assert.match(r.stdout, new RegExp(`friendlyName: alias-${kind.toLowerCase()}`));
      const blocks = pemBlocks(r.stdout);
      const cert = blocks.find((b) => b.label === 'CERTIFICATE');
      const key = blocks.find((b) => b.label === 'PRIVATE KEY');
      assert.ok(cert && key);
      assert.ok(cert.der.equals(w.certDer));
      assert.ok(privateKeyMatchesCertificate(w.certDer, createPrivateKey({ key: key.der, format: 'der', type: 'pkcs8' })));
    });

    it(`${kind}: openssl pkcs12 refuses a wrong password`, async () => {
      const r = await runTool('openssl', ['pkcs12', '-in', get(kind).file, '-passin', 'pass:wrong-password', '-nodes']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Mac verify error|invalid password/i);
    });

    it(`${kind}: keytool -list shows one private key entry under the friendly name`, async () => {
      const r = await keytool(['-list', '-v', '-storetype', 'PKCS12', '-keystore', get(kind).file, '-storepass', PASSWORD]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /Your keystore contains 1 entry/);
      assert.match(r.stdout, new RegExp(`Alias name: alias-${kind.toLowerCase()}`));
      assert.match(r.stdout, /Entry type: PrivateKeyEntry/);
      assert.match(r.stdout, new RegExp(`SHA256: ${certificateFacts(get(kind).certDer).sha256Fingerprint}`));
    });

    it(`${kind}: certfleet reads its own export back`, async () => {
      const w = get(kind);
      const read = await readKeystore({ file: w.p12, password: PASSWORD });
      assert.equal(read.entryName, `alias-${kind.toLowerCase()}`);
      assert.ok((read.certificates[0] as Buffer).equals(w.certDer));
      assert.ok(privateKeyMatchesCertificate(w.certDer, read.privateKey));
      await assert.rejects(readKeystore({ file: w.p12, password: 'nope' }), (e: unknown) => isCertfleetError(e) && e.code === 'wrong_password');
    });
  }

  it('keytool refuses a wrong password, and decrypts the EC key itself (importkeystore)', async () => {
    const wrong = await keytool(['-list', '-storetype', 'PKCS12', '-keystore', get('EC').file, '-storepass', 'wrong-password']);
    assert.notEqual(wrong.code, 0);
    // the MAC is checked first (the certificate safe is plain): keytool says "integrity check failed"
    assert.match(wrong.stdout + wrong.stderr, /password was incorrect|Integrity check failed/);
    const dest = join(dir, 'copy.p12');
    const copy = await keytool([
      '-importkeystore', '-noprompt', '-srckeystore', get('EC').file, '-srcstoretype', 'PKCS12', '-srcstorepass', PASSWORD,
      '-destkeystore', dest, '-deststoretype', 'PKCS12', '-deststorepass', 'another-pass',
    ]);
    assert.equal(copy.code, 0, copy.stdout + copy.stderr);
    assert.match(copy.stdout + copy.stderr, /1 entries successfully imported/);
  });

  it('writes nothing when the key does not belong to the certificate', async () => {
    const other = await poolKeyPairSource().generate({ kind: 'EC', curve: 'P-256' });
    await assert.rejects(
      writePkcs12({ certDer: get('EC').certDer, privateKey: other.privateKey, password: PASSWORD, friendlyName: 'x' }),
      (e: unknown) => isCertfleetError(e) && e.code === 'internal',
    );
  });
});
