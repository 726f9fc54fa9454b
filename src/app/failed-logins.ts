/**
 * Failed and throttled log-ins in the audit log without letting a stranger grow it: per source
 * address, the first refusal of a burst is written at once (so a single mistyped password shows
 * at once, as before), and every further refusal from that address within the burst is counted
 * and written as one entry with the count when the burst's window closes. An address that keeps
 * failing gets one entry per window; one that stops is closed after a quiet window.
 *
 *   t=0   wrong password  → entry {failures: 1}                      (written at once)
 *   t=5   wrong × 29, throttled × 70  (counted)
 *   t=60  window closes   → entry {failures: 29, throttled: 70, names: [...]}
 *   t=120 quiet window    → burst forgotten; the next refusal is written at once again
 *
 * Windows close on the clock of the context: at the next refusal from anywhere, at `sweep()` (a
 * timer calls it each window when a scheduler is given) and at `flush()` (shutdown). A crash loses
 * the counts of at most one window, never the first refusal.
 */
import { ErrorCode } from '../domain/errors.js';
import { every, type Clock, type Scheduler, type Timer } from '../domain/time.js';
import { AuditResult } from '../domain/vocabularies.js';
import type { AuditTrail } from './context.js';

export const FailedLoginKind = {
  /** The user name or password was wrong. */
  invalidCredentials: 'invalidCredentials',
  /** Refused by a log-in limit before the password was checked. */
  throttled: 'throttled',
} as const;
export type FailedLoginKind = (typeof FailedLoginKind)[keyof typeof FailedLoginKind];

/** What a log-in tells about its refusal; accounts.ts `login` calls it. */
export interface FailedLoginRecorder {
  record(kind: FailedLoginKind, username: string, source: string | null): Promise<void>;
}

/** How long a burst's window is; the count of each window is one entry. */
export const FAILED_LOGIN_AUDIT_WINDOW_MS = 60_000;
/** Sources followed at once; beyond, the oldest burst is written out early (memory stays bounded). */
const MAX_BURSTS = 10_000;
/** Names listed in one entry; the rest are only counted. */
const MAX_NAMES = 10;

interface Burst {
  windowStart: number;
  failures: number;
  throttled: number;
  readonly names: Set<string>;
  otherNames: number;
}

export interface FailedLoginAuditOptions {
  readonly audit: AuditTrail;
  readonly clock: Clock;
  /** Closes windows on time; without one they close at the next refusal or at `flush()`. */
  readonly scheduler?: Scheduler;
  readonly windowMs?: number;
  /** An audit write that failed in the background (the sweep). */
  readonly onError?: (e: unknown) => void;
}

export class FailedLoginAudit implements FailedLoginRecorder {
  private readonly bursts = new Map<string, Burst>();
  private readonly windowMs: number;
  private readonly timer: Timer | null;

  constructor(private readonly opts: FailedLoginAuditOptions) {
    this.windowMs = opts.windowMs ?? FAILED_LOGIN_AUDIT_WINDOW_MS;
    this.timer = opts.scheduler ? every(opts.scheduler, this.windowMs, () => void this.sweep().catch((e: unknown) => opts.onError?.(e))) : null;
  }

  async record(kind: FailedLoginKind, username: string, source: string | null): Promise<void> {
    await this.sweep();
    const key = source ?? 'unknown';
    const name = username.slice(0, 64);
    const burst = this.bursts.get(key);
    if (burst) {
      if (kind === FailedLoginKind.invalidCredentials) burst.failures++;
      else burst.throttled++;
      if (burst.names.has(name) || burst.names.size < MAX_NAMES) burst.names.add(name);
      else burst.otherNames++;
      return;
    }
    if (this.bursts.size >= MAX_BURSTS) await this.closeOldest();
    this.bursts.set(key, { windowStart: this.now(), failures: 0, throttled: 0, names: new Set([name]), otherNames: 0 });
    await this.write(key, name, kind === FailedLoginKind.invalidCredentials ? 1 : 0, kind === FailedLoginKind.throttled ? 1 : 0, [name], 0);
  }

  /** Writes the count of each window that has closed; forgets sources quiet for a whole window. */
  async sweep(): Promise<void> {
    const now = this.now();
    for (const [key, burst] of [...this.bursts]) {
      if (now - burst.windowStart < this.windowMs) continue;
      await this.close(key, burst, now);
    }
  }

  /** Writes every count now (shutdown) and stops the timer. */
  async flush(): Promise<void> {
    this.timer?.cancel();
    for (const [key, burst] of [...this.bursts]) {
      this.bursts.delete(key);
      await this.writeBurst(key, burst);
    }
  }

  private async close(key: string, burst: Burst, now: number): Promise<void> {
    if (burst.failures + burst.throttled === 0) {
      this.bursts.delete(key);
      return;
    }
    // Still failing: the count goes out, the source stays followed for another window.
    const { failures, throttled, otherNames } = burst;
    const names = [...burst.names];
    burst.windowStart = now;
    burst.failures = 0;
    burst.throttled = 0;
    burst.names.clear();
    burst.otherNames = 0;
    await this.write(key, names[0] ?? 'anonymous', failures, throttled, names, otherNames);
  }

  private async closeOldest(): Promise<void> {
    const [key, burst] = this.bursts.entries().next().value ?? [];
    if (key === undefined || burst === undefined) return;
    this.bursts.delete(key);
    await this.writeBurst(key, burst);
  }

  private async writeBurst(key: string, burst: Burst): Promise<void> {
    if (burst.failures + burst.throttled === 0) return;
    const names = [...burst.names];
    await this.write(key, names[0] ?? 'anonymous', burst.failures, burst.throttled, names, burst.otherNames);
  }

  private write(source: string, actor: string, failures: number, throttled: number, names: readonly string[], otherNames: number): Promise<void> {
    return this.opts.audit.append({
      at: this.opts.clock.now().toISOString(),
      // The name given (as for any failed log-in); when one address tried several, `names` lists them.
      actor: names.length === 1 ? actor : 'anonymous',
      action: 'auth.login',
      target: null,
      result: AuditResult.refused,
      code: failures > 0 ? ErrorCode.invalid_credentials : ErrorCode.too_many_login_attempts,
      details: { source, failures, throttled, names, ...(otherNames > 0 ? { otherNames } : {}) },
    });
  }

  private now(): number {
    return this.opts.clock.now().getTime();
  }
}
