/**
 * 0005 — backups and restores (SPEC B1, B2).
 *
 * - `devices.re_registration_reason`: null for a device that talks normally; after a restore, why a
 *   device must register again (domain/backup.ts, `ReRegistrationReason`). Such a device's check-in
 *   is answered `re_registration_required`, and its row goes when the same unit registers again.
 *   A partial index keeps listing them cheap whatever the fleet's size.
 * - `backup_runs`: each backup the server wrote (scheduled on the leader, or asked for through the
 *   API), with its result, so that `backup list` and the console show the last one on every node.
 */
import { sql, type Kysely } from 'kysely';
import type { SqlDialect } from '../dialect.js';

export async function up(db: Kysely<unknown>, dialect: SqlDialect): Promise<void> {
  await db.schema.alterTable('devices').addColumn('re_registration_reason', 'text').execute();
  await db.schema
    .createIndex('devices_re_registration_idx')
    .on('devices')
    .columns(['re_registration_reason', 'id'])
    .where(sql.ref('re_registration_reason'), 'is not', null)
    .execute();

  await db.schema
    .createTable('backup_runs')
    .addColumn('id', dialect.identityType, (c) => dialect.identity(c))
    .addColumn('trigger', 'text', (c) => c.notNull())
    .addColumn('node_id', 'text')
    .addColumn('file', 'text')
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text', (c) => c.notNull())
    .addColumn('size_bytes', 'integer')
    .addColumn('result', 'text', (c) => c.notNull())
    .addColumn('error', 'text')
    /** JSON object: rows per table. */
    .addColumn('counts', 'text', (c) => c.notNull())
    .execute();
}
