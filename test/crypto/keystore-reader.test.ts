import assert from 'node:assert/strict';
import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import forge from 'node-forge';
import { certificateFacts } from '../../src/crypto/certificate-facts.js';
import { keyAlgorithmOf, privateKeyMatchesCertificate } from '../../src/crypto/key-match.js';
import { MAX_KEYSTORE_FILE_BYTES, readKeystore, type ReadKeystoreRequest } from '../../src/crypto/keystore-reader.js';
import { MAX_ITERATIONS } from '../../src/crypto/pbe.js';
import { importRefusal } from '../../src/domain/certificate.js';
import { CertfleetError, isCertfleetError, type ErrorCode } from '../../src/domain/errors.js';
import { ACCEPTED, fixture, FIXTURE_PASSWORDS, REFUSED, type FixtureRead } from '../fixtures/fixtures.js';
import { opensslFingerprint } from './tools.js';

function request(f: FixtureRead, overrides: Partial<ReadKeystoreRequest> = {}): ReadKeystoreRequest {
  return {
    file: fixture(f.file),
    password: f.password,
    ...(f.keyPassword !== undefined ? { keyPassword: f.keyPassword } : {}),
    ...(f.entry !== undefined ? { entry: f.entry } : {}),
    ...overrides,
  };
}

async function readError(req: ReadKeystoreRequest): Promise<CertfleetError> {
  try {
    await readKeystore(req);
  } catch (e) {
    assert.ok(isCertfleetError(e), `expected a CertfleetError, got ${String(e)}`);
    return e;
  }
  assert.fail('readKeystore accepted the file');
}

async function assertReadError(req: ReadKeystoreRequest, code: ErrorCode): Promise<CertfleetError> {
  const e = await readError(req);
  assert.equal(e.code, code, e.message);
  return e;
}

describe('readKeystore: every accepted fixture', () => {
  for (const f of ACCEPTED) {
    it(`reads ${f.file}${f.entry ? ` (entry ${f.entry})` : ''} with the right facts`, async () => {
      const read = await readKeystore(request(f));
      assert.equal(read.format, f.format);
      assert.equal(read.entryName, f.entryName);
      assert.equal(read.certificates.length, 1);
      const der = read.certificates[0] as Buffer;
      const facts = certificateFacts(der);
      assert.equal(facts.signatureAlgorithm, f.signatureAlgorithm);
      assert.equal(facts.keyAlgorithm, f.keyAlgorithm);
      assert.equal(facts.keySize, f.keySize);
      assert.equal(facts.curve, f.curve);
      assert.match(facts.subject, new RegExp(`^CN=${f.commonName.replace(/\./g, '\\.')}, O=certfleet fixtures$`));
      // fingerprints exactly as openssl prints them for the same certificate
      assert.equal(facts.sha256Fingerprint, await opensslFingerprint(der, 'sha256'));
      assert.equal(facts.sha1Fingerprint, await opensslFingerprint(der, 'sha1'));
      assert.equal(keyAlgorithmOf(read.privateKey), f.keyAlgorithm);
      assert.ok(privateKeyMatchesCertificate(der, read.privateKey));
      assert.equal(importRefusal({ facts, chainLength: 1, privateKeyAlgorithm: f.keyAlgorithm, keyMatchesCertificate: true }, new Date()), null);
    });
  }

  it('keeps certificate bytes exactly (the fingerprint of the PKCS#12 and the PEM copy agree)', async () => {
    const p12 = await readKeystore({ file: fixture('keytool-rsa2048-sha256.p12'), password: FIXTURE_PASSWORDS.storePassword });
    const pem = await readKeystore({ file: fixture('duplicate-keytool-rsa2048.pem'), password: '' });
    assert.ok((p12.certificates[0] as Buffer).equals(pem.certificates[0] as Buffer));
    assert.ok(createPublicKey(p12.privateKey).equals(createPublicKey(pem.privateKey)));
  });
});

