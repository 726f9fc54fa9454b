/**
 * Everything that leaves the server through the REST API, field by field. Nothing here spreads a
 * stored object: a field that is not written out below (a private key, a password or token hash, a
 * device credential) cannot reach a client by accident. Each presenter returns the answer's type
 * from the contract (./contract), so a field the contract declares and a presenter forgets, or the
 * other way round, does not compile.
 */
import { expiryStatus } from '../../domain/expiry.js';
import { Permission, roleAllows } from '../../domain/roles.js';
import type { CompatibilityRule as StoredCompatibilityRule } from '../../domain/compatibility.js';
import type { Actor } from '../../app/context.js';
import type { IssuedToken } from '../../app/accounts.js';
import type { CertificateContent as ParsedContent, NameContent as ParsedName } from '../../crypto/index.js';
import type { AuditEvent as StoredAuditEvent, DeviceRecord, Page, StoredCertificate, TokenRecord, UserRecord } from '../../app/records.js';
import type { ClusterStatus as AppClusterStatus } from '../../app/cluster.js';
import type { EnrollmentTokenRecord } from '../../app/enrollment.js';
import type { NetworkToken } from '../../domain/network-token.js';
import type { CompatibilityPreview as AppCompatibilityPreview } from '../../app/compatibility-preview.js';
import type { DefaultPreview as Preview, RotationReport as Report, RotationStatus as Status } from '../../app/rotation.js';
import type { BackupRun, RestoreReport } from '../../app/backup.js';
import type { LifecycleStatus as AppLifecycleStatus, StoredLifecycleSettings } from '../../app/lifecycle.js';
import type {
  ApiToken,
  AuditEvent,
  BackupRunView,
  RestoreReportView,
  CertificateContent,
  CertificateSummary,
  ClusterStatus,
  CompatibilityPreview,
  CompatibilityTable,
  DefaultPreview,
  DevicePage,
  DeviceSummary,
  EnrollmentToken,
  IssuedApiToken,
  IssuedEnrollmentToken,
  LifecycleSettings,
  LifecycleStatus,
  LoginAnswer,
  Me,
  NetworkTokenAnswer,
  NameContent,
  ProfileChange,
  RotationReport,
  RotationStatus,
  User,
} from './contract/index.js';

/** When the answer is made and the warning window (L1), for the expiry fields. */
export interface ExpiryView {
  readonly now: Date;
  readonly windowDays: number;
}

export function presentCertificate(c: StoredCertificate, at: ExpiryView): CertificateSummary {
  const f = c.facts;
  const expiry = expiryStatus(f.notAfter, c.usage, at.now, at.windowDays);
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
    daysUntilExpiry: expiry.daysLeft,
    expired: expiry.expired,
    expiryWarning: expiry.expiryWarning,
    source: c.source,
    createdAt: c.createdAt,
  };
}

export function presentCertificates(list: readonly StoredCertificate[], at: ExpiryView): CertificateSummary[] {
  return list.map((c) => presentCertificate(c, at));
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
    reRegistrationRequired: d.reRegistrationReason !== null,
    reRegistrationReason: d.reRegistrationReason,
  };
}

export function presentDevicePage(page: Page<DeviceRecord>): DevicePage {
  return { count: page.count, devices: page.items.map(presentDevice) };
}

/** Audit details are written by the use cases and never hold secrets (context.ts). */
export function presentAuditEvent(e: StoredAuditEvent): AuditEvent {
  return { id: e.id, at: e.at, actor: e.actor, action: e.action, target: e.target, result: e.result, code: e.code, details: e.details };
}

export function presentUser(u: UserRecord): User {
  return { username: u.username, role: u.role, createdAt: u.createdAt };
}

export function presentToken(t: TokenRecord): ApiToken {
  return { id: t.id, name: t.name, createdAt: t.createdAt, expiresAt: t.expiresAt, lastUsedAt: t.lastUsedAt };
}

