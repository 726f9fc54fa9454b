/**
 * What the use cases need from the outside world, declared here where they are used.
 * `storage/` implements the Store for SQLite and PostgreSQL; `main/` wires concrete classes.
 */
import type { CertificateFacts } from '../domain/certificate.js';
import type { CompatibilityRule, FirmwareCohort } from '../domain/compatibility.js';
import type { CertificateUsage, KeystoreSlot } from '../domain/keystore.js';
import type { Role } from '../domain/roles.js';

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** How a keystore entry came to be. */
export const CertificateSource = { firstStart: 'first-start', generated: 'generated', imported: 'imported' } as const;
export type CertificateSource = (typeof CertificateSource)[keyof typeof CertificateSource];

/** A keystore entry as stored, without its key material. */
export interface StoredCertificate extends KeystoreSlot {
  readonly facts: CertificateFacts;
  readonly source: CertificateSource;
  readonly createdAt: string;
  readonly usage: CertificateUsage;
}

export interface NewCertificate extends KeystoreSlot {
  readonly facts: CertificateFacts;
  readonly source: CertificateSource;
  readonly createdAt: string;
  readonly certDer: Buffer;
  /** The PKCS#8 private key sealed by the KeySealer (AES-256-GCM); never the plain key. */
  readonly sealedKey: Buffer;
}

export interface KeyMaterial {
  readonly id: string;
  readonly certDer: Buffer;
  readonly sealedKey: Buffer;
}

export interface KeystoreRepo {
  /**
   * Takes the keystore lock until the transaction ends, so that keystore changes on every node of
   * a cluster happen one after the other; returns the current revision.
   */
  lock(): Promise<number>;
  /** All entries in priority order (position 1 first), with their usage counts. */
  list(): Promise<StoredCertificate[]>;
  findByAlias(alias: string): Promise<StoredCertificate | null>;
  findBySha256(sha256Fingerprint: string): Promise<StoredCertificate | null>;
  insert(entry: NewCertificate): Promise<void>;
  /** Writes position and active flag of each given slot. */
  updateSlots(slots: readonly KeystoreSlot[]): Promise<void>;
  remove(id: string): Promise<void>;
  keyMaterial(alias: string): Promise<KeyMaterial | null>;
  /** Every entry's certificate and sealed key, in priority order (the device channel's view). */
  allKeyMaterial(): Promise<KeyMaterial[]>;
  /**
   * Every entry in priority order with what devices need (no usage counts, no key): cheap enough
   * to read on each registration, whatever the size of the fleet.
   */
  deviceEntries(): Promise<DeviceEntry[]>;
  usage(id: string): Promise<CertificateUsage>;
  /** Raises the keystore revision by one (every change does); other nodes compare it to learn of changes. */
  bumpRevision(at: string): Promise<number>;
  revision(): Promise<number>;
}

/** A keystore entry as devices see it: what selection (R1) and the device answers need. */
export interface DeviceEntry extends KeystoreSlot {
  readonly signatureAlgorithm: string;
  /** Upper-case hex with colons, as keytool prints it. */
  readonly sha256Fingerprint: string;
  readonly certDer: Buffer;
}

export interface DeviceRecord {
  readonly id: string;
  readonly unitId: string;
  readonly name: string;
  readonly osFamily: string;
  readonly osVersion: string;
  readonly profile: string | null;
  /** Signature algorithms the device declared itself; null when it relies on the compatibility table. */
  readonly declaredAlgorithms: readonly string[] | null;
  /** What the device supports (its declaration, else the compatibility table), in allow-list order. */
  readonly supportedAlgorithms: readonly string[];
  readonly certificateId: string;
  readonly certificateAlias: string;
  /** The pending replacement: explicit, or the rotation target (storage/pending.ts). */
  readonly pendingCertificateId: string | null;
  readonly pendingCertificateAlias: string | null;
  readonly registeredAt: string;
  readonly lastContactAt: string | null;
}

export interface NewDevice {
  readonly id: string;
  readonly unitId: string;
  readonly name: string;
  readonly osFamily: string;
  readonly osVersion: string;
  readonly profile: string | null;
  readonly declaredAlgorithms: readonly string[] | null;
  /**
   * Bit mask of the supported algorithms over the allow-list (`algorithmMask`). Absent: the mask
   * of the declared algorithms, else every algorithm (a device of unknown firmware, as
   * `supportedAlgorithms` treats it). Registration always gives it.
   */
  readonly supportedMask?: number;
  readonly certificateId: string;
  /** SHA-256 (hex) of the device credential; the credential itself is never stored. */
  readonly credentialHash: string;
  readonly registeredAt: string;
}

export interface Page<T> {
  readonly count: number;
  readonly items: readonly T[];
}

export interface DeviceQuery {
  /** Case-insensitive substring of id, unit id or name. */
  readonly search?: string;
  readonly offset: number;
  readonly limit: number;
}