describe('readKeystore: every refused fixture', () => {
  for (const f of REFUSED) {
    const outcome = f.readError ?? f.importRefusal ?? f.keystoreRefusal?.code;
    it(`${f.file} (${f.why}) → ${outcome}`, async () => {
      if (f.readError) {
        await assertReadError(request(f), f.readError);
        return;
      }
      const read = await readKeystore(request(f));
      const der = read.certificates[0] as Buffer;
      const facts = certificateFacts(der);
      const refusal = importRefusal(
        {
          facts,
          chainLength: read.certificates.length,
          privateKeyAlgorithm: keyAlgorithmOf(read.privateKey),
          keyMatchesCertificate: privateKeyMatchesCertificate(der, read.privateKey),
        },
        new Date(),
      );
      if (f.importRefusal) {
        assert.ok(refusal, 'importRefusal accepted it');
        assert.equal(refusal.code, f.importRefusal, refusal.message);
      }
      if (f.keystoreRefusal) {
        // what the keystore compares: the SHA-256 fingerprint of the certificate already imported
        assert.equal(refusal, null);
        const first = await readKeystore({ file: fixture(f.keystoreRefusal.after), password: FIXTURE_PASSWORDS.storePassword });
        assert.equal(certificateFacts(first.certificates[0] as Buffer).sha256Fingerprint, facts.sha256Fingerprint);
      }
    });
  }

  it('reads the chain leaf first, then its CA', async () => {
    const read = await readKeystore({ file: fixture('chain.p12'), password: FIXTURE_PASSWORDS.storePassword });
    assert.equal(read.certificates.length, 2);
    const [leaf, ca] = read.certificates.map((d) => new X509Certificate(d));
    assert.ok(leaf && ca && leaf.checkIssued(ca));
    assert.ok(privateKeyMatchesCertificate(read.certificates[0] as Buffer, read.privateKey));
  });

  it('names the JCEKS format and the keytool command that converts it', async () => {
    const e = await assertReadError({ file: fixture('keytool.jceks'), password: FIXTURE_PASSWORDS.storePassword }, 'file_unreadable');
    assert.match(e.message, /JCEKS/);
    assert.match(e.message, /keytool -importkeystore .*-deststoretype PKCS12/);
  });

  it('refuses a file over 1 MiB before reading it', async () => {
    const e = await assertReadError({ file: Buffer.alloc(MAX_KEYSTORE_FILE_BYTES + 1), password: 'x' }, 'file_too_large');
    assert.equal(e.details['size'], MAX_KEYSTORE_FILE_BYTES + 1);
  });
});

