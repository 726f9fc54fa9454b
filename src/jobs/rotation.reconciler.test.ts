import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { SYSTEM_ACTOR, type Actor } from '../app/context.js';
import { RotationTrigger, type RotationReport } from '../app/rotation.js';
import { FakeTime, settle } from '../../test/support/fake-time.js';
import { RotationReconciler, type ReconcilerLog } from './rotation.reconciler.js';

const operator: Actor = { userId: 'u-op', username: 'otto', role: 'operator', tokenId: null };
const admin: Actor = { userId: 'u-ad', username: 'ada', role: 'admin', tokenId: null };

function report(n: number): RotationReport {
  const at = new Date(0).toISOString();
  return { defaultAlias: `pass-${n}`, checked: n, scheduled: 0, incompatible: 0, alreadyCurrent: 0, awaitingConfirmation: 0, startedAt: at, finishedAt: at };
}

/** A fake pass: each call waits until the test releases it (or fails it), unless told to answer at once. */
class FakePasses {
  calls = 0;
  active = 0;
  maxActive = 0;
  /** The fake clock's time at each call, and who it ran for. */
  readonly times: number[] = [];
  readonly actors: string[] = [];
  private readonly pending: { resolve: () => void; reject: (e: Error) => void }[] = [];
  auto: 'manual' | 'ok' | 'fail' = 'manual';

  constructor(private readonly time: FakeTime) {}

  readonly run = async (actor: Actor): Promise<RotationReport> => {
    this.calls += 1;
    const n = this.calls;
    this.times.push(this.time.now().getTime());
    this.actors.push(actor.username);
    this.active += 1;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      if (this.auto === 'fail') throw new Error(`pass ${n} failed`);
      if (this.auto === 'manual') await new Promise<void>((resolve, reject) => this.pending.push({ resolve, reject }));
      return report(n);
    } finally {
      this.active -= 1;
    }
  };

  /** Ends the oldest waiting pass and lets the reconciler react to it. */
  async release(): Promise<void> {
    await settle();
    const next = this.pending.shift();
    assert.notEqual(next, undefined, 'a pass is waiting to be released');
    next?.resolve();
    await settle();
  }
}

function quietLog(): ReconcilerLog & { infos: unknown[]; errors: unknown[] } {
  const infos: unknown[] = [];
  const errors: unknown[] = [];
  return { infos, errors, info: (o) => infos.push(o), error: (o) => errors.push(o) };
}

function setup(options: { intervalMs: number; backoffMs?: number }) {
  const time = new FakeTime('2030-01-01T00:00:00Z');
  const passes = new FakePasses(time);
  const log = quietLog();
  const reconciler = new RotationReconciler({ run: passes.run, scheduler: time, log, ...options });
  return { time, passes, log, reconciler, start: time.now().getTime() };
}

