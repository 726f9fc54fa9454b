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
import type { AuditEvent, DeviceRecord, Page, StoredCertificate, TokenRecord, UserRecord } from '../../app/ports.js';

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
  readonly certificateAlias: string;
  readonly pendingCertificateAlias: string | null;
  readonly registeredAt: string;
  readonly lastContactAt: string | null;
}

export function presentDevice(d: DeviceRecord): DeviceSummary {
  return {
    id: d.id,
    unitId: d.unitId,
    name: d.name,
    osFamily: d.osFamily,
    osVersion: d.osVersion,
    profile: d.profile,
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
