/**
 * Backup and restore (SPEC B1, B2).
 *
 * Create: one consistent snapshot, read a page at a time and written as it is read, so that a
 * million devices take bounded memory. The private keys are unsealed from this node's master key
 * and travel inside the backup's own encryption, so the backup restores under any master key.
 *
 * Restore, in two passes over the file:
 *
 *   1. check   decrypt and read it all, with no transaction open: passphrase, format, schema,
 *              checksum, row counts, every private key against its certificate. A bad file
 *              stops here and nothing has been written.
 *   2. apply   one transaction: stage what the devices pin now, replace the tables of the
 *              backup's format version (domain `backupTablesOf`) with its rows, keep the current
 *              certificates if asked, reconcile the devices and mark those that must register
 *              again, end the lifecycle successions whose certificates are gone, new keystore
 *              revision and network token, audit. A dry run computes exactly the same report and
 *              rolls back.
 */
import { createPrivateKey } from 'node:crypto';
import type { Writable } from 'node:stream';
import {
  BACKUP_FORMAT,
  BACKUP_FORMAT_VERSION,
  BACKUP_TABLES,
  backupCorrupt,
  backupTablesOf,
  compareCertificates,
  keystoreView,
  keptCertificates,
  PRIVATE_KEY_COLUMN,
  type BackupCertificate,
  type BackupCounts,
  type BackupHeader,
  type BackupTable,
  type CertificateComparison,
  type KeptCertificate,
} from '../domain/backup.js';
import { CertfleetError, ErrorCode } from '../domain/errors.js';
import { Permission } from '../domain/roles.js';
import { BackupFileWriter, BackupPassphrase, readBackupFile, type BackupEnd, type BackupItem } from '../crypto/backup-file.js';
import { privateKeyMatchesCertificate } from '../crypto/key-match.js';
import { issueNetworkToken } from './cluster.js';
import { auditedChange, authorize, type Actor, type AppContext } from './context.js';
import { settleSuccessionsAfterRestore } from './lifecycle.js';
import { RotationTrigger } from './rotation.js';

/** A consistent view of the database, read a page at a time. */
export interface BackupSnapshot {
  count(table: BackupTable): Promise<number>;
  /** Up to `limit` rows after the key `after`, in key order, as values in `columns(table)` order. */
  page(table: BackupTable, after: string | number | null, limit: number): Promise<{ rows: unknown[][]; last: string | number | null }>;
}

export interface FlaggedDevice {
  readonly id: string;
  readonly name: string;
  readonly unitId: string;
  readonly reason: string;
}

export interface RestoreSummary {
  readonly reRegistrationRequired: number;
  /** The first of them by name (storage/backup-store.ts MAX_LISTED). */
  readonly devices: readonly FlaggedDevice[];
}

export const BackupTriggerKind = { manual: 'manual', scheduled: 'scheduled' } as const;
export type BackupTriggerKind = (typeof BackupTriggerKind)[keyof typeof BackupTriggerKind];

export interface NewBackupRun {
  readonly trigger: BackupTriggerKind;
  readonly nodeId: string | null;
  readonly file: string | null;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly sizeBytes: number | null;
  readonly result: 'ok' | 'failed';
  readonly error: string | null;
  readonly counts: Readonly<Record<string, number>>;
}

export interface BackupRun extends Omit<NewBackupRun, 'trigger' | 'result'> {
  readonly id: number;
  readonly trigger: string;
  readonly result: string;
}

export interface BackupRepo {
  /** The columns of each table, in the order a snapshot page gives them. */
  columns(table: BackupTable): readonly string[];
  readSnapshot<T>(fn: (s: BackupSnapshot) => Promise<T>): Promise<T>;
  /** Restore step: copies what the reconciliation needs of the current state. */
  stageCurrent(o: { readonly backupCreatedAt: string; readonly kept: readonly KeptCertificate[]; readonly tables: readonly BackupTable[] }): Promise<void>;
  /** Restore step: empties the tables the backup holds (`tables`, domain `backupTablesOf`). */
  clear(tables: readonly BackupTable[]): Promise<void>;
  insertRows(table: BackupTable, columns: readonly string[], rows: readonly (readonly unknown[])[]): Promise<void>;
  /** Restore step: kept certificates, devices reconciled and marked, history since the backup. */
  finishRestore(tables: readonly BackupTable[]): Promise<RestoreSummary>;
  recordRun(run: NewBackupRun): Promise<void>;
  listRuns(limit: number): Promise<BackupRun[]>;
}

/** Rows per snapshot page. */
const PAGE_ROWS = 2000;

export interface BackupProgress {
  readonly rows: number;
  readonly totalRows: number;
  readonly bytes: number;
}

