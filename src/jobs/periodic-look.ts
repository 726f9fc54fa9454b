/**
 * The loop of the leader's periodic jobs (scheduled backups, the daily expiry report): look every
 * interval on the injected scheduler, never two looks at a time, a failed look logged and retried
 * at the next one, and a stop that waits for the look under way.
 */
import { every, type Scheduler, type Timer } from '../domain/time.js';

export class PeriodicLook {
  private timer: Timer | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly everyMs: number,
    private readonly look: () => Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {}

  start(): void {
    this.timer = every(this.scheduler, this.everyMs, () => void this.tick());
  }

  /** Stops the timer and waits for a look under way. */
  async stop(): Promise<void> {
    this.timer?.cancel();
    this.timer = null;
    await this.running;
  }

  /** One look now, or the one under way. */
  tick(): Promise<void> {
    this.running ??= this.look()
      .catch(this.onError)
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }
}
