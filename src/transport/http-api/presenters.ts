/**
 * Everything that leaves the server through the REST API, field by field. Nothing here spreads a
 * stored object: a field that is not written out below (a private key, a password or token hash, a
 * device credential) cannot reach a client by accident.
 */
import { daysUntilExpiry } from '../../domain/certificate.js';
import { Permission, roleAllows, type Role } from '../../domain/roles.js';
import type { Actor } from '../../app/context.js';
import type { IssuedToken } from '../../app/accounts.js';
import type { CertificateContent } from '../../crypto/index.js';
import type { AuditEvent, DeviceRecord, Page, StoredCertificate, TokenRecord, UserRecord } from '../../app/records.js';
import type { EnrollmentTokenRecord } from '../../app/enrollment.js';
import type { DefaultPreview, RotationReport, RotationStatus } from '../../app/rotation.js';
import type { CompatibilityRule } from '../../domain/compatibility.js';

export interface CertificateSummary {
  readonly alias: string;
  readonly position: number;
  readonly isDefault: boolean;
  readonly active: boolean;
  readonly signatureAlgorithm: string;
  readonly keyAlgorithm: string;
  readonly keySize: number;
  readonly curve: string | null;
  readonly subject: string;
  readonly issuer: string;
  readonly serialNumber: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly sha1Fingerprint: string;
  readonly sha256Fingerprint: string;
  readonly deviceCount: number;
  readonly pendingDeviceCount: number;
  readonly daysUntilExpiry: number;
  readonly source: string;
  readonly createdAt: string;
}

export function presentCertificate(c: StoredCertificate, now: Date): CertificateSummary {
  const f = c.facts;
  return {
    alias: c.alias,
    position: c.position,
    isDefault: c.position === 1,
    active: c.active,
    signatureAlgorithm: f.signatureAlgorithm,
    keyAlgorithm: f.keyAlgorithm,
    keySize: f.keySize,
    curve: f.curve,
    subject: f.subject,
    issuer: f.issuer,
    serialNumber: f.serialNumber,
    notBefore: f.notBefore,
    notAfter: f.notAfter,
    sha1Fingerprint: f.sha1Fingerprint,
    sha256Fingerprint: f.sha256Fingerprint,
    deviceCount: c.usage.pinned,
    pendingDeviceCount: c.usage.pending,
    daysUntilExpiry: daysUntilExpiry(f.notAfter, now),
    source: c.source,
    createdAt: c.createdAt,
  };
}

export function presentCertificates(list: readonly StoredCertificate[], now: Date): CertificateSummary[] {
  return list.map((c) => presentCertificate(c, now));
}

export interface DeviceSummary {
  readonly id: string;
  readonly unitId: string;
  readonly name: string;
  readonly osFamily: string;
  readonly osVersion: string;
  readonly profile: string | null;
  readonly supportedAlgorithms: readonly string[];
  readonly certificateAlias: string;
  readonly pendingCertificateAlias: string | null;
  readonly registeredAt: string;
  readonly lastContactAt: string | null;
}

/** A device without its credential hash (which DeviceRecord does not even carry). */
export function presentDevice(d: DeviceRecord): DeviceSummary {
  return {
    id: d.id,
    unitId: d.unitId,
    name: d.name,
    osFamily: d.osFamily,
    osVersion: d.osVersion,
    profile: d.profile,
    supportedAlgorithms: [...d.supportedAlgorithms],
    certificateAlias: d.certificateAlias,
    pendingCertificateAlias: d.pendingCertificateAlias,
    registeredAt: d.registeredAt,
    lastContactAt: d.lastContactAt,
  };
}

export function presentDevicePage(page: Page<DeviceRecord>): { readonly count: number; readonly devices: DeviceSummary[] } {
  return { count: page.count, devices: page.items.map(presentDevice) };
}

export interface AuditEventView {
  readonly id: number;
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly target: string | null;
  readonly result: string;
  readonly code: string | null;
  readonly details: Readonly<Record<string, unknown>>;
}

/** Audit details are written by the use cases and never hold secrets (context.ts). */
export function presentAuditEvent(e: AuditEvent): AuditEventView {
  return { id: e.id, at: e.at, actor: e.actor, action: e.action, target: e.target, result: e.result, code: e.code, details: e.details };
}

export interface UserView {
  readonly username: string;
  readonly role: Role;
  readonly createdAt: string;
}

