/**
 * What the device port does about strangers (anyone who can reach 30001): registrations are
 * throttled per source, and their refusals are counted, not written one by one.
 *
 *   RegistrationThrottle  a token bucket per source: `burst` attempts, refilled at `perMinute`;
 *                         a registration that succeeds gives its token back, so a roll-out of
 *                         real devices behind one address (a NAT, a TCP load balancer) is limited
 *                         only by its failures
 *   RefusalAudit          one audit entry per source and minute with a count and the codes, so that
 *                         refusals cannot grow the audit log faster than sources × minutes — and at
 *                         most `maxSourcesPerMinute` entries a minute, the rest in one more entry
 *
 * A source is the IPv4 address, or the /64 of an IPv6 address (one host usually holds a whole /64).
 * Both keep bounded memory: the throttle forgets the least recently seen source past `maxSources`.
 * Time comes from the injected clock and scheduler.
 */
import { isIPv4 } from 'node:net';
import type { Logger } from 'pino';
import type { AuditTrail } from '../../app/context.js';
import type { RefusalSink } from '../../app/register-device.js';
import type { ErrorCode } from '../../domain/errors.js';
import type { Clock, Scheduler, Timer } from '../../domain/time.js';
import { AuditResult } from '../../domain/vocabularies.js';

/** The key a connection's remote address is counted under. */
export function sourceOf(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined || remoteAddress.length === 0) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remoteAddress);
  if (mapped) return mapped[1] as string; // the group matched
  if (isIPv4(remoteAddress)) return remoteAddress;
  // IPv6: the first four groups (the /64), written out in full so that spellings agree.
  const [head = '', tail = ''] = remoteAddress.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = remoteAddress.includes('::') ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().padStart(4, '0')).join(':')}::/64`;
}

export interface ThrottleOptions {
  /** Attempts a source may make at once. */
  readonly burst: number;
  /** Attempts a source gets back per minute. */
  readonly perMinute: number;
  /** Sources remembered; the least recently seen is forgotten past it. */
  readonly maxSources: number;
}

export type ThrottleVerdict = { readonly ok: true } | { readonly ok: false; readonly retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  at: number;
}

export class RegistrationThrottle {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly clock: Clock,
    readonly options: ThrottleOptions,
  ) {}

  /** Takes one attempt for `source`, or says when the next one will be there. */
  take(source: string): ThrottleVerdict {
    const bucket = this.refreshed(source);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    const msPerToken = 60_000 / this.options.perMinute;
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(((1 - bucket.tokens) * msPerToken) / 1000)) };
  }

  /** The attempt led to a registration: it does not count. */
  giveBack(source: string): void {
    const bucket = this.buckets.get(source);
    if (bucket) bucket.tokens = Math.min(this.options.burst, bucket.tokens + 1);
  }

  /** How many sources are remembered (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  private refreshed(source: string): Bucket {
    const now = this.clock.now().getTime();
    const found = this.buckets.get(source);
    const bucket = found ?? { tokens: this.options.burst, at: now };
    if (found) {
      bucket.tokens = Math.min(this.options.burst, bucket.tokens + ((now - bucket.at) * this.options.perMinute) / 60_000);
      bucket.at = now;
      this.buckets.delete(source); // re-inserted below: the map's order is least recently seen first
    }
    this.buckets.set(source, bucket);
    if (this.buckets.size > this.options.maxSources) {
      const oldest = this.buckets.keys().next().value as string; // the map is not empty
      this.buckets.delete(oldest);
    }
    return bucket;
  }
}

/** The source under which refusals past `maxSourcesPerMinute` are counted together. */
export const OTHER_SOURCES = 'other-sources';
const MINUTE_MS = 60_000;

interface MinuteCount {
  count: number;
  readonly codes: Record<string, number>;
  readonly firstAt: string;
  lastAt: string;
  /** The first refusal's details (bounded by the use case's own field limits). */
  readonly sample: Readonly<Record<string, unknown>>;
  /** For OTHER_SOURCES: how many sources it stands for. */
  readonly sources: Set<string> | null;
}

export class RefusalAudit {
  /** minute start (ms) → source → count. */
  private readonly minutes = new Map<number, Map<string, MinuteCount>>();
  private timer: Timer | null = null;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly deps: { readonly audit: AuditTrail; readonly clock: Clock; readonly scheduler: Scheduler; readonly log: Logger },
    readonly options: { readonly action: string; readonly maxSourcesPerMinute: number },
  ) {}

  /** The sink for one source, to hand to the use case. */
  sinkFor(source: string): RefusalSink {
    return { refused: (r) => this.count(source, r.code, r.at, r.details) };
  }

  count(source: string, code: ErrorCode, at: string, details: Readonly<Record<string, unknown>> = {}): void {
    const nowMs = this.deps.clock.now().getTime();
    const minute = nowMs - (nowMs % MINUTE_MS);
    let sources = this.minutes.get(minute);
    if (!sources) {
      sources = new Map();
      this.minutes.set(minute, sources);
    }
    let key = source;
    if (!sources.has(source) && sources.size >= this.options.maxSourcesPerMinute) key = OTHER_SOURCES;
    let c = sources.get(key);
    if (!c) {
      c = { count: 0, codes: {}, firstAt: at, lastAt: at, sample: details, sources: key === OTHER_SOURCES ? new Set() : null };
      sources.set(key, c);
    }
    c.count++;
    c.codes[code] = (c.codes[code] ?? 0) + 1;
    c.lastAt = at;
    if (c.sources && c.sources.size < 100_000) c.sources.add(source);
    this.timer ??= this.deps.scheduler.schedule(minute + MINUTE_MS - nowMs, () => {
      this.timer = null;
      void this.flush(false);
    });
  }

  /** Writes every finished minute (every minute when `all`, at close); resolves when written. */
  flush(all = true): Promise<void> {
    if (this.minutes.size === 0) return this.writing;
    const nowMs = this.deps.clock.now().getTime();
    const due: [number, Map<string, MinuteCount>][] = [];
    for (const [minute, sources] of this.minutes) {
      if (all || minute + MINUTE_MS <= nowMs) due.push([minute, sources]);
    }
    for (const [minute] of due) this.minutes.delete(minute);
    if (!all && this.minutes.size > 0 && this.timer === null) {
      const next = Math.min(...this.minutes.keys()) + MINUTE_MS;
      this.timer = this.deps.scheduler.schedule(Math.max(0, next - nowMs), () => {
        this.timer = null;
        void this.flush(false);
      });
    }
    if (all) {
      this.timer?.cancel();
      this.timer = null;
    }
    this.writing = this.writing.then(async () => {
      for (const [minute, sources] of due) {
        for (const [source, c] of sources) {
          const codes = Object.entries(c.codes).sort((a, b) => b[1] - a[1]);
          try {
            await this.deps.audit.append({
              at: c.lastAt,
              actor: 'anonymous',
              action: this.options.action,
              target: source,
              result: AuditResult.refused,
              code: codes[0]?.[0] ?? null,
              details: {
                source,
                count: c.count,
                codes: c.codes,
                minute: new Date(minute).toISOString(),
                firstAt: c.firstAt,
                lastAt: c.lastAt,
                ...(c.sources ? { sources: c.sources.size } : {}),
                first: c.sample,
              },
            });
          } catch (e) {
            this.deps.log.error({ err: e, source, count: c.count }, 'device channel: cannot write the refusals of a minute to the audit log');
          }
        }
      }
    });
    return this.writing;
  }
}