describe('RotationReconciler', () => {
  it('accepts pino as its log', () => {
    const log: ReconcilerLog = pino({ level: 'silent' });
    assert.equal(typeof log.info, 'function');
    assert.equal(typeof log.error, 'function');
  });

  it('never runs two passes at a time; triggers during a pass queue exactly one more', async () => {
    const { passes, reconciler: r } = setup({ intervalMs: 60_000 });
    const first = r.runNow(SYSTEM_ACTOR);
    r.trigger(RotationTrigger.defaultChanged);
    r.trigger(RotationTrigger.defaultChanged);
    const second = r.runNow(SYSTEM_ACTOR);
    r.trigger(RotationTrigger.compatibilityChanged);
    assert.equal(passes.calls, 1);
    await passes.release();
    assert.equal((await first).checked, 1);
    assert.equal(passes.calls, 2, 'one rerun for all the triggers of the first pass');
    await passes.release();
    assert.equal((await second).checked, 2, 'runNow answers with a pass that started after it was asked');
    await settle();
    assert.equal(passes.calls, 2);
    assert.equal(passes.maxActive, 1);
    await r.stop();
  });

  it('runs a requested pass on behalf of the first who asked, a triggered one as the system', async () => {
    const { passes, reconciler: r } = setup({ intervalMs: 60_000 });
    const first = r.runNow(operator);
    r.trigger(RotationTrigger.defaultChanged);
    const queued = r.runNow(admin);
    const also = r.runNow(operator);
    await passes.release();
    await passes.release();
    assert.deepEqual(await Promise.all([first, queued, also]).then((rs) => rs.map((x) => x.checked)), [1, 2, 2], 'requests queued together share one pass');
    r.trigger(RotationTrigger.compatibilityChanged);
    await passes.release();
    assert.deepEqual(passes.actors, ['otto', 'ada', 'system']);
    await r.stop();
  });

  it('runs at start and then every interval, and nothing after stop()', async () => {
    const { time, passes, log, reconciler: r, start } = setup({ intervalMs: 20_000 });
    passes.auto = 'ok';
    r.start();
    r.start();
    await time.advance(100_000);
    assert.deepEqual(
      passes.times.map((t) => t - start),
      [0, 20_000, 40_000, 60_000, 80_000, 100_000],
      'one pass at start, then one per interval',
    );
    assert.equal(log.infos.length, passes.calls, 'every report is logged');
    assert.deepEqual(time.timers, [{ inMs: 20_000 }], 'exactly one timer waits for the next pass');
    await r.stop();
    assert.deepEqual(time.timers, [], 'stop() cancels the timer');
    await time.advance(100_000);
    assert.equal(passes.calls, 6, 'nothing runs after stop()');
  });

  it('a triggered pass restarts the interval instead of adding a second timer', async () => {
    const { time, passes, reconciler: r, start } = setup({ intervalMs: 20_000 });
    passes.auto = 'ok';
    r.start();
    await time.advance(5_000);
    r.trigger(RotationTrigger.defaultChanged);
    await time.advance(30_000);
    assert.deepEqual(passes.times.map((t) => t - start), [0, 5_000, 25_000]);
    assert.equal(time.timers.length, 1);
    await r.stop();
  });

  it('backs off after errors, doubling up to the interval, and recovers', async () => {
    const { time, passes, log, reconciler: r, start } = setup({ intervalMs: 64_000, backoffMs: 4_000 });
    passes.auto = 'fail';
    r.start();
    await time.advance(250_000);
    // 4, 8, 16, 32, 64, 64 …: never a tight loop, never longer than the interval.
    const gaps = passes.times.slice(1).map((t, i) => t - (passes.times[i] ?? start));
    assert.deepEqual(gaps, [4_000, 8_000, 16_000, 32_000, 64_000, 64_000]);
    assert.equal(log.errors.length, passes.calls);
    await assert.rejects(r.runNow(SYSTEM_ACTOR), /^Error: pass 8 failed$/);
    passes.auto = 'ok';
    assert.equal((await r.runNow(SYSTEM_ACTOR)).defaultAlias, 'pass-9');
    assert.deepEqual(time.timers, [{ inMs: 64_000 }], 'after a success the next pass is an interval away');
    await r.stop();
  });

  it('stop() waits for the running pass, refuses the queued one and any later request', async () => {
    const { passes, reconciler: r } = setup({ intervalMs: 60_000 });
    const running = r.runNow(SYSTEM_ACTOR);
    const queued = assert.rejects(r.runNow(SYSTEM_ACTOR), /the rotation reconciler was stopped/);
    let stopped = false;
    const stopping = r.stop().then(() => (stopped = true));
    await settle();
    assert.equal(stopped, false, 'stop() waits while a pass runs');
    await queued;
    await passes.release();
    await stopping;
    assert.equal((await running).checked, 1);
    assert.equal(passes.calls, 1);
    await assert.rejects(r.runNow(SYSTEM_ACTOR), /the rotation reconciler is stopped/);
    r.trigger(RotationTrigger.requested);
    await settle();
    assert.equal(passes.calls, 1);
  });

  it('refuses a non-positive interval', () => {
    const time = new FakeTime();
    assert.throws(
      () => new RotationReconciler({ run: new FakePasses(time).run, intervalMs: 0, scheduler: time, log: quietLog() }),
      RangeError,
    );
  });
});
