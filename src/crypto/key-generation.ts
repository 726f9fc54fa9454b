/**
 * K5: key pairs are made by Node's asynchronous `crypto.generateKeyPair`, which runs in the libuv
 * thread pool: an RSA-4096 key (a second or more of CPU) never blocks the event loop, so devices
 * and the console keep being served while it is made. `nodeKeyPairSource` implements the app's
 * KeyPairSource port (app/certificates.ts); tests hand out keys from a pool instead
 * (test/support/key-pool.ts); reusing private keys is acceptable only there.
 */
import { generateKeyPair, type KeyObject } from 'node:crypto';
import type { KeyPairSource } from '../app/certificates.js';
import { CertfleetError, ErrorCode } from '../domain/errors.js';

export type KeySpec = { readonly kind: 'RSA'; readonly bits: number } | { readonly kind: 'EC'; readonly curve: 'P-256' | 'P-384' };

export interface GeneratedKeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/** Bounds that keep a mistaken request from occupying a thread-pool thread for minutes. */
export const MIN_GENERATED_RSA_BITS = 2048;
export const MAX_GENERATED_RSA_BITS = 8192;
export const RSA_PUBLIC_EXPONENT = 0x10001;

export function describeKeySpec(spec: KeySpec): string {
  return spec.kind === 'RSA' ? `RSA-${spec.bits}` : `EC-${spec.curve}`;
}

function checkSpec(spec: KeySpec): void {
  if (spec.kind === 'RSA') {
    if (!Number.isInteger(spec.bits) || spec.bits < MIN_GENERATED_RSA_BITS || spec.bits > MAX_GENERATED_RSA_BITS || spec.bits % 8 !== 0) {
      throw new CertfleetError(
        ErrorCode.invalid_key_size,
        `An RSA key of ${spec.bits} bits cannot be generated; choose 2048, 3072 or 4096 bits.`,
        { keySize: spec.bits },
      );
    }
  } else if (spec.curve !== 'P-256' && spec.curve !== 'P-384') {
    throw new CertfleetError(
      ErrorCode.unsupported_generation_algorithm,
      `EC keys are generated on P-256 or P-384, not on ${String(spec.curve)}.`,
      { curve: String(spec.curve) },
    );
  }
}

function generate(spec: KeySpec): Promise<GeneratedKeyPair> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, publicKey: KeyObject, privateKey: KeyObject): void => {
      if (err) reject(err);
      else resolve({ privateKey, publicKey });
    };
    if (spec.kind === 'RSA') {
      generateKeyPair('rsa', { modulusLength: spec.bits, publicExponent: RSA_PUBLIC_EXPONENT }, done);
    } else {
      generateKeyPair('ec', { namedCurve: spec.curve }, done);
    }
  });
}

export const nodeKeyPairSource: KeyPairSource = {
  async generate(spec) {
    checkSpec(spec);
    return generate(spec);
  },
};
