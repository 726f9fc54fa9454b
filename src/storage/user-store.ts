/** Accounts (SPEC 5). Removing a user removes its API tokens by the foreign key's cascade. */
import type { Kysely } from 'kysely';
import { CertfleetError, ErrorCode } from '../domain/errors.js';
import { ROLES, type Role } from '../domain/roles.js';
import type { NewUser, UserRepo } from '../app/accounts.js';
import type { UserRecord } from '../app/records.js';
import { oneOf, timestamp, toInt } from './columns.js';
import type { SqlDialect } from './dialect.js';
import type { Database, UserRow } from './schema.js';

export function toUserRecord(row: Omit<UserRow, 'password_hash'>): UserRecord {
  return { id: row.id, username: row.username, role: oneOf(ROLES, row.role, 'users.role'), createdAt: row.created_at };
}

export class UserStore implements UserRepo {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: SqlDialect,
  ) {}

  async create(user: NewUser): Promise<void> {
    try {
      await this.db
        .insertInto('users')
        .values({
          id: user.id,
          username: user.username,
          role: user.role,
          password_hash: user.passwordHash,
          created_at: timestamp(user.createdAt),
        })
        .execute();
    } catch (error) {
      const violation = this.dialect.constraintViolation(error);
      if (violation?.kind === 'unique' && violation.columns === 'users.username') {
        throw new CertfleetError(ErrorCode.user_exists, `A user named "${user.username}" already exists.`, {
          username: user.username,
        });
      }
      throw error;
    }
  }

  async findByUsername(username: string): Promise<(UserRecord & { readonly passwordHash: string }) | null> {
    const row = await this.db
      .selectFrom('users')
      .select(['id', 'username', 'role', 'created_at', 'password_hash'])
      .where('username', '=', username)
      .executeTakeFirst();
    return row ? { ...toUserRecord(row), passwordHash: row.password_hash } : null;
  }

  async list(): Promise<UserRecord[]> {
    const rows = await this.db
      .selectFrom('users')
      .select(['id', 'username', 'role', 'created_at'])
      .orderBy('username')
      .execute();
    return rows.map(toUserRecord);
  }

  async remove(id: string): Promise<void> {
    await this.db.deleteFrom('users').where('id', '=', id).execute();
  }

  async countByRole(role: Role): Promise<number> {
    const row = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('role', '=', role)
      .executeTakeFirstOrThrow();
    return toInt(row.n);
  }

  async count(): Promise<number> {
    const row = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    return toInt(row.n);
  }
}
