/**
 * What a process of a test prints, and waiting for a line of it: the event that proves what a
 * test across processes awaits (a server's "took the rotation lease", a simulator's progress),
 * instead of polling on the wall clock. The deadline only bounds a wait that would otherwise hang.
 *
 *   const watch = new OutputWatch(child.stdout, child.stderr);
 *   const mark = watch.mark();                       // before the action
 *   … the action …
 *   await watch.waitFor(/took the rotation lease/, 'B takes the lease', 5000, mark);
 */
import type { Readable } from 'node:stream';

interface Waiter {
  readonly pattern: RegExp;
  readonly from: number;
  resolve(match: RegExpExecArray): void;
}

export class OutputWatch {
  private text = '';
  private waiters: Waiter[] = [];

  constructor(...streams: readonly Readable[]) {
    for (const s of streams) {
      s.on('data', (chunk: Buffer) => {
        this.text += chunk.toString('utf8');
        for (const w of [...this.waiters]) {
          const m = w.pattern.exec(this.text.slice(w.from));
          if (m) {
            this.waiters = this.waiters.filter((x) => x !== w);
            w.resolve(m);
          }
        }
      });
    }
  }

  /** Everything printed so far. */
  get output(): string {
    return this.text;
  }

  /** Where the output stands now: wait for what is printed after it. */
  mark(): number {
    return this.text.length;
  }

  /** Resolves with the first match of `pattern` printed after `from`; fails after `timeoutMs` saying what was awaited. */
  waitFor(pattern: RegExp, what: string, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    const now = pattern.exec(this.text.slice(from));
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        pattern,
        from,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== waiter);
        reject(new Error(`${what}: not printed within ${timeoutMs} ms; the output ends:\n${this.text.slice(-2000)}`));
      }, timeoutMs);
      // The deadline alone never keeps a test process alive (the process it watches may be gone).
      timer.unref();
      this.waiters.push(waiter);
    });
  }
}
