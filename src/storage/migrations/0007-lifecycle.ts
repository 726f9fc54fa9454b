/**
 * 0007 — automatic successors (SPEC L2; domain/lifecycle.ts).
 *
 * - `lifecycle_settings` (one row): whether the lifecycle is on, renew-before and retire-after in
 *   days, and the maintenance window as its canonical text (`Sat 02:00-05:00`, UTC). Off by default.
 * - `lifecycle_successions`: one row per predecessor → successor, with the state it has reached.
 *   The ids are plain text, not foreign keys: the predecessor is deleted at the end, and the row
 *   stays as history.
 * - `lifecycle_events`: every step, as the console's timeline shows it (also in the audit log).
 * - `rotation_state.fallback_*`: the one legacy-fallback move the rotation carries besides the
 *   default (storage/pending.ts): devices that pin `fallback_from_id` and support `fallback_bit`
 *   have `fallback_to_id` pending, unless the default is pending for them.
 */
import { sql, type Kysely } from 'kysely';
import type { SqlDialect } from '../dialect.js';

export async function up(db: Kysely<unknown>, dialect: SqlDialect): Promise<void> {
  await db.schema
    .createTable('lifecycle_settings')
    .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`${sql.ref('id')} = 1`))
    .addColumn('enabled', 'integer', (c) => c.notNull().check(sql`${sql.ref('enabled')} in (0, 1)`))
    .addColumn('renew_before_days', 'integer', (c) => c.notNull())
    .addColumn('window', 'text', (c) => c.notNull())
    .addColumn('retire_after_days', 'integer', (c) => c.notNull())
    .addColumn('updated_at', 'text')
    .addColumn('updated_by', 'text')
    .execute();
  await sql`insert into lifecycle_settings (id, enabled, renew_before_days, ${sql.ref('window')}, retire_after_days) values (1, 0, 90, 'Sat 02:00-05:00', 30)`.execute(db);

  await db.schema
    .createTable('lifecycle_successions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('predecessor_id', 'text', (c) => c.notNull())
    .addColumn('predecessor_alias', 'text', (c) => c.notNull())
    .addColumn('successor_id', 'text', (c) => c.notNull())
    .addColumn('successor_alias', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('promoted_at', 'text')
    .addColumn('deactivated_at', 'text')
    .addColumn('deleted_at', 'text')
    .execute();
  await db.schema.createIndex('lifecycle_successions_state_idx').on('lifecycle_successions').columns(['state', 'created_at']).execute();

  await db.schema
    .createTable('lifecycle_events')
    .addColumn('id', dialect.identityType, (c) => dialect.identity(c))
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('step', 'text', (c) => c.notNull())
    .addColumn('alias', 'text', (c) => c.notNull())
    .addColumn('succession_id', 'text')
    /** JSON object: what the step did (the successor's alias, the default-change preview …). */
    .addColumn('details', 'text', (c) => c.notNull())
    .execute();

  await db.schema.alterTable('rotation_state').addColumn('fallback_from_id', 'text').execute();
  await db.schema.alterTable('rotation_state').addColumn('fallback_to_id', 'text').execute();
  await db.schema.alterTable('rotation_state').addColumn('fallback_bit', 'integer', (c) => c.notNull().defaultTo(0)).execute();
}
