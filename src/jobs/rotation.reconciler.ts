/**
 * The rotation reconciler (R3): runs a rotation pass every interval (`--sync-interval`, 5 minutes
 * by default), at once when triggered (the default changed, the compatibility table changed,
 * `sync run`), never two passes at a time, and backs off after errors instead of retrying in a
 * tight loop (cert-manager's habit).
 *
 *   idle ──trigger / timer──▶ running ──done──▶ idle (timer: interval)
 *                              │  ▲     └─failed─▶ idle (timer: back-off, doubling up to the interval)
 *              trigger while   │  │
 *              running         ▼  │ after the pass
 *                             one rerun queued (further triggers join it)
 *
 * It is the context's RotationRunner in a server (src/main/serve.ts), so `sync run` joins the same
 * single flight as the timer and the triggers. Time passes through the injected Scheduler, so the
 * tests step a fake clock. Which node runs it in a cluster (H4) is decided by whoever calls start().
 */
import { SYSTEM_ACTOR, type Actor } from '../app/context.js';
import { RotationTrigger, type RotationReport, type RotationRunner } from '../app/rotation.js';
import type { Scheduler, Timer } from '../domain/time.js';

/** What the reconciler logs through; pino's Logger fits. */
export interface ReconcilerLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface RotationReconcilerOptions {
  /** The pass itself, on behalf of the actor who asked (the system for the timer and triggers): `runRotation`. */
  readonly run: (actor: Actor) => Promise<RotationReport>;
  /** Time between passes. */
  readonly intervalMs: number;
  readonly scheduler: Scheduler;
  readonly log: ReconcilerLog;
  /** The first retry after an error; it doubles per failure up to `intervalMs`. Default 1 s. */
  readonly backoffMs?: number;
}

export const DEFAULT_SYNC_INTERVAL_MS = 5 * 60_000;

interface Waiter {
  /** Who asked; null for the timer and the triggers. */
  readonly actor: Actor | null;
  readonly reason: RotationTrigger;
  resolve(report: RotationReport): void;
  reject(error: unknown): void;
}

export class RotationReconciler implements RotationRunner {
  private readonly intervalMs: number;
  private readonly backoffMs: number;
  private readonly run: (actor: Actor) => Promise<RotationReport>;
  private readonly scheduler: Scheduler;
  private readonly log: ReconcilerLog;
  private running: Promise<void> | null = null;
  /** Callers waiting for the pass queued behind the running one (empty: none queued). */
  private queued: Waiter[] = [];
  private timer: Timer | null = null;
  private failures = 0;
  private started = false;
  private stopped = false;

  constructor(options: RotationReconcilerOptions) {
    if (!Number.isFinite(options.intervalMs) || options.intervalMs <= 0) throw new RangeError('RotationReconciler: intervalMs must be > 0');
    this.intervalMs = options.intervalMs;
    this.backoffMs = Math.min(options.backoffMs ?? 1000, options.intervalMs);
    this.run = options.run;
    this.scheduler = options.scheduler;
    this.log = options.log;
  }

  /** Runs a first pass now (catching up after a restart), then every interval. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.trigger(RotationTrigger.start);
  }

  /** Stops the timer, refuses queued passes, and waits for a running pass to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
    const queued = this.queued;
    this.queued = [];
    for (const w of queued) w.reject(new Error('the rotation reconciler was stopped'));
    await this.running;
  }

  /** Asks for a pass as soon as possible; returns at once. */
  trigger(reason: RotationTrigger): void {
    this.request(null, reason).catch(() => {
      // Logged by the pass itself; a trigger has no one to tell.
    });
  }

  /** Runs a pass that starts after this call, on behalf of `actor`, and returns its report (`sync run`). */
  runNow(actor: Actor): Promise<RotationReport> {
    return this.request(actor, RotationTrigger.requested);
  }

  private request(actor: Actor | null, reason: RotationTrigger): Promise<RotationReport> {
    if (this.stopped) return Promise.reject(new Error('the rotation reconciler is stopped'));
    return new Promise<RotationReport>((resolve, reject) => {
      const waiter: Waiter = { actor, reason, resolve, reject };
      if (this.running === null) this.begin([waiter]);
      else this.queued.push(waiter);
    });
  }

  private begin(waiters: readonly Waiter[]): void {
    this.timer?.cancel();
    this.timer = null;
    this.running = this.pass(waiters).finally(() => {
      this.running = null;
      const next = this.queued;
      this.queued = [];
      if (next.length > 0 && !this.stopped) this.begin(next);
    });
  }

  private async pass(waiters: readonly Waiter[]): Promise<void> {
    const reason = [...new Set(waiters.map((w) => w.reason))].join(', ');
    // Requests that share a pass share its report; it is audited under the first who asked.
    const actor = waiters.find((w) => w.actor !== null)?.actor ?? SYSTEM_ACTOR;
    try {
      const report = await this.run(actor);
      this.failures = 0;
      this.log.info({ reason, report }, 'rotation pass');
      this.schedule(this.intervalMs);
      for (const w of waiters) w.resolve(report);
    } catch (error) {
      this.failures += 1;
      const retryInMs = Math.min(this.intervalMs, this.backoffMs * 2 ** (this.failures - 1));
      this.log.error({ reason, err: error, failures: this.failures, retryInMs }, 'rotation pass failed');
      this.schedule(retryInMs);
      for (const w of waiters) w.reject(error);
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped || !this.started) return;
    this.timer?.cancel();
    this.timer = this.scheduler.schedule(delayMs, () => {
      this.timer = null;
      this.trigger(RotationTrigger.interval);
    });
  }
}
