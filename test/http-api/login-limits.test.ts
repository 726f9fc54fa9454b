/**
 * Log-in limits and bounded work (issue 10, items 2 and 3), against the real HTTP API on a real
 * port: the limits per address and per user name answer 429 with Retry-After and end with their
 * window (the clock is a FakeTime stepped by the test, never slept on); a burst of failures is
 * one audit entry with its count; password hashes and key generations are capped, and /healthz
 * stays fast while the generation queue is full. Client addresses come from X-Forwarded-For
 * (the API trusts the proxy here), so one test can be many addresses.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, afterEach, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createUser, ensureAdminAccount } from '../../src/app/accounts.js';
import { ensureDefaultCertificate, type KeyPairSource } from '../../src/app/certificates.js';
import { ensureCluster } from '../../src/app/cluster.js';
import { SYSTEM_ACTOR } from '../../src/app/context.js';
import type { AuditEvent } from '../../src/app/records.js';
import type { Store } from '../../src/app/store.js';
import { DEFAULT_PASSWORD_HASH_LIMITS, limitPasswordHashing } from '../../src/crypto/password-hash.js';
import { boundedKeyPairSource } from '../../src/crypto/key-generation.js';
import { buildHttpApi } from '../../src/transport/http-api/server.js';
import { DEFAULT_LOGIN_LIMITS, type LoginLimits } from '../../src/transport/http-api/login-limits.js';
import { testAppContext, type TestAppContext } from '../support/app-context.js';
import { openTestStore } from '../support/databases.js';
import { FakeTime, settle } from '../support/fake-time.js';
import { poolKeyPairSource } from '../support/key-pool.js';
import { auditSince, lastAuditId, PASSWORDS } from './support.js';

const ATTACKER = '203.0.113.7';
const OWNER = '198.51.100.20';

interface Answer {
  readonly status: number;
  readonly code: string | null;
  readonly details: Record<string, unknown>;
  readonly retryAfter: number | null;
  readonly body: Record<string, unknown>;
}

interface Server {
  readonly url: string;
  readonly ctx: TestAppContext;
  readonly time: FakeTime;
  readonly app: FastifyInstance;
  login(username: string, password: string, from: string): Promise<Answer>;
  send(method: string, path: string, opts?: { readonly body?: unknown; readonly token?: string; readonly from?: string }): Promise<Answer>;
  close(): Promise<void>;
}

const open: Server[] = [];

async function startServer(opts: { readonly limits?: LoginLimits; readonly keyPairs?: KeyPairSource } = {}): Promise<Server> {
  const time = new FakeTime('2030-01-01T00:00:00Z');
  const store: Store = await openTestStore('sqlite');
  const ctx = testAppContext(store, { clock: time, ...(opts.keyPairs ? { keyPairs: opts.keyPairs } : {}) });
  await ensureAdminAccount(ctx, PASSWORDS.admin);
  await ensureDefaultCertificate(ctx, SYSTEM_ACTOR);
  await ensureCluster(ctx);
  const app = await buildHttpApi({ ctx, logger: false, trustProxy: true, logins: { scheduler: time, ...(opts.limits ? { limits: opts.limits } : {}) } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  assert.ok(address && typeof address === 'object');
  const url = `http://127.0.0.1:${address.port}`;
  const send: Server['send'] = async (method, path, o = {}) => {
    const res = await fetch(url + path, {
      method,
      headers: {
        ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
        'x-forwarded-for': o.from ?? OWNER,
      },
      ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
    });
    const body = (await res.json()) as Record<string, unknown>; // every answer of these routes is JSON
    const error = body['error'] as { code?: string; details?: Record<string, unknown> } | undefined; // the API's error document
    const retryAfter = res.headers.get('retry-after');
    return { status: res.status, code: error?.code ?? null, details: error?.details ?? {}, retryAfter: retryAfter === null ? null : Number(retryAfter), body };
  };
  const server: Server = {
    url,
    ctx,
    time,
    app,
    send,
    login: (username, password, from) => send('POST', '/api/v1/auth/login', { body: { username, password }, from }),
    close: async () => {
      await app.close();
      await store.close();
    },
  };
  open.push(server);
  return server;
}

afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

/** A 429 of the log-in limits: its code, the limit that refused it, and Retry-After equal to the seconds in the body. */
function assertThrottled(a: Answer, limitedBy: 'address' | 'name'): number {
  assert.equal(a.status, 429, JSON.stringify(a.body));
  assert.equal(a.code, 'too_many_login_attempts');
  assert.equal(a.details['limitedBy'], limitedBy);
  assert.ok(a.retryAfter !== null && a.retryAfter >= 1, 'Retry-After is set');
  assert.equal(a.retryAfter, a.details['retryAfterSeconds']);
  return a.retryAfter;
}

