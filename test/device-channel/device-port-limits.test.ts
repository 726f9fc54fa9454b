/**
 * The device port against strangers (issue 10, item 4), on the real channel over real TLS:
 * registrations throttled per source with Retry-After, refusals counted into one audit entry per
 * source and minute, the absolute handshake deadline and the connection cap, the first-contact
 * cache bounded by the allow-list — and a device's handshake staying fast while a registration
 * flood runs. Time is a FakeTime wherever the channel reads it (clock, deadline); the throttle and
 * the audit are also checked on their own.
 */
import assert from 'node:assert/strict';
import { connect as connectTcp, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { AgentError } from '../../src/agent/agent-errors.js';
import { DeviceAgent } from '../../src/agent/agent.js';
import { initialState, memoryStateStore } from '../../src/agent/agent-state.js';
import { firmwareProfile } from '../../src/agent/profiles.js';
import { SYSTEM_ACTOR } from '../../src/app/context.js';
import type { NewAuditEvent } from '../../src/app/records.js';
import { createEnrollmentToken } from '../../src/app/enrollment.js';
import { ALLOWED_SIGNATURE_ALGORITHMS } from '../../src/domain/algorithms.js';
import { algorithmMask } from '../../src/domain/compatibility.js';
import { helloServerName, parseServerName, pinServerName } from '../../src/domain/device-names.js';
import type { DeviceChannel } from '../../src/transport/device-channel/device-channel.js';
import { buildServedKeystore } from '../../src/transport/device-channel/served-keystore.js';
import { OTHER_SOURCES, RefusalAudit, RegistrationThrottle, sourceOf } from '../../src/transport/device-channel/source-limits.js';
import { testAppContext, type TestAppContext } from '../support/app-context.js';
import { forEachDatabase } from '../support/databases.js';
import { deviceKeystore, type TestKeystore } from '../support/device-fleet.js';
import { FakeTime } from '../support/fake-time.js';
import { channelOn, makeEntry, silentLog } from './channel-fixtures.js';
import { errorCode, floodAgent, handshakeMs, rawRequest } from './raw-client.js';

const REGISTER = '/device/v1/register';
/** The suite's hold before the alert of a throttled first contact (a value no other timer has). */
const HOLD_MS = 700;
const JSON_HEADERS = { 'content-type': 'application/json' };

function registration(token: string, unit = '00:11:22:33:44:55'): string {
  return JSON.stringify({ enrollmentToken: token, unitId: unit, name: 'tc', osFamily: 'IGEL OS', osVersion: '12.01.100', profile: 'igel-os-12' });
}

/** Resolves when the client socket has been closed by the server. */
function closedByServer(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    socket.once('close', () => resolve());
    socket.on('error', () => undefined);
  });
}

