/**
 * K5: key pairs are made by Node's asynchronous `crypto.generateKeyPair`, which runs in the libuv
 * thread pool: an RSA-4096 key (a second or more of CPU) never blocks the event loop, so devices
 * and the console keep being served while it is made. `nodeKeyPairSource` implements the app's
 * KeyPairSource port (app/certificates.ts); tests hand out keys from a pool instead
 * (test/support/key-pool.ts); reusing private keys is acceptable only there.
 */
import { generateKeyPair, type KeyObject } from 'node:crypto';
import type { KeyPairSource } from '../app/certificates.js';
import { CertfleetError, ErrorCode, RETRY_AFTER_DETAIL } from '../domain/errors.js';
import { BoundedWork, SPARE_CORES, type WorkLimits } from './bounded-work.js';

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

/**
 * At most 2 generations at once (an RSA-4096 key is a second or more of one thread-pool thread;
 * the pool has four and also serves scrypt, file I/O and the device channel's crypto), 4 more
 * waiting; `certfleet serve --key-generations` changes both.
 */
/** As many at once as there are cores besides the one the event loop and the device handshakes need. */
export const DEFAULT_KEY_GENERATION_LIMITS: WorkLimits = { concurrent: SPARE_CORES, queued: 4 };
/** What a refused caller is told to wait: about one RSA-4096 generation. */
export const KEY_GENERATION_RETRY_AFTER_SECONDS = 5;

/**
 * K5 under load: `source` with at most `limits.concurrent` generations running and
 * `limits.queued` waiting; past that the request is refused with `key_generation_busy` (HTTP 429,
 * Retry-After) at once, before any work, instead of queueing without bound.
 */
export function boundedKeyPairSource(source: KeyPairSource, limits: WorkLimits = DEFAULT_KEY_GENERATION_LIMITS): KeyPairSource & { readonly slots: BoundedWork } {
  const slots = new BoundedWork(limits, () =>
    new CertfleetError(
      ErrorCode.key_generation_busy,
      `${limits.concurrent + limits.queued} key generations are running or waiting already. ` +
        `Try again in ${KEY_GENERATION_RETRY_AFTER_SECONDS} seconds.`,
      { running: limits.concurrent, queued: limits.queued, [RETRY_AFTER_DETAIL]: KEY_GENERATION_RETRY_AFTER_SECONDS },
    ),
  );
  return { slots, generate: (spec) => slots.run(() => source.generate(spec)) };
}
