/**
 * 0003 — drops devices.pending_certificate_id. Since 0002 a device's pending replacement is
 * derived from the rotation target (storage/pending.ts); the column was only ever read and
 * cleared, never written, so it was a second way to say the same thing that nothing used.
 *
 * SQLite refuses to drop a column that an index uses, so both indexes that name it go first: the
 * partial one of 0001 and the rotation's covering index of 0002, which is made again without it
 * (certificate × mask is what the cohorts are grouped by). PostgreSQL would drop them with the
 * column; dropping them first keeps one sequence of steps for both databases.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('devices_pending_certificate_id_idx').ifExists().execute();
  await db.schema.dropIndex('devices_certificate_mask_idx').ifExists().execute();
  await db.schema.alterTable('devices').dropColumn('pending_certificate_id').execute();
  await db.schema.createIndex('devices_certificate_mask_idx').on('devices').columns(['certificate_id', 'supported_mask']).execute();
}
