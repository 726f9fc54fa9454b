/**
 * SQLite: prepared statements kept by their SQL text (issue 11). Kysely's SQLite driver prepares
 * every query it runs afresh, so SQLite parses and plans the same few dozen statements of a
 * registration or a check-in again each time, while holding the one connection that every other
 * request waits for. Kysely compiles a query to the same text each time (values are parameters),
 * so the text is the key; a prepared statement re-plans by itself after a schema change.
 *
 * Bounded both ways: statements of very long text (a restore's multi-row inserts) are not kept,
 * and past MAX_STATEMENTS the least recently used goes. A statement that is busy (iterated by a
 * stream that is not finished) is not handed out again: a fresh one is prepared for that call.
 */
import type { Database as BetterSqlite3Database, Statement } from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

export const MAX_STATEMENTS = 256;
export const MAX_CACHED_SQL_LENGTH = 4096;

export function withStatementCache(database: BetterSqlite3Database): SqliteDatabase {
  const cache = new Map<string, Statement>();
  return {
    close: () => {
      cache.clear();
      database.close();
    },
    prepare(text: string): SqliteStatement {
      if (text.length > MAX_CACHED_SQL_LENGTH) return database.prepare(text);
      const cached = cache.get(text);
      if (cached !== undefined && !cached.busy) {
        // Most recently used last: a Map iterates in insertion order.
        cache.delete(text);
        cache.set(text, cached);
        return cached;
      }
      const statement = database.prepare(text);
      if (cached === undefined) {
        cache.set(text, statement);
        if (cache.size > MAX_STATEMENTS) {
          const oldest = cache.keys().next();
          if (!oldest.done) cache.delete(oldest.value);
        }
      }
      return statement;
    },
  };
}
