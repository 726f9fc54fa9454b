/**
 * The SQL of backups and restores (SPEC B1, B2).
 *
 * A backup reads one consistent snapshot, a page at a time in key order, so that a million
 * devices take bounded memory and the server goes on serving:
 * - PostgreSQL: a REPEATABLE READ, read-only transaction on a connection of its own;
 * - SQLite: a second, read-only connection on the same file, whose transaction sees the file as
 *   it was when it began (WAL) while the server's connection goes on writing.
 *
 * A restore is one transaction on the server's store (app/backup.ts drives the steps): what is
 * needed of the current state is staged in temporary tables first, then the backup's rows replace
 * the tables, then the devices are reconciled with what they pin now, all in SQL. It commits whole
 * or not at all — also when the process is killed half-way.
 */
import BetterSqlite3 from 'better-sqlite3';
import { CompiledQuery, Kysely, SqliteDialect, sql, type RawBuilder } from 'kysely';
import { HISTORY_TABLES, ReRegistrationReason, type BackupTable, type KeptCertificate } from '../domain/backup.js';
import type { BackupRepo, BackupRun, BackupSnapshot, FlaggedDevice, NewBackupRun, RestoreSummary } from '../app/backup.js';
import { parseObject, toInt, toJson } from './columns.js';
import type { SqlDialect } from './dialect.js';
import type { Database } from './schema.js';
import { countDevices } from './migrations/0008-device-counters.js';

/** Every column of each table a backup holds, in the order they are written. */
const COLUMNS = {
  certificates: [
    'id', 'alias', 'position', 'active', 'cert_der', 'sealed_key', 'subject', 'issuer', 'serial_number', 'not_before',
    'not_after', 'signature_algorithm', 'signature_algorithm_oid', 'key_algorithm', 'key_size', 'curve',
    'sha1_fingerprint', 'sha256_fingerprint', 'source', 'created_at',
  ],
  users: ['id', 'username', 'role', 'password_hash', 'created_at'],
  api_tokens: ['id', 'user_id', 'name', 'token_hash', 'created_at', 'expires_at', 'last_used_at'],
  enrollment_tokens: ['id', 'token_hash', 'uses_allowed', 'uses_left', 'expires_at', 'unit_id', 'created_by', 'created_at', 'revoked_at'],
  compatibility_rules: ['position', 'profile', 'os_family', 'max_version', 'algorithms'],
  devices: [
    'id', 'unit_id', 'name', 'os_family', 'os_version', 'profile', 'declared_algorithms', 'certificate_id',
    'credential_hash', 'registered_at', 'last_contact_at', 'supported_mask', 're_registration_reason',
  ],
  rotation_runs: [
    'id', 'actor', 'default_alias', 'checked', 'scheduled', 'incompatible', 'already_current', 'awaiting_confirmation',
    'started_at', 'finished_at',
  ],
  audit_log: ['id', 'at', 'actor', 'action', 'target', 'result', 'code', 'details'],
  lifecycle_settings: ['id', 'enabled', 'renew_before_days', 'window', 'retire_after_days', 'updated_at', 'updated_by'],
  lifecycle_successions: [
    'id', 'role', 'predecessor_id', 'predecessor_alias', 'successor_id', 'successor_alias', 'state', 'created_at',
    'promoted_at', 'deactivated_at', 'deleted_at',
  ],
  lifecycle_events: ['id', 'at', 'step', 'alias', 'succession_id', 'details'],
} as const satisfies { readonly [T in BackupTable]: readonly (keyof Database[T] & string)[] };

/** The key each table is paged by. */
const KEY: { readonly [T in BackupTable]: (typeof COLUMNS)[T][number] } = {
  certificates: 'id',
  users: 'id',
  api_tokens: 'id',
  enrollment_tokens: 'id',
  compatibility_rules: 'position',
  devices: 'id',
  rotation_runs: 'id',
  audit_log: 'id',
  lifecycle_settings: 'id',
  lifecycle_successions: 'id',
  lifecycle_events: 'id',
};

/** Tables whose key is an identity column (PostgreSQL hands int8 back as text). */
const IDENTITY_KEYED: readonly BackupTable[] = HISTORY_TABLES;

/** The time column that tells whether a history row is newer than a backup. */
const HISTORY_TIME: Readonly<Record<string, string>> = { rotation_runs: 'started_at', audit_log: 'at', lifecycle_events: 'at' };

/** The history tables among those a restore replaces (its backup's format version's). */
const historyOf = (tables: readonly BackupTable[]) => HISTORY_TABLES.filter((t) => tables.includes(t));

