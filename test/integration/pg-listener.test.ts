/**
 * The notification connection of a cluster node (H2) against the real PostgreSQL: it hears its own
 * schema's channels only, a notification arrives when the sending transaction commits (not
 * before), and a killed connection is re-established — after a retry that the test's fake clock releases,
 * so nothing here waits on a wall-clock timer.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { channelName, PgListener } from '../../src/storage/pg-listener.js';
import { databaseUnavailable, TEST_PG_URL } from '../support/databases.js';
import { FakeTime } from '../support/fake-time.js';

/** A queue of events that a test awaits one by one. */
class Events<T> {
  private readonly items: T[] = [];
  private readonly waiting: ((item: T) => void)[] = [];
  push(item: T): void {
    const w = this.waiting.shift();
    if (w) w(item);
    else this.items.push(item);
  }
  next(): Promise<T> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  get buffered(): number {
    return this.items.length;
  }
}

// Without PostgreSQL this suite is skipped with the reason, except with CI=true, where it runs and fails.
const problem = databaseUnavailable('postgres');
const skip = problem !== null && process.env.CI !== 'true' ? problem : false;

describe('PostgreSQL notification listener (H2)', { skip }, () => {
  const schema = `t_listen_${randomBytes(4).toString('hex')}`;
  const other = `t_listen_${randomBytes(4).toString('hex')}`;
  const sender = new pg.Client({ connectionString: TEST_PG_URL });
  const notifications = new Events<string>();
  const listening = new Events<'listening'>();
  const errors = new Events<Error>();
  const time = new FakeTime('2030-01-01T00:00:00Z');
  let listener: PgListener;

  before(async () => {
    await sender.connect();
    listener = new PgListener({
      connectionString: TEST_PG_URL,
      schema,
      channels: ['keystore', 'rotation'],
      onNotification: (channel, payload) => notifications.push(`${channel}:${payload}`),
      onListening: () => listening.push('listening'),
      onError: (e) => errors.push(e),
      scheduler: time,
    });
    await listener.start();
    assert.equal(await listening.next(), 'listening');
  });

  after(async () => {
    await listener.close();
    await sender.end();
  });

  it("hears its schema's channels with their payload, and not another schema's", async () => {
    await sender.query('SELECT pg_notify($1, $2)', [channelName(other, 'keystore'), '99']);
    await sender.query('SELECT pg_notify($1, $2)', [channelName(schema, 'keystore'), '7']);
    await sender.query('SELECT pg_notify($1, $2)', [channelName(schema, 'rotation'), '']);
    // Notifications from one session arrive in order: had the other schema's come through, it would be first.
    assert.equal(await notifications.next(), 'keystore:7');
    assert.equal(await notifications.next(), 'rotation:');
  });

  it('is told of a change only when its transaction commits, and never of a rolled-back one', async () => {
    await sender.query('BEGIN');
    await sender.query('SELECT pg_notify($1, $2)', [channelName(schema, 'keystore'), 'rolled-back']);
    await sender.query('ROLLBACK');
    await sender.query('BEGIN');
    await sender.query('SELECT pg_notify($1, $2)', [channelName(schema, 'keystore'), 'committed']);
    // A round trip on the listener's server after the NOTIFY but before COMMIT: nothing has arrived.
    await sender.query('SELECT 1');
    assert.equal(notifications.buffered, 0);
    await sender.query('COMMIT');
    assert.equal(await notifications.next(), 'keystore:committed');
  });

  it('reconnects after its connection is killed, calls onListening again, and hears what follows', async () => {
    const killed = await sender.query<{ n: string }>(
      `SELECT count(pg_terminate_backend(pid))::text AS n FROM pg_stat_activity
        WHERE pid <> pg_backend_pid() AND query LIKE $1`,
      [`LISTEN "${channelName(schema, 'rotation')}"%`],
    );
    assert.equal(killed.rows[0]?.n, '1');
    const error = await errors.next();
    assert.match(error.message, /terminat|ended|Connection/i);
    assert.equal(listener.listening, false);
    assert.deepEqual(time.timers, [{ inMs: 200 }], 'one retry, after the first back-off');
    await time.advance(200);
    assert.equal(await listening.next(), 'listening');
    await sender.query('SELECT pg_notify($1, $2)', [channelName(schema, 'keystore'), 'after']);
    assert.equal(await notifications.next(), 'keystore:after');
  });
});
