/**
 * 0008 — device counters (issue 11): how many devices pin each certificate, by supported mask,
 * kept by the database itself instead of counted at every read.
 *
 * `device_counts (certificate_id, supported_mask, stripe, n)`: the devices that pin the certificate
 * and have that mask, split over stripes whose sum is the count. Certificate × mask is what every
 * count the server shows needs: a certificate's pinned devices are the sum of its rows, and the
 * rotation target's pending devices (storage/pending.ts) the sum of the other certificates' rows
 * whose mask has the target's bit, so neither a rotation target change nor a pass writes anything
 * here. A read sums a few dozen rows whatever the fleet's size.
 *
 * Triggers on `devices` keep it, in the statement that changes the device, so in its transaction,
 * whatever the path (registration, pin switch, mask change, deletion, a bulk load):
 * - PostgreSQL: a row has one of STRIPES stripes, chosen by the device id's hash, so concurrent
 *   registrations update different rows instead of all waiting on one row's lock until commit.
 *   Inserts and deletes use statement triggers over the transition table (a bulk insert or delete
 *   of a million devices is one grouped upsert); a pin or mask change a row trigger that fires
 *   only when one of the two changes, so a check-in that writes its contact time costs nothing.
 * - SQLite: one writer at a time holds the whole database, so a stripe buys nothing there: every
 *   row is stripe 0, and a row trigger upserts it.
 * The backfill counts the existing devices in one grouped read. A restore, which replaces the
 * devices wholesale, counts them again the same way (`countDevices`, from backup-store.ts).
 *
 * Also drops devices_certificate_id_idx (0001): devices_certificate_mask_idx (certificate, mask)
 * starts with the same column and serves every lookup by certificate, including the foreign key's
 * check when a certificate is deleted; the second index was only one more write per registration.
 */
import { sql, type Kysely, type QueryExecutorProvider } from 'kysely';
import type { SqlDialect } from '../dialect.js';

/** PostgreSQL: rows per certificate × mask (a power of two); more than the concurrent writers a pool of 10–20 has. */
export const STRIPES = 16;

export async function up(db: Kysely<unknown>, dialect: SqlDialect): Promise<void> {
  await db.schema
    .createTable('device_counts')
    .addColumn('certificate_id', 'text', (c) => c.notNull().references('certificates.id').onDelete('cascade'))
    .addColumn('supported_mask', 'integer', (c) => c.notNull())
    .addColumn('stripe', 'integer', (c) => c.notNull())
    .addColumn('n', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('device_counts_pk', ['certificate_id', 'supported_mask', 'stripe'])
    .execute();
  await countDevices(db);
  await db.schema.dropIndex('devices_certificate_id_idx').ifExists().execute();
  if (dialect.name === 'postgres') await postgresTriggers(db);
  else await sqliteTriggers(db);
}

/** Counts every device again into device_counts, stripe 0: the backfill, and a restore's recount. */
export async function countDevices(db: QueryExecutorProvider): Promise<void> {
  await sql`delete from device_counts`.execute(db);
  await sql`insert into device_counts (certificate_id, supported_mask, stripe, n)
    select certificate_id, supported_mask, 0, count(*) from devices group by certificate_id, supported_mask`.execute(db);
}

async function sqliteTriggers(db: Kysely<unknown>): Promise<void> {
  const add = (certificate: string, mask: string, delta: string) =>
    `insert into device_counts (certificate_id, supported_mask, stripe, n) values (${certificate}, ${mask}, 0, ${delta})
       on conflict (certificate_id, supported_mask, stripe) do update set n = n + excluded.n;`;
  await sql.raw(`create trigger device_counts_insert after insert on devices begin
      ${add('new.certificate_id', 'new.supported_mask', '1')}
    end`).execute(db);
  await sql.raw(`create trigger device_counts_delete after delete on devices begin
      ${add('old.certificate_id', 'old.supported_mask', '-1')}
    end`).execute(db);
  await sql.raw(`create trigger device_counts_update after update of certificate_id, supported_mask on devices
    when old.certificate_id <> new.certificate_id or old.supported_mask <> new.supported_mask begin
      ${add('old.certificate_id', 'old.supported_mask', '-1')}
      ${add('new.certificate_id', 'new.supported_mask', '1')}
    end`).execute(db);
}

async function postgresTriggers(db: Kysely<unknown>): Promise<void> {
  // The hash's low bits (STRIPES is a power of two); abs() would overflow on the smallest int4.
  const stripe = (row: string) => `(hashtext(${row}.id) & ${STRIPES - 1})`;
  // The transition table's devices, grouped, added with `sign`.
  const grouped = (table: string, sign: string) => `
    insert into device_counts (certificate_id, supported_mask, stripe, n)
      select certificate_id, supported_mask, ${stripe(table)}, ${sign} count(*) from ${table}
      group by certificate_id, supported_mask, ${stripe(table)}
      order by 1, 2, 3
    on conflict (certificate_id, supported_mask, stripe) do update set n = device_counts.n + excluded.n;`;
  const one = (row: string, sign: string) => `
    insert into device_counts (certificate_id, supported_mask, stripe, n)
      values (${row}.certificate_id, ${row}.supported_mask, ${stripe(row)}, ${sign}1)
    on conflict (certificate_id, supported_mask, stripe) do update set n = device_counts.n + excluded.n;`;
  const fn = (name: string, body: string) =>
    sql.raw(`create function ${name}() returns trigger language plpgsql as $$ begin ${body} return null; end $$`).execute(db);
  await fn('device_counts_inserted', grouped('new_rows', ''));
  await fn('device_counts_deleted', grouped('old_rows', '-'));
  // The two rows are locked in key order, so that two devices switching opposite ways cannot deadlock.
  await fn(
    'device_counts_updated',
    `if (old.certificate_id, old.supported_mask) < (new.certificate_id, new.supported_mask) then ${one('old', '-')} ${one('new', '')}
     else ${one('new', '')} ${one('old', '-')} end if;`,
  );
  await sql.raw(`create trigger device_counts_insert after insert on devices referencing new table as new_rows
    for each statement execute function device_counts_inserted()`).execute(db);
  await sql.raw(`create trigger device_counts_delete after delete on devices referencing old table as old_rows
    for each statement execute function device_counts_deleted()`).execute(db);
  await sql.raw(`create trigger device_counts_update after update of certificate_id, supported_mask on devices
    for each row when (old.certificate_id <> new.certificate_id or old.supported_mask <> new.supported_mask)
    execute function device_counts_updated()`).execute(db);
}
