/**
 * Every migration, listed by hand: a static provider works the same from src/ and dist/ and needs
 * no directory scan. Names sort in the order they run; add the next one as `['0006-…', m0006]`.
 */
import type { Kysely, Migration, MigrationProvider } from 'kysely';
import type { SqlDialect } from '../dialect.js';
import * as m0001 from './0001-initial.js';
import * as m0002 from './0002-devices.js';
import * as m0003 from './0003-drop-explicit-pending.js';
import * as m0004 from './0004-cluster.js';
import * as m0005 from './0005-backups.js';
import * as m0007 from './0007-lifecycle.js';
import * as m0008 from './0008-device-counters.js';

interface MigrationModule {
  up(db: Kysely<unknown>, dialect: SqlDialect): Promise<void>;
}

const MIGRATIONS: readonly (readonly [string, MigrationModule])[] = [
  ['0001-initial', m0001],
  ['0002-devices', m0002],
  ['0003-drop-explicit-pending', m0003],
  ['0004-cluster', m0004],
  ['0005-backups', m0005],
  ['0007-lifecycle', m0007],
  ['0008-device-counters', m0008],
];

/** The schema versions this build knows, oldest first; the last is the one it migrates to. */
export const MIGRATION_NAMES: readonly string[] = MIGRATIONS.map(([name]) => name);

export function migrationProvider(dialect: SqlDialect): MigrationProvider {
  const migrations: Record<string, Migration> = Object.fromEntries(
    MIGRATIONS.map(([name, m]): [string, Migration] => [name, { up: (db) => m.up(db, dialect) }]),
  );
  return { getMigrations: () => Promise.resolve(migrations) };
}

