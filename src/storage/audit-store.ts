/** The audit log: append-only, read newest first, paged by id (`beforeId`). */
import type { Kysely } from 'kysely';
import type { AuditRepo } from '../app/context.js';
import { AuditResult } from '../domain/vocabularies.js';
import type { AuditEvent, NewAuditEvent } from '../app/records.js';
import { oneOf, parseObject, timestamp, toInt, toJson } from './columns.js';
import type { Database } from './schema.js';

const RESULTS: readonly AuditResult[] = Object.values(AuditResult);

export class AuditStore implements AuditRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async append(event: NewAuditEvent): Promise<void> {
    await this.db
      .insertInto('audit_log')
      .values({
        at: timestamp(event.at),
        actor: event.actor,
        action: event.action,
        target: event.target,
        result: event.result,
        code: event.code,
        details: toJson(event.details),
      })
      .execute();
  }

  async list(query: { readonly limit: number; readonly beforeId?: number }): Promise<AuditEvent[]> {
    if (!Number.isSafeInteger(query.limit) || query.limit < 0) throw new RangeError('storage: limit must be an integer ≥ 0');
    let select = this.db.selectFrom('audit_log').selectAll().orderBy('id', 'desc').limit(query.limit);
    if (query.beforeId !== undefined) select = select.where('id', '<', query.beforeId);
    const rows = await select.execute();
    return rows.map((r) => ({
      id: toInt(r.id),
      at: r.at,
      actor: r.actor,
      action: r.action,
      target: r.target,
      result: oneOf(RESULTS, r.result, 'audit_log.result'),
      code: r.code,
      details: parseObject(r.details),
    }));
  }
}