/** The one moment a token is shown: right after it was made. */
export function presentIssuedToken(issued: IssuedToken): IssuedApiToken {
  return { id: issued.record.id, token: issued.token, name: issued.record.name, expiresAt: issued.record.expiresAt };
}

export function presentLogin(issued: IssuedToken & { readonly user: UserRecord }): LoginAnswer {
  return { token: issued.token, expiresAt: issued.record.expiresAt, user: { username: issued.user.username, role: issued.user.role } };
}

export function presentMe(actor: Actor): Me {
  return {
    username: actor.username,
    role: actor.role,
    permissions: Object.values(Permission).filter((p) => roleAllows(actor.role, p)),
  };
}

function presentName(n: ParsedName): NameContent {
  return { name: n.name, rdns: n.rdns.map((rdn) => rdn.map((a) => ({ type: a.type, value: a.value }))) };
}

/** K9: the certificate's own content, which is public by nature; the fields are still named one by one. */
export function presentCertificateContent(c: ParsedContent): CertificateContent {
  return {
    version: c.version,
    serialNumber: c.serialNumber,
    signatureAlgorithm: { name: c.signatureAlgorithm.name, oid: c.signatureAlgorithm.oid },
    issuer: presentName(c.issuer),
    subject: presentName(c.subject),
    validity: { notBefore: c.validity.notBefore, notAfter: c.validity.notAfter },
    publicKey: {
      algorithm: c.publicKey.algorithm,
      oid: c.publicKey.oid,
      size: c.publicKey.size,
      curve: c.publicKey.curve,
      exponent: c.publicKey.exponent,
      sha256: c.publicKey.sha256,
    },
    extensions: c.extensions.map((e) => ({ oid: e.oid, name: e.name, critical: e.critical, value: e.value })),
    fingerprints: { sha1: c.fingerprints.sha1, sha256: c.fingerprints.sha256 },
    pem: c.pem,
  };
}

