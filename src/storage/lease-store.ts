/**
 * Leases (H4): a row per lease, with its holder, an epoch that grows with every new holder, and an
 * expiry. See docs/design/cluster.md for why a lease row and not an advisory lock.
 *
 * The times are the caller's clock (the injected Clock), as ISO text like every timestamp here:
 * the nodes' clocks must agree to well within the lease time (NTP), and the fencing does not rely
 * on them alone — a write is accepted only under the current holder *and* epoch.
 */
import type { Kysely } from 'kysely';
import type { HeldLease, LeaseRepo, LeaseState } from '../app/cluster.js';
import { toInt } from './columns.js';
import type { SqlDialect } from './dialect.js';
import type { Database } from './schema.js';

export class LeaseStore implements LeaseRepo {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: SqlDialect,
  ) {}

  /**
   * Takes the lease when nobody holds it or its holder let it expire; a new epoch each time.
   * Returns the epoch, or null when another holder's lease is still running.
   */
  async acquire(name: string, holder: string, now: string, expiresAt: string): Promise<number | null> {
    const row = await this.db
      .updateTable('cluster_lease')
      .set((eb) => ({ holder, epoch: eb('epoch', '+', 1), expires_at: expiresAt }))
      .where('name', '=', name)
      .where((eb) => eb.or([eb('holder', 'is', null), eb('expires_at', 'is', null), eb('expires_at', '<=', now)]))
      .returning('epoch')
      .executeTakeFirst();
    return row ? toInt(row.epoch) : null;
  }

  /** Extends a lease still held under this epoch; false when it was lost (expired or taken). */
  async renew(lease: HeldLease, now: string, expiresAt: string): Promise<boolean> {
    const r = await this.db
      .updateTable('cluster_lease')
      .set({ expires_at: expiresAt })
      .where('name', '=', lease.name)
      .where('holder', '=', lease.holder)
      .where('epoch', '=', lease.epoch)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** Lets go of a lease at shutdown, so another node need not wait for it to expire. */
  async release(lease: HeldLease): Promise<void> {
    await this.db
      .updateTable('cluster_lease')
      .set({ holder: null, expires_at: null })
      .where('name', '=', lease.name)
      .where('holder', '=', lease.holder)
      .where('epoch', '=', lease.epoch)
      .execute();
  }

  /**
   * The fence: true when the lease is still this holder's, under this epoch, and not expired. In a
   * transaction on PostgreSQL the row is read FOR SHARE, so a takeover (an UPDATE of the row) waits
   * until the transaction that checked has ended: no write of an old holder lands after the lease
   * changed hands.
   */
  async holds(lease: HeldLease, now: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('cluster_lease')
      .select('epoch')
      .where('name', '=', lease.name)
      .where('holder', '=', lease.holder)
      .where('epoch', '=', lease.epoch)
      .where('expires_at', '>', now)
      .$if(this.dialect.rowLocks, (q) => q.forShare())
      .executeTakeFirst();
    return row !== undefined;
  }

  async state(name: string): Promise<LeaseState | null> {
    const row = await this.db.selectFrom('cluster_lease').selectAll().where('name', '=', name).executeTakeFirst();
    return row ? { holder: row.holder, epoch: toInt(row.epoch), expiresAt: row.expires_at } : null;
  }
}