export interface CreateBackupOptions {
  readonly passphrase: string;
  readonly serverVersion: string;
  /** The newest migration this build knows (the schema of the database it reads). */
  readonly schemaVersion: string;
  readonly scryptLogN?: number;
  readonly onProgress?: (p: BackupProgress) => void;
  /** Recorded in the backup runs (backup list). */
  readonly trigger: BackupTriggerKind;
  readonly nodeId: string | null;
  readonly file: string | null;
}

export interface BackupSummary {
  readonly createdAt: string;
  readonly counts: BackupCounts;
  readonly bytes: number;
  readonly sha256: string;
}

function toBackupCertificates(rows: readonly unknown[][], columns: readonly string[]): BackupCertificate[] {
  const at = (name: string) => columns.indexOf(name);
  return keystoreView(
    rows.map((r) => ({
      alias: String(r[at('alias')]),
      position: Number(r[at('position')]),
      active: Number(r[at('active')]) === 1,
      sha256Fingerprint: String(r[at('sha256_fingerprint')]),
    })),
  );
}

/** The rows of every table a backup holds, in one snapshot. */
async function countRows(snap: BackupSnapshot): Promise<BackupCounts> {
  return Object.fromEntries(await Promise.all(BACKUP_TABLES.map(async (t) => [t, await snap.count(t)] as const))) as BackupCounts; // one entry per BACKUP_TABLES name
}

function totalOf(counts: Partial<BackupCounts>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/** B1: writes the whole state to `out`, encrypted under the passphrase. Admin only; audited. */
export async function createBackup(ctx: AppContext, actor: Actor, out: Writable, o: CreateBackupOptions): Promise<BackupSummary> {
  const startedAt = ctx.clock.now().toISOString();
  const record = (r: Pick<NewBackupRun, 'result' | 'error' | 'sizeBytes' | 'counts'>) =>
    ctx.store.backups
      .recordRun({ ...r, trigger: o.trigger, nodeId: o.nodeId, file: o.file, startedAt, finishedAt: ctx.clock.now().toISOString() })
      .catch(() => undefined); // the run's record is a convenience; the backup's own result stands
  let writer: BackupFileWriter | null = null;
  try {
    const summary = await auditedChange(ctx, actor, 'backup.create', o.file, async (audit) => {
      authorize(actor, Permission.backup);
      const w = BackupFileWriter.open(out, { passphrase: o.passphrase, ...(o.scryptLogN !== undefined ? { scryptLogN: o.scryptLogN } : {}) });
      writer = w;
      const result = await ctx.store.backups.readSnapshot(async (snap) => {
        const counts = await countRows(snap);
        const totalRows = totalOf(counts);
        const certColumns = ctx.store.backups.columns('certificates');
        const certRows = (await snap.page('certificates', null, Number.MAX_SAFE_INTEGER)).rows;
        await w.header({
          format: BACKUP_FORMAT,
          formatVersion: BACKUP_FORMAT_VERSION,
          createdAt: startedAt,
          serverVersion: o.serverVersion,
          schemaVersion: o.schemaVersion,
          counts,
          certificates: toBackupCertificates(certRows, certColumns),
        });
        for (const table of BACKUP_TABLES) {
          const columns = ctx.store.backups.columns(table);
          if (table === 'certificates') {
            await w.section(table, certificateColumnsOut(columns));
            await w.rows(certRows.map((r) => certificateRowOut(ctx, columns, r)));
            continue;
          }
          await w.section(table, columns);
          for (let after: string | number | null = null; ; ) {
            const page = await snap.page(table, after, PAGE_ROWS);
            await w.rows(page.rows);
            o.onProgress?.({ rows: w.rowsWritten, totalRows, bytes: w.bytesWritten });
            if (page.rows.length < PAGE_ROWS) break;
            after = page.last;
          }
        }
        return { counts, ...(await w.finish()) };
      });
      o.onProgress?.({ rows: result.rows, totalRows: result.rows, bytes: result.bytes });
      const summary: BackupSummary = { createdAt: startedAt, counts: result.counts, bytes: result.bytes, sha256: result.sha256 };
      await audit.ok(ctx.store, { counts: result.counts, bytes: result.bytes, trigger: o.trigger });
      return summary;
    });
    await record({ result: 'ok', error: null, sizeBytes: summary.bytes, counts: summary.counts });
    return summary;
  } catch (e) {
    (writer as BackupFileWriter | null)?.abort(e instanceof Error ? e : new Error(String(e))); // assigned inside the callback
    await record({ result: 'failed', error: e instanceof Error ? e.message : String(e), sizeBytes: null, counts: {} });
    throw e;
  }
}

function certificateColumnsOut(columns: readonly string[]): string[] {
  return columns.map((c) => (c === 'sealed_key' ? PRIVATE_KEY_COLUMN : c));
}

/** A certificate row as the backup holds it: bytes as base64, the key unsealed (PKCS#8). */
function certificateRowOut(ctx: AppContext, columns: readonly string[], row: readonly unknown[]): unknown[] {
  const id = String(row[columns.indexOf('id')]);
  return columns.map((c, i) => {
    const v = row[i];
    if (c === 'sealed_key') return ctx.sealer.open(v as Buffer, id).toString('base64'); // binary column
    if (c === 'cert_der') return (v as Buffer).toString('base64'); // binary column
    return v;
  });
}

/** Seals a PKCS#8 key for the certificate with this id (KeySealing.seal). */
type Seal = (pkcs8: Buffer, id: string) => Buffer;

/** A certificate row as the database takes it: the key checked against the certificate, then sealed here. */
function certificateRowIn(seal: Seal, columns: readonly string[], row: readonly unknown[]): unknown[] {
  const at = (name: string) => columns.indexOf(name);
  const id = row[at('id')];
  const der = row[at('cert_der')];
  const key = row[at(PRIVATE_KEY_COLUMN)];
  if (typeof id !== 'string' || typeof der !== 'string' || typeof key !== 'string') throw backupCorrupt('a certificate has no key');
  const certDer = Buffer.from(der, 'base64');
  const pkcs8 = Buffer.from(key, 'base64');
  let matches = false;
  try {
    matches = privateKeyMatchesCertificate(certDer, createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }));
  } catch {
    matches = false;
  }
  if (!matches) throw backupCorrupt(`the private key of the certificate "${String(row[at('alias')])}" does not belong to it`);
  return columns.map((c, i) => {
    if (c === PRIVATE_KEY_COLUMN) return seal(pkcs8, id);
    if (c === 'cert_der') return certDer;
    return row[i];
  });
}