function tcp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connectTcp({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
}

describe('source limits on their own', () => {
  it('counts IPv4 by address and IPv6 by /64, however it is written', () => {
    assert.equal(sourceOf('203.0.113.7'), '203.0.113.7');
    assert.equal(sourceOf('::ffff:203.0.113.7'), '203.0.113.7');
    assert.equal(sourceOf('2001:db8:1:2:aaaa::1'), '2001:0db8:0001:0002::/64');
    assert.equal(sourceOf('2001:DB8:1:2:ffff:1:2:3'), '2001:0db8:0001:0002::/64');
    assert.equal(sourceOf('::1'), '0000:0000:0000:0000::/64');
    assert.equal(sourceOf(undefined), 'unknown');
  });

  it('throttles a source to its burst, refills per minute, gives a successful attempt back, and forgets the oldest sources', async () => {
    const time = new FakeTime('2030-01-01T00:00:00Z');
    const t = new RegistrationThrottle(time, { burst: 3, perMinute: 6, maxSources: 2 });
    assert.deepEqual([t.take('a'), t.take('a'), t.take('a')].map((v) => v.ok), [true, true, true]);
    assert.deepEqual(t.take('a'), { ok: false, retryAfterSeconds: 10 }, 'one attempt every 10 s at 6 a minute');
    assert.equal(t.take('b').ok, true, 'another source has its own budget');
    await time.advance(10_000);
    assert.equal(t.take('a').ok, true);
    assert.equal(t.take('a').ok, false);
    t.giveBack('a');
    assert.equal(t.take('a').ok, true, 'a registration that succeeded did not count');
    t.take('c');
    assert.equal(t.size, 2, 'at most maxSources are remembered');
  });

  it('writes one audit entry per source and minute with a count, and at most maxSourcesPerMinute of them', async () => {
    const time = new FakeTime('2030-01-01T00:00:30Z');
    const written: NewAuditEvent[] = [];
    const audit = new RefusalAudit(
      { audit: { append: async (e) => void written.push(e) }, clock: time, scheduler: time, log: silentLog },
      { action: 'device.register', maxSourcesPerMinute: 2 },
    );
    const at = () => time.now().toISOString();
    for (let i = 0; i < 500; i++) audit.count('198.51.100.1', 'enrollment_token_invalid', at(), { unitId: `u${i}` });
    audit.count('198.51.100.2', 'registration_rate_limited', at());
    for (let i = 3; i < 50; i++) audit.count(`198.51.100.${i}`, 'enrollment_token_invalid', at());
    assert.equal(written.length, 0, 'nothing is written before the minute ends');
    await time.advance(30_000);
    await audit.flush(false);
    assert.deepEqual(
      written.map((e) => [e.target, e.details['count'], e.code]),
      [['198.51.100.1', 500, 'enrollment_token_invalid'], ['198.51.100.2', 1, 'registration_rate_limited'], [OTHER_SOURCES, 47, 'enrollment_token_invalid']],
    );
    assert.equal(written[2]?.details['sources'], 47);
    assert.deepEqual(written[0]?.details['first'], { unitId: 'u0' }, 'the first refusal is kept as a sample');
    assert.equal(written[0]?.details['minute'], '2030-01-01T00:00:00.000Z');
  });

  it('keys the first-contact cache by the bits of the allow-list only', async () => {
    const top = await makeEntry('top', 'SHA512withRSA', 1);
    const legacy = await makeEntry('legacy', 'SHA256withRSA', 2);
    const served = buildServedKeystore({ revision: 1, entries: [top, legacy] }, null, {});
    const legacyMask = algorithmMask(['SHA256withRSA']);
    // Any 32-bit mask a stranger writes in the server name …
    for (let i = 0; i < 5000; i++) served.resolve(parseServerName(helloServerName(((i * 2_654_435_761) >>> 0) | 1)));
    // … lands on one of the 2^8 masks of the allow-list.
    assert.ok(served.cachedMasks <= 2 ** ALLOWED_SIGNATURE_ALGORITHMS.length, `cached masks: ${served.cachedMasks}`);
    assert.equal(served.resolve(parseServerName(helloServerName((0xffff_ff00 | legacyMask) >>> 0)))?.alias, 'legacy', 'bits off the allow-list are ignored');
  });
});

forEachDatabase('device port limits', (db) => {
  let ctx: TestAppContext;
  let ks: TestKeystore;
  let time: FakeTime;
  let channel: DeviceChannel;
  let port: number;
  let pin: string;

  before(async () => {
    time = new FakeTime(Date.UTC(2030, 0, 1, 0, 0, 5));
    ctx = testAppContext(await db.open(), { clock: time });
    ks = await deviceKeystore(ctx);
    pin = pinServerName(ks.tckey.facts.sha256Fingerprint);
    channel = await channelOn(ctx, time, { registrationBurst: 5, registrationsPerMinute: 5, handshakeDeadlineMs: 10_000, maxHandshakes: 3, refusalHoldMs: HOLD_MS });
    port = channel.address.port;
  });

  /** A first contact the throttle turns away: its alert comes once the channel's time has passed the hold. */
  async function held<T>(attempt: Promise<T>): Promise<T> {
    let settled = false;
    const watched = attempt.finally(() => {
      settled = true;
    });
    watched.catch(() => undefined); // awaited below
    while (!settled) {
      if (time.timers.some((t) => t.inMs === HOLD_MS)) await time.advance(HOLD_MS);
      else await new Promise((resolve) => setImmediate(resolve));
    }
    return watched;
  }
  after(() => channel?.close());

  it('throttles registrations per source with 429 and Retry-After, and writes one audit entry for the minute', async () => {
    const agent = floodAgent(1);
    try {
      const codes: (string | null)[] = [];
      let retryAfter: string | string[] | undefined;
      for (let i = 0; i < 40; i++) {
        const a = await rawRequest(port, { path: REGISTER, headers: JSON_HEADERS, body: registration(`cfe_wrong${i}`), agent });
        codes.push(errorCode(a));
        if (a.status === 429) retryAfter = a.headers['retry-after'];
        else assert.equal(a.status, 401);
      }
      assert.deepEqual(codes.slice(0, 5), Array(5).fill('enrollment_token_invalid'));
      assert.deepEqual(codes.slice(5), Array(35).fill('registration_rate_limited'));
      assert.equal(retryAfter, '12', 'five a minute: the next attempt in 12 s');
      // A valid token from the same source is also turned away until the source has budget again …
      const token = (await createEnrollmentToken(ctx, SYSTEM_ACTOR, { uses: 10 })).token;
      assert.equal(errorCode(await rawRequest(port, { path: REGISTER, headers: JSON_HEADERS, body: registration(token), agent })), 'registration_rate_limited');
      // … which comes back with time (the channel's clock), and successes do not use it up.
      await time.advance(12_000);
      for (let i = 0; i < 3; i++) {
        const a = await rawRequest(port, { path: REGISTER, headers: JSON_HEADERS, body: registration(token, `00:11:22:33:44:6${i}`), agent });
        assert.equal(a.status, 201, a.text);
      }
      // The minute ends: its refusals are one entry, with the count and the codes.
      const before = (await ctx.store.audit.list({ limit: 500 })).filter((e) => e.action === 'device.register' && e.result === 'refused');
      assert.equal(before.length, 0, 'no refusal was written one by one');
      await time.advance(60_000);
      await channel.reload(); // lets the flush's write settle on the real store
      const entries = (await ctx.store.audit.list({ limit: 500 })).filter((e) => e.action === 'device.register' && e.result === 'refused');
      assert.equal(entries.length, 1, JSON.stringify(entries));
      const [entry] = entries;
      assert.equal(entry?.target, '127.0.0.1');
      assert.equal(entry?.details['count'], 41);
      assert.deepEqual(entry?.details['codes'], { enrollment_token_invalid: 5, registration_rate_limited: 36 });
    } finally {
      agent.destroy();
    }
  });

  it('turns first contact from a source with no attempt left away at its ClientHello, before any signature, and still lets its devices in', async () => {
    await time.advance(60_000); // the source has its whole burst again
    const hello = helloServerName(algorithmMask(ALLOWED_SIGNATURE_ALGORITHMS));
    // Each first-contact connection takes one attempt at its ClientHello (a new connection each,
    // as a flood that wants the server to sign would send them) …
    for (let i = 0; i < 5; i++) {
      const a = await rawRequest(port, { path: REGISTER, headers: JSON_HEADERS, body: registration(`cfe_wrong${i}`), ...(i % 2 ? { servername: hello } : {}) });
      assert.equal(errorCode(a), 'enrollment_token_invalid', a.text);
    }
    // … and with none left the connection ends with an access_denied alert instead of a handshake,
    // under the first-contact name and without one.
    const heldFrom = time.now().getTime();
    await assert.rejects(held(rawRequest(port, { path: REGISTER, headers: JSON_HEADERS, body: registration('cfe_wrong'), servername: hello })), /alert access denied/);
    assert.equal(time.now().getTime() - heldFrom, HOLD_MS, 'the alert came after the hold, not before');
    await assert.rejects(held(rawRequest(port, { path: REGISTER, headers: JSON_HEADERS, body: registration('cfe_wrong') })), /alert access denied/);
    // The agent says why, not just that the handshake failed.
    const profile = firmwareProfile('igel-os-12');
    assert.ok(profile, 'the igel-os-12 profile exists');
    const agent = new DeviceAgent(initialState({ servers: [`127.0.0.1:${port}`], profile: profile.name }), memoryStateStore, { servers: [{ host: '127.0.0.1', port }], profile, timeoutMs: 5000 });
    await assert.rejects(held(agent.cycle('cfe_any')), (e: unknown) => e instanceof AgentError && e.code === 'registration_rate_limited' && /too many registration attempts/.test(e.message));
    // A device behind the same address, under its pin, still gets its handshake.
    assert.equal(typeof (await handshakeMs(port, pin)), 'number');
    // Time gives the source an attempt back (the holds above count towards it); a registration that succeeds keeps it.
    await time.advance(12_000 - 3 * HOLD_MS);
    const token = (await createEnrollmentToken(ctx, SYSTEM_ACTOR, { uses: 2 })).token;
    for (const unit of ['00:11:22:33:44:70', '00:11:22:33:44:71']) {
      const a = await rawRequest(port, { path: REGISTER, headers: JSON_HEADERS, body: registration(token, unit), servername: hello });
      assert.equal(a.status, 201, a.text);
    }
    // The minute's refusals, those before the handshake included, are one audit entry.
    await time.advance(60_000);
    await channel.reload(); // lets the flush's write settle on the real store
    const entries = (await ctx.store.audit.list({ limit: 500 })).filter((e) => e.action === 'device.register' && e.result === 'refused');
    const last = entries[0];
    assert.deepEqual(last?.details['codes'], { enrollment_token_invalid: 5, registration_rate_limited: 3 }, JSON.stringify(entries));
  });

  it('ends a connection whose handshake is not done by the absolute deadline, however slowly it trickles', async () => {
    const slow = await tcp(port);
    const closed = closedByServer(slow);
    // A ClientHello record header, then one byte every 3 s of the channel's time: an idle timer
    // would never fire; the deadline counts from accept.
    slow.write(Buffer.from([22, 3, 1, 0x02, 0x00]));
    for (let i = 0; i < 3; i++) {
      await time.advance(3_000);
      slow.write(Buffer.from([1]));
    }
    assert.equal(slow.destroyed, false, 'still open at 9 s');
    await time.advance(1_000);
    await closed;
  });

  it('closes connections past the cap on unfinished handshakes at once, and serves devices again below it', async () => {
    const idle = await Promise.all([tcp(port), tcp(port), tcp(port)]);
    const fourth = await tcp(port);
    await closedByServer(fourth);
    await assert.rejects(handshakeMs(port, pin), /ECONNRESET|socket disconnected|socket hang up/i);
    idle[0]?.destroy();
    await time.advance(0);
    // The slot is free once the server has seen the close.
    for (let tries = 0; ; tries++) {
      try {
        await handshakeMs(port, pin);
        break;
      } catch (e) {
        if (tries > 50) throw e;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    for (const s of idle) s.destroy();
    await time.advance(10_000);
  });

  for (const keepAlive of [true, false]) it(`keeps a device handshake fast while a registration flood runs (${keepAlive ? 'attempts on kept-alive connections' : 'a new connection per attempt'})`, { timeout: 60_000 }, async (t) => {
    await time.advance(60_000);
    // The default caps (no hold: this channel's time stands still while the flood runs).
    const flooded = await channelOn(ctx, time, { refusalHoldMs: 0 });
    const port = flooded.address.port;
    const measure = async (n: number) => {
      const ms: number[] = [];
      for (let i = 0; i < n; i++) ms.push(await handshakeMs(port, pin));
      return ms.sort((a, b) => a - b);
    };
    await measure(5); // warm-up
    const idle = await measure(30);
    const worker = new Worker(new URL('./flood-worker.js', import.meta.url), { workerData: { port, connections: 8, body: registration('cfe_flood'), keepAlive } });
    const messages: { ready?: boolean; sent?: number; statuses?: Record<string, number> }[] = [];
    const next = () => new Promise<(typeof messages)[number]>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    messages.push(await next()); // every flood connection is open and answered
    const during = await measure(30);
    const ended = next();
    worker.postMessage('stop');
    const { sent = 0, statuses = {} } = await ended;
    await worker.terminate(); // its message port would keep it, and this process, alive
    await flooded.close();
    const worst = (xs: number[]) => xs[xs.length - 1] ?? 0;
    const median = (xs: number[]) => xs[Math.floor(xs.length / 2)] ?? 0;
    t.diagnostic(
      `device handshake idle: median ${median(idle).toFixed(1)} ms, worst ${worst(idle).toFixed(1)} ms; ` +
        `during a flood of ${sent} registrations (${JSON.stringify(statuses)}): median ${median(during).toFixed(1)} ms, worst ${worst(during).toFixed(1)} ms`,
    );
    assert.ok(sent >= 100, `the flood ran: ${sent} requests`);
    assert.equal(statuses['500'] ?? 0, 0, 'no 500 under the flood');
    // Past the burst, kept-alive attempts get 429; new connections get the alert before any handshake.
    const turnedAway = keepAlive ? (statuses['429'] ?? 0) : (statuses['access_denied'] ?? 0);
    assert.ok(turnedAway >= sent - 40, `the throttle turned the flood away: ${JSON.stringify(statuses)}`);
    // Loose bounds: the machine (two cores) also runs the flood's worker and other tests. What
    // they rule out is starvation — a handshake queued behind the flood's database work.
    assert.ok(median(during) <= median(idle) + 250, `median handshake during the flood ${median(during).toFixed(1)} ms vs idle ${median(idle).toFixed(1)} ms`);
    assert.ok(worst(during) <= 1_000, `worst handshake during the flood ${worst(during).toFixed(1)} ms`);
  });
});
