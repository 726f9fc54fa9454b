/**
 * The REST API's contract: every request body, query, path parameter and answer, declared once
 * with TypeBox. The same schema validates the request (Fastify's Ajv), types the handler
 * (TypeBoxTypeProvider), serialises the answer and feeds the OpenAPI document; its `Static` type
 * is what the presenters return and what the CLI and the web console read (type-only imports).
 */
import { ApiTokenSchema } from './api-token.js';
import { AuditEventSchema } from './audit-event.js';
import { CertificateSummarySchema } from './certificate.js';
import { CertificateContentSchema } from './certificate-content.js';
import { CompatibilityRuleSchema } from './compatibility.js';
import { DeviceSummarySchema } from './device.js';
import { EnrollmentTokenSchema } from './enrollment-token.js';
import { ErrorResponseSchema } from './error-response.js';
import { RotationReportSchema } from './rotation.js';
import { UserSchema } from './user.js';

export * from './api-token.js';
export * from './audit-event.js';
export * from './backup.js';
export * from './auth.js';
export * from './certificate.js';
export * from './certificate-content.js';
export * from './cluster.js';
export * from './common.js';
export * from './compatibility.js';
export * from './device.js';
export * from './enrollment-token.js';
export * from './error-response.js';
export * from './health.js';
export * from './lifecycle.js';
export * from './rotation.js';
export * from './settings.js';
export * from './user.js';

/** Registered once with `app.addSchema`, so the OpenAPI document names them under components. */
export const SHARED_SCHEMAS = [
  CertificateContentSchema,
  ErrorResponseSchema,
  CertificateSummarySchema,
  DeviceSummarySchema,
  AuditEventSchema,
  UserSchema,
  ApiTokenSchema,
  EnrollmentTokenSchema,
  CompatibilityRuleSchema,
  RotationReportSchema,
] as const;
