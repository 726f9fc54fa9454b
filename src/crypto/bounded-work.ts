/**
 * A cap on expensive work that runs in libuv's thread pool (RSA key generation, scrypt): at most
 * `concurrent` jobs run at once, at most `queued` more wait for a slot, and anything beyond is
 * refused at once with the caller's error (a 429 with Retry-After over HTTP) instead of piling up.
 * The pool has four threads by default and also serves file I/O and other crypto, so a flood of
 * one kind of work must never occupy all of them.
 *
 *   const slots = new BoundedWork({ concurrent: 2, queued: 8 }, () => new CertfleetError(…));
 *   const key = await slots.run(() => generate(spec));
 */
import { availableParallelism } from 'node:os';
import type { CertfleetError } from '../domain/errors.js';


/** The cores besides one, for CPU-bound work beside the event loop (at least one). */
export const SPARE_CORES = Math.max(1, availableParallelism() - 1);

export interface WorkLimits {
  /** Jobs that run at the same time (at least 1). */
  readonly concurrent: number;
  /** Jobs that may wait for a slot; 0: refuse as soon as every slot is busy. */
  readonly queued: number;
}

export function checkWorkLimits(limits: WorkLimits, what: string): WorkLimits {
  if (!Number.isInteger(limits.concurrent) || limits.concurrent < 1) throw new RangeError(`${what}: at least one must run at a time`);
  if (!Number.isInteger(limits.queued) || limits.queued < 0) throw new RangeError(`${what}: the queue length is a whole number`);
  return limits;
}

export class BoundedWork {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly limits: WorkLimits,
    /** The refusal when every slot and the queue are taken. */
    private readonly busy: () => CertfleetError,
  ) {
    checkWorkLimits(limits, 'BoundedWork');
  }

  /** Jobs running and waiting now (for tests and metrics). */
  get load(): { readonly running: number; readonly waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  /** Runs `job` in a free slot, waiting in the queue if need be; throws `busy()` when the queue is full. */
  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.running >= this.limits.concurrent) {
      if (this.waiting.length >= this.limits.queued) throw this.busy();
      // The slot is handed over by `release`, so `running` never drops below the cap in between.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await job();
    } finally {
      this.release();
    }
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }
}
