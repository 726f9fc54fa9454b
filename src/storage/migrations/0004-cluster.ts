/**
 * 0004 — the cluster (SPEC H1, H3, H4; docs/design/cluster.md).
 *
 * - `cluster` (one row, made by the first node that starts on the database): the cluster id, the
 *   Ed25519 key that signs network tokens (private half sealed under the master key, bound to the
 *   cluster id), the current network token, and where the nodes write its file.
 * - `cluster_nodes`: each node's registry entry, refreshed by its heartbeat.
 * - `cluster_lease`: the rotation leader's lease. `epoch` grows with every new holder, so a write
 *   made under an old lease can be told from one made under the current one (fencing).
 *
 * Timestamps are ISO text like every other table (schema.ts); a SQLite database is a cluster of one.
 */
import { sql, type Kysely } from 'kysely';
import type { SqlDialect } from '../dialect.js';

export async function up(db: Kysely<unknown>, dialect: SqlDialect): Promise<void> {
  await db.schema
    .createTable('cluster')
    .addColumn('singleton', 'integer', (c) => c.primaryKey().check(sql`${sql.ref('singleton')} = 1`))
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('signing_public_key', dialect.binaryType, (c) => c.notNull())
    .addColumn('signing_private_key_sealed', dialect.binaryType, (c) => c.notNull())
    // NULL: each node's own data directory.
    .addColumn('token_location', 'text')
    .addColumn('token_serial', 'integer', (c) => c.notNull().check(sql`${sql.ref('token_serial')} >= 1`))
    .addColumn('token_digest', 'text', (c) => c.notNull())
    .addColumn('token_created_at', 'text', (c) => c.notNull())
    .addColumn('token_signature', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('cluster_nodes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('api_address', 'text', (c) => c.notNull())
    .addColumn('device_address', 'text', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('last_heartbeat_at', 'text', (c) => c.notNull())
    .addColumn('served_revision', 'integer', (c) => c.notNull())
    // The serial of the token file this node last wrote, and why the last write failed (NULL: it did not).
    .addColumn('token_written_serial', 'integer')
    .addColumn('token_write_error', 'text')
    .execute();

  await db.schema
    .createTable('cluster_lease')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('holder', 'text')
    .addColumn('epoch', 'integer', (c) => c.notNull().check(sql`${sql.ref('epoch')} >= 0`))
    .addColumn('expires_at', 'text')
    .execute();
  await sql`insert into cluster_lease (name, holder, epoch, expires_at) values ('rotation', null, 0, null)`.execute(db);
}
