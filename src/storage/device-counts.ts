/**
 * Counts read from the device counters (0008, kept by triggers on devices): a certificate's usage
 * and the whole fleet, each a sum over a few dozen rows whatever the fleet's size. Shared by the
 * keystore's listing and the device list's counts.
 */
import { sql, type Expression, type Kysely } from 'kysely';
import type { CertificateUsage } from '../domain/keystore.js';
import { toInt } from './columns.js';
import { fallbackPending, joinedTarget } from './pending.js';
import type { Database } from './schema.js';

/**
 * A certificate's usage counts, each a sum over its rows of device_counts (0008): a few dozen rows
 * whatever the fleet's size. Pinned: the certificate's own rows. Pending: only the rotation target
 * can be pending (storage/pending.ts), for the devices that pin another certificate and whose mask
 * has the target's bit — the other certificates' rows with that bit.
 */
export function usageCounts(db: Kysely<Database>, certificate: Expression<string>) {
  const counts = db.selectFrom('device_counts as k');
  const total = sql<string | number>`coalesce(sum(${sql.ref('k.n')}), 0)`;
  return [
    counts.select(total.as('n')).where('k.certificate_id', '=', certificate).as('pinned'),
    counts
      .innerJoin('rotation_state as r', (join) => join.on('r.id', '=', 1).on('r.target_certificate_id', '=', certificate))
      .select(total.as('n'))
      .where('k.certificate_id', '<>', certificate)
      .where(sql<number>`(${sql.ref('k.supported_mask')} & ${sql.ref('r.target_bit')})`, '<>', 0)
      .as('pending'),
    // The lifecycle's legacy-fallback move (pending.ts): the old fallback's rows with the fallback's bit.
    counts
      .innerJoin('rotation_state as r', (join) => join.on('r.id', '=', 1).on('r.fallback_to_id', '=', certificate))
      .select(total.as('n'))
      .where(fallbackPending('k.', joinedTarget('r')))
      .as('fallback_pending'),
  ] as const;
}

/** One certificate's usage: the pinned devices, and those about to pin it (target or fallback move). */
export async function certificateUsage(db: Kysely<Database>, id: string): Promise<CertificateUsage> {
  const row = await db.selectNoFrom(usageCounts(db, sql.val(id))).executeTakeFirstOrThrow();
  return { pinned: toInt(row.pinned), pending: toInt(row.pending) + toInt(row.fallback_pending) };
}

/** Every device. */
export async function totalDevices(db: Kysely<Database>): Promise<number> {
  const row = await db.selectFrom('device_counts').select(sql<string | number>`coalesce(sum(n), 0)`.as('n')).executeTakeFirstOrThrow();
  return toInt(row.n);
}
