/**
 * JSON schemas shared by several routes, registered once with `app.addSchema` so that the OpenAPI
 * document names them under components. Each mirrors one presenter in presenters.ts field by field;
 * Fastify's serialiser drops anything a schema does not list, a second guard behind the presenters.
 */
import { ALLOWED_SIGNATURE_ALGORITHMS } from '../../domain/algorithms.js';
import { ALIAS_PATTERN } from '../../domain/keystore.js';
import { ErrorCode } from '../../domain/errors.js';
import { Permission, ROLES } from '../../domain/roles.js';
import { AuditResult, CertificateSource } from '../../app/records.js';

export const ERROR_RESPONSE_ID = 'ErrorResponse';
export const CERTIFICATE_SUMMARY_ID = 'CertificateSummary';
export const DEVICE_SUMMARY_ID = 'DeviceSummary';
export const AUDIT_EVENT_ID = 'AuditEvent';
export const USER_ID = 'User';
export const TOKEN_ID = 'ApiToken';
export const ENROLLMENT_TOKEN_ID = 'EnrollmentToken';
export const COMPATIBILITY_RULE_ID = 'CompatibilityRule';
export const ROTATION_REPORT_ID = 'RotationReport';

const isoDate = { type: 'string', format: 'date-time' } as const;
const nullableString = { type: ['string', 'null'] } as const;

export const ErrorResponseSchema = {
  $id: ERROR_RESPONSE_ID,
  type: 'object',
  description: 'Every refusal and failure has this shape.',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'details'],
      properties: {
        code: { type: 'string', enum: Object.values(ErrorCode), description: 'Stable; scripts may rely on it.' },
        message: { type: 'string', description: 'For the administrator: what happened and what to do next.' },
        details: { type: 'object', additionalProperties: true },
      },
    },
  },
} as const;

export const CertificateSummarySchema = {
  $id: CERTIFICATE_SUMMARY_ID,
  type: 'object',
  description: 'A keystore entry without its key material (SPEC section 5, `cert list --json`).',
  required: [
    'alias', 'position', 'isDefault', 'active', 'signatureAlgorithm', 'keyAlgorithm', 'keySize', 'curve', 'subject',
    'issuer', 'serialNumber', 'notBefore', 'notAfter', 'sha1Fingerprint', 'sha256Fingerprint', 'deviceCount',
    'pendingDeviceCount', 'daysUntilExpiry', 'source', 'createdAt',
  ],
  properties: {
    alias: { type: 'string', pattern: ALIAS_PATTERN.source },
    position: { type: 'integer', minimum: 1, description: '1 is the top of the list, the default.' },
    isDefault: { type: 'boolean' },
    active: { type: 'boolean' },
    signatureAlgorithm: { type: 'string', description: 'Java name, e.g. SHA512withRSA.' },
    keyAlgorithm: { type: 'string', enum: ['RSA', 'EC'] },
    keySize: { type: 'integer' },
    curve: { ...nullableString, description: 'Named curve of an EC key (P-256, P-384 …), null for RSA.' },
    subject: { type: 'string' },
    issuer: { type: 'string' },
    serialNumber: { type: 'string' },
    notBefore: isoDate,
    notAfter: isoDate,
    sha1Fingerprint: { type: 'string', description: 'Upper-case hex with colons, as keytool prints it.' },
    sha256Fingerprint: { type: 'string', description: 'Upper-case hex with colons, as keytool prints it.' },
    deviceCount: { type: 'integer', description: 'Devices that pin this certificate.' },
    pendingDeviceCount: { type: 'integer', description: 'Devices that are about to pin it (pending replacement).' },
    daysUntilExpiry: { type: 'integer', description: 'Whole days left; negative once expired.' },
    source: { type: 'string', enum: Object.values(CertificateSource) },
    createdAt: isoDate,
  },
} as const;