/** Lets the audit writes a timer started land (each is a few promise turns on SQLite). */
async function auditAfterTimers(s: Server, since: number, count: number): Promise<AuditEvent[]> {
  for (let i = 0; i < 200; i++) {
    const events = await auditSince(s.ctx, since);
    if (events.length >= count) return events;
    await settle();
  }
  return auditSince(s.ctx, since);
}

describe('log-in limits (real HTTP API, fake clock)', () => {
  it('one address gets at most 30 wrong passwords a minute: slowed after 10, refused after 30, with Retry-After; others are not affected', async () => {
    const s = await startServer();
    const start = s.time.now().getTime();
    let wrong = 0;
    let n = 0;
    const waits: number[] = [];
    // The guesser tries a new name each time (so that only the address limit can stop it) and
    // comes back exactly when Retry-After says.
    while (s.time.now().getTime() - start < 60_000) {
      const a = await s.login(`guess-${n++}`, 'wrong-password', ATTACKER);
      if (a.status === 401) {
        assert.equal(a.code, 'invalid_credentials');
        wrong++;
        continue;
      }
      const wait = assertThrottled(a, 'address');
      waits.push(wait);
      if (wrong === 30) {
        // Stopped: another address still logs in at once, the owner's password is not blocked elsewhere.
        assert.equal((await s.login('admin', PASSWORDS.admin, OWNER)).status, 200);
      }
      await s.time.advance(wait * 1000);
    }
    assert.equal(wrong, 30, 'exactly the allowance of one minute');
    assert.deepEqual(waits, [10, 10, 40], 'slowed down twice for 10 s, then stopped until the minute ends');
    // The window has ended: the address may try again, and the owner behind it logs in.
    assert.equal((await s.login('admin', PASSWORDS.admin, ATTACKER)).status, 200);
    assert.equal((await s.login('guess-x', 'wrong-password', ATTACKER)).status, 401);
  });

  it('parallel guessing from one address gets no further: one attempt in flight, still 30 a minute', async () => {
    const s = await startServer();
    let wrong = 0;
    let n = 0;
    for (let round = 0; round < 12; round++) {
      const answers = await Promise.all(Array.from({ length: 20 }, () => s.login(`p-${n++}`, 'wrong-password', ATTACKER)));
      for (const a of answers) {
        if (a.status === 401) wrong++;
        else assertThrottled(a, 'address');
      }
      await s.time.advance(5_000); // 12 rounds × 5 s = one minute
    }
    assert.ok(wrong <= 30, `at most 30 wrong passwords a minute, got ${wrong}`);
    assert.ok(wrong >= 10, `the allowance is usable, got ${wrong}`);
  });

  it('one user name: slowed after 4 wrong passwords from any address, refused after 10; hammering does not extend it; the owner gets in after the window', async () => {
    const s = await startServer();
    await createUser(s.ctx, { userId: 'system', username: 'system', role: 'admin', tokenId: null }, { username: 'other', role: 'viewer', password: 'other-password-1' });
    let addr = 0;
    const from = () => `10.0.${Math.floor(addr / 250)}.${(addr++ % 250) + 1}`;
    const wrongFor = async (k: number) => {
      for (let i = 0; i < k; i++) assert.equal((await s.login('admin', `wrong-${addr}`, from())).status, 401);
    };
    await wrongFor(4);
    // Even the right password waits now: the name, not the address, is limited.
    assert.equal(assertThrottled(await s.login('admin', PASSWORDS.admin, OWNER), 'name'), 150);
    // Another name is not affected.
    assert.equal((await s.login('other', 'other-password-1', from())).status, 200);
    // Upper case or spaces are the same name.
    assertThrottled(await s.login(' ADMIN ', 'wrong', from()), 'name');
    await s.time.advance(150_000);
    await wrongFor(4);
    assertThrottled(await s.login('admin', 'wrong', from()), 'name');
    await s.time.advance(150_000);
    await wrongFor(2);
    // Ten in the window: refused until it ends, 15 minutes after the first failure.
    assert.equal(assertThrottled(await s.login('admin', PASSWORDS.admin, OWNER), 'name'), 600);
    for (let i = 0; i < 50; i++) assertThrottled(await s.login('admin', 'wrong', from()), 'name');
    await s.time.advance(599_000);
    assert.equal(assertThrottled(await s.login('admin', PASSWORDS.admin, OWNER), 'name'), 1, 'hammering did not extend the window');
    await s.time.advance(1_000);
    assert.equal((await s.login('admin', PASSWORDS.admin, OWNER)).status, 200, 'the owner logs in once the window has ended');
  });

  it('the console log-in counts against the same limits', async () => {
    // 9 a minute: 3 in 10 s before the address is slowed down.
    const s = await startServer({ limits: { perAddress: { max: 9, windowMs: 60_000 }, perName: DEFAULT_LOGIN_LIMITS.perName } });
    assert.equal((await s.login('a', 'wrong-password', ATTACKER)).status, 401);
    assert.equal((await s.send('POST', '/api/v1/auth/session', { body: { username: 'b', password: 'wrong-password' }, from: ATTACKER })).status, 401);
    assert.equal((await s.login('c', 'wrong-password', ATTACKER)).status, 401);
    assertThrottled(await s.send('POST', '/api/v1/auth/session', { body: { username: 'd', password: 'wrong-password' }, from: ATTACKER }), 'address');
  });

  it('a burst of failures from one address is one audit entry with its count, not one row per failure', async () => {
    const s = await startServer();
    const since = await lastAuditId(s.ctx);
    for (let i = 0; i < 40; i++) await s.login(`guess-${i}`, 'wrong-password', ATTACKER);
    // 10 wrong passwords, then 30 attempts refused by the limit: the first failure is written at once.
    const first = await auditSince(s.ctx, since);
    assert.deepEqual(
      first.map((e) => [e.action, e.actor, e.result, e.code, e.details]),
      [['auth.login', 'guess-0', 'refused', 'invalid_credentials', { source: ATTACKER, failures: 1, throttled: 0, names: ['guess-0'] }]],
    );
    await s.time.advance(60_000);
    const events = await auditAfterTimers(s, since, 2);
    assert.equal(events.length, 2, JSON.stringify(events));
    const burst = events.find((e) => e.id !== first[0]?.id);
    assert.ok(burst);
    assert.equal(burst.actor, 'anonymous', 'several names were tried');
    assert.equal(burst.code, 'invalid_credentials');
    assert.deepEqual(burst.details, {
      source: ATTACKER,
      failures: 9,
      throttled: 30,
      names: Array.from({ length: 10 }, (_, i) => `guess-${i}`),
      otherNames: 30,
    });
    // A quiet window later the burst is over: nothing more is written, and the next failure shows at once again.
    await s.time.advance(60_000);
    await settle();
    assert.equal((await auditSince(s.ctx, since)).length, 2);
    await s.login('guess-again', 'wrong-password', ATTACKER);
    assert.equal((await auditSince(s.ctx, since)).length, 3);
    // Another address is its own burst.
    await s.login('admin', 'wrong-password', OWNER);
    const last = (await auditSince(s.ctx, since))[0];
    assert.deepEqual([last?.actor, last?.details['source'], last?.details['failures']], ['admin', OWNER, 1]);
  });

  it('the failed log-ins still counting when the server stops are written at close', async () => {
    const s = await startServer();
    const since = await lastAuditId(s.ctx);
    for (let i = 0; i < 3; i++) await s.login('admin', 'wrong-password', ATTACKER);
    assert.equal((await auditSince(s.ctx, since)).length, 1);
    await s.app.close();
    const events = await auditSince(s.ctx, since);
    assert.deepEqual(events.map((e) => e.details['failures']), [2, 1]);
  });
});

