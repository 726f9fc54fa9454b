/**
 * 0002 — devices (SPEC R1–R5): enrollment tokens, the compatibility table, each device's supported
 * algorithms as a bit mask, the unique credential hash, the rotation target, the indexes the
 * rotation and the device listing need at a million devices, and the reconciler's reports.
 *
 * The rotation target (one row): the certificate the last rotation pass planned, and the bit of
 * its algorithm. A device's pending replacement is derived from it — the target, when the device
 * does not pin it and its mask has the bit — so that planning for a million devices writes one row
 * instead of a million (see storage/pending.ts). devices.pending_certificate_id (0001) remains as an
 * explicit pending replacement that takes precedence; a pass drops what is left in it.
 *
 * The compatibility table is seeded with the rules this build ships, and only while it is empty:
 * an administrator's table is never overwritten (the table is new here, so it is empty now; the
 * check keeps it that way should the seed ever be re-run). Devices that exist already get the mask
 * their declaration or the seeded rules give them.
 */
import { sql, type Kysely } from 'kysely';
import {
  algorithmMask,
  DEFAULT_COMPATIBILITY_RULES,
  supportedAlgorithms,
} from '../../domain/compatibility.js';
import type { SqlDialect } from '../dialect.js';

export async function up(db: Kysely<unknown>, dialect: SqlDialect): Promise<void> {
  // Only the SHA-256 of a token is kept; the text is shown once when it is made.
  await db.schema
    .createTable('enrollment_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('token_hash', 'text', (c) => c.notNull())
    .addColumn('uses_allowed', 'integer', (c) => c.notNull().check(sql`${sql.ref('uses_allowed')} >= 1`))
    .addColumn('uses_left', 'integer', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('unit_id', 'text')
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('revoked_at', 'text')
    .addUniqueConstraint('enrollment_tokens_token_hash_unique', ['token_hash'])
    // The conditional UPDATE that takes a use can never take more than there are.
    .addCheckConstraint('enrollment_tokens_uses_left_range', sql`uses_left >= 0 and uses_left <= uses_allowed`)
    .execute();

  // R2, in match order (position 1 first). Algorithms are a JSON array of Java names.
  await db.schema
    .createTable('compatibility_rules')
    .addColumn('position', 'integer', (c) => c.primaryKey().check(sql`${sql.ref('position')} >= 1`))
    .addColumn('profile', 'text', (c) => c.notNull())
    .addColumn('os_family', 'text', (c) => c.notNull())
    .addColumn('max_version', 'text')
    .addColumn('algorithms', 'text', (c) => c.notNull())
    .execute();
  const existing = await sql<{ n: number | string }>`select count(*) as n from compatibility_rules`.execute(db);
  if (Number(existing.rows[0]?.n ?? 0) === 0) {
    for (const [i, rule] of DEFAULT_COMPATIBILITY_RULES.entries()) {
      await sql`insert into compatibility_rules (position, profile, os_family, max_version, algorithms)
        values (${i + 1}, ${rule.profile}, ${rule.osFamily}, ${rule.maxVersion}, ${JSON.stringify(rule.algorithms)})`.execute(db);
    }
  }

  // Bit i = ALLOWED_SIGNATURE_ALGORITHMS[i] (domain/compatibility.ts). The rotation planner asks
  // `supported_mask & bit <> 0` for the whole fleet in one statement. Every insert names it; the
  // default only fills the rows that exist now, which are computed just below.
  await db.schema
    .alterTable('devices')
    .addColumn('supported_mask', 'integer', (c) => c.notNull().defaultTo(0).check(sql`${sql.ref('supported_mask')} >= 0`))
    .execute();
  const firmware = await sql<{ os_family: string; os_version: string; declared_algorithms: string | null }>`
    select distinct os_family, os_version, declared_algorithms from devices`.execute(db);
  for (const f of firmware.rows) {
    const declared: unknown = f.declared_algorithms === null ? null : JSON.parse(f.declared_algorithms);
    const list = Array.isArray(declared) ? declared.filter((a): a is string => typeof a === 'string') : null;
    const mask = algorithmMask(
      supportedAlgorithms(DEFAULT_COMPATIBILITY_RULES, { osFamily: f.os_family, osVersion: f.os_version, declaredAlgorithms: list }),
    );
    await sql`update devices set supported_mask = ${mask}
      where os_family = ${f.os_family} and os_version = ${f.os_version}
      and ${f.declared_algorithms === null ? sql`declared_algorithms is null` : sql`declared_algorithms = ${f.declared_algorithms}`}`.execute(db);
  }

  // A check-in finds its device by the credential's hash: one unique index lookup.
  await db.schema.createIndex('devices_credential_hash_unique').on('devices').column('credential_hash').unique().execute();

  // Replaces 0001's index on certificate_id alone (a prefix of this one, so the per-certificate
  // counts of K10 still read only an index). With the mask and the explicit pending replacement
  // beside it, every count the rotation needs — the devices that pin the default, those that
  // cannot use it, those that have it pending — is read from this index alone, grouped into a
  // handful of cohorts (certificate × mask), whatever the size of the fleet.
  await db.schema.dropIndex('devices_certificate_id_idx').execute();
  await db.schema
    .createIndex('devices_certificate_mask_idx')
    .on('devices')
    .columns(['certificate_id', 'supported_mask', 'pending_certificate_id'])
    .execute();

  // One row. RESTRICT: a certificate that devices have pending through the target cannot be
  // deleted (K7); CertificateStore.remove() lets go of a target that no device needs any more.
  await db.schema
    .createTable('rotation_state')
    .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`${sql.ref('id')} = 1`))
    .addColumn('target_certificate_id', 'text', (c) => c.references('certificates.id').onDelete('restrict'))
    .addColumn('target_bit', 'integer', (c) => c.notNull())
    .addColumn('planned_at', 'text')
    .execute();
  await sql`insert into rotation_state (id, target_certificate_id, target_bit, planned_at) values (1, null, 0, null)`.execute(db);

  // The device list is read by name, a page at a time: an index walk instead of a sort of the fleet.
  await db.schema.createIndex('devices_name_idx').on('devices').columns(['name', 'id']).execute();

  // PostgreSQL: room on each page for the new row version a check-in writes (last contact), so
  // that it can be a heap-only update that touches none of the indexes (SQLite updates in place).
  if (dialect.name === 'postgres') await sql`alter table devices set (fillfactor = 80)`.execute(db);

  // The reports of the rotation reconciler; the newest is `sync status`'s last run.
  await db.schema
    .createTable('rotation_runs')
    .addColumn('id', dialect.identityType, (c) => dialect.identity(c))
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('default_alias', 'text', (c) => c.notNull())
    .addColumn('checked', 'integer', (c) => c.notNull())
    .addColumn('scheduled', 'integer', (c) => c.notNull())
    .addColumn('incompatible', 'integer', (c) => c.notNull())
    .addColumn('already_current', 'integer', (c) => c.notNull())
    .addColumn('awaiting_confirmation', 'integer', (c) => c.notNull())
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text', (c) => c.notNull())
    .execute();
}
