/**
 * Enrollment tokens (R5). Only the SHA-256 of a token is stored. A use is taken by one conditional
 * UPDATE, so two registrations racing for the last use cannot both get it: on PostgreSQL the
 * second UPDATE waits for the first one's row lock and then re-checks `uses_left > 0` on the row
 * the first one wrote (READ COMMITTED); on SQLite writers are serialised anyway.
 */
import type { ExpressionBuilder, Kysely } from 'kysely';
import type { StoredEnrollmentToken } from '../app/records.js';
import type { EnrollmentTokenRepo } from '../app/store.js';
import { nullableTimestamp, timestamp, toInt } from './columns.js';
import type { Database } from './schema.js';

/** A token that has a use left, is not revoked, has not expired, and is unbound or bound to `unitId`. */
function usable(eb: ExpressionBuilder<Database, 'enrollment_tokens'>, tokenHash: string, unitId: string, now: string) {
  return eb.and([
    eb('token_hash', '=', tokenHash),
    eb('uses_left', '>', 0),
    eb('revoked_at', 'is', null),
    eb('expires_at', '>', timestamp(now)),
    eb.or([eb('unit_id', 'is', null), eb('unit_id', '=', unitId)]),
  ]);
}

export class EnrollmentStore implements EnrollmentTokenRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async create(token: StoredEnrollmentToken & { readonly tokenHash: string }): Promise<void> {
    await this.db
      .insertInto('enrollment_tokens')
      .values({
        id: token.id,
        token_hash: token.tokenHash,
        uses_allowed: token.usesAllowed,
        uses_left: token.usesLeft,
        expires_at: timestamp(token.expiresAt),
        unit_id: token.unitId,
        created_by: token.createdBy,
        created_at: timestamp(token.createdAt),
        revoked_at: nullableTimestamp(token.revokedAt),
      })
      .execute();
  }

  async list(): Promise<StoredEnrollmentToken[]> {
    const rows = await this.db
      .selectFrom('enrollment_tokens')
      .select(['id', 'uses_allowed', 'uses_left', 'expires_at', 'unit_id', 'created_by', 'created_at', 'revoked_at'])
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      usesAllowed: toInt(r.uses_allowed),
      usesLeft: toInt(r.uses_left),
      expiresAt: r.expires_at,
      unitId: r.unit_id,
      createdBy: r.created_by,
      createdAt: r.created_at,
      revokedAt: r.revoked_at,
    }));
  }

  async findUsable(tokenHash: string, unitId: string, now: string): Promise<string | null> {
    const row = await this.db
      .selectFrom('enrollment_tokens')
      .select('id')
      .where((eb) => usable(eb, tokenHash, unitId, now))
      .executeTakeFirst();
    return row?.id ?? null;
  }

  async consume(tokenHash: string, unitId: string, now: string): Promise<string | null> {
    const row = await this.db
      .updateTable('enrollment_tokens')
      .set((eb) => ({ uses_left: eb('uses_left', '-', 1) }))
      .where((eb) => usable(eb, tokenHash, unitId, now))
      .returning('id')
      .executeTakeFirst();
    return row?.id ?? null;
  }

  async revoke(id: string, at: string): Promise<boolean> {
    const found = await this.db.selectFrom('enrollment_tokens').select('id').where('id', '=', id).executeTakeFirst();
    if (!found) return false;
    await this.db
      .updateTable('enrollment_tokens')
      .set({ revoked_at: timestamp(at) })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .execute();
    return true;
  }
}
