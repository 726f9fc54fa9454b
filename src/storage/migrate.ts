/**
 * Brings a database to the newest schema with Kysely's Migrator and the static list in
 * migrations/. Safe to run on every start and on every node: what already ran is recorded in
 * `kysely_migration` (name, time), which is the schema-version record; a database that has
 * migrations this build does not know (made by a newer certfleet) is refused.
 */
import { Migrator, type Kysely } from 'kysely';
import type { SqlDialect } from './dialect.js';
import { migrationProvider } from './migrations/index.js';

/** PostgreSQL's invalid_schema_name. */
const INVALID_SCHEMA_NAME = '3F000';
const ATTEMPTS = 5;

function isVanishedSchema(error: unknown): boolean {
  const cause = error instanceof Error ? error.cause : undefined;
  return typeof cause === 'object' && cause !== null && (cause as { code?: unknown }).code === INVALID_SCHEMA_NAME; // pg's DatabaseError carries `code`
}

/**
 * Kysely's migrator introspects every schema of the database (`has_schema_privilege` per schema
 * name); a schema that another client drops at that moment makes the query fail with 3F000 although
 * it has nothing to do with ours. That is a race, not a state, so the migration is tried again.
 */
export async function migrateToLatest<DB>(db: Kysely<DB>, dialect: SqlDialect, schema: string | undefined): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await migrateOnce(db, dialect, schema);
    } catch (error) {
      if (attempt >= ATTEMPTS || !isVanishedSchema(error)) throw error;
    }
  }
}

async function migrateOnce<DB>(db: Kysely<DB>, dialect: SqlDialect, schema: string | undefined): Promise<void> {
  await dialect.runMigrations(db, async (conn) => {
    const migrator = new Migrator({
      db: conn,
      provider: migrationProvider(dialect),
      // Named explicitly on PostgreSQL: without it Kysely looks for its table in any schema and
      // would take another schema's migration record for this one's.
      ...(schema === undefined ? {} : { migrationTableSchema: schema }),
    });
    const { error, results } = await migrator.migrateToLatest();
    if (error !== undefined) {
      const failed = results?.find((r) => r.status === 'Error')?.migrationName;
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(
        `The database could not be brought to the current schema${failed ? ` (migration ${failed})` : ''}: ${reason}`,
        { cause: error },
      );
    }
  });
}
