/**
 * Everything that differs between SQLite and PostgreSQL, in one place: column types, identity
 * columns, row locks, case-insensitive search, how a transaction starts, and how each database
 * reports a violated constraint. Repositories and migrations ask this object instead of testing
 * the database's name. (How each database is opened lives in open-store.ts.)
 *
 * Locking, the part that matters in a cluster:
 * - PostgreSQL: transactions are READ COMMITTED; `KeystoreRepo.lock()` takes the keystore_state
 *   row `FOR UPDATE`, so keystore changes on all nodes queue behind one another until commit.
 * - SQLite: one process, one connection; Kysely's mutex on that connection already serialises
 *   everything in the process. Each transaction still starts with `BEGIN IMMEDIATE`, which takes
 *   the database's write lock at once: another process (an offline `certfleet` command on the
 *   same file) waits up to busy_timeout instead of failing half-way with SQLITE_BUSY when a read
 *   transaction tries to become a write transaction.
 */
import { sql, type ColumnDefinitionBuilder, type Expression, type Kysely, type RawBuilder, type SqlBool } from 'kysely';

export type DialectName = 'sqlite' | 'postgres';

export interface ConstraintViolation {
  readonly kind: 'unique' | 'foreign_key';
  /** `table.column[, table.column]` for unique violations when the database says; else null. */
  readonly columns: string | null;
}

export interface SqlDialect {
  readonly name: DialectName;
  readonly binaryType: 'blob' | 'bytea';
  /** Type of an auto-incrementing integer primary key; use with `identity()`. */
  readonly identityType: 'integer' | 'bigint';
  identity(column: ColumnDefinitionBuilder): ColumnDefinitionBuilder;
  /** Whether `SELECT … FOR UPDATE` exists; SQLite locks the whole database instead (see above). */
  readonly rowLocks: boolean;
  /** `column` contains `term`, ignoring case; LIKE wildcards in `term` match only themselves. */
  containsIgnoringCase(column: Expression<string>, term: string): RawBuilder<SqlBool>;
  /** Runs `fn` in one transaction on one connection; commits when it resolves, rolls back when it throws. */
  transaction<DB, T>(db: Kysely<DB>, fn: (trx: Kysely<DB>) => Promise<T>): Promise<T>;
  /**
   * Runs Kysely's Migrator (`run`) so that a migration run is all-or-nothing and two processes
   * starting together do not both migrate. PostgreSQL: Kysely already takes an advisory lock and a
   * transaction. SQLite: Kysely assumes no transactional DDL, but SQLite has it, so the whole run
   * goes into one `BEGIN IMMEDIATE`.
   */
  runMigrations<DB>(db: Kysely<DB>, run: (db: Kysely<DB>) => Promise<void>): Promise<void>;
  /** What constraint `error` violated, if it is a constraint violation of this database. */
  constraintViolation(error: unknown): ConstraintViolation | null;
}

/** Escapes `\`, `%` and `_` for a LIKE pattern whose ESCAPE character is `\`. */
export function escapeLike(term: string): string {
  return term.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function property(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null && name in value
    ? (value as Record<string, unknown>)[name] // `name in value` was checked; the value stays unknown
    : undefined;
}

function sqliteTransaction<DB, T>(db: Kysely<DB>, fn: (trx: Kysely<DB>) => Promise<T>): Promise<T> {
  return db.connection().execute(async (conn) => {
    await sql`begin immediate`.execute(conn);
    let result: T;
    try {
      result = await fn(conn);
      await sql`commit`.execute(conn);
    } catch (error) {
      await sql`rollback`.execute(conn).catch(() => {
        // No transaction is left to roll back (SQLite ends it by itself on some errors); the
        // caller's error is the one worth reporting.
      });
      throw error;
    }
    return result;
  });
}

export const sqliteDialect: SqlDialect = {
  name: 'sqlite',
  binaryType: 'blob',
  identityType: 'integer',
  // AUTOINCREMENT: ids are never reused, even after the newest rows were deleted.
  identity: (column) => column.primaryKey().autoIncrement(),
  rowLocks: false,
  // SQLite's LIKE ignores case (ASCII letters only, as SQLite has no Unicode case tables).
  containsIgnoringCase: (column, term) => sql<SqlBool>`${column} like ${`%${escapeLike(term)}%`} escape '\\'`,
  transaction: sqliteTransaction,
  runMigrations: sqliteTransaction,
  constraintViolation: (error) => {
    const code = property(error, 'code');
    const message = property(error, 'message');
    if (typeof code !== 'string' || !code.startsWith('SQLITE_CONSTRAINT')) return null;
    // ON DELETE RESTRICT reports SQLITE_CONSTRAINT_TRIGGER (SQLite enforces it like a trigger).
    if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || message === 'FOREIGN KEY constraint failed') {
      return { kind: 'foreign_key', columns: null };
    }
    if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
      // "UNIQUE constraint failed: users.username"
      const columns = typeof message === 'string' ? (message.split('constraint failed: ')[1] ?? null) : null;
      return { kind: 'unique', columns };
    }
    return null;
  },
};

export const postgresDialect: SqlDialect = {
  name: 'postgres',
  binaryType: 'bytea',
  identityType: 'bigint',
  // BY DEFAULT rather than ALWAYS: a restore may write the ids it read from a backup.
  identity: (column) => column.primaryKey().generatedByDefaultAsIdentity(),
  rowLocks: true,
  containsIgnoringCase: (column, term) => sql<SqlBool>`${column} ilike ${`%${escapeLike(term)}%`} escape '\\'`,
  transaction: (db, fn) => db.transaction().execute(fn),
  runMigrations: (db, run) => run(db),
  constraintViolation: (error) => {
    const code = property(error, 'code');
    if (code === '23503') return { kind: 'foreign_key', columns: null };
    if (code === '23505') {
      // detail: "Key (username)=(alice) already exists."
      const table = property(error, 'table');
      const detail = property(error, 'detail');
      const keys = typeof detail === 'string' ? /^Key \(([^)]*)\)=/.exec(detail)?.[1] : undefined;
      const columns =
        typeof table === 'string' && keys !== undefined
          ? keys
              .split(',')
              .map((k) => `${table}.${k.trim()}`)
              .join(', ')
          : null;
      return { kind: 'unique', columns };
    }
    return null;
  },
};

