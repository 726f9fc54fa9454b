/**
 * Helpers for the device integration tests: a keystore of real certificates (pool keys), devices
 * registered through the real use case, and direct SQL for states no use case produces on demand
 * (a supported mask that no firmware gives, a contact time long ago).
 *
 *   const ks = await deviceKeystore(ctx);          // tckey (SHA512withRSA, default), legacy (SHA256withRSA), ec (SHA256withECDSA)
 *   const dev = await registerProfile(ctx, 'igel-os-12');
 *   await rawSql(db, 'update devices set supported_mask = $1 where id = $2', [0, dev.deviceId]);
 */
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { SYSTEM_ACTOR, type AppContext } from '../../src/app/context.js';
import { ensureDefaultCertificate, generateCertificate } from '../../src/app/certificates.js';
import { createEnrollmentToken } from '../../src/app/enrollment.js';
import type { StoredCertificate } from '../../src/app/records.js';
import { registerDevice, type RegisterRequest, type RegisterResult } from '../../src/app/register-device.js';
import { PROFILE_IDENTITY } from '../../src/domain/compatibility.js';
import { pinServerName, parseServerName } from '../../src/domain/device-names.js';
import type { TestDatabase } from './databases.js';

export interface TestKeystore {
  readonly tckey: StoredCertificate;
  readonly legacy: StoredCertificate;
  readonly ec: StoredCertificate;
}

/** tckey (K1: SHA512withRSA, the default), then legacy (SHA256withRSA, RSA 2048), then ec (SHA256withECDSA, P-256). */
export async function deviceKeystore(ctx: AppContext): Promise<TestKeystore> {
  const tckey = await ensureDefaultCertificate(ctx, SYSTEM_ACTOR);
  if (!tckey) throw new Error('deviceKeystore: the keystore was not empty');
  const legacy = await generateCertificate(ctx, SYSTEM_ACTOR, { alias: 'legacy', signatureAlgorithm: 'SHA256withRSA', keySize: 2048 });
  const ec = await generateCertificate(ctx, SYSTEM_ACTOR, { alias: 'ec', signatureAlgorithm: 'SHA256withECDSA' });
  return { tckey, legacy, ec };
}

let serial = 0;

/** A locally administered MAC address, unique in this process. */
export function unitId(): string {
  const n = ++serial;
  return `02:CF:00:${((n >> 16) & 0xff).toString(16).padStart(2, '0')}:${((n >> 8) & 0xff).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`.toUpperCase();
}

/** Registers one device of a firmware profile (PROFILE_IDENTITY) with a fresh one-use token. */
export async function registerProfile(ctx: AppContext, profile: string, extra: Partial<RegisterRequest> = {}): Promise<RegisterResult> {
  const identity = PROFILE_IDENTITY[profile];
  if (!identity) throw new Error(`registerProfile: no profile ${profile}`);
  const { token } = await createEnrollmentToken(ctx, SYSTEM_ACTOR, {});
  const unit = unitId();
  return registerDevice(ctx, { enrollmentToken: token, unitId: unit, name: `tc-${unit.slice(-5)}`, ...identity, profile, ...extra });
}

/** The connection facts of a device that pins `certificate` (what the channel reads from the server name). */
export function pinning(certificate: { readonly facts: { readonly sha256Fingerprint: string } } | { readonly sha256Fingerprint: string }): {
  pinnedSha256Hex: string;
} {
  const fp = 'facts' in certificate ? certificate.facts.sha256Fingerprint : certificate.sha256Fingerprint;
  const parsed = parseServerName(pinServerName(fp));
  if (parsed.kind !== 'pin') throw new Error('pinning: not a pin');
  return { pinnedSha256Hex: parsed.sha256Hex };
}

/** Runs SQL on the test database directly, beside the Store (`$1` placeholders on both). */
export async function rawSql(db: TestDatabase, text: string, params: readonly unknown[] = []): Promise<Record<string, unknown>[]> {
  if (db.dialect === 'sqlite') {
    const conn = new BetterSqlite3(db.url);
    try {
      conn.pragma('busy_timeout = 5000');
      const stmt = conn.prepare(text.replace(/\$\d+/g, '?'));
      if (stmt.reader) return stmt.all(...params) as Record<string, unknown>[]; // rows of named columns are objects
      stmt.run(...params);
      return [];
    } finally {
      conn.close();
    }
  }
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query(text, [...params])).rows;
  } finally {
    await client.end();
  }
}
