/**
 * Real databases for integration tests: every suite that touches storage runs once on SQLite and
 * once on PostgreSQL, on fresh empty databases that are removed afterwards.
 *
 *   forEachDatabase('keystore use cases', (db) => {
 *     const fresh = db.storePerTest();            // a fresh database for every test
 *     it('lists in order', async () => { … fresh.store.keystore.list() … });
 *   });
 *
 *   forEachDatabase('cluster', (db) => {
 *     it('two nodes', async () => {
 *       const shared = await db.database();        // one database …
 *       const a = await shared.open();             // … and two Stores on it, as two nodes
 *       const b = await shared.open();
 *     });
 *   });
 *
 *   const store = await openTestStore('sqlite');   // outside a suite; close() also removes it
 *
 * SQLite: a file in a temporary directory. PostgreSQL: `CERTFLEET_TEST_PG` (default
 * postgres://postgres@127.0.0.1:5432/test), one new schema per database. When PostgreSQL cannot
 * be reached, its variant is skipped with the reason — except with CI=true, where it fails,
 * so that CI can never pass by testing SQLite alone.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import pg from 'pg';
import type { Repos, Store } from '../../src/app/store.js';
import { openStore, type OpenStoreOptions } from '../../src/storage/open-store.js';

export type TestDialect = Store['dialect'];
export const TEST_DIALECTS: readonly TestDialect[] = ['sqlite', 'postgres'];

export const TEST_PG_URL = process.env.CERTFLEET_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A fresh, empty database. Each `open()` is one more Store on it (another node of a cluster). */
export interface TestDatabase {
  readonly dialect: TestDialect;
  /**
   * A URL that names exactly this database (for PostgreSQL, with its schema in the search_path),
   * for a server or CLI started by the test: `certfleet serve --db URL`.
   */
  readonly url: string;
  /** PostgreSQL: the schema that holds this database (to restore a dump into it); SQLite: null. */
  readonly schema: string | null;
  /** Opens and migrates a Store on this database; closed by `drop()` at the latest. */
  open(extra?: Partial<Omit<OpenStoreOptions, 'url' | 'schema'>>): Promise<Store>;
  /** Closes every Store opened here (the database stays). */
  closeStores(): Promise<void>;
  /** Closes every Store opened here and removes the database. */
  drop(): Promise<void>;
}

export interface DatabaseSuiteContext {
  readonly dialect: TestDialect;
  /** A Store on a fresh, empty database; closed and removed when the suite ends. */
  open(): Promise<Store>;
  /** A fresh, empty database to open several Stores on; removed when the suite ends. */
  database(): Promise<TestDatabase>;
  /**
   * Registers beforeEach/afterEach hooks that give every test of the suite its own fresh database
   * and Store (removed after the test); read them through the returned object while a test runs.
   */
  storePerTest(): PerTestStore;
}

export interface PerTestStore {
  readonly store: Store;
  /** The current test's database: open more Stores on it, or reach it directly. */
  readonly database: TestDatabase;
}

/** Where a URL points, without its password, for messages. */
function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/**
 * For creating and dropping schemas. allowExitOnIdle: the test process may end while the pool
 * still holds idle connections.
 */
const adminPool = new pg.Pool({
  connectionString: TEST_PG_URL,
  max: 2,
  connectionTimeoutMillis: 3000,
  allowExitOnIdle: true,
});
adminPool.on('error', () => {
  // An idle admin connection was lost; the next query opens another.
});

/** Null when PostgreSQL answers; else why not. Asked once per test process. */
const postgresProblem: string | null = await adminPool.query('select 1').then(
  () => null,
  (error: unknown) =>
    `PostgreSQL at ${describeUrl(TEST_PG_URL)} cannot be reached (${error instanceof Error ? error.message || error.name : String(error)})`,
);

/** Null when the dialect's database can be used in this run; else the reason it cannot. */
export function databaseUnavailable(dialect: TestDialect): string | null {
  return dialect === 'postgres' ? postgresProblem : null;
}

