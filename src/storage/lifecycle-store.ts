/**
 * The lifecycle's storage (L2): its settings (one row), the successions and the events of the
 * timeline (migration 0007).
 */
import type { Kysely } from 'kysely';
import type { LifecycleEvent, LifecycleRepo, NewLifecycleEvent, StoredLifecycleSettings } from '../app/lifecycle.js';
import { blockedKey, SuccessionRole, SuccessionState, type Succession } from '../domain/lifecycle.js';
import { fromIntBoolean, oneOf, parseObject, timestamp, toInt, toIntBoolean, toJson } from './columns.js';
import type { Database, LifecycleSuccessionsTable } from './schema.js';
import type { Selectable } from 'kysely';
import { LifecycleEventStep } from '../app/lifecycle.js';

const ROLES = Object.values(SuccessionRole);
const STATES = Object.values(SuccessionState);
const STEPS = Object.values(LifecycleEventStep);

/** The column that keeps the time a succession reached each state. */
const STATE_TIME = {
  generated: 'created_at',
  promoted: 'promoted_at',
  deactivated: 'deactivated_at',
  deleted: 'deleted_at',
} as const satisfies Record<SuccessionState, keyof LifecycleSuccessionsTable>;

function toSuccession(r: Selectable<LifecycleSuccessionsTable>): Succession {
  return {
    id: r.id,
    role: oneOf(ROLES, r.role, 'lifecycle_successions.role'),
    predecessorId: r.predecessor_id,
    predecessorAlias: r.predecessor_alias,
    successorId: r.successor_id,
    successorAlias: r.successor_alias,
    state: oneOf(STATES, r.state, 'lifecycle_successions.state'),
    createdAt: r.created_at,
    deactivatedAt: r.deactivated_at,
  };
}

export class LifecycleStore implements LifecycleRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async settings(): Promise<StoredLifecycleSettings> {
    const r = await this.db.selectFrom('lifecycle_settings').selectAll().where('id', '=', 1).executeTakeFirstOrThrow();
    return {
      enabled: fromIntBoolean(r.enabled),
      renewBeforeDays: toInt(r.renew_before_days),
      window: r.window,
      retireAfterDays: toInt(r.retire_after_days),
      updatedAt: r.updated_at,
      updatedBy: r.updated_by,
    };
  }

  async saveSettings(s: StoredLifecycleSettings): Promise<void> {
    await this.db
      .updateTable('lifecycle_settings')
      .set({
        enabled: toIntBoolean(s.enabled),
        renew_before_days: s.renewBeforeDays,
        window: s.window,
        retire_after_days: s.retireAfterDays,
        updated_at: s.updatedAt === null ? null : timestamp(s.updatedAt),
        updated_by: s.updatedBy,
      })
      .where('id', '=', 1)
      .execute();
  }

  async openSuccessions(): Promise<Succession[]> {
    const rows = await this.db.selectFrom('lifecycle_successions').selectAll().where('state', '<>', SuccessionState.deleted).orderBy('created_at').orderBy('id').execute();
    return rows.map(toSuccession);
  }

  async successions(limit: number): Promise<Succession[]> {
    const rows = await this.db.selectFrom('lifecycle_successions').selectAll().orderBy('created_at', 'desc').orderBy('id').limit(limit).execute();
    return rows.map(toSuccession);
  }

  async insertSuccession(s: Succession): Promise<void> {
    await this.db
      .insertInto('lifecycle_successions')
      .values({
        id: s.id,
        role: s.role,
        predecessor_id: s.predecessorId,
        predecessor_alias: s.predecessorAlias,
        successor_id: s.successorId,
        successor_alias: s.successorAlias,
        state: s.state,
        created_at: timestamp(s.createdAt),
        promoted_at: null,
        deactivated_at: s.deactivatedAt === null ? null : timestamp(s.deactivatedAt),
        deleted_at: null,
      })
      .execute();
  }

  async setSuccessionState(id: string, state: SuccessionState, at: string): Promise<void> {
    await this.db
      .updateTable('lifecycle_successions')
      .set({ state, [STATE_TIME[state]]: timestamp(at) })
      .where('id', '=', id)
      .execute();
  }

  async appendEvent(e: NewLifecycleEvent): Promise<void> {
    await this.db
      .insertInto('lifecycle_events')
      .values({ at: timestamp(e.at), step: e.step, alias: e.alias, succession_id: e.successionId, details: toJson(e.details) })
      .execute();
  }

  async events(limit: number): Promise<LifecycleEvent[]> {
    const rows = await this.db.selectFrom('lifecycle_events').selectAll().orderBy('id', 'desc').limit(limit).execute();
    return rows.map((r) => ({
      id: toInt(r.id),
      at: r.at,
      step: oneOf(STEPS, r.step, 'lifecycle_events.step'),
      alias: r.alias,
      successionId: r.succession_id,
      details: parseObject(r.details),
    }));
  }

  async reportedBlocks(): Promise<Set<string>> {
    const rows = await this.db.selectFrom('lifecycle_events').select(['alias', 'details']).where('step', '=', LifecycleEventStep.blocked).execute();
    return new Set(
      rows.map((r) => {
        const step = parseObject(r.details).step;
        return blockedKey(r.alias, typeof step === 'string' ? step : '');
      }),
    );
  }
}
