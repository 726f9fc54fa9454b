/**
 * The rotation reconciler's storage (R3): the rotation target (one row; see pending.ts), the fleet
 * in cohorts for deciding and counting, and the reports it keeps.
 *
 * Planning writes the target row — one statement whose cost does not grow with the fleet. The
 * cohorts are the device counters by certificate × mask (0008) joined with the target row: a
 * handful of rows for a million devices. Only the cohorts by profile still group the devices.
 */
import { sql, type Kysely } from 'kysely';
import type { DeviceCohort, RotationRun } from '../app/records.js';
import type { ProfileCohort, RotationRepo, RotationTarget } from '../app/rotation.js';
import { nullableTimestamp, timestamp, toInt } from './columns.js';
import type { SqlDialect } from './dialect.js';
import { effectivePending, joinedTarget } from './pending.js';
import type { Database } from './schema.js';

/** How many reports are kept: the newest is what `sync status` shows; the rest are for reading back. */
export const KEPT_ROTATION_RUNS = 100;

export class RotationStore implements RotationRepo {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: SqlDialect,
  ) {}

  async target(forUpdate = false): Promise<RotationTarget> {
    const row = await this.db
      .selectFrom('rotation_state')
      .select(['target_certificate_id', 'target_bit', 'planned_at'])
      .where('id', '=', 1)
      .$if(forUpdate && this.dialect.rowLocks, (q) => q.forUpdate())
      .executeTakeFirstOrThrow();
    return { certificateId: row.target_certificate_id, algorithmBit: toInt(row.target_bit), plannedAt: row.planned_at };
  }

  async setTarget(certificateId: string, algorithmBit: number, at: string): Promise<void> {
    await this.db
      .updateTable('rotation_state')
      .set({ target_certificate_id: certificateId, target_bit: algorithmBit, planned_at: nullableTimestamp(at) })
      .where('id', '=', 1)
      .execute();
  }

  async setFallbackMove(fromId: string, toId: string, algorithmBit: number): Promise<void> {
    await this.db.updateTable('rotation_state').set({ fallback_from_id: fromId, fallback_to_id: toId, fallback_bit: algorithmBit }).where('id', '=', 1).execute();
  }

  async cohorts(): Promise<DeviceCohort[]> {
    // The device counters are kept by certificate × mask (0008): their stripes summed, a few dozen
    // rows whatever the fleet's size; then each group gets its pending replacement from the target.
    const n = sql<string | number>`sum(${sql.ref('n')})`;
    const groups = this.db
      .selectFrom('device_counts')
      .select(['certificate_id', 'supported_mask', n.as('n')])
      .groupBy(['certificate_id', 'supported_mask'])
      .having(n, '>', 0)
      .as('g');
    const rows = await this.db
      .selectFrom(groups)
      .innerJoin('rotation_state as r', (join) => join.on('r.id', '=', 1))
      .select(['g.certificate_id', 'g.supported_mask', effectivePending('g.', joinedTarget('r')).as('pending'), 'g.n'])
      .execute();
    return rows.map((r) => ({ certificateId: r.certificate_id, supportedMask: toInt(r.supported_mask), pendingCertificateId: r.pending, count: toInt(r.n) }));
  }

  async cohortsByProfile(): Promise<ProfileCohort[]> {
    const groups = this.db
      .selectFrom('devices')
      .select(['profile', 'certificate_id', 'supported_mask', (eb) => eb.fn.countAll().as('n')])
      .groupBy(['profile', 'certificate_id', 'supported_mask'])
      .as('g');
    const rows = await this.db
      .selectFrom(groups)
      .innerJoin('rotation_state as r', (join) => join.on('r.id', '=', 1))
      .select(['g.profile', 'g.certificate_id', 'g.supported_mask', effectivePending('g.', joinedTarget('r')).as('pending'), 'g.n'])
      .execute();
    return rows.map((r) => ({
      profile: r.profile,
      certificateId: r.certificate_id,
      supportedMask: toInt(r.supported_mask),
      pendingCertificateId: r.pending,
      count: toInt(r.n),
    }));
  }

  async recordRun(run: RotationRun, actor: string): Promise<void> {
    await this.db
      .insertInto('rotation_runs')
      .values({
        actor,
        default_alias: run.defaultAlias,
        checked: run.checked,
        scheduled: run.scheduled,
        incompatible: run.incompatible,
        already_current: run.alreadyCurrent,
        awaiting_confirmation: run.awaitingConfirmation,
        started_at: timestamp(run.startedAt),
        finished_at: timestamp(run.finishedAt),
      })
      .execute();
    const newest = await this.db.selectFrom('rotation_runs').select((eb) => eb.fn.max('id').as('id')).executeTakeFirst();
    const keepAbove = toInt(newest?.id ?? 0) - KEPT_ROTATION_RUNS;
    if (keepAbove > 0) await this.db.deleteFrom('rotation_runs').where('id', '<=', keepAbove).execute();
  }

  async lastRun(): Promise<RotationRun | null> {
    const r = await this.db.selectFrom('rotation_runs').selectAll().orderBy('id', 'desc').limit(1).executeTakeFirst();
    if (!r) return null;
    return {
      defaultAlias: r.default_alias,
      checked: toInt(r.checked),
      scheduled: toInt(r.scheduled),
      incompatible: toInt(r.incompatible),
      alreadyCurrent: toInt(r.already_current),
      awaitingConfirmation: toInt(r.awaiting_confirmation),
      startedAt: r.started_at,
      finishedAt: r.finished_at,
    };
  }
}
