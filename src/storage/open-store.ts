/**
 * Opens the database a URL names, brings its schema up to date and returns the Store.
 *
 *   openStore({ url: './data/certfleet.db' })                 SQLite file (also `sqlite:PATH`)
 *   openStore({ url: ':memory:' })                             SQLite in memory (tests)
 *   openStore({ url: 'postgres://user@host/db', poolSize: 20 }) PostgreSQL (cluster)
 *   openStore({ url: 'postgres://…', schema: 'certfleet' })      … in its own schema
 *
 * SQLite runs in WAL mode (readers never wait for the writer), `synchronous=NORMAL` (durable across
 * process crashes; a power cut may lose the last transactions, never corrupt the file),
 * `foreign_keys=ON` (SQLite's default is off, and the devices → certificates keys are what keeps a
 * used certificate from being deleted) and a busy timeout for other processes' write locks.
 *
 * Within `transaction(fn)`, use only the repos `fn` is given: on SQLite the one connection is
 * held by the transaction, so a query through the Store itself would wait for it forever.
 *
 * One process per SQLite file: better-sqlite3 is synchronous, so while another connection holds
 * the write lock the busy timeout blocks the whole event loop. Two Stores on one SQLite file in one
 * process must not run transactions at the same time; a cluster uses PostgreSQL (H1).
 */
