/**
 * The keystore (K1–K11): entries with their facts, order and activity, key material, usage
 * counts and the keystore revision. Key material is stored exactly as given: sealing it is the
 * caller's job (K11), and it is read only by `keyMaterial`/`allKeyMaterial`, never by `list`.
 */
import { sql, type Kysely } from 'kysely';
import type { CertificateUsage, KeystoreSlot } from '../domain/keystore.js';
import { CertfleetError, ErrorCode } from '../domain/errors.js';
import type { NewCertificate } from '../app/certificates.js';
import { CertificateSource } from '../domain/vocabularies.js';
import type { DeviceEntry, KeyMaterial, StoredCertificate } from '../app/records.js';
import type { KeystoreRepo } from '../app/store.js';
import { fromIntBoolean, oneOf, timestamp, toInt, toIntBoolean } from './columns.js';
import type { SqlDialect } from './dialect.js';
import type { CertificateRow, Database } from './schema.js';
import type { KeystoreDigestEntry } from '../domain/network-token.js';
import { certificateUsage, usageCounts } from './device-counts.js';

const SOURCES: readonly CertificateSource[] = Object.values(CertificateSource);

/** Everything but the key material. */
const ENTRY_COLUMNS = [
  'c.id',
  'c.alias',
  'c.position',
  'c.active',
  'c.subject',
  'c.issuer',
  'c.serial_number',
  'c.not_before',
  'c.not_after',
  'c.signature_algorithm',
  'c.signature_algorithm_oid',
  'c.key_algorithm',
  'c.key_size',
  'c.curve',
  'c.sha1_fingerprint',
  'c.sha256_fingerprint',
  'c.source',
  'c.created_at',
] as const;

/** A count as a subquery gives it: a string on PostgreSQL (int8), null when the subquery finds no row. */
type CountColumn = string | number | bigint | null;

/** ENTRY_COLUMNS with the usage counts of `usageCounts`. */
type EntryRow = Omit<CertificateRow, 'cert_der' | 'sealed_key'> & { readonly pinned: CountColumn; readonly pending: CountColumn; readonly fallback_pending: CountColumn };

function toStoredCertificate(row: EntryRow): StoredCertificate {
  return {
    id: row.id,
    alias: row.alias,
    position: row.position,
    active: fromIntBoolean(row.active),
    facts: {
      subject: row.subject,
      issuer: row.issuer,
      serialNumber: row.serial_number,
      notBefore: row.not_before,
      notAfter: row.not_after,
      signatureAlgorithm: row.signature_algorithm,
      signatureAlgorithmOid: row.signature_algorithm_oid,
      keyAlgorithm: row.key_algorithm,
      keySize: row.key_size,
      curve: row.curve,
      sha1Fingerprint: row.sha1_fingerprint,
      sha256Fingerprint: row.sha256_fingerprint,
    },
    source: oneOf(SOURCES, row.source, 'certificates.source'),
    createdAt: row.created_at,
    usage: { pinned: toInt(row.pinned), pending: toInt(row.pending) + toInt(row.fallback_pending) },
  };
}