const PREVIOUS_DEVICES = 'restore_previous_devices';
/** SQLite: the secondary indexes a restore drops before its bulk insert and makes again after it. */
const DROPPED_INDEXES = 'restore_dropped_indexes';
const KEPT_CERTIFICATES = 'restore_kept_certificates';
const previousHistory = (table: string) => `restore_previous_${table}`;

export function backupColumns(table: BackupTable): readonly string[] {
  return COLUMNS[table];
}

const id = (name: string) => sql.id(name);
const list = (names: readonly string[], prefix?: string) =>
  sql.join(names.map((n) => (prefix ? sql.id(prefix, n) : sql.id(n))));

export class BackupStore implements BackupRepo {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: SqlDialect,
    /** SQLite: the file, for the snapshot's own connection; null for PostgreSQL or an in-memory database. */
    private readonly sqliteFile: string | null,
  ) {}

  columns(table: BackupTable): readonly string[] {
    return COLUMNS[table];
  }

  async readSnapshot<T>(fn: (s: BackupSnapshot) => Promise<T>): Promise<T> {
    if (this.dialect.name === 'postgres') {
      return this.db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute((trx) => fn(new Snapshot(trx)));
    }
    if (this.sqliteFile === null) return fn(new Snapshot(this.db));
    const connection = new BetterSqlite3(this.sqliteFile, { readonly: true, fileMustExist: true });
    const own = new Kysely<Database>({ dialect: new SqliteDialect({ database: connection }) });
    try {
      await sql`begin`.execute(own);
      // The first read fixes the snapshot; every page after it reads the same state.
      await sql`select revision from keystore_state`.execute(own);
      try {
        return await fn(new SqliteSnapshot(connection));
      } finally {
        await sql`commit`.execute(own);
      }
    } finally {
      await own.destroy();
    }
  }

  // ── restore steps, inside the restore's transaction ─────────────────────────────────────────

  async stageCurrent(o: { readonly backupCreatedAt: string; readonly kept: readonly KeptCertificate[]; readonly tables: readonly BackupTable[] }): Promise<void> {
    const onCommitDrop = this.dialect.name === 'postgres' ? sql` on commit drop` : sql``;
    const temp = (name: string, select: RawBuilder<unknown>) => sql`create temporary table ${id(name)}${onCommitDrop} as ${select}`.execute(this.db);
    await temp(
      PREVIOUS_DEVICES,
      sql`select ${list(COLUMNS.devices, 'd')}, c.sha256_fingerprint as pin_fp from devices d join certificates c on c.id = d.certificate_id`,
    );
    await sql`create index ${id(`${PREVIOUS_DEVICES}_id`)} on ${id(PREVIOUS_DEVICES)} (id)`.execute(this.db);
    for (const table of historyOf(o.tables)) {
      const time = HISTORY_TIME[table] as string; // every history table has one
      await temp(previousHistory(table), sql`select * from ${id(table)} where ${id(time)} > ${o.backupCreatedAt}`);
    }
    // The kept certificates, renamed and placed as the restore decided (domain/backup.ts).
    const keptIds = o.kept.length === 0 ? [''] : o.kept.map((k) => k.id);
    await temp(KEPT_CERTIFICATES, sql`select * from certificates where id in (${sql.join(keptIds)})`);
    for (const k of o.kept) {
      await sql`update ${id(KEPT_CERTIFICATES)} set alias = ${k.alias}, position = ${k.position}, active = 1 where id = ${k.id}`.execute(this.db);
    }
  }

  async clear(tables: readonly BackupTable[]): Promise<void> {
    // The rotation target and the lifecycle's fallback move are the node's; the restore sets the
    // move again from the successions it leaves open (app/backup.ts).
    await this.db.updateTable('rotation_state').set({ target_certificate_id: null, planned_at: null, fallback_from_id: null, fallback_to_id: null, fallback_bit: 0 }).execute();
    // Deleted children first.
    for (const table of [...tables].reverse()) await sql`delete from ${id(table)}`.execute(this.db);
    if (this.dialect.name === 'sqlite') {
      // A million rows go in faster into a table without its secondary indexes, which are then
      // built once, sorted (finishRestore), than through random-order inserts into each index;
      // and without the device counters' triggers (0008), whose counts finishRestore makes in one
      // grouped read. Inside the transaction like the rest: a rollback brings them back.
      // (PostgreSQL keeps them: there DROP INDEX would lock the table against the other nodes'
      // reads, and its counter triggers take a whole statement's rows at once.)
      await sql`create temporary table ${id(DROPPED_INDEXES)} as select type, name, sql from sqlite_master
        where type in ('index', 'trigger') and sql is not null and tbl_name in (${sql.join([...tables])})`.execute(this.db);
      const dropped = await sql<{ type: string; name: string }>`select type, name from ${id(DROPPED_INDEXES)}`.execute(this.db);
      for (const r of dropped.rows) await sql`drop ${sql.raw(r.type === 'trigger' ? 'trigger' : 'index')} ${id(r.name)}`.execute(this.db);
    }
  }

  async insertRows(table: BackupTable, columns: readonly string[], rows: readonly (readonly unknown[])[]): Promise<void> {
    if (rows.length === 0) return;
    // A column a later schema dropped is left out; one it added takes its default.
    const known = new Set<string>(COLUMNS[table]);
    const keep = columns.map((c, i) => [c, i] as const).filter(([c]) => known.has(c));
    // The statement's text is made here rather than by Kysely's compiler, which spent longer on a
    // batch's thousands of parameters than the database did inserting it.
    const params: unknown[] = [];
    const tuples: string[] = [];
    for (const r of rows) {
      const marks: string[] = [];
      for (const [, i] of keep) {
        params.push(r[i]);
        marks.push(this.dialect.name === 'postgres' ? `$${params.length}` : '?');
      }
      tuples.push(`(${marks.join(', ')})`);
    }
    const names = keep.map(([c]) => `"${c}"`).join(', '); // names from COLUMNS, not from the file
    await this.db.executeQuery(CompiledQuery.raw(`insert into "${table}" (${names}) values ${tuples.join(', ')}`, params));
  }

  async finishRestore(tables: readonly BackupTable[]): Promise<RestoreSummary> {
    const d = this.db;
    if (this.dialect.name === 'sqlite') {
      const dropped = await sql<{ sql: string }>`select sql from ${id(DROPPED_INDEXES)}`.execute(d);
      for (const r of dropped.rows) await sql.raw(r.sql).execute(d); // the schema's own definitions, as they were
    }
    await sql`insert into certificates select * from ${id(KEPT_CERTIFICATES)}`.execute(d);
    const prev = id(PREVIOUS_DEVICES);
    const same = sql`p.id = devices.id and p.credential_hash = devices.credential_hash`;
    const restoredPin = sql`select c.id from certificates c where c.sha256_fingerprint = p.pin_fp`;

    // Devices the backup knows follow what they pin now, when the restored keystore has it …
    await sql`update devices set
        certificate_id = (select c.id from ${prev} p join certificates c on c.sha256_fingerprint = p.pin_fp where ${same}),
        last_contact_at = (select p.last_contact_at from ${prev} p where ${same}),
        re_registration_reason = null
      where exists (select 1 from ${prev} p join certificates c on c.sha256_fingerprint = p.pin_fp where ${same})`.execute(d);
    // … and must register again when it does not: their handshake would fail.
    await sql`update devices set re_registration_reason = ${ReRegistrationReason.pinnedCertificateNotRestored}
      where exists (select 1 from ${prev} p where ${same}
        and not exists (select 1 from certificates c where c.sha256_fingerprint = p.pin_fp))`.execute(d);
    // Devices the backup does not know stay listed, so that they can be told to register again.
    const columns = COLUMNS.devices.filter((c) => c !== 'certificate_id' && c !== 're_registration_reason');
    await sql`insert into devices (${list(columns)}, certificate_id, re_registration_reason)
      select ${list(columns, 'p')},
        coalesce((${restoredPin}), (select c.id from certificates c order by c.position limit 1)),
        ${ReRegistrationReason.registeredAfterBackup}
      from ${prev} p
      where not exists (select 1 from devices x where x.id = p.id or x.credential_hash = p.credential_hash)`.execute(d);

    // The device counters (0008) counted again from the devices as they now are: on SQLite their
    // triggers were away during the load, and on PostgreSQL this is the same count they kept.
    await countDevices(d);

    // History since the backup, after the backup's own, in its order.
    for (const table of historyOf(tables)) {
      if (this.dialect.name === 'postgres') {
        await sql`select setval(pg_get_serial_sequence(${table}, 'id'), coalesce((select max(id) from ${id(table)}), 0) + 1, false)`.execute(d);
      }
      const cols = COLUMNS[table].filter((c) => c !== 'id');
      await sql`insert into ${id(table)} (${list(cols)}) select ${list(cols)} from ${id(previousHistory(table))} order by id`.execute(d);
    }

    const flagged = sql`from devices d join ${prev} p on p.id = d.id where d.re_registration_reason is not null`;
    const count = await sql<{ n: number | string }>`select count(*) as n ${flagged}`.execute(d);
    const devices = await sql<{ id: string; name: string; unit_id: string; re_registration_reason: string }>`
      select d.id, d.name, d.unit_id, d.re_registration_reason ${flagged} order by d.name, d.id limit ${MAX_LISTED}`.execute(d);

    if (this.dialect.name === 'sqlite') {
      for (const t of [PREVIOUS_DEVICES, KEPT_CERTIFICATES, DROPPED_INDEXES, ...historyOf(tables).map(previousHistory)]) await sql`drop table ${id(t)}`.execute(d);
    }
    return {
      reRegistrationRequired: toInt(count.rows[0]?.n),
      devices: devices.rows.map((r): FlaggedDevice => ({ id: r.id, name: r.name, unitId: r.unit_id, reason: r.re_registration_reason })),
    };
  }

  async recordRun(run: NewBackupRun): Promise<void> {
    await this.db
      .insertInto('backup_runs')
      .values({
        trigger: run.trigger,
        node_id: run.nodeId,
        file: run.file,
        started_at: run.startedAt,
        finished_at: run.finishedAt,
        size_bytes: run.sizeBytes,
        result: run.result,
        error: run.error,
        counts: toJson(run.counts),
      })
      .execute();
  }

  async listRuns(limit: number): Promise<BackupRun[]> {
    const rows = await this.db.selectFrom('backup_runs').selectAll().orderBy('id', 'desc').limit(limit).execute();
    return rows.map((r) => ({
      id: toInt(r.id),
      trigger: r.trigger,
      nodeId: r.node_id,
      file: r.file,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
      sizeBytes: r.size_bytes === null ? null : toInt(r.size_bytes),
      result: r.result,
      error: r.error,
      counts: Object.fromEntries(Object.entries(parseObject(r.counts)).map(([k, v]) => [k, toInt(typeof v === 'number' ? v : 0)])),
    }));
  }
}