function certificateColumnsIn(columns: readonly string[]): string[] {
  return columns.map((c) => (c === PRIVATE_KEY_COLUMN ? 'sealed_key' : c));
}

/** Opens the backup file once more (each pass reads it from the start). */
export type BackupOpener = () => AsyncIterable<Buffer>;

export interface InspectedBackup {
  readonly header: BackupHeader;
  readonly end: BackupEnd;
}

/**
 * Reads a whole backup and checks it (pass 1): every certificate's key against its certificate,
 * each table's rows against the header's count, the checksum at the end. Needs no server.
 */
export async function inspectBackup(
  open: BackupOpener,
  passphrase: string | BackupPassphrase,
  knownMigrations: readonly string[],
): Promise<InspectedBackup> {
  const reader = readBackupFile(open(), passphrase, knownMigrations);
  let header: BackupHeader | null = null;
  const seen: Partial<Record<BackupTable, number>> = {};
  let columns: readonly string[] = [];
  for (;;) {
    const next = await reader.next();
    if (next.done) {
      if (header === null) throw backupCorrupt('it has no header');
      const h: BackupHeader = header;
      for (const t of backupTablesOf(h.formatVersion)) {
        if ((seen[t] ?? 0) !== h.counts[t]) throw backupCorrupt(`it holds ${seen[t] ?? 0} rows of ${t}, its header says ${h.counts[t]}`);
      }
      return { header: h, end: next.value };
    }
    const item: BackupItem = next.value;
    if (item.kind === 'header') header = item.header;
    else if (item.kind === 'section') {
      columns = item.columns;
      seen[item.table] = 0;
    } else {
      seen[item.table] = (seen[item.table] ?? 0) + item.rows.length;
      if (item.table === 'certificates') {
        // Pass 1 only checks each key against its certificate; sealing is pass 2's.
        for (const r of item.rows) certificateRowIn((pkcs8) => pkcs8, columns, r);
      }
    }
  }
}

export interface RestoreOptions {
  readonly passphrase: string;
  readonly dryRun: boolean;
  readonly keepCurrentCertificates: boolean;
  readonly knownMigrations: readonly string[];
  readonly file: string | null;
  /** Told when the file has been checked and the one transaction that applies it begins. */
  readonly onApplying?: () => void;
}

export interface RestoreReport {
  readonly dryRun: boolean;
  readonly backup: Pick<BackupHeader, 'createdAt' | 'serverVersion' | 'schemaVersion' | 'formatVersion' | 'counts'>;
  readonly certificates: CertificateComparison;
  readonly reRegistrationRequired: RestoreSummary;
}

/** Thrown inside a dry run's transaction so that it rolls back, carrying the report out. */
class DryRunDone extends Error {
  constructor(readonly summary: RestoreSummary) {
    super('dry run');
  }
}

