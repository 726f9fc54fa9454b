/**
 * The store as a whole: every narrow repository interface that a use case declares next to its
 * code, put together per table family. `storage/` implements it for SQLite and PostgreSQL; a use
 * case reads only the part it declared.
 */
import type { UserRepo, TokenRepo } from './accounts.js';
import type { BackupRepo } from './backup.js';
import type { ClusterRepo, KeystoreDigestRepo, LeaseRepo } from './cluster.js';
import type { CertificateDevicesRepo, KeystoreAdminRepo } from './certificates.js';
import type { CompatibilityRepo, FirmwareMaskRepo } from './compatibility.js';
import type { FirmwareCohortRepo } from './compatibility-preview.js';
import type { AuditRepo } from './context.js';
import type { DeviceCheckInRepo } from './device-check-in.js';
import type { DeviceKeystoreRepo } from './device-keystore.js';
import type { DeviceAdminRepo } from './devices.js';
import type { EnrollmentAdminRepo } from './enrollment.js';
import type { LifecycleRepo } from './lifecycle.js';
import type { MetaRepo } from './master-key-check.js';
import type { DeviceRegistrationRepo, EnrollmentUseRepo } from './register-device.js';
import type { RotationRepo } from './rotation.js';

export interface KeystoreRepo extends KeystoreAdminRepo, DeviceKeystoreRepo, KeystoreDigestRepo {}

export interface DeviceRepo extends DeviceAdminRepo, DeviceCheckInRepo, DeviceRegistrationRepo, CertificateDevicesRepo, FirmwareMaskRepo, FirmwareCohortRepo {}

export interface EnrollmentTokenRepo extends EnrollmentAdminRepo, EnrollmentUseRepo {}

export interface Repos {
  readonly keystore: KeystoreRepo;
  readonly devices: DeviceRepo;
  readonly enrollment: EnrollmentTokenRepo;
  readonly compatibility: CompatibilityRepo;
  readonly rotation: RotationRepo;
  readonly users: UserRepo;
  readonly tokens: TokenRepo;
  readonly audit: AuditRepo;
  readonly meta: MetaRepo;
  readonly cluster: ClusterRepo;
  readonly leases: LeaseRepo;
  readonly backups: BackupRepo;
  readonly lifecycle: LifecycleRepo;
}

export interface Store extends Repos {
  readonly dialect: 'sqlite' | 'postgres';
  /** Runs `fn` in one transaction: everything it writes lands together or not at all. */
  transaction<T>(fn: (tx: Repos) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
