/**
 * The tables as Kysely sees them, shared by every repository. Column conventions (the same on
 * SQLite and PostgreSQL, so that a backup moves between them unchanged):
 *
 * - Timestamps are ISO-8601 UTC text in one canonical form, `YYYY-MM-DDTHH:mm:ss.sssZ`
 *   (`Date#toISOString`), written through `timestamp()` in columns.ts. That form sorts and
 *   compares as text exactly as the instants do, which `expires_at > now` and `ORDER BY` rely on.
 * - Booleans are integers 0/1 with a CHECK constraint (SQLite has no boolean type).
 * - Binary data is `blob` on SQLite and `bytea` on PostgreSQL; both arrive as a Buffer.
 * - Lists and free-form objects are JSON text.
 * - PostgreSQL returns `bigint` (identity ids) and COUNT as strings: `Int` covers both, and
 *   `toInt()` turns them into numbers.
 *
 * The migrations in migrations/ are the truth; this file describes the schema after the latest one.
 * Rows as read are `Selectable<…Table>` (the `…Row` types below); the stores derive the shapes of
 * their queries from them instead of declaring columns again.
 */
import type { Generated, Selectable } from 'kysely';

/** An integer column that PostgreSQL may hand back as a string (int8). */
export type Int = number | string;

/** 0 or 1. */
export type IntBoolean = number;

export interface CertificatesTable {
  id: string;
  alias: string;
  position: number;
  active: IntBoolean;
  cert_der: Buffer;
  /** The caller's sealed (encrypted) PKCS#8 key, stored exactly as given. */
  sealed_key: Buffer;
  subject: string;
  issuer: string;
  serial_number: string;
  not_before: string;
  not_after: string;
  signature_algorithm: string;
  signature_algorithm_oid: string;
  key_algorithm: string;
  key_size: number;
  curve: string | null;
  sha1_fingerprint: string;
  sha256_fingerprint: string;
  source: string;
  created_at: string;
}

/** One row (id = 1): the keystore's revision, raised by every keystore change. */
export interface KeystoreStateTable {
  id: number;
  revision: number;
  updated_at: string;
}

export interface DevicesTable {
  id: string;
  unit_id: string;
  name: string;
  os_family: string;
  os_version: string;
  profile: string | null;
  /** JSON array of Java signature algorithm names, or null when the device declared none. */
  declared_algorithms: string | null;
  /** What the device pins. Its pending replacement is derived from the rotation target (pending.ts). */
  certificate_id: string;
  /** SHA-256 (hex) of the device credential; unique. */
  credential_hash: string;
  registered_at: string;
  last_contact_at: string | null;
  /** Bit mask of the supported algorithms over the allow-list (domain/compatibility.ts). */
  supported_mask: number;
  /** Null, or why the device must register again after a restore (domain/backup.ts). */
  re_registration_reason: string | null;
}

/**
 * Devices per certificate × supported mask, split over stripes whose sum is the count; kept by
 * triggers on devices (0008), never written by the stores.
 */
export interface DeviceCountsTable {
  certificate_id: string;
  supported_mask: number;
  stripe: number;
  /** May be negative in one stripe (PostgreSQL); only the sum over stripes is a count. */
  n: Int;
}

export interface EnrollmentTokensTable {
  id: string;
  /** SHA-256 (hex) of the token text; unique. */
  token_hash: string;
  uses_allowed: number;
  uses_left: number;
  expires_at: string;
  unit_id: string | null;
  created_by: string;
  created_at: string;
  revoked_at: string | null;
}

/** R2, in match order. */
export interface CompatibilityRulesTable {
  position: number;
  profile: string;
  os_family: string;
  max_version: string | null;
  /** JSON array of Java signature algorithm names. */
  algorithms: string;
}

/** One row (id = 1): what the last rotation pass planned (storage/pending.ts). */
export interface RotationStateTable {
  id: number;
  target_certificate_id: string | null;
  target_bit: number;
  planned_at: string | null;
  /** 0007: the legacy-fallback move (pending.ts). */
  fallback_from_id: string | null;
  fallback_to_id: string | null;
  fallback_bit: Generated<number>;
}