/** The most flagged devices a restore report lists by name (all are counted; `device list` pages them). */
export const MAX_LISTED = 1000;

class Snapshot implements BackupSnapshot {
  constructor(private readonly db: Kysely<Database>) {}

  async count(table: BackupTable): Promise<number> {
    const r = await sql<{ n: number | string }>`select count(*) as n from ${id(table)}`.execute(this.db);
    return toInt(r.rows[0]?.n);
  }

  async page(table: BackupTable, after: string | number | null, limit: number): Promise<{ rows: unknown[][]; last: string | number | null }> {
    const key = KEY[table];
    const columns = COLUMNS[table];
    const where = after === null ? sql`` : sql`where ${id(key)} > ${after}`;
    const r = await sql<Record<string, unknown>>`select ${list(columns)} from ${id(table)} ${where} order by ${id(key)} limit ${limit}`.execute(this.db);
    const identity = IDENTITY_KEYED.includes(table);
    const rows = r.rows.map((row) => columns.map((c) => (identity && c === 'id' ? toInt(row[c] as number | string) : row[c])));
    const lastRow = r.rows.at(-1);
    const last = lastRow === undefined ? null : identity ? toInt(lastRow[key] as number | string) : (lastRow[key] as string | number);
    return { rows, last };
  }
}