export async function createTestDatabase(dialect: TestDialect): Promise<TestDatabase> {
  const problem = databaseUnavailable(dialect);
  if (problem !== null) throw new Error(`${problem}. Start it, or point CERTFLEET_TEST_PG at one.`);

  const stores: Store[] = [];
  const track = async (store: Promise<Store>): Promise<Store> => {
    const opened = await store;
    stores.push(opened);
    return opened;
  };
  const closeAll = async (): Promise<void> => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  };

  if (dialect === 'sqlite') {
    const dir = await mkdtemp(join(tmpdir(), 'certfleet-test-'));
    const url = join(dir, 'certfleet.db');
    return {
      dialect,
      url,
      schema: null,
      open: (extra = {}) => track(openStore({ ...extra, url })),
      closeStores: closeAll,
      drop: async () => {
        await closeAll();
        await rm(dir, { recursive: true, force: true });
      },
    };
  }

  const schema = `cf_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await adminPool.query(`create schema ${schema}`);
  const url = new URL(TEST_PG_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    dialect,
    url: url.toString(),
    schema,
    // A small pool: suites open many stores, and PostgreSQL allows 100 connections in all.
    open: (extra = {}) => track(openStore({ poolSize: 4, ...extra, url: TEST_PG_URL, schema })),
    closeStores: closeAll,
    drop: async () => {
      await closeAll();
      await adminPool.query(`drop schema if exists ${schema} cascade`);
    },
  };
}

/** Declares `suite` once per database: `${name} [sqlite]` and `${name} [postgres]`. */
export function forEachDatabase(name: string, suite: (ctx: DatabaseSuiteContext) => void): void {
  for (const dialect of TEST_DIALECTS) {
    const title = `${name} [${dialect}]`;
    const problem = databaseUnavailable(dialect);
    if (problem !== null && process.env.CI === 'true') {
      describe(title, () => {
        it(`needs ${dialect}`, () => {
          throw new Error(`${problem}. CI=true: the ${dialect} variant must run, not be skipped.`);
        });
      });
      continue;
    }
    if (problem !== null) {
      describe(title, { skip: `${problem}; set CERTFLEET_TEST_PG or start it to run this variant` }, () => {});
      continue;
    }
    describe(title, () => {
      const databases: TestDatabase[] = [];
      const database = async (): Promise<TestDatabase> => {
        const created = await createTestDatabase(dialect);
        databases.push(created);
        return created;
      };
      after(async () => {
        await Promise.all(databases.splice(0).map((d) => d.drop()));
      });
      suite({
        dialect,
        database,
        open: async () => (await database()).open(),
        storePerTest: () => {
          let current: { database: TestDatabase; store: Store } | undefined;
          beforeEach(async () => {
            const created = await database();
            current = { database: created, store: await created.open() };
          });
          afterEach(async () => {
            // Connections go now; the database itself with the others when the suite ends.
            await current?.database.closeStores();
            current = undefined;
          });
          const now = (): { database: TestDatabase; store: Store } => {
            if (current === undefined) throw new Error('storePerTest(): the store exists only while a test runs');
            return current;
          };
          return {
            get store() {
              return now().store;
            },
            get database() {
              return now().database;
            },
          };
        },
      });
    });
  }
}

/** A Store on a fresh database of its own; its `close()` also removes the database. */
export async function openTestStore(dialect: TestDialect): Promise<Store> {
  const db = await createTestDatabase(dialect);
  try {
    return new DroppingStore(await db.open(), db);
  } catch (error) {
    await db.drop();
    throw error;
  }
}

class DroppingStore implements Store {
  constructor(
    private readonly store: Store,
    private readonly db: TestDatabase,
  ) {}
  get dialect(): TestDialect {
    return this.store.dialect;
  }
  get keystore(): Repos['keystore'] {
    return this.store.keystore;
  }
  get backups(): Repos['backups'] {
    return this.store.backups;
  }
  get lifecycle(): Repos['lifecycle'] {
    return this.store.lifecycle;
  }
  get devices(): Repos['devices'] {
    return this.store.devices;
  }
  get enrollment(): Repos['enrollment'] {
    return this.store.enrollment;
  }
  get compatibility(): Repos['compatibility'] {
    return this.store.compatibility;
  }
  get rotation(): Repos['rotation'] {
    return this.store.rotation;
  }
  get users(): Repos['users'] {
    return this.store.users;
  }
  get tokens(): Repos['tokens'] {
    return this.store.tokens;
  }
  get audit(): Repos['audit'] {
    return this.store.audit;
  }
  get cluster(): Repos['cluster'] {
    return this.store.cluster;
  }
  get leases(): Repos['leases'] {
    return this.store.leases;
  }
  get meta(): Repos['meta'] {
    return this.store.meta;
  }
  transaction<T>(fn: (tx: Repos) => Promise<T>): Promise<T> {
    return this.store.transaction(fn);
  }
  close(): Promise<void> {
    return this.db.drop();
  }
}