import { chmodSync, closeSync, openSync, statSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import pg from 'pg';
import type { Repos, Store } from '../app/store.js';
import { AuditStore } from './audit-store.js';
import { BackupStore } from './backup-store.js';
import { CertificateStore } from './certificate-store.js';
import { ClusterStore } from './cluster-store.js';
import { CompatibilityStore } from './compatibility-store.js';
import { postgresDialect, sqliteDialect, type DialectName, type SqlDialect } from './dialect.js';
import { DeviceStore } from './device-store.js';
import { EnrollmentStore } from './enrollment-store.js';
import { LeaseStore } from './lease-store.js';
import { LifecycleStore } from './lifecycle-store.js';
import { MetaStore } from './meta-store.js';
import { migrateToLatest } from './migrate.js';
import { OwnSchemaPostgresDialect } from './own-schema-introspector.js';
import { channelName, KEYSTORE_CHANNEL } from './pg-listener.js';
import { RotationStore } from './rotation-store.js';
import { withStatementCache } from './statement-cache.js';
import type { Database } from './schema.js';
import { TokenStore } from './token-store.js';
import { UserStore } from './user-store.js';

export interface OpenStoreOptions {
  /** A SQLite file path, `sqlite:PATH`, `:memory:`, or a `postgres://` / `postgresql://` URL. */
  readonly url: string;
  /**
   * PostgreSQL: the schema that holds certfleet's tables; it is created when missing and every
   * connection's search_path is set to it. Default: the connection's current schema (`public`).
   */
  readonly schema?: string;
  /** PostgreSQL: the most connections the pool opens (default 10). */
  readonly poolSize?: number;
  /** SQLite: how long to wait for another process's write lock, in ms (default 5000). */
  readonly busyTimeoutMs?: number;
  /** PostgreSQL: told about errors of idle pooled connections (e.g. the server restarted). */
  readonly onPoolError?: (error: Error) => void;
  /** SQLite: told when an existing database file that others could read was made private. */
  readonly onWarning?: (message: string, details: Readonly<Record<string, unknown>>) => void;
}

export type DatabaseTarget =
  | { readonly dialect: 'sqlite'; readonly path: string }
  | { readonly dialect: 'postgres'; readonly connectionString: string };

/** Which database a URL names. */
export function parseDatabaseUrl(url: string): DatabaseTarget {
  if (/^postgres(ql)?:\/\//i.test(url)) return { dialect: 'postgres', connectionString: url };
  if (/^sqlite:/i.test(url)) {
    const rest = url.slice('sqlite:'.length);
    // sqlite:///abs/path and sqlite://rel/path as well as sqlite:path
    return { dialect: 'sqlite', path: rest.startsWith('//') ? rest.slice(2) : rest };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new Error(`Unsupported database URL "${url.split('://')[0]}://…": use a SQLite file path or postgres://…`);
  }
  if (url.trim() === '') throw new Error('The database URL is empty: use a SQLite file path or postgres://…');
  return { dialect: 'sqlite', path: url };
}

/**
 * The SQLite file holds every sealed key and the audit log: owner only. A new file is created here
 * with mode 0600 before SQLite opens it, so its -wal and -shm files (SQLite gives them the main
 * file's mode) are private too, whatever the umask. An existing file that group or others can
 * read (an older version, a copy, a restore by hand) is tightened to 0600 with a warning rather
 * than refused: refusing would stop an upgrade, and the warning tells the administrator that the
 * file was exposed. A file this user cannot chmod (another owner) stops the start.
 */
function makeDatabaseFilePrivate(path: string, warn: (message: string, details: Readonly<Record<string, unknown>>) => void): void {
  if (process.platform === 'win32') return;
  try {
    closeSync(openSync(path, 'wx', 0o600));
    return;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; // fs errors carry a code
  }
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    let mode: number;
    try {
      mode = statSync(file).mode & 0o777;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // fs errors carry a code
      throw e;
    }
    if ((mode & 0o077) === 0) continue;
    try {
      chmodSync(file, 0o600);
    } catch (e) {
      throw new Error(
        `${file} has mode 0${mode.toString(8)} (others can read the sealed keys and the audit log) and could not be ` +
          `made private: ${(e as NodeJS.ErrnoException).code ?? String(e)}. Run \`chmod 600 ${file}\` as its owner and start again.`,
      );
    }
    warn(`${file} had mode 0${mode.toString(8)}; it is now 0600. Others could read it until now: check who had access.`, { file, mode: `0${mode.toString(8)}` });
  }
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Where a node listens for the changes other nodes announce (H2): PostgreSQL's connection and the
 * schema that names the channels; null on SQLite, which is a cluster of one.
 */
export interface NotificationTarget {
  readonly connectionString: string;
  readonly schema: string;
}

/** A Store as the composition root opens it: with what its notification listener needs. */
export interface OpenedStore extends Store {
  readonly notifications: NotificationTarget | null;
}

export async function openStore(options: OpenStoreOptions): Promise<OpenedStore> {
  const target = parseDatabaseUrl(options.url);
  if (target.dialect === 'sqlite') {
    if (target.path !== ':memory:') makeDatabaseFilePrivate(target.path, options.onWarning ?? (() => undefined));
    const database = new BetterSqlite3(target.path);
    try {
      database.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
      database.pragma('journal_mode = WAL');
      database.pragma('synchronous = NORMAL');
      database.pragma('foreign_keys = ON');
    } catch (error) {
      database.close();
      throw error;
    }
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(database) }) });
    return migrated(db, sqliteDialect, null, target.path === ':memory:' ? null : target.path);
  }

  const schema = options.schema;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new Error(`"${schema}" is not a usable schema name: use lower-case letters, digits and underscores.`);
  }
  const pool = new pg.Pool({ ...postgresConnection(target.connectionString, schema), max: options.poolSize ?? 10 });
  pool.on('error', (error) => options.onPoolError?.(error));
  let resolved: string;
  try {
    resolved = schema ?? (await pool.query<{ schema: string | null }>('select current_schema() as schema')).rows[0]?.schema ?? '';
    if (resolved === '') throw new Error('The PostgreSQL search_path names no existing schema; pass a schema.');
  } catch (error) {
    await pool.end();
    throw error;
  }
  const db = new Kysely<Database>({ dialect: new OwnSchemaPostgresDialect({ pool }, resolved) });
  try {
    return await migrated(db, postgresDialect, { connectionString: postgresConnection(target.connectionString, undefined).connectionString, schema: resolved }, null);
  } catch (error) {
    await db.destroy();
    throw error;
  }
}

