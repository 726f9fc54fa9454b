import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import type { AppContext } from '../app/context.js';
import type { RotationReport } from '../app/rotation.js';
import { RotationReconciler, type ReconcilerLog } from './rotation.reconciler.js';

const ctx = {} as AppContext; // the reconciler only hands the context to the pass, which is fake here

function report(n: number): RotationReport {
  const at = new Date(0).toISOString();
  return { defaultAlias: `pass-${n}`, checked: n, scheduled: 0, incompatible: 0, alreadyCurrent: 0, awaitingConfirmation: 0, startedAt: at, finishedAt: at };
}

/** A fake pass: each call waits until the test releases it (or fails it). */
class FakePasses {
  calls = 0;
  active = 0;
  maxActive = 0;
  readonly times: number[] = [];
  private readonly pending: { resolve: () => void; reject: (e: Error) => void }[] = [];
  auto: 'manual' | 'ok' | 'fail' = 'manual';

  readonly run = async (): Promise<RotationReport> => {
    this.calls += 1;
    const n = this.calls;
    this.times.push(performance.now());
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

  async release(): Promise<void> {
    while (this.pending.length === 0) await sleep(1);
    this.pending.shift()?.resolve();
    await sleep(1);
  }
}

function quietLog(): ReconcilerLog & { infos: unknown[]; errors: unknown[] } {
  const infos: unknown[] = [];
  const errors: unknown[] = [];
  return { infos, errors, info: (o) => infos.push(o), error: (o) => errors.push(o) };
}

describe('RotationReconciler', () => {
  it('accepts pino as its log', () => {
    const log: ReconcilerLog = pino({ level: 'silent' });
    assert.ok(log);
  });

  it('never runs two passes at a time; triggers during a pass queue exactly one more', async () => {
    const passes = new FakePasses();
    const r = new RotationReconciler(ctx, { intervalMs: 60_000, log: quietLog(), run: passes.run });
    const first = r.runOnce();
    r.trigger('default changed');
    r.trigger('default changed');
    const second = r.runOnce();
    r.trigger('compatibility');
    assert.equal(passes.calls, 1);
    await passes.release();
    assert.equal((await first).checked, 1);
    assert.equal(passes.calls, 2, 'one rerun for all the triggers of the first pass');
    await passes.release();
    assert.equal((await second).checked, 2, 'runOnce answers with a pass that started after it was asked');
    await sleep(5);
    assert.equal(passes.calls, 2);
    assert.equal(passes.maxActive, 1);
    await r.stop();
  });

  it('runs at start and then every interval, with an unref’d timer', async () => {
    const passes = new FakePasses();
    passes.auto = 'ok';
    const log = quietLog();
    const r = new RotationReconciler(ctx, { intervalMs: 20, log, run: passes.run });
    r.start();
    r.start();
    await sleep(110);
    await r.stop();
    assert.ok(passes.calls >= 3 && passes.calls <= 7, `ran ${passes.calls} times in 110 ms at a 20 ms interval`);
    assert.equal(log.infos.length, passes.calls, 'every report is logged');
    const calls = passes.calls;
    await sleep(40);
    assert.equal(passes.calls, calls, 'nothing runs after stop()');
  });

  it('backs off after errors, doubling up to the interval, and recovers', async () => {
    const passes = new FakePasses();
    passes.auto = 'fail';
    const log = quietLog();
    const r = new RotationReconciler(ctx, { intervalMs: 64, backoffMs: 4, log, run: passes.run });
    r.start();
    await sleep(250);
    const gaps = passes.times.slice(1).map((t, i) => t - (passes.times[i] ?? 0));
    // 4, 8, 16, 32, 64, 64 …: never a tight loop, never longer than the interval.
    assert.ok(passes.calls >= 5 && passes.calls <= 8, `${passes.calls} attempts in 250 ms`);
    for (const [i, gap] of gaps.entries()) assert.ok(gap >= Math.min(64, 4 * 2 ** i) - 2, `gap ${i}: ${gap} ms`);
    assert.ok(gaps.every((g) => g < 64 + 100), gaps.join(', '));
    assert.equal(log.errors.length, passes.calls);
    await assert.rejects(r.runOnce(), /failed/);
    passes.auto = 'ok';
    assert.equal((await r.runOnce()).defaultAlias, `pass-${passes.calls}`);
    await r.stop();
  });

  it('stop() waits for the running pass, refuses the queued one and any later request', async () => {
    const passes = new FakePasses();
    const r = new RotationReconciler(ctx, { intervalMs: 60_000, log: quietLog(), run: passes.run });
    const running = r.runOnce();
    const queued = assert.rejects(r.runOnce(), /stopped/);
    let stopped = false;
    const stopping = r.stop().then(() => (stopped = true));
    await sleep(5);
    assert.equal(stopped, false, 'stop() waits while a pass runs');
    await queued;
    await passes.release();
    await stopping;
    assert.equal((await running).checked, 1);
    assert.equal(passes.calls, 1);
    await assert.rejects(r.runOnce(), /stopped/);
    r.trigger('late');
    assert.equal(passes.calls, 1);
  });

  it('refuses a non-positive interval', () => {
    assert.throws(() => new RotationReconciler(ctx, { intervalMs: 0, log: quietLog() }), RangeError);
  });
});