export class CertificateStore implements KeystoreRepo {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: SqlDialect,
    /** PostgreSQL: the channel every revision is announced on (H2); null on SQLite, a cluster of one. */
    private readonly revisionChannel: string | null = null,
  ) {}

  async lock(): Promise<number> {
    // PostgreSQL: the row lock queues every other node's keystore change until this transaction
    // ends. SQLite: the transaction already holds the database's write lock (BEGIN IMMEDIATE).
    const row = await this.db
      .selectFrom('keystore_state')
      .select('revision')
      .where('id', '=', 1)
      .$if(this.dialect.rowLocks, (q) => q.forUpdate())
      .executeTakeFirstOrThrow();
    return toInt(row.revision);
  }

  private entries() {
    return this.db
      .selectFrom('certificates as c')
      .select(ENTRY_COLUMNS)
      .select(usageCounts(this.db, sql.ref<string>('c.id')))
      .orderBy('c.position')
      .orderBy('c.alias');
  }

  async list(): Promise<StoredCertificate[]> {
    const rows = await this.entries().execute();
    return rows.map(toStoredCertificate);
  }

  async findByAlias(alias: string): Promise<StoredCertificate | null> {
    const row = await this.entries().where('c.alias', '=', alias).executeTakeFirst();
    return row ? toStoredCertificate(row) : null;
  }

  async findBySha256(sha256Fingerprint: string): Promise<StoredCertificate | null> {
    const row = await this.entries().where('c.sha256_fingerprint', '=', sha256Fingerprint).executeTakeFirst();
    return row ? toStoredCertificate(row) : null;
  }

  async insert(entry: NewCertificate): Promise<void> {
    const f = entry.facts;
    try {
      await this.db
        .insertInto('certificates')
        .values({
          id: entry.id,
          alias: entry.alias,
          position: entry.position,
          active: toIntBoolean(entry.active),
          cert_der: entry.certDer,
          sealed_key: entry.sealedKey,
          subject: f.subject,
          issuer: f.issuer,
          serial_number: f.serialNumber,
          not_before: timestamp(f.notBefore),
          not_after: timestamp(f.notAfter),
          signature_algorithm: f.signatureAlgorithm,
          signature_algorithm_oid: f.signatureAlgorithmOid,
          key_algorithm: f.keyAlgorithm,
          key_size: f.keySize,
          curve: f.curve,
          sha1_fingerprint: f.sha1Fingerprint,
          sha256_fingerprint: f.sha256Fingerprint,
          source: entry.source,
          created_at: timestamp(entry.createdAt),
        })
        .execute();
    } catch (error) {
      // The use cases check both under the keystore lock; this is the last line for a race.
      const violation = this.dialect.constraintViolation(error);
      if (violation?.kind === 'unique' && violation.columns === 'certificates.alias') {
        throw new CertfleetError(
          ErrorCode.alias_taken,
          `The alias "${entry.alias}" is already taken. Choose another alias.`,
          { alias: entry.alias },
        );
      }
      if (violation?.kind === 'unique' && violation.columns === 'certificates.sha256_fingerprint') {
        throw new CertfleetError(
          ErrorCode.duplicate_certificate,
          `This certificate (SHA-256 ${f.sha256Fingerprint}) is already in the keystore.`,
          { sha256Fingerprint: f.sha256Fingerprint },
        );
      }
      throw error;
    }
  }

  async updateSlots(slots: readonly KeystoreSlot[]): Promise<void> {
    // One row at a time: positions may be swapped, which is why position has no unique constraint.
    for (const slot of slots) {
      const result = await this.db
        .updateTable('certificates')
        .set({ position: slot.position, active: toIntBoolean(slot.active) })
        .where('id', '=', slot.id)
        .executeTakeFirst();
      if (result.numUpdatedRows === 0n) {
        throw new CertfleetError(
          ErrorCode.certificate_not_found,
          `There is no certificate with the alias "${slot.alias}". List them with \`certfleet cert list\`.`,
          { alias: slot.alias },
        );
      }
    }
  }

  async remove(id: string): Promise<void> {
    try {
      // The rotation target lets go of the certificate only when no device has it pending through
      // the target; otherwise its foreign key refuses the delete below, as a device's would.
      await this.db
        .updateTable('rotation_state')
        .set({ target_certificate_id: null })
        .where('id', '=', 1)
        .where('target_certificate_id', '=', id)
        .where((eb) =>
          eb.not(
            eb.exists(
              eb
                .selectFrom('devices as d')
                .select('d.id')
                .where('d.certificate_id', '<>', id)
                .where(sql<number>`(${sql.ref('d.supported_mask')} & ${sql.ref('rotation_state.target_bit')})`, '<>', 0),
            ),
          ),
        )
        .execute();
      // The lifecycle's fallback move ends with either of its certificates (K7 counted its pending devices).
      await this.db
        .updateTable('rotation_state')
        .set({ fallback_from_id: null, fallback_to_id: null, fallback_bit: 0 })
        .where('id', '=', 1)
        .where((eb) => eb.or([eb('fallback_from_id', '=', id), eb('fallback_to_id', '=', id)]))
        .execute();
      await this.db.deleteFrom('certificates').where('id', '=', id).execute();
    } catch (error) {
      // The foreign keys of devices refuse it (ON DELETE RESTRICT), whatever was checked before.
      if (this.dialect.constraintViolation(error)?.kind === 'foreign_key') {
        throw new CertfleetError(
          ErrorCode.certificate_in_use,
          'The certificate is still used by devices (pinned or as a pending replacement) and cannot be deleted.',
          { id },
        );
      }
      throw error;
    }
  }

  async keyMaterial(alias: string): Promise<KeyMaterial | null> {
    const row = await this.db
      .selectFrom('certificates')
      .select(['id', 'cert_der', 'sealed_key'])
      .where('alias', '=', alias)
      .executeTakeFirst();
    return row ? { id: row.id, certDer: row.cert_der, sealedKey: row.sealed_key } : null;
  }

  async allKeyMaterial(): Promise<KeyMaterial[]> {
    const rows = await this.db
      .selectFrom('certificates')
      .select(['id', 'cert_der', 'sealed_key'])
      .orderBy('position')
      .orderBy('alias')
      .execute();
    return rows.map((row) => ({ id: row.id, certDer: row.cert_der, sealedKey: row.sealed_key }));
  }

  async digestEntries(): Promise<KeystoreDigestEntry[]> {
    const rows = await this.db.selectFrom('certificates').select(['position', 'active', 'sha256_fingerprint']).orderBy('position').execute();
    return rows.map((r) => ({ position: r.position, active: fromIntBoolean(r.active), sha256Fingerprint: r.sha256_fingerprint }));
  }

  async deviceEntries(): Promise<DeviceEntry[]> {
    const rows = await this.db
      .selectFrom('certificates')
      .select(['id', 'alias', 'position', 'active', 'signature_algorithm', 'sha256_fingerprint', 'cert_der'])
      .orderBy('position')
      .orderBy('alias')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      alias: r.alias,
      position: r.position,
      active: fromIntBoolean(r.active),
      signatureAlgorithm: r.signature_algorithm,
      sha256Fingerprint: r.sha256_fingerprint,
      certDer: r.cert_der,
    }));
  }

  async usage(id: string): Promise<CertificateUsage> {
    return certificateUsage(this.db, id);
  }

  async bumpRevision(at: string): Promise<number> {
    const row = await this.db
      .updateTable('keystore_state')
      .set((eb) => ({ revision: eb('revision', '+', 1), updated_at: timestamp(at) }))
      .where('id', '=', 1)
      .returning('revision')
      .executeTakeFirstOrThrow();
    const revision = toInt(row.revision);
    // Delivered when this transaction commits, and only then: every node's listener hears of a
    // change that it can already read.
    if (this.revisionChannel !== null) await sql`select pg_notify(${this.revisionChannel}, ${String(revision)})`.execute(this.db);
    return revision;
  }

  async revision(): Promise<number> {
    const row = await this.db
      .selectFrom('keystore_state')
      .select('revision')
      .where('id', '=', 1)
      .executeTakeFirstOrThrow();
    return toInt(row.revision);
  }
}
