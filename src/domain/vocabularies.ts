/**
 * Fixed vocabularies that the stores write and the API answers with: declared once, here, so the
 * records (app/records.ts), the use cases and the API contract (which the console type-checks
 * without Node types) all use the same values.
 */

/** How a keystore entry came to be. */
export const CertificateSource = { firstStart: 'first-start', generated: 'generated', imported: 'imported' } as const;
export type CertificateSource = (typeof CertificateSource)[keyof typeof CertificateSource];
export const CERTIFICATE_SOURCES: readonly CertificateSource[] = Object.values(CertificateSource);

/** `ok` changed something; `refused` was turned down with an error code; `failed` broke on an unexpected error. */
export const AuditResult = { ok: 'ok', refused: 'refused', failed: 'failed' } as const;
export type AuditResult = (typeof AuditResult)[keyof typeof AuditResult];
export const AUDIT_RESULTS: readonly AuditResult[] = Object.values(AuditResult);

/** Where an enrollment token stands (R5). */
export const EnrollmentTokenState = { active: 'active', used: 'used', expired: 'expired', revoked: 'revoked' } as const;
export type EnrollmentTokenState = (typeof EnrollmentTokenState)[keyof typeof EnrollmentTokenState];
export const ENROLLMENT_TOKEN_STATES: readonly EnrollmentTokenState[] = Object.values(EnrollmentTokenState);
