/**
 * Brings a database to the newest schema with Kysely's Migrator and the static list in
 * migrations/. Safe to run on every start and on every node: what already ran is recorded in
 * `kysely_migration` (name, time), which is the schema-version record; a database that has
 * migrations this build does not know (made by a newer certfleet) is refused.
 */
import { Migrator, type Kysely } from 'kysely';
import type { SqlDialect } from './dialect.js';
import { migrationProvider } from './migrations/index.js';

/**
 * On PostgreSQL the Kysely instance must introspect only `schema` (OwnSchemaPostgresDialect): the
 * migrator's table lookups then cannot trip over other schemas being dropped meanwhile.
 */
export async function migrateToLatest<DB>(db: Kysely<DB>, dialect: SqlDialect, schema: string | undefined): Promise<void> {
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
