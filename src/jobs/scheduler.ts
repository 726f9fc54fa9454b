/**
 * Timers as a port, so that a periodic job is tested by stepping a fake clock instead of sleeping
 * (test/support/fake-time.ts). The real one (src/main/system.ts) wraps Node's timers, unref'd: a
 * job's timer alone never keeps the process alive.
 */

/** A pending call; cancelling it after it ran, or twice, does nothing. */
export interface Timer {
  cancel(): void;
}

export interface Scheduler {
  /** Calls `callback` once, `delayMs` from now. */
  schedule(delayMs: number, callback: () => void): Timer;
}
