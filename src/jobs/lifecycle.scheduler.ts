/**
 * The lifecycle job (L2): on every node a timer looks every `checkMs` (15 minutes by default, so a
 * maintenance window of an hour is never missed); only the rotation leader (H4) runs a pass, its
 * writes fenced by the lease like the rotation's. A pass is cheap when nothing is due (a handful of
 * reads), and never two at a time. The state lives in the database, so a restart or a new leader
 * carries on where the last one stopped. Time passes through the injected Scheduler and the
 * context's clock, so tests run years of it on a FakeTime.
 */
import type { AppContext } from '../app/context.js';
import { runLifecyclePass, type LifecyclePassReport } from '../app/lifecycle.js';
import type { RotationFence } from '../app/rotation.js';
import { every, type Scheduler, type Timer } from '../domain/time.js';

export interface LifecycleLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const DEFAULT_LIFECYCLE_CHECK_MS = 15 * 60_000;

export interface LifecycleScheduleOptions {
  readonly ctx: AppContext;
  readonly scheduler: Scheduler;
  readonly log: LifecycleLog;
  /** Whether this node holds the rotation lease now (H4). */
  readonly isLeader: () => boolean;
  readonly fence?: RotationFence;
  readonly checkMs?: number;
}

export class LifecycleSchedule {
  private timer: Timer | null = null;
  private running: Promise<LifecyclePassReport | null> | null = null;

  constructor(private readonly o: LifecycleScheduleOptions) {}

  start(): void {
    this.timer ??= every(this.o.scheduler, this.o.checkMs ?? DEFAULT_LIFECYCLE_CHECK_MS, () => void this.tick());
  }

  /** Stops the timer and waits for a running pass. */
  async stop(): Promise<void> {
    this.timer?.cancel();
    this.timer = null;
    await this.running;
  }

  /** One look: a pass if this node leads (a look during a pass joins it). Null: not the leader, or it failed (logged). */
  tick(): Promise<LifecyclePassReport | null> {
    this.running ??= this.pass().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async pass(): Promise<LifecyclePassReport | null> {
    if (!this.o.isLeader()) return null;
    try {
      const report = await runLifecyclePass(this.o.ctx, this.o.fence);
      if (report.steps.length > 0) this.o.log.info({ steps: report.steps }, 'lifecycle pass');
      return report;
    } catch (e) {
      this.o.log.error({ err: e }, 'lifecycle pass failed; the next look retries');
      return null;
    }
  }
}