export interface DeviceListQuery extends DeviceQuery {
  /** Only devices that pin this certificate or have it as a pending replacement (K10). */
  readonly certificateId?: string;
}

/** A device's certificate state after a check-in (one statement; see DeviceRepo.recordContact). */
export interface DeviceCertificateState {
  readonly certificateId: string;
  /** The pending replacement (explicit or through the rotation target). */
  readonly pendingCertificateId: string | null;
  readonly osFamily: string;
  readonly osVersion: string;
  readonly declaredAlgorithms: readonly string[] | null;
  readonly supportedMask: number;
}

export interface DeviceContact {
  readonly at: string;
  /** The OS version the device reports now; absent: unchanged. */
  readonly osVersion?: string;
  /**
   * The keystore entry the device pinned on this connection, if known. The record follows it
   * (rotation.ts, `outcomeOfPin`): it becomes the current certificate, and a pending replacement
   * equal to it is confirmed (an explicit one is cleared; one through the target ends by itself,
   * as the device now pins the target).
   */
  readonly pinnedCertificateId: string | null;
}

/** OS family and version of devices that rely on the compatibility table (no declaration). */
export interface Firmware {
  readonly osFamily: string;
  readonly osVersion: string;
}

export interface DeviceRepo {
  /** Ids and credentials are random, so a unique violation here is a bug and is thrown as it is. */
  insert(device: NewDevice): Promise<void>;
  /** Devices that pin the certificate or have it as a pending replacement (K10). */
  listByCertificate(certificateId: string, query: DeviceQuery): Promise<Page<DeviceRecord>>;
  /** Every device (or those of one certificate), by name, searchable, paged. */
  list(query: DeviceListQuery): Promise<Page<DeviceRecord>>;
  findById(id: string): Promise<DeviceRecord | null>;
  /** The id of the device whose credential has this hash (unique index). */
  findIdByCredentialHash(credentialHash: string): Promise<string | null>;
  /** Returns whether a device was removed. */
  remove(id: string): Promise<boolean>;
  /**
   * A check-in in one statement: last contact, OS version, and the pin the device presented.
   * Returns the state afterwards, or null when the device does not exist (any more).
   */
  recordContact(id: string, contact: DeviceContact): Promise<DeviceCertificateState | null>;
  /** Writes one device's supported mask (its firmware changed what it supports). */
  setSupportedMask(id: string, mask: number): Promise<void>;
  /** The distinct OS family/version pairs of devices without declared algorithms. */
  firmwareWithoutDeclaration(): Promise<Firmware[]>;
  /**
   * Sets the supported mask of every device without declared algorithms whose firmware is listed,
   * set-based (one statement per chunk of firmware); returns how many devices changed.
   */
  setMaskOfFirmware(mask: number, firmware: readonly Firmware[]): Promise<number>;
  /**
   * The fleet counted by firmware (OS family, version, profile, declared or not, mask) and pinned
   * certificate: one grouped read, for previewing a compatibility table edit.
   */
  firmwareCohorts(): Promise<FirmwareCohort[]>;
}

/** An enrollment token as stored: never its text, only the SHA-256 of it. */
export interface StoredEnrollmentToken {
  readonly id: string;
  readonly usesAllowed: number;
  readonly usesLeft: number;
  readonly expiresAt: string;
  /** The unit id (MAC address) the token is bound to; null: any device. */
  readonly unitId: string | null;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly revokedAt: string | null;
}

export interface EnrollmentTokenRepo {
  create(token: StoredEnrollmentToken & { readonly tokenHash: string }): Promise<void>;
  /** Newest first. */
  list(): Promise<StoredEnrollmentToken[]>;
  /** The id of the token if `consume` would take a use now; writes nothing and locks nothing. */
  findUsable(tokenHash: string, unitId: string, now: string): Promise<string | null>;
  /**
   * Takes one use of the token, atomically (one conditional UPDATE, race-free on both databases):
   * only if it has a use left, is not revoked, has not expired at `now`, and is unbound or bound to
   * `unitId`. Returns the token's id, or null when it cannot be used. Inside a transaction that
   * rolls back, the use is given back.
   */
  consume(tokenHash: string, unitId: string, now: string): Promise<string | null>;
  /** Returns false when there is no such token; revoking a revoked token keeps the first time. */
  revoke(id: string, at: string): Promise<boolean>;
}

export interface CompatibilityRepo {
  /** The rules in match order. */
  list(): Promise<CompatibilityRule[]>;
  /** Replaces the whole table, keeping the given order. */
  replaceAll(rules: readonly CompatibilityRule[]): Promise<void>;
}

/**
 * What the last rotation pass planned (R3): its default, and the bit of that certificate's
 * algorithm in the supported masks. A device's pending replacement is derived from it
 * (storage/pending.ts): the target, when the device does not pin it and can use it.
 */
export interface RotationTarget {
  readonly certificateId: string | null;
  readonly algorithmBit: number;
  readonly plannedAt: string | null;
}

