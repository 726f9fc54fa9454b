/**
 * What the use cases need from the outside world, declared here where they are used.
 * `storage/` implements the Store for SQLite and PostgreSQL; `main/` wires concrete classes.
 */
import type { CertificateFacts } from '../domain/certificate.js';
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
  usage(id: string): Promise<CertificateUsage>;
  /** Raises the keystore revision by one (every change does); other nodes compare it to learn of changes. */
  bumpRevision(at: string): Promise<number>;
  revision(): Promise<number>;
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
  readonly certificateId: string;
  readonly certificateAlias: string;
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
  readonly certificateId: string;
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

export interface DeviceRepo {
  insert(device: NewDevice): Promise<void>;
  /** Devices that pin the certificate or have it as a pending replacement (K10). */
  listByCertificate(certificateId: string, query: DeviceQuery): Promise<Page<DeviceRecord>>;
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
