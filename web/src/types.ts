/** The REST API's shapes, as the console reads them (see /api/v1/openapi.json). */

export const Permission = {
  read: 'read',
  manageCertificates: 'manageCertificates',
  exportKeyPair: 'exportKeyPair',
  manageAccounts: 'manageAccounts',
  backup: 'backup',
} as const;
export type Permission = (typeof Permission)[keyof typeof Permission];

export type Role = 'admin' | 'operator' | 'viewer';
export const ROLES: readonly Role[] = ['admin', 'operator', 'viewer'];

export interface Me {
  readonly username: string;
  readonly role: Role;
  readonly permissions: readonly Permission[];
}

export interface Certificate {
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

export interface Device {
  readonly id: string;
  readonly unitId: string;
  readonly name: string;
  readonly osFamily: string;
  readonly osVersion: string;
  readonly profile: string | null;
  readonly supportedAlgorithms?: readonly string[];
  readonly certificateAlias: string;
  readonly pendingCertificateAlias: string | null;
  readonly registeredAt: string;
  readonly lastContactAt: string | null;
}

export interface DevicePage {
  readonly count: number;
  readonly devices: readonly Device[];
}

export interface NameContent {
  readonly name: string;
  readonly rdns: readonly (readonly { readonly type: string; readonly value: string }[])[];
}

export interface CertificateContent {
  readonly version: number;
  readonly serialNumber: string;
  readonly signatureAlgorithm: { readonly name: string; readonly oid: string };
  readonly issuer: NameContent;
  readonly subject: NameContent;
  readonly validity: { readonly notBefore: string; readonly notAfter: string };
  readonly publicKey: {
    readonly algorithm: string;
    readonly oid: string;
    readonly size: number;
    readonly curve: string | null;
    readonly exponent: number | null;
    readonly sha256: string;
  };
  readonly extensions: readonly { readonly oid: string; readonly name: string | null; readonly critical: boolean; readonly value: unknown }[];
  readonly fingerprints: { readonly sha1: string; readonly sha256: string };
  readonly pem: string;
}

export interface CountsByProfile {
  readonly [profile: string]: number;
}

export interface DefaultPreview {
  readonly alias: string;
  readonly switching: { readonly total: number; readonly byProfile: CountsByProfile };
  readonly staying: { readonly total: number; readonly byProfile: CountsByProfile; readonly lacking: string };
  readonly alreadyCurrent: number;
}

export interface RotationReport {
  readonly defaultAlias: string;
  readonly checked: number;
  readonly scheduled: number;
  readonly incompatible: number;
  readonly alreadyCurrent: number;
  readonly awaitingConfirmation: number;
  readonly startedAt: string;
  readonly finishedAt: string;
}

export interface RotationStatus {
  readonly lastRun: RotationReport | null;
  readonly defaultAlias: string;
  readonly total: number;
  readonly onDefault: number;
  readonly pending: number;
  readonly staying: number;
}

export interface EnrollmentToken {
  readonly id: string;
  readonly usesAllowed: number;
  readonly usesLeft: number;
  readonly expiresAt: string;
  readonly unitId: string | null;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly revokedAt: string | null;
  readonly state: 'active' | 'used' | 'expired' | 'revoked';
}

export interface IssuedEnrollmentToken extends EnrollmentToken {
  readonly token: string;
}

export interface AuditEvent {
  readonly id: number;
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly target: string | null;
  readonly result: string;
  readonly code: string | null;
  readonly details: Readonly<Record<string, unknown>>;
}

export interface User {
  readonly username: string;
  readonly role: Role;
  readonly createdAt: string;
}

export interface SessionStart {
  readonly csrfToken: string;
  readonly expiresAt: string;
  readonly user: { readonly username: string; readonly role: Role };
}

// ─── Added for the firmware compatibility and API token pages (issue 7, item 7). ──────────────
// Shapes of GET/PUT /compatibility, POST /compatibility/preview and /tokens, to be converted
// with the other API shapes.

/** K6's allow-list (src/domain/algorithms.ts ALLOWED_SIGNATURE_ALGORITHMS), in its order. */
export const SIGNATURE_ALLOW_LIST = [
  'SHA1withRSA',
  'SHA224withRSA',
  'SHA256withRSA',
  'SHA384withRSA',
  'SHA512withRSA',
  'SHA256withECDSA',
  'SHA384withECDSA',
  'SHA512withECDSA',
] as const;

export interface CompatibilityRule {
  readonly profile: string;
  readonly osFamily: string;
  /** Versions up to and including this one; null: every version. */
  readonly maxVersion: string | null;
  readonly algorithms: readonly string[];
}

export interface CompatibilityTable {
  readonly rules: readonly CompatibilityRule[];
}

export interface BeforeAfter {
  readonly before: number;
  readonly after: number;
}

export interface CompatibilityChangeCounts {
  readonly newlySwitching: number;
  readonly noLongerSwitching: number;
  readonly unsupportedPin: number;
}

export interface CompatibilityPreview extends CompatibilityChangeCounts {
  readonly defaultAlias: string;
  readonly defaultAlgorithm: string;
  readonly total: number;
  readonly declared: number;
  readonly switching: BeforeAfter;
  readonly staying: BeforeAfter;
  readonly byProfile: Readonly<Record<string, CompatibilityChangeCounts>>;
}

export interface ApiToken {
  readonly id: string;
  readonly name: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly lastUsedAt: string | null;
}

export interface IssuedApiToken {
  readonly id: string;
  readonly token: string;
  readonly name: string;
  readonly expiresAt: string;
}
