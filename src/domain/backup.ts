/**
 * What a backup is (SPEC B1) and what a restore does to the devices (B2): the format's identity and
 * versions, which tables it holds and how a restore treats each, the header every backup starts
 * with, and the comparison of the backup's keystore with the running one. Pure: the file itself is
 * written and read in crypto/backup-file.ts, the rows in storage/backup-store.ts.
 *
 * The plaintext of a backup (before gzip and age) is JSON lines:
 *
 *   {"format":"certfleet-backup","formatVersion":2,…header…}
 *   {"table":"certificates","columns":["id","alias",…]}      a section: the columns of its rows
 *   ["b1c…","tckey",…]                                         one row per line, in column order
 *   …                                                          more sections, in backupTablesOf(formatVersion) order
 *   {"end":true,"rows":N,"sha256":"…"}                         SHA-256 of every byte before this line
 */
import { CertfleetError, ErrorCode } from './errors.js';
import { SuccessionState, type Succession } from './lifecycle.js';

export const BACKUP_FORMAT = 'certfleet-backup';
/** Raised when the layout changes; every older version this build knows still restores. */
export const BACKUP_FORMAT_VERSION = 2;

/**
 * The tables a backup holds, in the order they are written and restored (a table comes after the
 * ones its rows reference). The node's own state — master key check, cluster identity, node
 * registry, leases, the keystore revision and the rotation target — is not part of it: it belongs
 * to the installation a backup is restored into.
 */
export const BACKUP_TABLES = [
  'certificates',
  'users',
  'api_tokens',
  'enrollment_tokens',
  'compatibility_rules',
  'devices',
  'rotation_runs',
  'audit_log',
  'lifecycle_settings',
  'lifecycle_successions',
  'lifecycle_events',
] as const;
export type BackupTable = (typeof BACKUP_TABLES)[number];

/** Format version 1 held these; version 2 added the lifecycle's three (settings, successions, events). */
const FORMAT_1_TABLES: readonly BackupTable[] = BACKUP_TABLES.slice(0, BACKUP_TABLES.indexOf('audit_log') + 1);

/**
 * The tables a backup of this format version holds, in file order: those its header counts and its
 * file must contain, and those its restore replaces. A restore leaves every other table as it is.
 */
export function backupTablesOf(formatVersion: number): readonly BackupTable[] {
  return formatVersion === 1 ? FORMAT_1_TABLES : BACKUP_TABLES;
}

/**
 * Tables of history: a restore keeps what happened since the backup was made (appended after the
 * backup's rows) instead of forgetting it. Every other table is replaced by the backup's rows.
 */
export const HISTORY_TABLES: readonly BackupTable[] = ['rotation_runs', 'audit_log', 'lifecycle_events'];

/** An open succession a restore ends: one of its certificates is not in the restored keystore. */
export interface EndedSuccession {
  readonly succession: Succession;
  readonly missing: readonly ('predecessor' | 'successor')[];
}

/**
 * After a restore (any format version), the open successions (not yet `deleted`) whose predecessor
 * or successor certificate is not in the keystore any more: the lifecycle could not take them on,
 * so the restore closes them (state `deleted`, event `ended`). Closed successions stay as history.
 */
export function successionsEndedByRestore(open: readonly Succession[], certificateIds: ReadonlySet<string>): EndedSuccession[] {
  return open
    .filter((s) => s.state !== SuccessionState.deleted)
    .map((s) => ({
      succession: s,
      missing: [
        ...(certificateIds.has(s.predecessorId) ? [] : (['predecessor'] as const)),
        ...(certificateIds.has(s.successorId) ? [] : (['successor'] as const)),
      ],
    }))
    .filter((e) => e.missing.length > 0);
}

/**
 * In a backup a certificate's private key is its PKCS#8 DER (base64), protected by the backup's
 * encryption; in the database it is sealed under the node's master key. This column replaces
 * `sealed_key` in the backup, so that it restores under any master key.
 */
export const PRIVATE_KEY_COLUMN = 'private_key_pkcs8';