/** An enrollment token as listed: the record only; the token text exists nowhere but in the creation answer. */
export function presentEnrollmentToken(t: EnrollmentTokenRecord): EnrollmentToken {
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
export function presentIssuedEnrollmentToken(issued: {
  readonly token: string;
  readonly record: EnrollmentTokenRecord;
  readonly expectedFingerprints: readonly string[];
}): IssuedEnrollmentToken {
  const { id, ...rest } = presentEnrollmentToken(issued.record);
  return { id, token: issued.token, ...rest, expectedFingerprints: [...issued.expectedFingerprints] };
}

export function presentCompatibilityRules(rules: readonly StoredCompatibilityRule[]): CompatibilityTable {
  return {
    rules: rules.map((r) => ({ profile: r.profile, osFamily: r.osFamily, maxVersion: r.maxVersion, algorithms: [...r.algorithms] })),
  };
}

export function presentRotationReport(r: Report): RotationReport {
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

export function presentRotationStatus(s: Status): RotationStatus {
  return {
    lastRun: s.lastRun === null ? null : presentRotationReport(s.lastRun),
    defaultAlias: s.defaultAlias,
    total: s.total,
    onDefault: s.onDefault,
    pending: s.pending,
    staying: s.staying,
  };
}

export function presentDefaultPreview(p: Preview): DefaultPreview {
  return {
    alias: p.alias,
    switching: { total: p.switching.total, byProfile: { ...p.switching.byProfile } },
    staying: { total: p.staying.total, byProfile: { ...p.staying.byProfile }, lacking: p.staying.lacking },
    alreadyCurrent: p.alreadyCurrent,
  };
}

/** The fields of a compatibility preview that leave the server. */
export function presentCompatibilityPreview(p: AppCompatibilityPreview): CompatibilityPreview {
  const byProfile: Record<string, ProfileChange> = {};
  for (const [profile, c] of Object.entries(p.byProfile)) {
    byProfile[profile] = { newlySwitching: c.newlySwitching, noLongerSwitching: c.noLongerSwitching, unsupportedPin: c.unsupportedPin };
  }
  return {
    defaultAlias: p.defaultAlias,
    defaultAlgorithm: p.defaultAlgorithm,
    total: p.total,
    declared: p.declared,
    switching: { before: p.switching.before, after: p.switching.after },
    staying: { before: p.staying.before, after: p.staying.after },
    newlySwitching: p.newlySwitching,
    noLongerSwitching: p.noLongerSwitching,
    unsupportedPin: p.unsupportedPin,
    byProfile,
  };
}

export function presentClusterStatus(s: AppClusterStatus): ClusterStatus {
  return {
    clusterId: s.clusterId,
    keystoreRevision: s.keystoreRevision,
    leader: s.leader,
    nodes: s.nodes.map((n) => ({
      id: n.id,
      name: n.name,
      apiAddress: n.apiAddress,
      deviceAddress: n.deviceAddress,
      version: n.version,
      startedAt: n.startedAt,
      lastHeartbeatAt: n.lastHeartbeatAt,
      alive: n.alive,
      isLeader: n.isLeader,
      servedRevision: n.servedRevision,
    })),
    networkToken: { serial: s.networkToken.serial, createdAt: s.networkToken.createdAt, location: s.networkToken.location },
  };
}

export function presentNetworkToken(t: NetworkToken): NetworkTokenAnswer {
  return { format: t.format, clusterId: t.clusterId, serial: t.serial, keystoreDigest: t.keystoreDigest, createdAt: t.createdAt, signature: t.signature };
}

export function presentRestoreReport(r: RestoreReport): RestoreReportView {
  return {
    dryRun: r.dryRun,
    backup: { ...r.backup, counts: { ...r.backup.counts } },
    certificates: {
      restored: r.certificates.restored.map((c) => ({ ...c })),
      current: r.certificates.current.map((c) => ({ ...c })),
      onlyInBackup: r.certificates.onlyInBackup.map((c) => ({ ...c })),
      onlyCurrent: r.certificates.onlyCurrent.map((c) => ({ ...c })),
    },
    reRegistrationRequired: {
      count: r.reRegistrationRequired.reRegistrationRequired,
      devices: r.reRegistrationRequired.devices.map((d) => ({ id: d.id, name: d.name, unitId: d.unitId, reason: d.reason })),
    },
  };
}

export function presentBackupRun(r: BackupRun): BackupRunView {
  return {
    id: r.id,
    trigger: r.trigger,
    nodeId: r.nodeId,
    file: r.file,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    sizeBytes: r.sizeBytes,
    result: r.result,
    error: r.error,
    counts: { ...r.counts },
  };
}

export function presentLifecycleSettings(s: StoredLifecycleSettings): LifecycleSettings {
  return {
    enabled: s.enabled,
    renewBeforeDays: s.renewBeforeDays,
    window: s.window,
    retireAfterDays: s.retireAfterDays,
    updatedAt: s.updatedAt,
    updatedBy: s.updatedBy,
  };
}

export function presentLifecycleStatus(s: AppLifecycleStatus): LifecycleStatus {
  return {
    settings: presentLifecycleSettings(s.settings),
    nextWindow: s.nextWindow,
    tracked: s.tracked.map((t) => ({ alias: t.alias, role: t.role, notAfter: t.notAfter, daysUntilExpiry: t.daysUntilExpiry, renewFrom: t.renewFrom })),
    successions: s.successions.map((x) => ({ id: x.id, role: x.role, predecessorAlias: x.predecessorAlias, successorAlias: x.successorAlias, state: x.state, createdAt: x.createdAt })),
    // Event details hold aliases, counts and dates only (app/lifecycle.ts), never key material.
    events: s.events.map((e) => ({ id: e.id, at: e.at, step: e.step, alias: e.alias, successionId: e.successionId, details: e.details })),
  };
}