describe('readKeystore: a wrong password is told apart from an unreadable file', () => {
  const wrong = FIXTURE_PASSWORDS.wrongPassword;
  for (const f of ACCEPTED.filter((a) => a.password !== '')) {
    it(`${f.file}: wrong password → wrong_password`, async () => {
      const e = await assertReadError(request(f, { password: wrong, ...(f.keyPassword ? { keyPassword: wrong } : {}) }), 'wrong_password');
      assert.equal(e.details['format'], f.format);
    });
  }

  it('PKCS#12 with a MAC: the integrity check is what failed', async () => {
    const e = await assertReadError({ file: fixture('openssl-rsa2048-aes.p12'), password: wrong }, 'wrong_password');
    assert.match(e.message, /integrity check failed/);
  });

  it('PKCS#12 without a MAC: wrong password, saying a damaged file would look the same', async () => {
    const e = await assertReadError({ file: fixture('openssl-rsa2048-nomac.p12'), password: wrong }, 'wrong_password');
    assert.match(e.message, /no integrity check/);
  });

  it('PKCS#12 truncated anywhere → file_unreadable, never wrong_password', async () => {
    const whole = fixture('keytool-rsa2048-sha256.p12');
    for (const n of [1, 16, 100, 1000, whole.length - 40, whole.length - 1]) {
      await assertReadError({ file: whole.subarray(0, n), password: FIXTURE_PASSWORDS.storePassword }, 'file_unreadable');
    }
  });

  it('JKS: a wrong store password and a wrong key password are told apart', async () => {
    const file = fixture('keytool-keypass.jks');
    const store = await assertReadError({ file, password: wrong, keyPassword: FIXTURE_PASSWORDS.jksKeyPassword }, 'wrong_password');
    assert.equal(store.details['password'], 'store');
    assert.match(store.message, /JKS integrity check failed/);

    const missing = await assertReadError({ file, password: FIXTURE_PASSWORDS.storePassword }, 'wrong_password');
    assert.equal(missing.details['password'], 'key');
    assert.match(missing.message, /store password is right.*entry "server".*give it as the key password/s);

    const badKey = await assertReadError({ file, password: FIXTURE_PASSWORDS.storePassword, keyPassword: wrong }, 'wrong_password');
    assert.equal(badKey.details['password'], 'key');
    assert.match(badKey.message, /Check the key password/);
  });

  it('JKS truncated anywhere → file_unreadable, never wrong_password', async () => {
    const whole = fixture('keytool-keypass.jks');
    for (const n of [3, 12, 40, 500, whole.length - 21, whole.length - 1]) {
      await assertReadError({ file: whole.subarray(0, n), password: FIXTURE_PASSWORDS.storePassword }, 'file_unreadable');
    }
  });

  it('PEM: a missing and a wrong passphrase are both wrong_password, with different advice', async () => {
    for (const file of ['pem-encrypted-pkcs8.pem', 'pem-traditional-encrypted.pem']) {
      const missing = await assertReadError({ file: fixture(file), password: '' }, 'wrong_password');
      assert.match(missing.message, /give its passphrase/);
      const bad = await assertReadError({ file: fixture(file), password: wrong }, 'wrong_password');
      assert.match(bad.message, /passphrase is wrong/);
    }
  });

  it('a PKCS#12 asking for more than the iteration limit is refused without deriving', async () => {
    // the real file, with the MAC iteration count raised (re-encoded by forge): not a hand-made keystore
    const pfx = forge.asn1.fromDer(fixture('openssl-rsa2048-aes.p12').toString('binary'));
    const parts = pfx.value as forge.asn1.Asn1[]; // a PFX is a SEQUENCE: constructed
    const mac = (parts[2]?.value ?? []) as forge.asn1.Asn1[]; // MacData is a SEQUENCE too
    const iterations = mac[2];
    assert.equal(iterations?.type, forge.asn1.Type.INTEGER, 'MacData holds its iteration count as the third element');
    iterations.value = forge.asn1.integerToDer(MAX_ITERATIONS + 1).getBytes();
    const file = Buffer.from(forge.asn1.toDer(pfx).getBytes(), 'binary');
    const started = Date.now();
    const e = await assertReadError({ file, password: FIXTURE_PASSWORDS.storePassword }, 'key_derivation_too_costly');
    assert.equal(e.details['reason'], 'iteration_limit');
    assert.ok(Date.now() - started < 1000);
  });
});

describe('readKeystore: entries', () => {
  const file = fixture('keytool-two-entries.jks');
  const password = FIXTURE_PASSWORDS.storePassword;

  it('needs the entry named when the file holds two key entries', async () => {
    const e = await assertReadError({ file, password }, 'entry_required');
    assert.deepEqual([...(e.details['entries'] as string[])].sort(), ['first', 'second']);
  });

  it('reads the named one, also named in another case (JKS aliases are case-insensitive)', async () => {
    const first = await readKeystore({ file, password, entry: 'first' });
    const second = await readKeystore({ file, password, entry: 'SECOND' });
    assert.equal(keyAlgorithmOf(first.privateKey), 'RSA');
    assert.equal(keyAlgorithmOf(second.privateKey), 'EC');
    assert.equal(second.entryName, 'second');
    assert.deepEqual([...second.entryNames].sort(), ['first', 'second']);
  });

  it('refuses an entry that is not there, listing the ones that are', async () => {
    const e = await assertReadError({ file, password, entry: 'third' }, 'entry_not_found');
    assert.match(e.message, /"third"/);
    assert.match(e.message, /first/);
  });

  it('refuses an entry name for a PEM file, which has none', async () => {
    const e = await assertReadError({ file: fixture('pem-plain.pem'), password: '', entry: 'server' }, 'entry_not_found');
    assert.match(e.message, /no entry names/);
  });

  it('accepts the entry name of a single-entry PKCS#12 and refuses a wrong one', async () => {
    const p12 = fixture('openssl-ec-p256.p12');
    assert.equal((await readKeystore({ file: p12, password, entry: 'openssl-ec-p256' })).entryName, 'openssl-ec-p256');
    await assertReadError({ file: p12, password, entry: 'other' }, 'entry_not_found');
  });
});

