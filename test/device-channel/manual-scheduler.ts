/**
 * A Scheduler whose time moves only when the test says so: `runNext()` jumps to the earliest timer
 * and runs it. `whenPending(n)` resolves once n timers wait — for the agent runner and the
 * simulator that is the signal that the work started by the last timer has finished (each device
 * sets its next timer at the end of its cycle).
 */
import type { Scheduler } from '../../src/agent/scheduler.js';

interface Timer {
  readonly at: number;
  readonly fn: () => void;
}

export class ManualScheduler implements Scheduler {
  private time: number;
  /** In the order they were set; the earliest first when run. */
  private timers: Timer[] = [];
  private watchers: { n: number; resolve: () => void }[] = [];

  constructor(start = Date.UTC(2030, 0, 1)) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  after(ms: number, fn: () => void): () => void {
    const timer: Timer = { at: this.time + Math.max(0, ms), fn };
    this.timers.push(timer);
    for (const w of this.watchers.filter((x) => this.timers.length >= x.n)) {
      this.watchers.splice(this.watchers.indexOf(w), 1);
      w.resolve();
    }
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  /** The delays of the waiting timers, from now, in the order they were set. */
  pending(): number[] {
    return this.timers.map((t) => t.at - this.time);
  }

  whenPending(n: number): Promise<void> {
    if (this.timers.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.watchers.push({ n, resolve }));
  }

  /** Moves the clock to the earliest timer (the first set among equals) and runs it; false when none waits. */
  runNext(): boolean {
    const next = this.timers.reduce<Timer | null>((a, t) => (a === null || t.at < a.at ? t : a), null);
    if (!next) return false;
    this.timers = this.timers.filter((t) => t !== next);
    this.time = Math.max(this.time, next.at);
    next.fn();
    return true;
  }
}