/** Columns holding bytes (base64 in the file). */
export const BINARY_COLUMNS: Readonly<Partial<Record<BackupTable, readonly string[]>>> = {
  certificates: ['cert_der', PRIVATE_KEY_COLUMN],
};

/** Rows per table, for the tables of the backup's format version (`backupTablesOf`). */
export type BackupCounts = Readonly<Partial<Record<BackupTable, number>>>;

/** What `backup inspect` shows of each certificate, and what the restore report compares. */
export interface BackupCertificate {
  readonly alias: string;
  readonly position: number;
  readonly isDefault: boolean;
  readonly active: boolean;
  readonly sha256Fingerprint: string;
}

export interface BackupHeader {
  readonly format: typeof BACKUP_FORMAT;
  readonly formatVersion: number;
  readonly createdAt: string;
  readonly serverVersion: string;
  /** The name of the newest migration of the database it was made from. */
  readonly schemaVersion: string;
  readonly counts: BackupCounts;
  readonly certificates: readonly BackupCertificate[];
}

/** A backup that is truncated, altered or malformed. */
export function backupCorrupt(why: string): CertfleetError {
  return new CertfleetError(ErrorCode.backup_corrupt, `The backup is damaged: ${why}. Nothing was changed.`, { why });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The header of a decrypted backup, checked: another product's file, a newer format and a newer
 * schema are refused with their own codes. `knownMigrations` are this build's, oldest first.
 */
export function parseBackupHeader(value: unknown, knownMigrations: readonly string[]): BackupHeader {
  if (!isRecord(value) || value.format !== BACKUP_FORMAT) {
    throw new CertfleetError(ErrorCode.backup_not_a_backup, 'The file decrypts, but it is not a certfleet backup. Nothing was changed.');
  }
  const version = value.formatVersion;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) throw backupCorrupt('its format version is missing');
  if (version > BACKUP_FORMAT_VERSION) {
    throw new CertfleetError(
      ErrorCode.backup_format_too_new,
      `The backup has format version ${version}; this certfleet reads up to version ${BACKUP_FORMAT_VERSION}. Restore it with the version that made it (${String(value.serverVersion)}) or a newer one. Nothing was changed.`,
      { formatVersion: version, supported: BACKUP_FORMAT_VERSION },
    );
  }
  const schema = value.schemaVersion;
  if (typeof schema !== 'string') throw backupCorrupt('its schema version is missing');
  if (!knownMigrations.includes(schema)) {
    throw new CertfleetError(
      ErrorCode.backup_schema_too_new,
      `The backup was made from a database at schema "${schema}", which this certfleet does not know (its newest is "${knownMigrations.at(-1) ?? ''}"). Restore it with a newer certfleet. Nothing was changed.`,
      { schemaVersion: schema },
    );
  }
  if (typeof value.createdAt !== 'string' || Number.isNaN(Date.parse(value.createdAt))) throw backupCorrupt('its creation time is missing');
  if (typeof value.serverVersion !== 'string') throw backupCorrupt('its server version is missing');
  const counts = value.counts;
  const tables = backupTablesOf(version);
  if (!isRecord(counts) || !tables.every((t) => Number.isSafeInteger(counts[t]) && (counts[t] as number) >= 0)) {
    throw backupCorrupt('its row counts are missing');
  }
  const certificates = value.certificates;
  if (!Array.isArray(certificates) || !certificates.every(isBackupCertificate)) throw backupCorrupt('its certificate list is missing');
  return {
    format: BACKUP_FORMAT,
    formatVersion: version,
    createdAt: value.createdAt,
    serverVersion: value.serverVersion,
    schemaVersion: schema,
    // Checked just above: every table has a non-negative safe integer.
    counts: Object.fromEntries(tables.map((t) => [t, counts[t] as number])),
    certificates,
  };
}

function isBackupCertificate(v: unknown): v is BackupCertificate {
  return (
    isRecord(v) &&
    typeof v.alias === 'string' &&
    typeof v.position === 'number' &&
    typeof v.isDefault === 'boolean' &&
    typeof v.active === 'boolean' &&
    typeof v.sha256Fingerprint === 'string'
  );
}