describe('readKeystore: nothing secret in errors', () => {
  it('no message or details contains a password or key material', async () => {
    const keyTexts = await Promise.all(
      ['pem-plain.pem', 'key-only.pem', 'key-mismatch.pem'].map(async (f) => fixture(f).toString('utf8')),
    );
    const secretsFrom = (text: string): string[] =>
      [...text.matchAll(/-----BEGIN [A-Z ]*PRIVATE KEY-----\n([\s\S]*?)-----END/g)].flatMap((m) =>
        (m[1] ?? '').split('\n').filter((line) => line.length >= 32),
      );
    const secrets = [
      FIXTURE_PASSWORDS.storePassword,
      FIXTURE_PASSWORDS.jksKeyPassword,
      FIXTURE_PASSWORDS.wrongPassword,
      'PRIVATE KEY',
      ...keyTexts.flatMap(secretsFrom),
    ];
    const files = [...new Set([...ACCEPTED, ...REFUSED].map((f) => f.file))];
    const passwords = ['', FIXTURE_PASSWORDS.storePassword, FIXTURE_PASSWORDS.jksKeyPassword, FIXTURE_PASSWORDS.wrongPassword];
    let errors = 0;
    for (const file of files) {
      for (const password of passwords) {
        for (const keyPassword of file.endsWith('.jks') ? [undefined, FIXTURE_PASSWORDS.wrongPassword] : [undefined]) {
          try {
            await readKeystore({ file: fixture(file), password, ...(keyPassword ? { keyPassword } : {}) });
          } catch (e) {
            assert.ok(e instanceof CertfleetError, `${file}: ${String(e)}`);
            errors++;
            const text = `${e.message}\n${JSON.stringify(e.details)}`;
            for (const s of secrets) assert.ok(!text.includes(s), `${file}: the error shows a secret: ${text}`);
          }
        }
      }
    }
    assert.ok(errors > 40, `only ${errors} errors were examined`);
  });

  it('keys read from PEM and PKCS#12 are the same objects Node makes (hash of the public key)', async () => {
    const read = await readKeystore({ file: fixture('keytool-ec-p384.p12'), password: FIXTURE_PASSWORDS.storePassword });
    const spki = createPublicKey(read.privateKey).export({ type: 'spki', format: 'der' });
    const certSpki = new X509Certificate(read.certificates[0] as Buffer).publicKey.export({ type: 'spki', format: 'der' });
    assert.equal(createHash('sha256').update(spki).digest('hex'), createHash('sha256').update(certSpki).digest('hex'));
  });
});

describe('readKeystore: files without a password (issue 13)', () => {
  const windows = fixture('interop/windows-no-password.pfx'); // MAC and bags keyed with a zero-length password
  const limits = (maxDerivationRounds: number) => ({ maxDerivationRounds, maxCertificates: 50, maxEncryptedParts: 16, maxScryptMemoryBytes: 32 * 1024 * 1024 });
  // make-windows-pkcs12.mjs: 2000 iterations for the SHA-1 MAC, the 3DES key (2 + 1 blocks) and the RC2-40 certificates (1 + 1)
  const oneEncoding = 2000 * (1 + 3 + 2) * 4;

  it('reads a Windows export without a password with the empty password, MAC checked', async () => {
    const read = await readKeystore({ file: windows, password: '' });
    assert.equal(read.integrityCheck, 'mac');
    assert.equal(read.format, 'pkcs12');
    assert.equal(read.certificates.length, 1);
  });

  it('books both encodings of the empty password before the first derivation', async () => {
    const refused = await readError({ file: windows, password: '', limits: limits(oneEncoding) });
    assert.equal(refused.code, 'key_derivation_too_costly', 'room for one encoding is not enough: both are tried');
    const read = await readKeystore({ file: windows, password: '', limits: limits(2 * oneEncoding) });
    assert.equal(read.certificates.length, 1, 'room for both reads it');
  });

  it('is a wrong password when a password is given for it', async () => {
    assert.equal((await readError({ file: windows, password: FIXTURE_PASSWORDS.storePassword })).code, 'wrong_password');
  });

  it('reports no integrity check for a PKCS#12 file without a MAC', async () => {
    const read = await readKeystore({ file: fixture('interop/keytool-pkcs12-mac-none.p12'), password: FIXTURE_PASSWORDS.storePassword });
    assert.equal(read.integrityCheck, 'none');
  });
});