/**
 * SQLite's snapshot on its own read-only connection, read through better-sqlite3 directly: rows
 * come as arrays from one prepared statement per table, without Kysely's result objects, which
 * cost more than the read itself at a million rows.
 */
class SqliteSnapshot implements BackupSnapshot {
  private readonly pages = new Map<string, BetterSqlite3.Statement>();

  constructor(private readonly connection: BetterSqlite3.Database) {}

  async count(table: BackupTable): Promise<number> {
    const row = this.connection.prepare(`select count(*) from "${table}"`).raw(true).get() as [number] | undefined; // raw: one column
    return toInt(row?.[0] ?? 0);
  }

  async page(table: BackupTable, after: string | number | null, limit: number): Promise<{ rows: unknown[][]; last: string | number | null }> {
    const key = KEY[table];
    const first = after === null;
    const name = `${table}:${first}`;
    let statement = this.pages.get(name);
    if (statement === undefined) {
      const columns = COLUMNS[table].map((c) => `"${c}"`).join(', ');
      statement = this.connection.prepare(`select ${columns} from "${table}" ${first ? '' : `where "${key}" > ?`} order by "${key}" limit ?`).raw(true);
      this.pages.set(name, statement);
    }
    const rows = (first ? statement.all(limit) : statement.all(after, limit)) as unknown[][]; // raw: arrays in COLUMNS order
    const columns: readonly string[] = COLUMNS[table];
    const lastRow = rows.at(-1);
    return { rows, last: lastRow === undefined ? null : (lastRow[columns.indexOf(key)] as string | number) }; // a key is text or an integer
  }
}
