/**
 * Deterministic time and randomness for tests: a clock that moves only when told, timers that
 * fire when that clock passes them, and a random source that repeats from a seed.
 *
 *   const time = new FakeTime('2030-01-01T00:00:00Z');
 *   const r = new RotationReconciler({ run, intervalMs: 60_000, scheduler: time, log });
 *   r.start();
 *   await time.advance(60_000);   // fires every timer due within the minute, in order
 */
import { createHash } from 'node:crypto';
import type { Random } from '../../src/app/context.js';
import type { Clock, Scheduler, Timer } from '../../src/domain/time.js';

interface Pending {
  readonly at: number;
  /** Order among timers due at the same instant: the one set first fires first. */
  readonly seq: number;
  readonly callback: () => void;
  cancelled: boolean;
}

/** Lets every callback queued so far run, and what they queue in turn (promise chains, I/O-free). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class FakeTime implements Clock, Scheduler {
  private nowMs: number;
  private seq = 0;
  private pending: Pending[] = [];
  private watchers: { n: number; resolve: () => void }[] = [];

  constructor(start: Date | string | number = 0) {
    this.nowMs = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.nowMs);
  }

  schedule(delayMs: number, callback: () => void): Timer {
    const entry: Pending = { at: this.nowMs + Math.max(0, delayMs), seq: this.seq++, callback, cancelled: false };
    this.pending.push(entry);
    const waiting = this.live().length;
    for (const w of this.watchers.filter((x) => waiting >= x.n)) {
      this.watchers.splice(this.watchers.indexOf(w), 1);
      w.resolve();
    }
    return {
      cancel: () => {
        entry.cancelled = true;
      },
    };
  }

  /** Timers set and neither fired nor cancelled, soonest first (for assertions). */
  get timers(): readonly { readonly inMs: number }[] {
    return this.live().map((p) => ({ inMs: p.at - this.nowMs }));
  }

  /**
   * Moves the clock `ms` on, firing each timer that falls due on the way at its own instant, one at
   * a time, and letting what it started settle before the next (a timer set by a callback fires in
   * the same call if it falls due in time).
   */
  async advance(ms: number): Promise<void> {
    const until = this.nowMs + ms;
    await settle();
    for (;;) {
      const next = this.live()[0];
      if (!next || next.at > until) break;
      this.nowMs = next.at;
      next.cancelled = true;
      next.callback();
      await settle();
    }
    this.nowMs = until;
  }

  /**
   * Resolves once `n` timers wait. For code that sets its next timer at the end of each piece of
   * work (the agent loop, the simulator's devices), that is the signal the work has finished.
   */
  whenPending(n: number): Promise<void> {
    if (this.live().length >= n) return Promise.resolve();
    return new Promise((resolve) => this.watchers.push({ n, resolve }));
  }

  /** Moves the clock to the earliest timer (the first set among equals) and runs it; false when none waits. */
  runNext(): boolean {
    const next = this.live()[0];
    if (!next) return false;
    this.nowMs = Math.max(this.nowMs, next.at);
    next.cancelled = true;
    next.callback();
    return true;
  }

  private live(): Pending[] {
    this.pending = this.pending.filter((p) => !p.cancelled);
    return [...this.pending].sort((a, b) => a.at - b.at || a.seq - b.seq);
  }
}

/** A Random that gives the same sequence for the same seed: ids and tokens a test can predict. */
export class SeededRandom implements Random {
  private counter = 0;

  constructor(private readonly seed = 'certfleet-test') {}

  bytes(n: number): Buffer {
    const out: Buffer[] = [];
    let length = 0;
    while (length < n) {
      const block = createHash('sha256').update(`${this.seed}:${this.counter++}`).digest();
      out.push(block);
      length += block.length;
    }
    return Buffer.concat(out).subarray(0, n);
  }

  uuid(): string {
    const b = this.bytes(16);
    // RFC 9562 version 4 and variant bits, so that it is a well-formed UUID.
    b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
    b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
    const hex = b.toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
}
