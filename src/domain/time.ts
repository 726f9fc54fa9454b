/**
 * Time as a port, the one way every part of certfleet reads the clock and waits: use cases
 * (`ctx.clock`), the reconciler and the cluster member, the notification listener, the agent and
 * the simulator. The real implementations are wired at the edges (src/main/system.ts for the
 * server, src/agent/agent-time.ts for the agent); tests step test/support/fake-time.ts instead of
 * sleeping. Declared here, innermost, because all of those layers use it; nothing here runs a timer.
 */

/** One day in milliseconds (UTC days: no calendar, no daylight saving). */
export const DAY_MS = 86_400_000;

/** What time it is. */
export interface Clock {
  now(): Date;
}

/** A pending call; cancelling it after it ran, or twice, does nothing. */
export interface Timer {
  cancel(): void;
}

export interface Scheduler {
  /** Calls `callback` once, `delayMs` from now. */
  schedule(delayMs: number, callback: () => void): Timer;
}

/** A clock and the timers that run on it. */
export interface TimeSource extends Clock, Scheduler {}

/** Calls `fn` every `ms` until the returned timer is cancelled. */
export function every(scheduler: Scheduler, ms: number, fn: () => void): Timer {
  let current = scheduler.schedule(ms, function tick() {
    current = scheduler.schedule(ms, tick);
    fn();
  });
  return { cancel: () => current.cancel() };
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(scheduler: Scheduler, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const done = () => {
      timer.cancel();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = scheduler.schedule(Math.max(0, ms), done);
    signal?.addEventListener('abort', done, { once: true });
  });
}
