import assert from 'node:assert/strict';
import { createCipheriv, generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import forge from 'node-forge';
import { parseDer, toDer } from './asn1.js';
import { CertfleetError } from '../domain/errors.js';
import { DerivationBudget } from './import-limits.js';
import { bmpPassword, DecryptionError, pbes2Encrypt, pbeDecrypt, pkcs12KeyDerivation, planPbe } from './pbe.js';
import { decryptPrivateKeyInfo } from './pkcs8.js';

// node-forge is an independent implementation of the same algorithms: it checks ours both ways.
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });

function forgeEncrypted(password: string, options: forge.pki.EncryptionOptions): Buffer {
  const info = forge.asn1.fromDer(pkcs8.toString('binary'));
  return Buffer.from(forge.asn1.toDer(forge.pki.encryptPrivateKeyInfo(info, password, options)).getBytes(), 'binary');
}

describe('pbe', () => {
  it('derives PKCS#12 keys as node-forge does (RFC 7292 B.2), for every ID and several lengths', () => {
    const salt = randomBytes(8);
    for (const [password, iterations, n] of [['smeg', 1, 24], ['storepass1', 2048, 8], ['', 10, 20], ['pässwörd', 3, 40]] as const) {
      for (const id of [1, 2, 3] as const) {
        const ours = pkcs12KeyDerivation('sha1', bmpPassword(password), salt, id, iterations, n);
        const theirs = forge.pkcs12.generateKey(password, forge.util.createBuffer(salt.toString('binary')), id, iterations, n).getBytes();
        assert.equal(ours.toString('binary'), theirs, `${password}/${id}/${iterations}/${n}`);
      }
    }
    const sha256 = pkcs12KeyDerivation('sha256', bmpPassword('x'), salt, 3, 5, 32);
    const forge256 = forge.pkcs12.generateKey('x', forge.util.createBuffer(salt.toString('binary')), 3, 5, 32, forge.md.sha256.create()).getBytes();
    assert.equal(sha256.toString('binary'), forge256);
  });

  it('encodes PKCS#12 passwords as BMPString with a terminator', () => {
    assert.deepEqual([...bmpPassword('ab')], [0, 0x61, 0, 0x62, 0, 0]);
    assert.deepEqual([...bmpPassword('')], [0, 0]);
  });

  const schemes: [string, forge.pki.EncryptionOptions][] = [
    ['PBES2 AES-256 / HMAC-SHA-256', { algorithm: 'aes256', prfAlgorithm: 'sha256', count: 1000 }],
    ['PBES2 AES-192 / HMAC-SHA-512', { algorithm: 'aes192', prfAlgorithm: 'sha512', count: 1000 }],
    ['PBES2 AES-128 / HMAC-SHA-1', { algorithm: 'aes128', count: 1000 }],
    ['PKCS#12 PBE 3DES (legacy)', { algorithm: '3des', count: 2048 }],
  ];
  for (const [name, options] of schemes) {
    it(`decrypts a key forge encrypted with ${name}, and refuses the wrong password`, async () => {
      const epki = forgeEncrypted('right password', options);
      const key = await decryptPrivateKeyInfo(epki, 'right password', new DerivationBudget());
      assert.ok(key.equals(privateKey));
      await assert.rejects(decryptPrivateKeyInfo(epki, 'wrong password', new DerivationBudget()), DecryptionError);
    });
  }

  it('encrypts PBES2 AES-256 so that forge decrypts it', async () => {
    const enc = await pbes2Encrypt(pkcs8, 'pw', randomBytes(16), randomBytes(16), 1000);
    const epki = forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.SEQUENCE, true, [
      enc.algorithm,
      forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.OCTETSTRING, false, enc.encrypted.toString('binary')),
    ]);
    const plain = forge.pki.decryptPrivateKeyInfo(epki, 'pw');
    assert.ok(Buffer.from(forge.asn1.toDer(plain).getBytes(), 'binary').equals(pkcs8));
    assert.ok((await pbeDecrypt(parseDer(toDer(enc.algorithm)), enc.encrypted, 'pw', new DerivationBudget())).equals(pkcs8));
  });

  it('states the rounds of each scheme before deriving: iterations × blocks, key and IV for PKCS#12 PBE', () => {
    const algorithmOf = (options: forge.pki.EncryptionOptions): forge.asn1.Asn1 => (parseDer(forgeEncrypted('pw', options)).value as forge.asn1.Asn1[])[0] as forge.asn1.Asn1; // an EncryptedPrivateKeyInfo is a SEQUENCE
    assert.equal(planPbe(algorithmOf({ algorithm: 'aes256', prfAlgorithm: 'sha256', count: 1000 }), 'pw').rounds, 1000); // 32 bytes, one SHA-256 block
    assert.equal(planPbe(algorithmOf({ algorithm: 'aes256', count: 1000 }), 'pw').rounds, 2000); // 32 bytes of SHA-1: two blocks
    assert.equal(planPbe(algorithmOf({ algorithm: '3des', count: 2048 }), 'pw').rounds, 3 * 2048 * 4); // 24-byte key: two blocks, IV: one, in JavaScript
  });

  it('books both encodings of an empty password for the PKCS#12 derivation (two zero bytes, then no bytes), one for PBES2', () => {
    const algorithmOf = (options: forge.pki.EncryptionOptions): forge.asn1.Asn1 => (parseDer(forgeEncrypted('pw', options)).value as forge.asn1.Asn1[])[0] as forge.asn1.Asn1;
    const legacy = algorithmOf({ algorithm: '3des', count: 2048 });
    assert.equal(planPbe(legacy, '').rounds, 2 * planPbe(legacy, 'pw').rounds);
    const pbes2 = algorithmOf({ algorithm: 'aes256', prfAlgorithm: 'sha256', count: 1000 });
    assert.equal(planPbe(pbes2, '').rounds, planPbe(pbes2, 'pw').rounds);
  });

  it('opens a legacy bag keyed with a zero-length password when the empty password is given', async () => {
    const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
    const salt = Buffer.alloc(8, 7);
    const iterations = 2048;
    // what Windows writes with no password: the PKCS#12 derivation over no password bytes at all
    const key = pkcs12KeyDerivation('sha1', Buffer.alloc(0), salt, 1, iterations, 24);
    const iv = pkcs12KeyDerivation('sha1', Buffer.alloc(0), salt, 2, iterations, 8);
    const c = createCipheriv('des-ede3-cbc', key, iv);
    const encrypted = Buffer.concat([c.update(pkcs8), c.final()]);
    const { create, Class, Type, oidToDer, integerToDer } = forge.asn1;
    const algorithm = create(Class.UNIVERSAL, Type.SEQUENCE, true, [
      create(Class.UNIVERSAL, Type.OID, false, oidToDer('1.2.840.113549.1.12.1.3').getBytes()),
      create(Class.UNIVERSAL, Type.SEQUENCE, true, [
        create(Class.UNIVERSAL, Type.OCTETSTRING, false, salt.toString('binary')),
        create(Class.UNIVERSAL, Type.INTEGER, false, integerToDer(iterations).getBytes()),
      ]),
    ]);
    const budget = new DerivationBudget();
    const plain = await pbeDecrypt(algorithm, encrypted, '', budget, (p) => p.equals(pkcs8));
    assert.ok(plain.equals(pkcs8), 'the zero-length encoding opens the bag');
    assert.equal(budget.roundsSpent, planPbe(algorithm, '').rounds, 'both encodings were booked before the first derivation');
    await assert.rejects(pbeDecrypt(algorithm, encrypted, 'pw', new DerivationBudget(), (p) => p.equals(pkcs8)), DecryptionError);
  });

  it('refuses a derivation that would pass the budget of the file, without starting it', async () => {
    const epki = forgeEncrypted('pw', { algorithm: 'aes256', prfAlgorithm: 'sha256', count: 1000 });
    const budget = new DerivationBudget({ maxDerivationRounds: 2500, maxCertificates: 5, maxEncryptedParts: 5, maxScryptMemoryBytes: 1024 });
    await decryptPrivateKeyInfo(epki, 'pw', budget);
    await decryptPrivateKeyInfo(epki, 'pw', budget);
    assert.equal(budget.roundsSpent, 2000);
    await assert.rejects(decryptPrivateKeyInfo(epki, 'pw', budget), (e: unknown) => e instanceof CertfleetError && e.code === 'key_derivation_too_costly');
    assert.equal(budget.roundsSpent, 2000);
  });
});