export function presentUser(u: UserRecord): UserView {
  return { username: u.username, role: u.role, createdAt: u.createdAt };
}

export interface TokenView {
  readonly id: string;
  readonly name: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly lastUsedAt: string | null;
}

export function presentToken(t: TokenRecord): TokenView {
  return { id: t.id, name: t.name, createdAt: t.createdAt, expiresAt: t.expiresAt, lastUsedAt: t.lastUsedAt };
}

/** The one moment a token is shown: right after it was made. */
export function presentIssuedToken(issued: IssuedToken): { readonly id: string; readonly token: string; readonly name: string; readonly expiresAt: string } {
  return { id: issued.record.id, token: issued.token, name: issued.record.name, expiresAt: issued.record.expiresAt };
}

export function presentLogin(issued: IssuedToken & { readonly user: UserRecord }): {
  readonly token: string;
  readonly expiresAt: string;
  readonly user: { readonly username: string; readonly role: Role };
} {
  return { token: issued.token, expiresAt: issued.record.expiresAt, user: { username: issued.user.username, role: issued.user.role } };
}

export function presentMe(actor: Actor): { readonly username: string; readonly role: Role; readonly permissions: Permission[] } {
  return {
    username: actor.username,
    role: actor.role,
    permissions: Object.values(Permission).filter((p) => roleAllows(actor.role, p)),
  };
}

/** K9: the certificate's own content, which is public by nature; the fields are still named one by one. */
export function presentCertificateContent(c: CertificateContent): CertificateContent {
  return {
    version: c.version,
    serialNumber: c.serialNumber,
    signatureAlgorithm: c.signatureAlgorithm,
    issuer: c.issuer,
    subject: c.subject,
    validity: c.validity,
    publicKey: c.publicKey,
    extensions: c.extensions,
    fingerprints: c.fingerprints,
    pem: c.pem,
  };
}

export interface EnrollmentTokenView {
  readonly id: string;
  readonly usesAllowed: number;
  readonly usesLeft: number;
  readonly expiresAt: string;
  readonly unitId: string | null;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly revokedAt: string | null;
  readonly state: EnrollmentTokenRecord['state'];
}

/** An enrollment token as listed: the record only; the token text exists nowhere but in the creation answer. */
export function presentEnrollmentToken(t: EnrollmentTokenRecord): EnrollmentTokenView {
  return {
    id: t.id,
    usesAllowed: t.usesAllowed,
    usesLeft: t.usesLeft,
    expiresAt: t.expiresAt,
    unitId: t.unitId,
    createdBy: t.createdBy,
    createdAt: t.createdAt,
    revokedAt: t.revokedAt,
    state: t.state,
  };
}

/** The one moment an enrollment token is shown: right after it was made. */
export function presentIssuedEnrollmentToken(issued: { readonly token: string; readonly record: EnrollmentTokenRecord }): EnrollmentTokenView & { readonly token: string } {
  const { id, ...rest } = presentEnrollmentToken(issued.record);
  return { id, token: issued.token, ...rest };
}

export function presentCompatibilityRules(rules: readonly CompatibilityRule[]): { readonly rules: CompatibilityRule[] } {
  return {
    rules: rules.map((r) => ({ profile: r.profile, osFamily: r.osFamily, maxVersion: r.maxVersion, algorithms: [...r.algorithms] })),
  };
}

export function presentRotationReport(r: RotationReport): RotationReport {
  return {
    defaultAlias: r.defaultAlias,
    checked: r.checked,
    scheduled: r.scheduled,
    incompatible: r.incompatible,
    alreadyCurrent: r.alreadyCurrent,
    awaitingConfirmation: r.awaitingConfirmation,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
  };
}

export function presentRotationStatus(s: RotationStatus): RotationStatus {
  return {
    lastRun: s.lastRun === null ? null : presentRotationReport(s.lastRun),
    defaultAlias: s.defaultAlias,
    total: s.total,
    onDefault: s.onDefault,
    pending: s.pending,
    staying: s.staying,
  };
}

export function presentDefaultPreview(p: DefaultPreview): DefaultPreview {
  return {
    alias: p.alias,
    switching: { total: p.switching.total, byProfile: { ...p.switching.byProfile } },
    staying: { total: p.staying.total, byProfile: { ...p.staying.byProfile }, lacking: p.staying.lacking },
    alreadyCurrent: p.alreadyCurrent,
  };
}
