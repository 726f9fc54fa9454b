/**
 * K11: private keys at rest are sealed with AES-256-GCM under the master key, which lives outside
 * the database (master-key.ts). Sealed format:
 *
 *   version (1 byte, 0x01) | nonce (12 random bytes) | ciphertext | tag (16 bytes)
 *
 * The additional authenticated data is the version byte followed by the caller's `aad` (the
 * certificate id), so a sealed key copied onto another row, or a version byte altered, fails to
 * open. A random 96-bit nonce per seal keeps the GCM nonce-reuse risk negligible for the few keys
 * a keystore ever holds.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { inspect } from 'node:util';
import type { KeySealing } from '../app/context.js';
import { CertfleetError, ErrorCode } from '../domain/errors.js';
import { MASTER_KEY_BYTES } from './master-key.js';

// the sealer and where its key comes from are used together (src/main/serve.ts)
export { loadMasterKey, MASTER_KEY_BYTES, type LoadedMasterKey } from './master-key.js';

export const SEALED_FORMAT_VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const CHECK_AAD = 'certfleet:master-key-check';
const CHECK_PLAINTEXT = Buffer.from('certfleet master key check v1', 'utf8');

function aadBytes(aad: string): Buffer {
  return Buffer.concat([Buffer.from([SEALED_FORMAT_VERSION]), Buffer.from(aad, 'utf8')]);
}

function cannotOpen(): CertfleetError {
  return new CertfleetError(
    ErrorCode.internal,
    'A sealed private key could not be opened: it was sealed under another master key, for another record, or the stored ' +
      'bytes were altered. Check that every node uses the same master key (CERTFLEET_MASTER_KEY or <data>/master.key).',
  );
}

/** The app's KeySealing port (app/context.ts) with AES-256-GCM under the master key. */
export class KeySealer implements KeySealing {
  readonly #key: Buffer;
  /** Identifies the master key (to compare nodes) without revealing anything about it. */
  readonly masterKeyFingerprint: string;

  constructor(masterKey: Buffer) {
    if (masterKey.length !== MASTER_KEY_BYTES) {
      throw new CertfleetError(ErrorCode.internal, `The master key must be ${MASTER_KEY_BYTES} bytes long, not ${masterKey.length}.`);
    }
    this.#key = Buffer.from(masterKey); // a copy: the caller may wipe its buffer
    const digest = createHash('sha256').update('certfleet master key fingerprint\0').update(this.#key).digest();
    this.masterKeyFingerprint = digest.subarray(0, 8).toString('hex').toUpperCase().match(/../g)?.join(':') ?? '';
  }

  seal(plain: Buffer, aad: string): Buffer {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(aadBytes(aad));
    const ciphertext = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([Buffer.from([SEALED_FORMAT_VERSION]), nonce, ciphertext, cipher.getAuthTag()]);
  }

  open(sealed: Buffer, aad: string): Buffer {
    if (sealed.length < 1 + NONCE_BYTES + TAG_BYTES || sealed[0] !== SEALED_FORMAT_VERSION) throw cannotOpen();
    const nonce = sealed.subarray(1, 1 + NONCE_BYTES);
    const ciphertext = sealed.subarray(1 + NONCE_BYTES, sealed.length - TAG_BYTES);
    const tag = sealed.subarray(sealed.length - TAG_BYTES);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, nonce, { authTagLength: TAG_BYTES });
      decipher.setAAD(aadBytes(aad));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    } catch {
      throw cannotOpen();
    }
  }

  /** A value only this master key opens; stored once, it lets a node detect a different master key. */
  checkValue(): string {
    return this.seal(CHECK_PLAINTEXT, CHECK_AAD).toString('base64');
  }

  verifyCheckValue(value: string): boolean {
    try {
      const plain = this.open(Buffer.from(value, 'base64'), CHECK_AAD);
      return plain.length === CHECK_PLAINTEXT.length && timingSafeEqual(plain, CHECK_PLAINTEXT);
    } catch {
      return false;
    }
  }

  /** Never print the key, whatever logs the sealer. */
  toJSON(): { masterKeyFingerprint: string } {
    return { masterKeyFingerprint: this.masterKeyFingerprint };
  }

  [inspect.custom](): string {
    return `KeySealer { masterKeyFingerprint: '${this.masterKeyFingerprint}' }`;
  }
}
