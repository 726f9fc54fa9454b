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
 * Which node runs it in a cluster (H4) is decided by whoever calls start().
 */
import { SYSTEM_ACTOR, type AppContext } from '../app/context.js';
import { runRotation, type RotationReport } from '../app/rotation.js';

/** What the reconciler logs through; pino's Logger fits. */
export interface ReconcilerLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface RotationReconcilerOptions {
  /** Time between passes. */
  readonly intervalMs: number;
  readonly log: ReconcilerLog;
  /** The first retry after an error; it doubles per failure up to `intervalMs`. Default 1 s. */
  readonly backoffMs?: number;
  /** The pass itself; default `runRotation(ctx, SYSTEM_ACTOR)`. Tests give a fake. */
  readonly run?: (ctx: AppContext) => Promise<RotationReport>;
}

export const DEFAULT_SYNC_INTERVAL_MS = 5 * 60_000;

interface Waiter {
  resolve(report: RotationReport): void;
  reject(error: unknown): void;
}

export class RotationReconciler {
  private readonly intervalMs: number;
  private readonly backoffMs: number;
  private readonly run: (ctx: AppContext) => Promise<RotationReport>;
  private readonly log: ReconcilerLog;
  private running: Promise<void> | null = null;
  /** Callers waiting for the pass queued behind the running one (null: none queued). */
  private queued: { waiters: Waiter[]; reasons: string[] } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private started = false;
  private stopped = false;

  constructor(
    private readonly ctx: AppContext,
    options: RotationReconcilerOptions,
  ) {
    if (!Number.isFinite(options.intervalMs) || options.intervalMs <= 0) throw new RangeError('RotationReconciler: intervalMs must be > 0');
    this.intervalMs = options.intervalMs;
    this.backoffMs = Math.min(options.backoffMs ?? 1000, options.intervalMs);
    this.run = options.run ?? ((ctx) => runRotation(ctx, SYSTEM_ACTOR));
    this.log = options.log;
  }

  /** Runs a first pass now (catching up after a restart), then every interval. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.trigger('start');
  }

  /** Stops the timer, refuses queued passes, and waits for a running pass to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const queued = this.queued;
    this.queued = null;
    for (const w of queued?.waiters ?? []) w.reject(new Error('the rotation reconciler was stopped'));
    await this.running;
  }

  /** Asks for a pass as soon as possible; returns at once. */
  trigger(reason: string): void {
    this.request(reason).catch(() => {
      // Logged by the pass itself; a trigger has no one to tell.
    });
  }

  /** Runs a pass that starts after this call and returns its report (`sync run`). */
  runOnce(): Promise<RotationReport> {
    return this.request('requested');
  }

  private request(reason: string): Promise<RotationReport> {
    if (this.stopped) return Promise.reject(new Error('the rotation reconciler is stopped'));
    return new Promise<RotationReport>((resolve, reject) => {
      const waiter = { resolve, reject };
      if (this.running === null) {
        this.begin([waiter], [reason]);
      } else if (this.queued !== null) {
        this.queued.waiters.push(waiter);
        this.queued.reasons.push(reason);
      } else {
        this.queued = { waiters: [waiter], reasons: [reason] };
      }
    });
  }

  private begin(waiters: Waiter[], reasons: string[]): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.running = this.pass(waiters, reasons).finally(() => {
      this.running = null;
      const next = this.queued;
      this.queued = null;
      if (next && !this.stopped) this.begin(next.waiters, next.reasons);
    });
  }

  private async pass(waiters: readonly Waiter[], reasons: readonly string[]): Promise<void> {
    const reason = [...new Set(reasons)].join(', ');
    try {
      const report = await this.run(this.ctx);
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
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.trigger('interval');
    }, delayMs);
    // The timer alone never keeps the process alive.
    this.timer.unref();
  }
}
