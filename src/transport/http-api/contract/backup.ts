/** Backups and restores (SPEC B1, B2): what `backup create|restore|list` send and receive. */
import { Type, type Static } from 'typebox';
import { IsoDate, Nullable } from './common.js';

export { ESTIMATE_HEADER, PASSPHRASE_HEADER } from './backup-headers.js';

export const CreateBackupBodySchema = Type.Object(
  { passphrase: Type.String({ minLength: 12, maxLength: 1024, description: 'The backup is encrypted under it (age, scrypt). Keep it apart from the file.' }) },
  { additionalProperties: false },
);
export type CreateBackupBody = Static<typeof CreateBackupBodySchema>;

export const RestoreQuerySchema = Type.Object(
  {
    dryRun: Type.Optional(Type.Boolean({ default: false, description: 'Report what the restore would do, and change nothing.' })),
    keepCurrentCertificates: Type.Optional(
      Type.Boolean({ default: false, description: 'Keep the certificates in use now below the restored ones, active, so that no device the backup knows must register again.' }),
    ),
  },
  { additionalProperties: false },
);
export type RestoreQuery = Static<typeof RestoreQuerySchema>;

const CountsSchema = Type.Record(Type.String(), Type.Integer(), { description: 'Rows per table.' });

export const BackupCertificateSchema = Type.Object({
  alias: Type.String(),
  position: Type.Integer(),
  isDefault: Type.Boolean(),
  active: Type.Boolean(),
  sha256Fingerprint: Type.String(),
});
export type BackupCertificateView = Static<typeof BackupCertificateSchema>;

export const RestoreReportSchema = Type.Object(
  {
    dryRun: Type.Boolean(),
    backup: Type.Object({
      formatVersion: Type.Integer(),
      createdAt: IsoDate(),
      serverVersion: Type.String(),
      schemaVersion: Type.String(),
      counts: CountsSchema,
    }),
    certificates: Type.Object({
      restored: Type.Array(BackupCertificateSchema, { description: 'The keystore after the restore, in order.' }),
      current: Type.Array(BackupCertificateSchema, { description: 'The keystore before it, in order.' }),
      onlyInBackup: Type.Array(BackupCertificateSchema),
      onlyCurrent: Type.Array(BackupCertificateSchema),
    }),
    reRegistrationRequired: Type.Object({
      count: Type.Integer({ description: 'Devices registered before the restore that cannot go on talking after it.' }),
      devices: Type.Array(
        Type.Object({ id: Type.String(), name: Type.String(), unitId: Type.String(), reason: Type.String() }),
        { description: 'The first 1000 by name; `device list --re-registration-required` pages them all.' },
      ),
    }),
  },
  { description: 'B2: what the restore changes in the keystore, and which devices must register again.' },
);
export type RestoreReportView = Static<typeof RestoreReportSchema>;

export const BackupRunSchema = Type.Object({
  id: Type.Integer(),
  trigger: Type.String({ description: '`manual` (asked for through the API) or `scheduled` (serve --backup-dir).' }),
  nodeId: Nullable(Type.String()),
  file: Nullable(Type.String(), 'Where a scheduled backup was written, on the node that wrote it.'),
  startedAt: IsoDate(),
  finishedAt: IsoDate(),
  sizeBytes: Nullable(Type.Integer()),
  result: Type.String({ description: '`ok` or `failed`.' }),
  error: Nullable(Type.String()),
  counts: CountsSchema,
});
export type BackupRunView = Static<typeof BackupRunSchema>;

export const BackupListSchema = Type.Object({ runs: Type.Array(BackupRunSchema, { description: 'Newest first.' }) });
export type BackupList = Static<typeof BackupListSchema>;