/** B2. Admin only; audited (also the dry run, which changes nothing). */
export async function restoreBackup(ctx: AppContext, actor: Actor, open: BackupOpener, o: RestoreOptions): Promise<RestoreReport> {
  return auditedChange(ctx, actor, o.dryRun ? 'backup.restore-dry-run' : 'backup.restore', o.file, async (audit) => {
    authorize(actor, Permission.backup);
    // One key derivation for both passes (see BackupPassphrase).
    const passphrase = new BackupPassphrase(o.passphrase);
    const { header } = await inspectBackup(open, passphrase, o.knownMigrations);
    const current = (await ctx.store.keystore.list()).map((c) => ({
      id: c.id,
      alias: c.alias,
      position: c.position,
      active: c.active,
      sha256Fingerprint: c.facts.sha256Fingerprint,
    }));
    const kept = o.keepCurrentCertificates ? keptCertificates(header.certificates, current) : [];
    const certificates = compareCertificates(header.certificates, current, o.keepCurrentCertificates);
    const backup = {
      createdAt: header.createdAt,
      serverVersion: header.serverVersion,
      schemaVersion: header.schemaVersion,
      formatVersion: header.formatVersion,
      counts: header.counts,
    };
    let summary: RestoreSummary;
    o.onApplying?.();
    try {
      summary = await ctx.store.transaction(async (tx) => {
        await tx.keystore.lock();
        const tables = backupTablesOf(header.formatVersion);
        await tx.backups.stageCurrent({ backupCreatedAt: header.createdAt, kept, tables });
        await tx.backups.clear(tables);
        const reader = readBackupFile(open(), passphrase, o.knownMigrations);
        let columns: readonly string[] = [];
        for (;;) {
          const next = await reader.next();
          if (next.done) break;
          const item = next.value;
          if (item.kind === 'section') columns = item.columns;
          else if (item.kind === 'rows') {
            if (item.table === 'certificates') {
              await tx.backups.insertRows('certificates', certificateColumnsIn(columns), item.rows.map((r) => certificateRowIn((k, id) => ctx.sealer.seal(k, id), columns, r)));
            } else {
              await tx.backups.insertRows(item.table, columns, item.rows);
            }
          }
        }
        const result = await tx.backups.finishRestore(tables);
        const successionsEnded = await settleSuccessionsAfterRestore(ctx, tx, actor);
        if (o.dryRun) throw new DryRunDone(result);
        const at = ctx.clock.now().toISOString();
        await tx.keystore.bumpRevision(at);
        await issueNetworkToken(ctx, tx);
        await audit.ok(tx, {
          createdAt: header.createdAt,
          counts: header.counts,
          keepCurrentCertificates: o.keepCurrentCertificates,
          reRegistrationRequired: result.reRegistrationRequired,
          successionsEnded,
        });
        return result;
      });
    } catch (e) {
      if (!(e instanceof DryRunDone)) throw e;
      await audit.ok(ctx.store, { dryRun: true, createdAt: header.createdAt, reRegistrationRequired: e.summary.reRegistrationRequired });
      return { dryRun: true, backup, certificates, reRegistrationRequired: e.summary };
    }
    ctx.compatibilityRules.invalidate();
    ctx.onKeystoreChanged({ revision: await ctx.store.keystore.revision(), defaultChanged: true });
    ctx.rotation.trigger(RotationTrigger.defaultChanged);
    return { dryRun: false, backup, certificates, reRegistrationRequired: summary };
  });
}

/** Bytes per row a backup takes when no earlier one says (gzip of JSON lines, measured at a million devices). */
const DEFAULT_BYTES_PER_ROW = 160;

/**
 * What the next backup will take, for a progress bar: the rows now, at the size per row of the last
 * backup that succeeded (the file is encrypted, so nobody can count its rows on the way).
 */
export async function estimateBackupBytes(ctx: AppContext): Promise<number> {
  const [rows, runs] = await Promise.all([ctx.store.backups.readSnapshot(async (snap) => totalOf(await countRows(snap))), ctx.store.backups.listRuns(20)]);
  const last = runs.find((r) => r.result === 'ok' && r.sizeBytes !== null);
  const lastRows = last ? totalOf(last.counts) : 0;
  const perRow = last && lastRows > 0 && last.sizeBytes !== null ? last.sizeBytes / lastRows : DEFAULT_BYTES_PER_ROW;
  return Math.round(rows * perRow + 2048);
}

export async function listBackupRuns(ctx: AppContext, actor: Actor, limit: number): Promise<BackupRun[]> {
  authorize(actor, Permission.read);
  return ctx.store.backups.listRuns(limit);
}

export function refuseConcurrentBackup(): CertfleetError {
  return new CertfleetError(ErrorCode.backup_in_progress, 'A backup or restore is already running on this node; try again when it has finished.');
}
