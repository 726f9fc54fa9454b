/**
 * Time as a port: the agent runner and the simulator read the clock and wait through a Scheduler,
 * so tests drive time themselves (no sleeping, no wall-clock bounds). The real one by default.
 */
export interface Scheduler {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` once, `ms` from now; the returned function cancels the call. */
  after(ms: number, fn: () => void): () => void;
}

export const realScheduler: Scheduler = {
  now: () => Date.now(),
  after: (ms, fn) => {
    const timer = setTimeout(fn, Math.max(0, ms));
    return () => clearTimeout(timer);
  },
};

/** Calls `fn` every `ms` until the returned function is called. */
export function every(scheduler: Scheduler, ms: number, fn: () => void): () => void {
  let cancel = scheduler.after(ms, function tick() {
    cancel = scheduler.after(ms, tick);
    fn();
  });
  return () => cancel();
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(scheduler: Scheduler, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const done = () => {
      cancel();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const cancel = scheduler.after(ms, done);
    signal?.addEventListener('abort', done, { once: true });
  });
}
