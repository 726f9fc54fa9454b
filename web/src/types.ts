/**
 * What the console reads from the server, declared nowhere in the console: the API's shapes come
 * from the server's contract (type-only, erased by Vite), the roles and permissions from the
 * server's pure domain module.
 */
export { Permission, ROLES, type Role } from '../../src/domain/roles.js';
export { ALLOWED_SIGNATURE_ALGORITHMS } from '../../src/domain/algorithms.js';
export { BACKUP_TABLES, ReRegistrationReason, type BackupTable } from '../../src/domain/backup.js';
export type {
  ApiToken,
  AuditEvent,
  BackupList,
  BackupRunView,
  CertificateContent,
  CertificateSummary,
  ClusterStatus,
  CompatibilityPreview,
  CompatibilityRule,
  CompatibilityTable,
  CreateApiTokenBody,
  CreateEnrollmentTokenBody,
  CreateUserBody,
  DefaultPreview,
  DevicePage,
  DeviceSummary,
  EnrollmentToken,
  ExportKeyPairBody,
  GenerateCertificateBody,
  ImportCertificateBody,
  ImportedCertificate,
  IssuedApiToken,
  IssuedEnrollmentToken,
  LifecycleStatus,
  LoginBody,
  Me,
  ProfileChange,
  RotationReport,
  RotationStatus,
  SessionStart,
  SetCompatibilityBody,
  User,
} from '../../src/transport/http-api/contract/index.js';
