/**
 * What the console reads from the server, declared nowhere in the console: the API's shapes come
 * from the server's contract (type-only, erased by Vite), the roles and permissions from the
 * server's pure domain module.
 */
export { Permission, ROLES, type Role } from '../../src/domain/roles.js';
export type {
  AuditEvent,
  CertificateContent,
  CertificateSummary,
  CreateEnrollmentTokenBody,
  CreateUserBody,
  DefaultPreview,
  DevicePage,
  DeviceSummary,
  EnrollmentToken,
  ExportKeyPairBody,
  GenerateCertificateBody,
  ImportCertificateBody,
  IssuedEnrollmentToken,
  LoginBody,
  Me,
  RotationReport,
  RotationStatus,
  SessionStart,
  User,
} from '../../src/transport/http-api/contract/index.js';
