/** API tokens: only their hash is stored; expiry is compared as canonical ISO text (schema.ts). */
import type { Kysely } from 'kysely';
import type { TokenRepo } from '../app/accounts.js';
import type { TokenRecord, UserRecord } from '../app/records.js';
import { timestamp } from './columns.js';
import type { ApiTokenRow, Database } from './schema.js';
import { toUserRecord } from './user-store.js';

export class TokenStore implements TokenRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async create(token: TokenRecord & { readonly tokenHash: string }): Promise<void> {
    await this.db
      .insertInto('api_tokens')
      .values({
        id: token.id,
        user_id: token.userId,
        name: token.name,
        token_hash: token.tokenHash,
        created_at: timestamp(token.createdAt),
        expires_at: timestamp(token.expiresAt),
        last_used_at: token.lastUsedAt === null ? null : timestamp(token.lastUsedAt),
      })
      .execute();
  }

  async findValid(tokenHash: string, now: string): Promise<{ token: TokenRecord; user: UserRecord } | null> {
    const row = await this.db
      .selectFrom('api_tokens as t')
      .innerJoin('users as u', 'u.id', 't.user_id')
      .select([
        't.id',
        't.user_id',
        't.name',
        't.created_at',
        't.expires_at',
        't.last_used_at',
        'u.username',
        'u.role',
        'u.created_at as user_created_at',
      ])
      .where('t.token_hash', '=', tokenHash)
      .where('t.expires_at', '>', timestamp(now))
      .executeTakeFirst();
    if (!row) return null;
    return {
      token: toTokenRecord(row),
      user: toUserRecord({ id: row.user_id, username: row.username, role: row.role, created_at: row.user_created_at }),
    };
  }

  async touch(id: string, at: string): Promise<void> {
    await this.db.updateTable('api_tokens').set({ last_used_at: timestamp(at) }).where('id', '=', id).execute();
  }

  async remove(id: string): Promise<void> {
    await this.db.deleteFrom('api_tokens').where('id', '=', id).execute();
  }

  async listForUser(userId: string): Promise<TokenRecord[]> {
    const rows = await this.db
      .selectFrom('api_tokens')
      .select(['id', 'user_id', 'name', 'created_at', 'expires_at', 'last_used_at'])
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toTokenRecord);
  }
}

function toTokenRecord(row: Omit<ApiTokenRow, 'token_hash'>): TokenRecord {
  return {
    id: row.id,
    userId: row.user_id,
    name: row.name,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
  };
}
