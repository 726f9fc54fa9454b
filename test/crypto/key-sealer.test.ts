import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { KeySealer, SEALED_FORMAT_VERSION } from '../../src/crypto/key-sealer.js';
import { isCertfleetError } from '../../src/domain/errors.js';

const key = randomBytes(32);
const sealer = new KeySealer(key);
const plain = Buffer.from('-----BEGIN PRIVATE KEY----- pretend pkcs8 bytes', 'utf8');
const cannotOpen = (e: unknown): boolean => isCertfleetError(e) && e.code === 'internal' && !e.message.includes('pretend');

describe('KeySealer (K11)', () => {
  it('round-trips, in the documented format: version, 12-byte nonce, ciphertext, 16-byte tag', () => {
    const sealed = sealer.seal(plain, 'cert-1');
    assert.equal(sealed[0], SEALED_FORMAT_VERSION);
    assert.equal(sealed.length, 1 + 12 + plain.length + 16);
    assert.ok(!sealed.includes(plain.subarray(0, 16)));
    assert.ok(sealer.open(sealed, 'cert-1').equals(plain));
    assert.ok(new KeySealer(Buffer.from(key)).open(sealed, 'cert-1').equals(plain));
  });

  it('uses a fresh nonce for every seal', () => {
    const a = sealer.seal(plain, 'cert-1');
    const b = sealer.seal(plain, 'cert-1');
    assert.ok(!a.subarray(1, 13).equals(b.subarray(1, 13)));
    assert.ok(!a.equals(b));
  });

  it('fails on another row (AAD), another master key, or any altered byte', () => {
    const sealed = sealer.seal(plain, 'cert-1');
    assert.throws(() => sealer.open(sealed, 'cert-2'), cannotOpen);
    assert.throws(() => new KeySealer(randomBytes(32)).open(sealed, 'cert-1'), cannotOpen);
    for (const i of [0, 1, 12, 13, sealed.length - 17, sealed.length - 1]) {
      const tampered = Buffer.from(sealed);
      tampered[i] = (tampered[i] ?? 0) ^ 0x01;
      assert.throws(() => sealer.open(tampered, 'cert-1'), cannotOpen, `byte ${i}`);
    }
    assert.throws(() => sealer.open(sealed.subarray(0, 20), 'cert-1'), cannotOpen);
    assert.throws(() => sealer.open(Buffer.alloc(0), 'cert-1'), cannotOpen);
  });

  it('seals an empty plaintext too', () => {
    assert.equal(sealer.open(sealer.seal(Buffer.alloc(0), 'x'), 'x').length, 0);
  });

  it('detects a node with another master key through the check value', () => {
    const check = sealer.checkValue();
    assert.equal(typeof check, 'string');
    assert.ok(sealer.verifyCheckValue(check));
    assert.ok(new KeySealer(Buffer.from(key)).verifyCheckValue(check));
    assert.ok(!new KeySealer(randomBytes(32)).verifyCheckValue(check));
    assert.ok(!sealer.verifyCheckValue('not base64 at all'));
    assert.ok(!sealer.verifyCheckValue(''));
    // a sealed key is not a check value
    assert.ok(!sealer.verifyCheckValue(sealer.seal(plain, 'certfleet:master-key-check').toString('base64')));
  });

  it('has a fingerprint that tells keys apart and reveals nothing', () => {
    assert.match(sealer.masterKeyFingerprint, /^([0-9A-F]{2}:){7}[0-9A-F]{2}$/);
    assert.equal(new KeySealer(Buffer.from(key)).masterKeyFingerprint, sealer.masterKeyFingerprint);
    assert.notEqual(new KeySealer(randomBytes(32)).masterKeyFingerprint, sealer.masterKeyFingerprint);
    const shown = `${inspect(sealer)} ${JSON.stringify(sealer)}`;
    assert.ok(!shown.includes(key.toString('hex')) && !shown.includes(key.toString('base64')));
    assert.match(shown, /masterKeyFingerprint/);
  });

  it('keeps its own copy of the key', () => {
    const k = randomBytes(32);
    const s = new KeySealer(k);
    const sealed = s.seal(plain, 'a');
    k.fill(0);
    assert.ok(s.open(sealed, 'a').equals(plain));
  });

  it('needs a 32-byte key', () => {
    for (const n of [0, 16, 31, 33, 64]) {
      assert.throws(() => new KeySealer(randomBytes(n)), (e: unknown) => isCertfleetError(e) && e.code === 'internal');
    }
  });
});