/**
 * Devices alike for the rotation: the same certificate, mask and pending replacement. A fleet has a
 * handful of cohorts whatever its size, so the rotation decides per cohort, not per device.
 */
export interface DeviceCohort {
  readonly certificateId: string;
  readonly supportedMask: number;
  /** The pending replacement (explicit or through the target). */
  readonly pendingCertificateId: string | null;
  readonly count: number;
}

export interface ProfileCohort extends DeviceCohort {
  /** The device's firmware profile; null when it reported none. */
  readonly profile: string | null;
}

/** What one rotation pass reported (R3). */
export interface RotationRun {
  readonly defaultAlias: string;
  readonly checked: number;
  readonly scheduled: number;
  readonly incompatible: number;
  readonly alreadyCurrent: number;
  readonly awaitingConfirmation: number;
  readonly startedAt: string;
  readonly finishedAt: string;
}

export interface RotationRepo {
  /** The current target; `forUpdate` holds it (PostgreSQL row lock) until the transaction ends. */
  target(forUpdate?: boolean): Promise<RotationTarget>;
  /**
   * R3 planning, set-based: makes `certificateId` the target, so that every device that does not pin
   * it and whose mask has `algorithmBit` has it pending (one row written, whatever the fleet's size),
   * and drops explicit pending replacements, which the target now decides. Returns how many
   * explicit ones were dropped.
   */
  setTarget(certificateId: string, algorithmBit: number, at: string): Promise<{ readonly dropped: number }>;
  /** The fleet grouped by certificate, mask and pending replacement (read from one index). */
  cohorts(): Promise<DeviceCohort[]>;
  /** The same, per firmware profile. */
  cohortsByProfile(): Promise<ProfileCohort[]>;
  /** Keeps the report (and a bounded history of earlier ones). */
  recordRun(run: RotationRun, actor: string): Promise<void>;
  lastRun(): Promise<RotationRun | null>;
}

export interface UserRecord {
  readonly id: string;
  readonly username: string;
  readonly role: Role;
  readonly createdAt: string;
}

export interface NewUser extends UserRecord {
  readonly passwordHash: string;
}

export interface UserRepo {
  create(user: NewUser): Promise<void>;
  findByUsername(username: string): Promise<(UserRecord & { readonly passwordHash: string }) | null>;
  list(): Promise<UserRecord[]>;
  /** Also removes the user's API tokens. */
  remove(id: string): Promise<void>;
  countByRole(role: Role): Promise<number>;
  count(): Promise<number>;
}

export interface TokenRecord {
  readonly id: string;
  readonly userId: string;
  readonly name: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly lastUsedAt: string | null;
}

export interface TokenRepo {
  create(token: TokenRecord & { readonly tokenHash: string }): Promise<void>;
  /** The token with this hash and its user, if it has not expired at `now`. */
  findValid(tokenHash: string, now: string): Promise<{ token: TokenRecord; user: UserRecord } | null>;
  touch(id: string, at: string): Promise<void>;
  remove(id: string): Promise<void>;
  listForUser(userId: string): Promise<TokenRecord[]>;
}

/** `ok` changed something; `refused` was turned down with an error code; `failed` broke on an unexpected error. */
export const AuditResult = { ok: 'ok', refused: 'refused', failed: 'failed' } as const;
export type AuditResult = (typeof AuditResult)[keyof typeof AuditResult];

export interface NewAuditEvent {
  readonly at: string;
  /** Username, or `system` for the server's own changes, or `anonymous`. */
  readonly actor: string;
  readonly action: string;
  readonly target: string | null;
  readonly result: AuditResult;
  /** The error code of a refusal. */
  readonly code: string | null;
  readonly details: Readonly<Record<string, unknown>>;
}

export interface AuditEvent extends NewAuditEvent {
  readonly id: number;
}

export interface AuditRepo {
  append(event: NewAuditEvent): Promise<void>;
  /** Newest first; `beforeId` pages back. */
  list(query: { readonly limit: number; readonly beforeId?: number }): Promise<AuditEvent[]>;
}

/** Small facts about the installation (the master key check value, the cluster id …). */
export interface MetaRepo {
  get(key: string): Promise<string | null>;
  put(key: string, value: string): Promise<void>;
}

export interface Repos {
  readonly keystore: KeystoreRepo;
  readonly devices: DeviceRepo;
  readonly enrollment: EnrollmentTokenRepo;
  readonly compatibility: CompatibilityRepo;
  readonly rotation: RotationRepo;
  readonly users: UserRepo;
  readonly tokens: TokenRepo;
  readonly audit: AuditRepo;
  readonly meta: MetaRepo;
}

export interface Store extends Repos {
  readonly dialect: 'sqlite' | 'postgres';
  /** Runs `fn` in one transaction: everything it writes lands together or not at all. */
  transaction<T>(fn: (tx: Repos) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
