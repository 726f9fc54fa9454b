/**
 * Every migration, listed by hand: a static provider works the same from src/ and dist/ and needs
 * no directory scan. Names sort in the order they run; add the next one as `'0004-…': step(m0004)`.
 */
import type { Kysely, Migration, MigrationProvider } from 'kysely';
import type { SqlDialect } from '../dialect.js';
import * as m0001 from './0001-initial.js';
import * as m0002 from './0002-devices.js';
import * as m0003 from './0003-drop-explicit-pending.js';
import * as m0004 from './0004-cluster.js';

interface MigrationModule {
  up(db: Kysely<unknown>, dialect: SqlDialect): Promise<void>;
}

export function migrationProvider(dialect: SqlDialect): MigrationProvider {
  const step = (m: MigrationModule): Migration => ({ up: (db) => m.up(db, dialect) });
  const migrations: Record<string, Migration> = {
    '0001-initial': step(m0001),
    '0002-devices': step(m0002),
    '0003-drop-explicit-pending': step(m0003),
    '0004-cluster': step(m0004),
  };
  return { getMigrations: () => Promise.resolve(migrations) };
}