/** Why a device must register again after a restore (devices.re_registration_reason). */
export const ReRegistrationReason = {
  /** The certificate it pins now is not in the restored keystore: its TLS handshake would fail. */
  pinnedCertificateNotRestored: 'pinned_certificate_not_restored',
  /** It registered after the backup was made: the restored state does not know its credential. */
  registeredAfterBackup: 'registered_after_backup',
} as const;
export type ReRegistrationReason = (typeof ReRegistrationReason)[keyof typeof ReRegistrationReason];
export const RE_REGISTRATION_REASONS: readonly ReRegistrationReason[] = Object.values(ReRegistrationReason);

/** A certificate in use now, as the restore compares it. */
export interface KeystoreCertificate {
  readonly id: string;
  readonly alias: string;
  readonly position: number;
  readonly active: boolean;
  readonly sha256Fingerprint: string;
}

/** A current certificate kept by `--keep-current-certificates`: below the restored ones, active. */
export interface KeptCertificate {
  readonly id: string;
  /** Its alias, or a free one when the backup has another certificate under its alias. */
  readonly alias: string;
  readonly position: number;
}

/**
 * Which current certificates a restore with `--keep-current-certificates` keeps, and where: those
 * the backup does not have (by fingerprint), in their current order, below the restored ones,
 * active. An alias the backup already uses gets a numbered `-kept` suffix.
 */
export function keptCertificates(backup: readonly BackupCertificate[], current: readonly KeystoreCertificate[]): KeptCertificate[] {
  const inBackup = new Set(backup.map((c) => c.sha256Fingerprint));
  const taken = new Set(backup.map((c) => c.alias.toLowerCase()));
  let position = backup.reduce((max, c) => Math.max(max, c.position), 0);
  const kept: KeptCertificate[] = [];
  for (const c of [...current].sort((a, b) => a.position - b.position)) {
    if (inBackup.has(c.sha256Fingerprint)) continue;
    let alias = c.alias;
    for (let n = 1; taken.has(alias.toLowerCase()); n++) alias = `${c.alias}-kept${n === 1 ? '' : `-${n}`}`;
    taken.add(alias.toLowerCase());
    kept.push({ id: c.id, alias, position: ++position });
  }
  return kept;
}

export interface CertificateComparison {
  /** The keystore after the restore, in order. */
  readonly restored: readonly BackupCertificate[];
  /** The keystore now, in order. */
  readonly current: readonly BackupCertificate[];
  readonly onlyInBackup: readonly BackupCertificate[];
  readonly onlyCurrent: readonly BackupCertificate[];
}

/** A keystore as a backup's header lists it: in order, the top entry the default. */
export function keystoreView(entries: readonly Omit<BackupCertificate, 'isDefault'>[]): BackupCertificate[] {
  return [...entries]
    .sort((a, b) => a.position - b.position)
    .map((c, i) => ({ alias: c.alias, position: c.position, isDefault: i === 0, active: c.active, sha256Fingerprint: c.sha256Fingerprint }));
}

/** B2: the backup's certificates against those in use, and the keystore the restore makes. */
export function compareCertificates(
  backup: readonly BackupCertificate[],
  current: readonly KeystoreCertificate[],
  keepCurrent: boolean,
): CertificateComparison {
  const byPosition = (a: { position: number }, b: { position: number }) => a.position - b.position;
  const currentView = keystoreView(current);
  const backupFps = new Set(backup.map((c) => c.sha256Fingerprint));
  const currentFps = new Set(current.map((c) => c.sha256Fingerprint));
  const kept = keepCurrent ? keptCertificates(backup, current) : [];
  const restored = [
    ...[...backup].sort(byPosition),
    ...kept.map((k) => {
      const c = current.find((x) => x.id === k.id) as KeystoreCertificate; // kept entries come from `current`
      return { alias: k.alias, position: k.position, isDefault: false, active: true, sha256Fingerprint: c.sha256Fingerprint };
    }),
  ];
  return {
    restored,
    current: currentView,
    onlyInBackup: [...backup].sort(byPosition).filter((c) => !currentFps.has(c.sha256Fingerprint)),
    onlyCurrent: currentView.filter((c) => !backupFps.has(c.sha256Fingerprint)),
  };
}