export interface RotationRunsTable {
  id: Generated<Int>;
  actor: string;
  default_alias: string;
  checked: number;
  scheduled: number;
  incompatible: number;
  already_current: number;
  awaiting_confirmation: number;
  started_at: string;
  finished_at: string;
}

export interface UsersTable {
  id: string;
  username: string;
  role: string;
  password_hash: string;
  created_at: string;
}

export interface ApiTokensTable {
  id: string;
  user_id: string;
  name: string;
  token_hash: string;
  created_at: string;
  expires_at: string;
  last_used_at: string | null;
}

export interface AuditLogTable {
  id: Generated<Int>;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  result: string;
  code: string | null;
  /** JSON object. */
  details: string;
}

export interface MetaTable {
  key: string;
  value: string;
}

/** One row (singleton = 1): the cluster and its current network token (H3). */
export interface ClusterTable {
  singleton: number;
  id: string;
  created_at: string;
  signing_public_key: Buffer;
  signing_private_key_sealed: Buffer;
  token_location: string | null;
  token_serial: number;
  token_digest: string;
  token_created_at: string;
  token_signature: string;
}

/** A node's registry entry, refreshed by its heartbeat (H1). */
export interface ClusterNodesTable {
  id: string;
  name: string;
  api_address: string;
  device_address: string;
  version: string;
  started_at: string;
  last_heartbeat_at: string;
  served_revision: number;
  token_written_serial: number | null;
  token_write_error: string | null;
}

/** Leases by name; `rotation` is the reconciler's (H4). */
export interface ClusterLeaseTable {
  name: string;
  holder: string | null;
  epoch: Int;
  expires_at: string | null;
}

/** Each backup the server wrote (0005). */
export interface BackupRunsTable {
  id: Generated<Int>;
  trigger: string;
  node_id: string | null;
  file: string | null;
  started_at: string;
  finished_at: string;
  size_bytes: number | null;
  result: string;
  error: string | null;
  /** JSON object: rows per table. */
  counts: string;
}

/** The lifecycle's settings, one row (0007). */
export interface LifecycleSettingsTable {
  id: number;
  enabled: IntBoolean;
  renew_before_days: number;
  window: string;
  retire_after_days: number;
  updated_at: string | null;
  updated_by: string | null;
}

/** One predecessor → successor (0007). */
export interface LifecycleSuccessionsTable {
  id: string;
  role: string;
  predecessor_id: string;
  predecessor_alias: string;
  successor_id: string;
  successor_alias: string;
  state: string;
  created_at: string;
  promoted_at: string | null;
  deactivated_at: string | null;
  deleted_at: string | null;
}

/** Every lifecycle step (0007). */
export interface LifecycleEventsTable {
  id: Generated<Int>;
  at: string;
  step: string;
  alias: string;
  succession_id: string | null;
  /** JSON object. */
  details: string;
}

export interface Database {
  certificates: CertificatesTable;
  keystore_state: KeystoreStateTable;
  devices: DevicesTable;
  device_counts: DeviceCountsTable;
  enrollment_tokens: EnrollmentTokensTable;
  compatibility_rules: CompatibilityRulesTable;
  rotation_state: RotationStateTable;
  rotation_runs: RotationRunsTable;
  lifecycle_settings: LifecycleSettingsTable;
  lifecycle_successions: LifecycleSuccessionsTable;
  lifecycle_events: LifecycleEventsTable;
  users: UsersTable;
  api_tokens: ApiTokensTable;
  audit_log: AuditLogTable;
  meta: MetaTable;
  cluster: ClusterTable;
  cluster_nodes: ClusterNodesTable;
  cluster_lease: ClusterLeaseTable;
  backup_runs: BackupRunsTable;
}


export type CertificateRow = Selectable<CertificatesTable>;
export type DeviceRow = Selectable<DevicesTable>;
export type UserRow = Selectable<UsersTable>;
export type ApiTokenRow = Selectable<ApiTokensTable>;