export const DeviceSummarySchema = {
  $id: DEVICE_SUMMARY_ID,
  type: 'object',
  required: [
    'id', 'unitId', 'name', 'osFamily', 'osVersion', 'profile', 'supportedAlgorithms', 'certificateAlias',
    'pendingCertificateAlias', 'registeredAt', 'lastContactAt',
  ],
  description: 'A device as administrators see it: never its credential.',
  properties: {
    id: { type: 'string' },
    unitId: { type: 'string', description: 'MAC address.' },
    name: { type: 'string' },
    osFamily: { type: 'string' },
    osVersion: { type: 'string' },
    profile: { ...nullableString, description: 'The firmware profile (`igel-os-12` …) it reported, if any.' },
    supportedAlgorithms: {
      type: 'array',
      items: { type: 'string' },
      description: 'The signature algorithms its firmware supports: its own declaration, else the compatibility table (R2).',
    },
    certificateAlias: { type: 'string', description: 'The certificate the device pins.' },
    pendingCertificateAlias: { ...nullableString, description: 'Its pending replacement, if any.' },
    registeredAt: isoDate,
    lastContactAt: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;

export const AuditEventSchema = {
  $id: AUDIT_EVENT_ID,
  type: 'object',
  required: ['id', 'at', 'actor', 'action', 'target', 'result', 'code', 'details'],
  properties: {
    id: { type: 'integer' },
    at: isoDate,
    actor: { type: 'string', description: 'User name, `system`, or `anonymous`.' },
    action: { type: 'string', examples: ['certificate.import'] },
    target: nullableString,
    result: { type: 'string', enum: Object.values(AuditResult) },
    code: { ...nullableString, description: 'The error code of a refusal.' },
    details: { type: 'object', additionalProperties: true },
  },
} as const;

export const UserSchema = {
  $id: USER_ID,
  type: 'object',
  required: ['username', 'role', 'createdAt'],
  properties: {
    username: { type: 'string' },
    role: { type: 'string', enum: ROLES },
    createdAt: isoDate,
  },
} as const;

export const TokenSchema = {
  $id: TOKEN_ID,
  type: 'object',
  description: 'An API token as listed: never the token itself, which is shown once when it is made.',
  required: ['id', 'name', 'createdAt', 'expiresAt', 'lastUsedAt'],
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    createdAt: isoDate,
    expiresAt: isoDate,
    lastUsedAt: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;

export const EnrollmentTokenSchema = {
  $id: ENROLLMENT_TOKEN_ID,
  type: 'object',
  description: 'An enrollment token as listed: never the token itself, which is shown once when it is made (R5).',
  required: ['id', 'usesAllowed', 'usesLeft', 'expiresAt', 'unitId', 'createdBy', 'createdAt', 'revokedAt', 'state'],
  properties: {
    id: { type: 'string' },
    usesAllowed: { type: 'integer', description: 'How many devices may register with it.' },
    usesLeft: { type: 'integer' },
    expiresAt: isoDate,
    unitId: { ...nullableString, description: 'The only unit id (MAC address) that may register with it, if bound.' },
    createdBy: { type: 'string' },
    createdAt: isoDate,
    revokedAt: { type: ['string', 'null'], format: 'date-time' },
    state: { type: 'string', enum: ['active', 'used', 'expired', 'revoked'] },
  },
} as const;

export const CompatibilityRuleSchema = {
  $id: COMPATIBILITY_RULE_ID,
  type: 'object',
  description:
    'One row of the firmware compatibility table (R2). A device matches the first rule, in table order, whose OS family ' +
    'equals its own (ignoring case) and whose maxVersion is at or above its version.',
  additionalProperties: false,
  required: ['profile', 'osFamily', 'maxVersion', 'algorithms'],
  properties: {
    profile: { type: 'string', maxLength: 64, examples: ['igel-os-12', 'igel-linux-4.01.650'] },
    osFamily: { type: 'string', maxLength: 64, examples: ['IGEL OS', 'IGEL Linux', 'Windows 7 Embedded'] },
    maxVersion: { type: ['string', 'null'], maxLength: 64, description: 'Versions up to and including this one; null: every version.' },
    algorithms: {
      type: 'array',
      maxItems: 64,
      items: { type: 'string', maxLength: 64 },
      description: `Signature algorithms the firmware supports, from the allow-list: ${ALLOWED_SIGNATURE_ALGORITHMS.join(', ')}.`,
    },
  },
} as const;

export const RotationReportSchema = {
  $id: ROTATION_REPORT_ID,
  type: 'object',
  description: 'What one run of the rotation reconciler found and did (R3).',
  required: ['defaultAlias', 'checked', 'scheduled', 'incompatible', 'alreadyCurrent', 'awaitingConfirmation', 'startedAt', 'finishedAt'],
  properties: {
    defaultAlias: { type: 'string', description: 'The default the fleet was compared with.' },
    checked: { type: 'integer', description: 'Devices compared.' },
    scheduled: { type: 'integer', description: 'Devices that got the default as a pending replacement in this run.' },
    incompatible: { type: 'integer', description: 'Devices whose firmware lacks the default\'s algorithm; they keep their certificate.' },
    alreadyCurrent: { type: 'integer', description: 'Devices that pin the default already.' },
    awaitingConfirmation: { type: 'integer', description: 'Devices that had the default pending already and have not confirmed yet.' },
    startedAt: isoDate,
    finishedAt: isoDate,
  },
} as const;

export const CERTIFICATE_CONTENT_ID = 'CertificateContent';

const nameContent = {
  type: 'object',
  required: ['name', 'rdns'],
  properties: {
    name: { type: 'string' },
    rdns: {
      type: 'array',
      description: 'Relative distinguished names in the order of the encoding.',
      items: {
        type: 'array',
        items: { type: 'object', required: ['type', 'value'], properties: { type: { type: 'string' }, value: { type: 'string' } } },
      },
    },
  },
} as const;

/** K9: everything in a certificate (public data only), as `crypto/certificate-content.ts` reads it. */
export const CertificateContentSchema = {
  $id: CERTIFICATE_CONTENT_ID,
  type: 'object',
  required: ['version', 'serialNumber', 'signatureAlgorithm', 'issuer', 'subject', 'validity', 'publicKey', 'extensions', 'fingerprints', 'pem'],
  properties: {
    version: { type: 'integer' },
    serialNumber: { type: 'string' },
    signatureAlgorithm: {
      type: 'object',
      required: ['name', 'oid'],
      properties: { name: { type: 'string' }, oid: { type: 'string' } },
    },
    issuer: nameContent,
    subject: nameContent,
    validity: {
      type: 'object',
      required: ['notBefore', 'notAfter'],
      properties: { notBefore: isoDate, notAfter: isoDate },
    },
    publicKey: {
      type: 'object',
      required: ['algorithm', 'oid', 'size', 'curve', 'exponent', 'sha256'],
      properties: {
        algorithm: { type: 'string' },
        oid: { type: 'string' },
        size: { type: 'integer' },
        curve: nullableString,
        exponent: { type: ['integer', 'null'], description: 'RSA only.' },
        sha256: { type: 'string', description: 'SHA-256 of the SubjectPublicKeyInfo.' },
      },
    },
    extensions: {
      type: 'array',
      items: {
        type: 'object',
        required: ['oid', 'name', 'critical', 'value'],
        properties: {
          oid: { type: 'string' },
          name: { ...nullableString, description: 'Null for an extension certfleet does not know.' },
          critical: { type: 'boolean' },
          value: { description: 'A readable value for the common extensions; hex of the DER value for the others.' },
        },
      },
    },
    fingerprints: {
      type: 'object',
      required: ['sha1', 'sha256'],
      properties: { sha1: { type: 'string' }, sha256: { type: 'string' } },
    },
    pem: { type: 'string', description: 'The certificate (never a key).' },
  },
} as const;

export const SHARED_SCHEMAS = [
  CertificateContentSchema,
  ErrorResponseSchema,
  CertificateSummarySchema,
  DeviceSummarySchema,
  AuditEventSchema,
  UserSchema,
  TokenSchema,
  EnrollmentTokenSchema,
  CompatibilityRuleSchema,
  RotationReportSchema,
] as const;

export function ref(id: string, description: string): Readonly<Record<string, unknown>> {
  return { $ref: `${id}#`, description };
}

export function arrayOf(id: string, description: string): Readonly<Record<string, unknown>> {
  return { type: 'array', description, items: { $ref: `${id}#` } };
}

export const NO_CONTENT = { type: 'null', description: 'Done; no content.' } as const;

/** The largest page of a device listing. */
export const MAX_DEVICE_PAGE = 500;

/** The query of every device listing: a search, and the page. */
export const DEVICE_PAGE_QUERY_PROPERTIES = {
  search: { type: 'string', maxLength: 256, description: 'Case-insensitive part of the id, unit id or name.' },
  offset: { type: 'integer', minimum: 0, default: 0 },
  limit: { type: 'integer', minimum: 1, maximum: MAX_DEVICE_PAGE, default: 50 },
} as const;

/** The answer of every device listing (`cert devices --json` and `device list --json` print it). */
export const DEVICE_PAGE = {
  type: 'object',
  description: '`count` is the number of all matching devices; `devices` the page.',
  required: ['count', 'devices'],
  properties: { count: { type: 'integer' }, devices: arrayOf(DEVICE_SUMMARY_ID, 'The page.') },
} as const;

export const PERMISSIONS = Object.values(Permission);