describe('capped work', () => {
  after(() => limitPasswordHashing(DEFAULT_PASSWORD_HASH_LIMITS));

  it('password hashes: a flood of log-ins from many addresses is refused with 429 password_hashing_busy beyond the cap, never queued without bound', async () => {
    const s = await startServer();
    limitPasswordHashing({ concurrent: 1, queued: 2 });
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => s.login(`flood-${i}`, 'wrong-password', `192.0.2.${i + 1}`)));
    const busy = answers.filter((a) => a.status === 429);
    assert.ok(busy.length >= 1, `some were refused: ${answers.map((a) => a.status).join(' ')}`);
    for (const a of busy) {
      assert.equal(a.code, 'password_hashing_busy');
      assert.equal(a.retryAfter, 1);
    }
    assert.ok(answers.filter((a) => a.status === 401).length >= 3, 'the running and the queued ones were answered');
    limitPasswordHashing(DEFAULT_PASSWORD_HASH_LIMITS);
    assert.equal((await s.login('admin', PASSWORDS.admin, OWNER)).status, 200);
  });

  it('key generation: a full queue answers 429 key_generation_busy with Retry-After while /healthz stays fast; the alias is checked first', async () => {
    // Generations that wait for the test to let them finish (once the server has started).
    let hold: Promise<void> | null = null;
    let release: () => void = () => undefined;
    const pool = poolKeyPairSource();
    const bounded = boundedKeyPairSource(
      {
        generate: async (spec) => {
          if (hold) await hold;
          return pool.generate(spec);
        },
      },
      { concurrent: 1, queued: 1 },
    );
    const s = await startServer({ keyPairs: bounded });
    hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    const token = (await s.login('admin', PASSWORDS.admin, OWNER)).body['token'];
    assert.equal(typeof token, 'string');
    const generate = (alias: string) => s.send('POST', '/api/v1/certificates', { body: { alias, signatureAlgorithm: 'SHA256withECDSA' }, token: token as string });
    const running = generate('gen-1');
    const queued = generate('gen-2');
    for (let i = 0; i < 1000 && bounded.slots.load.waiting < 1; i++) await new Promise((r) => setImmediate(r));
    assert.deepEqual(bounded.slots.load, { running: 1, waiting: 1 });

    const since = await lastAuditId(s.ctx);
    const refused = await generate('gen-3');
    assert.equal(refused.status, 429, JSON.stringify(refused.body));
    assert.equal(refused.code, 'key_generation_busy');
    assert.equal(refused.retryAfter, 5);
    assert.equal(refused.details['retryAfterSeconds'], 5);
    const audited = await auditSince(s.ctx, since);
    assert.deepEqual(audited.map((e) => [e.action, e.target, e.result, e.code]), [['certificate.generate', 'gen-3', 'refused', 'key_generation_busy']]);
    // The alias is checked before a slot is asked for: a taken one is told so even now.
    const taken = await generate('tckey');
    assert.equal(taken.status, 409);
    assert.equal(taken.code, 'alias_taken');

    const t0 = performance.now();
    const health = await fetch(`${s.url}/healthz`);
    const healthMs = performance.now() - t0;
    assert.equal(health.status, 200);
    assert.ok(healthMs < 200, `/healthz took ${healthMs.toFixed(1)} ms while the queue was full`);

    release();
    assert.equal((await running).status, 201);
    assert.equal((await queued).status, 201);
    assert.deepEqual(bounded.slots.load, { running: 0, waiting: 0 });
    assert.equal((await generate('gen-3')).status, 201, 'a slot is free again');
  });
});