/**
 * The connection string and the server options of each connection. pg lets an `options` parameter
 * of the URL replace the `options` it is given, so the URL's are taken out and merged:
 * - jit=off: certfleet's queries are short OLTP ones, for which PostgreSQL's JIT compilation
 *   (set off by the large row estimates of per-certificate counts) costs more than it saves;
 * - then the URL's own options (e.g. a search_path: tests hand servers such URLs);
 * - then search_path for the `schema` option. The schema need not exist yet: PostgreSQL resolves
 *   search_path at each lookup, and the migrator creates the schema before the first table.
 */
function postgresConnection(connectionString: string, schema: string | undefined): { connectionString: string; options: string } {
  let fromUrl: string | null = null;
  if (/[?&]options=/.test(connectionString)) {
    const url = new URL(connectionString);
    fromUrl = url.searchParams.get('options');
    url.searchParams.delete('options');
    connectionString = url.toString();
  }
  const options = ['-c jit=off', fromUrl, schema === undefined ? null : `-c search_path=${schema}`];
  return { connectionString, options: options.filter((o) => o !== null && o !== '').join(' ') };
}

async function migrated(
  db: Kysely<Database>,
  dialect: SqlDialect,
  notifications: NotificationTarget | null,
  sqliteFile: string | null,
): Promise<OpenedStore> {
  try {
    await migrateToLatest(db, dialect, notifications?.schema);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return new SqlStore(db, dialect, notifications, sqliteFile);
}

function reposOn(db: Kysely<Database>, dialect: SqlDialect, notifications: NotificationTarget | null, sqliteFile: string | null): Repos {
  return {
    keystore: new CertificateStore(db, dialect, notifications && channelName(notifications.schema, KEYSTORE_CHANNEL)),
    devices: new DeviceStore(db, dialect),
    enrollment: new EnrollmentStore(db),
    compatibility: new CompatibilityStore(db),
    rotation: new RotationStore(db, dialect),
    users: new UserStore(db, dialect),
    tokens: new TokenStore(db),
    audit: new AuditStore(db),
    meta: new MetaStore(db),
    cluster: new ClusterStore(db),
    leases: new LeaseStore(db, dialect),
    backups: new BackupStore(db, dialect, sqliteFile),
    lifecycle: new LifecycleStore(db),
  };
}

class SqlStore implements OpenedStore {
  readonly dialect: DialectName;
  readonly keystore: Repos['keystore'];
  readonly devices: Repos['devices'];
  readonly enrollment: Repos['enrollment'];
  readonly compatibility: Repos['compatibility'];
  readonly rotation: Repos['rotation'];
  readonly users: Repos['users'];
  readonly tokens: Repos['tokens'];
  readonly audit: Repos['audit'];
  readonly meta: Repos['meta'];
  readonly cluster: Repos['cluster'];
  readonly leases: Repos['leases'];
  readonly backups: Repos['backups'];
  readonly lifecycle: Repos['lifecycle'];
  private closing: Promise<void> | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly sqlDialect: SqlDialect,
    readonly notifications: NotificationTarget | null,
    private readonly sqliteFile: string | null,
  ) {
    this.dialect = sqlDialect.name;
    const repos = reposOn(db, sqlDialect, notifications, sqliteFile);
    this.keystore = repos.keystore;
    this.devices = repos.devices;
    this.enrollment = repos.enrollment;
    this.compatibility = repos.compatibility;
    this.rotation = repos.rotation;
    this.users = repos.users;
    this.tokens = repos.tokens;
    this.audit = repos.audit;
    this.meta = repos.meta;
    this.cluster = repos.cluster;
    this.leases = repos.leases;
    this.backups = repos.backups;
    this.lifecycle = repos.lifecycle;
  }

  transaction<T>(fn: (tx: Repos) => Promise<T>): Promise<T> {
    return this.sqlDialect.transaction(this.db, (trx) => fn(reposOn(trx, this.sqlDialect, this.notifications, this.sqliteFile)));
  }

  /** Closes the connections; calling it again waits for the first close. */
  close(): Promise<void> {
    this.closing ??= this.db.destroy();
    return this.closing;
  }
}
