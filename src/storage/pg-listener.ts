/**
 * PostgreSQL LISTEN on one dedicated connection (H2): how a node of a cluster learns at once of a
 * change another node committed. `NOTIFY` is delivered only when the sending transaction commits,
 * so a notification always names a change that is visible.
 *
 * Notification channels are per database, not per schema, so every channel name carries the
 * schema: two clusters in two schemas of one database (as the tests run) never hear each other.
 *
 *   connecting ──ok──▶ listening ──connection lost──▶ waiting (back-off, doubling) ──▶ connecting
 *        │                                                        ▲
 *        └──────────────────────failed────────────────────────────┘
 *
 * After every (re)connection `onListening` is called: whatever was sent while no connection
 * listened is lost, so the caller catches up there (reloads what it serves).
 */
import pg from 'pg';
import type { Scheduler, Timer } from '../domain/time.js';

export interface PgListenerOptions {
  readonly connectionString: string;
  /** The schema the cluster's tables are in; part of every channel name. */
  readonly schema: string;
  /** Channel names without the schema, e.g. `keystore`. */
  readonly channels: readonly string[];
  onNotification(channel: string, payload: string): void;
  /** Called after each successful LISTEN, the first one included: catch up on what was missed. */
  onListening(): void;
  onError(error: Error, retryInMs: number): void;
  /** The timer retries wait on; tests give a fake one. */
  readonly scheduler: Scheduler;
  /** First retry after a lost connection; doubles up to `maxRetryMs`. Default 200 ms. */
  readonly retryMs?: number;
  readonly maxRetryMs?: number;
}

/** Keystore revisions: the payload is the new revision (CertificateStore.bumpRevision). */
export const KEYSTORE_CHANNEL = 'keystore';

/** The channel name PostgreSQL sees for a certfleet channel in a schema. */
export function channelName(schema: string, channel: string): string {
  return `certfleet.${schema}.${channel}`;
}

function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export class PgListener {
  private client: pg.Client | null = null;
  private retryTimer: Timer | null = null;
  private failures = 0;
  private closed = false;
  private readonly byFullName: ReadonlyMap<string, string>;

  constructor(private readonly options: PgListenerOptions) {
    this.byFullName = new Map(options.channels.map((c) => [channelName(options.schema, c), c]));
  }

  /** Connects and listens; resolves after the first attempt, whether it worked or a retry is scheduled. */
  async start(): Promise<void> {
    await this.connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.retryTimer?.cancel();
    this.retryTimer = null;
    const client = this.client;
    this.client = null;
    if (client) await client.end().catch(() => undefined);
  }

  /**
   * Sends a notification on one of this cluster's channels, through the listening connection
   * (no pool connection is taken). Fails when the connection is down; the caller retries or gives up.
   */
  async notify(channel: string, payload: string): Promise<void> {
    const client = this.client;
    if (!client) throw new Error('the notification connection is down');
    await client.query('SELECT pg_notify($1, $2)', [channelName(this.options.schema, channel), payload]);
  }

  /** True while a connection is listening. */
  get listening(): boolean {
    return this.client !== null;
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({ connectionString: this.options.connectionString });
    client.on('notification', (n) => {
      const channel = this.byFullName.get(n.channel);
      if (channel !== undefined) this.options.onNotification(channel, n.payload ?? '');
    });
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, new Error('the notification connection ended')));
    try {
      await client.connect();
      for (const full of this.byFullName.keys()) await client.query(`LISTEN ${quoteIdentifier(full)}`);
    } catch (error) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      this.retry(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.failures = 0;
    this.options.onListening();
  }

  private lost(client: pg.Client, error: Error): void {
    if (this.client !== client) return; // an old connection, or one still connecting (connect() handles it)
    this.client = null;
    client.removeAllListeners('end');
    client.end().catch(() => undefined);
    this.retry(error);
  }

  private retry(error: Error): void {
    if (this.closed) return;
    this.failures += 1;
    const retryMs = Math.min(this.options.maxRetryMs ?? 5000, (this.options.retryMs ?? 200) * 2 ** (this.failures - 1));
    this.options.onError(error, retryMs);
    this.retryTimer = this.options.scheduler.schedule(retryMs, () => {
      this.retryTimer = null;
      void this.connect();
    });
  }
}
