/**
 * The real clock, random source and timers, wired by the composition root (serve.ts). The app and
 * the jobs only see the ports (app/context.ts Clock and Random, jobs/scheduler.ts Scheduler), so
 * tests give deterministic ones (test/support/fake-time.ts).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Random } from '../app/context.js';
import type { Clock, Scheduler } from '../domain/time.js';

export const systemClock: Clock = { now: () => new Date() };

/** Node's CSPRNG: ids, tokens and credentials must not be guessable. */
export const systemRandom: Random = { uuid: () => randomUUID(), bytes: (n) => randomBytes(n) };

export const nodeScheduler: Scheduler = {
  schedule(delayMs, callback) {
    const timer = setTimeout(callback, delayMs);
    // A job's timer alone never keeps the process alive.
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};
