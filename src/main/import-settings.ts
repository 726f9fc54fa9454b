/**
 * The import limits and the import pool's settings of a server, from its environment (README,
 * Security → Import limits). A value that is not a positive whole number stops the start.
 */
import { DEFAULT_IMPORT_LIMITS } from '../crypto/import-limits.js';
import { DEFAULT_IMPORT_POOL_OPTIONS, type ImportPoolOptions } from '../crypto/import-pool.js';

export const IMPORT_ENV = {
  workers: 'CERTFLEET_IMPORT_WORKERS',
  timeoutSeconds: 'CERTFLEET_IMPORT_TIMEOUT',
  queue: 'CERTFLEET_IMPORT_QUEUE',
  maxRounds: 'CERTFLEET_IMPORT_MAX_ROUNDS',
  maxCertificates: 'CERTFLEET_IMPORT_MAX_CERTIFICATES',
  maxEncryptedParts: 'CERTFLEET_IMPORT_MAX_ENCRYPTED_PARTS',
  maxScryptMiB: 'CERTFLEET_IMPORT_MAX_SCRYPT_MIB',
} as const;

function whole(env: NodeJS.ProcessEnv, name: string, fallback: number, minimum = 1): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < minimum) throw new Error(`${name}=${text}: give a whole number of at least ${minimum}`);
  return n;
}

export function importPoolOptionsFromEnv(env: NodeJS.ProcessEnv): ImportPoolOptions {
  const d = DEFAULT_IMPORT_POOL_OPTIONS;
  const l = DEFAULT_IMPORT_LIMITS;
  return {
    size: whole(env, IMPORT_ENV.workers, d.size),
    deadlineMs: whole(env, IMPORT_ENV.timeoutSeconds, d.deadlineMs / 1000) * 1000,
    maxQueue: whole(env, IMPORT_ENV.queue, d.maxQueue, 0),
    limits: {
      maxDerivationRounds: whole(env, IMPORT_ENV.maxRounds, l.maxDerivationRounds),
      maxCertificates: whole(env, IMPORT_ENV.maxCertificates, l.maxCertificates),
      maxEncryptedParts: whole(env, IMPORT_ENV.maxEncryptedParts, l.maxEncryptedParts),
      maxScryptMemoryBytes: whole(env, IMPORT_ENV.maxScryptMiB, l.maxScryptMemoryBytes / (1024 * 1024)) * 1024 * 1024,
    },
  };
}
