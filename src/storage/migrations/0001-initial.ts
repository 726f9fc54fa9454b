/**
 * 0001 — the first schema: keystore, devices, accounts, audit log, installation facts.
 * Never edit a merged migration; add the next number instead (B3: a database made by an earlier
 * version upgrades in place). No migration ever creates or overwrites a keystore entry (K1).
 *
 * Conventions (timestamps as ISO-8601 UTC text, booleans as 0/1, JSON as text) are described in
 * ../schema.ts. SQLite note for later migrations: DDL is transactional (migrate.ts runs each
 * migration run in one `BEGIN IMMEDIATE`), but `PRAGMA foreign_keys` cannot change inside a
 * transaction; a table rebuild uses `PRAGMA defer_foreign_keys = ON` instead.
 */
import { sql, type Kysely } from 'kysely';
import type { SqlDialect } from '../dialect.js';

export async function up(db: Kysely<unknown>, dialect: SqlDialect): Promise<void> {
  const bool = (name: string) => sql`${sql.ref(name)} in (0, 1)`;

  // No unique constraint on position: reordering swaps positions one row at a time.
  await db.schema
    .createTable('certificates')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('alias', 'text', (c) => c.notNull())
    .addColumn('position', 'integer', (c) => c.notNull().check(sql`${sql.ref('position')} >= 1`))
    .addColumn('active', 'integer', (c) => c.notNull().check(bool('active')))
    .addColumn('cert_der', dialect.binaryType, (c) => c.notNull())
    .addColumn('sealed_key', dialect.binaryType, (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('issuer', 'text', (c) => c.notNull())
    .addColumn('serial_number', 'text', (c) => c.notNull())
    .addColumn('not_before', 'text', (c) => c.notNull())
    .addColumn('not_after', 'text', (c) => c.notNull())
    .addColumn('signature_algorithm', 'text', (c) => c.notNull())
    .addColumn('signature_algorithm_oid', 'text', (c) => c.notNull())
    .addColumn('key_algorithm', 'text', (c) => c.notNull())
    .addColumn('key_size', 'integer', (c) => c.notNull())
    .addColumn('curve', 'text')
    .addColumn('sha1_fingerprint', 'text', (c) => c.notNull())
    .addColumn('sha256_fingerprint', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('certificates_alias_unique', ['alias'])
    .addUniqueConstraint('certificates_sha256_fingerprint_unique', ['sha256_fingerprint'])
    .execute();

  // A single row, the keystore's revision; locked by KeystoreRepo.lock() on PostgreSQL.
  await db.schema
    .createTable('keystore_state')
    .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`${sql.ref('id')} = 1`))
    .addColumn('revision', 'integer', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await sql`insert into keystore_state (id, revision, updated_at) values (1, 0, ${new Date().toISOString()})`.execute(db);

  // ON DELETE RESTRICT: a certificate that a device pins or is about to pin can never be deleted,
  // whatever the application checked before (K7).
  await db.schema
    .createTable('devices')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('unit_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('os_family', 'text', (c) => c.notNull())
    .addColumn('os_version', 'text', (c) => c.notNull())
    .addColumn('profile', 'text')
    .addColumn('declared_algorithms', 'text')
    .addColumn('certificate_id', 'text', (c) => c.notNull().references('certificates.id').onDelete('restrict'))
    .addColumn('pending_certificate_id', 'text', (c) => c.references('certificates.id').onDelete('restrict'))
    .addColumn('credential_hash', 'text', (c) => c.notNull())
    .addColumn('registered_at', 'text', (c) => c.notNull())
    .addColumn('last_contact_at', 'text')
    .execute();
  // Per-certificate counts (K10) read only these indexes, at a million devices too.
  await db.schema.createIndex('devices_certificate_id_idx').on('devices').column('certificate_id').execute();
  // Partial: nearly every device has no pending replacement outside a rotation.
  await db.schema
    .createIndex('devices_pending_certificate_id_idx')
    .on('devices')
    .column('pending_certificate_id')
    .where(sql.ref('pending_certificate_id'), 'is not', null)
    .execute();

  await db.schema
    .createTable('users')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('username', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('users_username_unique', ['username'])
    .execute();

  await db.schema
    .createTable('api_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('last_used_at', 'text')
    .addUniqueConstraint('api_tokens_token_hash_unique', ['token_hash'])
    .execute();
  await db.schema.createIndex('api_tokens_user_id_idx').on('api_tokens').column('user_id').execute();

  await db.schema
    .createTable('audit_log')
    .addColumn('id', dialect.identityType, (c) => dialect.identity(c))
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target', 'text')
    .addColumn('result', 'text', (c) => c.notNull())
    .addColumn('code', 'text')
    .addColumn('details', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('meta')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();
}
