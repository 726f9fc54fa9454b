/**
 * Plain records that several use cases and the stores share: what a keystore entry, a device, an
 * account, a token and an audit event look like once stored. The interfaces through which they
 * are read and written are declared by the use case that needs them (certificates.ts,
 * device-check-in.ts, accounts.ts …) and put together in store.ts.
 */
import type { CertificateFacts } from '../domain/certificate.js';
import type { CertificateUsage, KeystoreSlot } from '../domain/keystore.js';
import type { Role } from '../domain/roles.js';
import type { AuditResult, CertificateSource } from '../domain/vocabularies.js';


/** A keystore entry as stored, without its key material. */
export interface StoredCertificate extends KeystoreSlot {
  readonly facts: CertificateFacts;
  readonly source: CertificateSource;
  readonly createdAt: string;
  readonly usage: CertificateUsage;
}

export interface KeyMaterial {
  readonly id: string;
  readonly certDer: Buffer;
  readonly sealedKey: Buffer;
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
  /** The pending replacement: the rotation target, when the device can use it (storage/pending.ts). */
  readonly pendingCertificateId: string | null;
  readonly pendingCertificateAlias: string | null;
  readonly registeredAt: string;
  readonly lastContactAt: string | null;
  /** Why it must register again after a restore (domain/backup.ts), or null: it talks normally. */
  readonly reRegistrationReason: string | null;
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
  /** Only devices that must (true) or need not (false) register again after a restore (B2). */
  readonly reRegistrationRequired?: boolean;
}

/** OS family and version of devices that rely on the compatibility table (no declaration). */
export interface Firmware {
  readonly osFamily: string;
  readonly osVersion: string;
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

/**
 * Devices alike for the rotation: the same certificate, mask and pending replacement. A fleet has a
 * handful of cohorts whatever its size, so the rotation decides per cohort, not per device.
 */
export interface DeviceCohort {
  readonly certificateId: string;
  readonly supportedMask: number;
  /** The pending replacement (the rotation target, storage/pending.ts). */
  readonly pendingCertificateId: string | null;
  readonly count: number;
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

export interface UserRecord {
  readonly id: string;
  readonly username: string;
  readonly role: Role;
  readonly createdAt: string;
}

export interface TokenRecord {
  readonly id: string;
  readonly userId: string;
  readonly name: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly lastUsedAt: string | null;
}


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
