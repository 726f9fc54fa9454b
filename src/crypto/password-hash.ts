/**
 * Account passwords and API tokens at rest. Passwords: scrypt (N=2^15, r=8, p=1) with a 16-byte
 * salt, encoded `scrypt$N$r$p$salt$hash` so the parameters can be raised later without breaking
 * old hashes. API tokens are 32 random bytes; only their SHA-256 is stored, because a token is
 * already high-entropy and must be looked up by value.
 *
 * Every hash (log-in, new account) takes a slot of one process-wide `BoundedWork`: scrypt runs in
 * libuv's thread pool (four threads by default, shared with key generation, file I/O and TLS
 * helpers), so a flood of log-ins may use at most `concurrent` of them; `queued` more wait and the
 * rest are refused with `password_hashing_busy` (429, Retry-After) before any hashing.
 */
import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { CertfleetError, ErrorCode, RETRY_AFTER_DETAIL } from '../domain/errors.js';
import { BoundedWork, checkWorkLimits, type WorkLimits } from './bounded-work.js';

const N = 1 << 15;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;

/** Two of the pool's four threads at most; a queue of about a second's worth of hashes (~40 ms each). */
export const DEFAULT_PASSWORD_HASH_LIMITS: WorkLimits = { concurrent: 2, queued: 32 };

function busy(limits: WorkLimits): CertfleetError {
  return new CertfleetError(
    ErrorCode.password_hashing_busy,
    `The server is checking ${limits.concurrent + limits.queued} passwords already. Try again in a second.`,
    { [RETRY_AFTER_DETAIL]: 1 },
  );
}

let slots = new BoundedWork(DEFAULT_PASSWORD_HASH_LIMITS, () => busy(DEFAULT_PASSWORD_HASH_LIMITS));

/**
 * Sets the cap for this process (`certfleet serve --password-hashes`). Process-wide on purpose:
 * the thread pool it protects is one per process, whatever number of APIs a process serves.
 */
export function limitPasswordHashing(limits: WorkLimits): void {
  checkWorkLimits(limits, 'password hashing');
  slots = new BoundedWork(limits, () => busy(limits));
}

/** Hashes running and waiting now. */
export function passwordHashingLoad(): { readonly running: number; readonly waiting: number } {
  return slots.load;
}

function scryptAsync(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return slots.run(
    () =>
      new Promise((resolve, reject) => {
        scrypt(password, salt, KEY_LENGTH, { ...options, maxmem: 256 * N * R }, (err, key) => (err ? reject(err) : resolve(key)));
      }),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, { N, r: R, p: P });
  return ['scrypt', N, R, P, salt.toString('base64'), hash.toString('base64')].join('$');
}

/** Constant-time check. An ill-formed hash never matches. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const [kind, n, r, p, salt, hash] = encoded.split('$');
  if (kind !== 'scrypt' || !n || !r || !p || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64'), { N: Number(n), r: Number(r), p: Number(p) });
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** A hash to compare against when the user does not exist, so that timing does not tell. */
export const UNUSABLE_PASSWORD_HASH = `scrypt$${N}$${R}$${P}$${Buffer.alloc(16).toString('base64')}$${Buffer.alloc(KEY_LENGTH).toString('base64')}`;

export const API_TOKEN_PREFIX = 'cft_';

export function newApiToken(): string {
  return API_TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function hashApiToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A password for the first administrator when none was given: 24 characters from 18 random bytes. */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}
