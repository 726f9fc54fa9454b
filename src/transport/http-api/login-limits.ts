/**
 * Log-in limits (issue 10, item 3), counted by @fastify/rate-limit in fixed windows:
 *
 *   per source address   every attempt counts (wrong or right): by default 30 a minute, and at
 *                        most a third of them (10) in a sixth of the window (10 s): a guesser
 *                        is slowed down first, then stopped until the window ends
 *   per user name        only wrong passwords count: by default 10 in 15 minutes, at most 4 in
 *                        2.5 minutes; a name's limit ends with its window, so an attacker can
 *                        keep the owner waiting at most one window at a time, never lock them out
 *
 * A refused attempt answers 429 `too_many_login_attempts` with Retry-After (the seconds until the
 * window that refused it ends) before any password is hashed. IPv6 addresses count per /56
 * (rate-limit's default), so one host cannot rotate through its prefix.
 *
 * The windows run on the context's clock (`ClockStore` below is the plugin's store contract over
 * our Clock port), so tests step a FakeTime instead of sleeping. The counters live in this
 * process: in a cluster each node counts for itself, so N nodes behind a load balancer allow up to
 * N times the figures above (README, Security).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import rateLimit, { type FastifyRateLimitStore, type FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import { CertfleetError, ErrorCode, RETRY_AFTER_DETAIL } from '../../domain/errors.js';
import type { Clock } from '../../domain/time.js';

export interface LoginLimit {
  /** Attempts allowed in one window. */
  readonly max: number;
  readonly windowMs: number;
}

export interface LoginLimits {
  readonly perAddress: LoginLimit;
  readonly perName: LoginLimit;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = {
  perAddress: { max: 30, windowMs: 60_000 },
  perName: { max: 10, windowMs: 15 * 60_000 },
};

/** The slow-down tier of a limit: a third of its attempts in a sixth of its window. */
export function burstOf(limit: LoginLimit): LoginLimit {
  return { max: Math.max(1, Math.ceil(limit.max / 3)), windowMs: Math.max(1000, Math.round(limit.windowMs / 6)) };
}

export function checkLoginLimit(limit: LoginLimit, what: string): LoginLimit {
  if (!Number.isInteger(limit.max) || limit.max < 1) throw new RangeError(`${what}: allow at least one attempt per window`);
  if (!Number.isInteger(limit.windowMs) || limit.windowMs < 1000) throw new RangeError(`${what}: the window is at least one second`);
  return limit;
}

/** Keys followed at once per limit; beyond, the least recently counted is dropped (memory stays bounded). */
const MAX_KEYS = 20_000;

interface Window {
  count: number;
  readonly startMs: number;
}

type StoreCallback = Parameters<FastifyRateLimitStore['incr']>[1];

/** The store contract of @fastify/rate-limit (incr, read, child) with fixed windows on `clock`. */
function clockStore(clock: Clock): FastifyRateLimitStoreCtor {
  return class ClockStore implements FastifyRateLimitStore {
    private readonly windows = new Map<string, Window>();

    incr(key: string, cb: StoreCallback, timeWindow: number): void {
      const now = clock.now().getTime();
      let w = this.windows.get(key);
      if (!w || w.startMs + timeWindow <= now) w = { count: 0, startMs: now };
      w.count++;
      this.windows.delete(key);
      this.windows.set(key, w);
      if (this.windows.size > MAX_KEYS) {
        const oldest = this.windows.keys().next().value;
        if (oldest !== undefined) this.windows.delete(oldest);
      }
      cb(null, { current: w.count, ttl: w.startMs + timeWindow - now });
    }

    read(key: string, cb: StoreCallback, timeWindow: number): void {
      const now = clock.now().getTime();
      const w = this.windows.get(key);
      if (!w || w.startMs + timeWindow <= now) cb(null, { current: 0, ttl: 0 });
      else cb(null, { current: w.count, ttl: w.startMs + timeWindow - now });
    }

    child(): ClockStore {
      return new ClockStore();
    }
  };
}

/** One limiter of the plugin: `increment: false` reads without counting. */
type Limiter = ReturnType<FastifyInstance['createRateLimit']>;

interface Tier {
  readonly limit: LoginLimit;
  readonly check: Limiter;
}

/** One log-in attempt that the guard let through. */
export interface AdmittedAttempt {
  /** The password was wrong: counts against the address and the name. */
  failed(): Promise<void>;
  /** The attempt is over (always call it, in `finally`). */
  end(): void;
}

export interface LoginGuard {
  /**
   * Lets the attempt through, or refuses it with `too_many_login_attempts` when its address or
   * the name in its body is over a limit, or already has an attempt in flight.
   */
  admit(request: FastifyRequest): Promise<AdmittedAttempt>;
}

export function nameKey(username: string): string {
  return `name:${username.trim().toLowerCase().slice(0, 64)}`;
}

function refusal(by: 'address' | 'name', retryAfterMs: number, reason: 'limit' | 'in_flight'): CertfleetError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  const who = by === 'address' ? 'from your address' : 'for this user name';
  return new CertfleetError(
    ErrorCode.too_many_login_attempts,
    reason === 'in_flight'
      ? `Another log-in ${who} is being checked. Try again in ${seconds} seconds.`
      : `Too many failed log-ins ${who}. Try again in ${seconds} seconds.`,
    { limitedBy: by, reason, [RETRY_AFTER_DETAIL]: seconds },
  );
}

/** The longest wait among the tiers whose allowance is used up; 0 when none is. */
async function overLimit(tiers: readonly Tier[], request: FastifyRequest): Promise<number> {
  let wait = 0;
  for (const tier of tiers) {
    const state = await tier.check(request, { increment: false });
    if (!state.isAllowed && state.remaining <= 0) wait = Math.max(wait, state.ttl);
  }
  return wait;
}

/**
 * Registers @fastify/rate-limit (no global limit: only the log-in routes use it) and builds the
 * guard. Only wrong passwords count, so an owner who logs in often is never slowed; to keep the
 * count exact against parallel guessing, each address and each name has at most one attempt in
 * flight (the limits are read before it and counted after it).
 */
export async function loginGuard(app: FastifyInstance, clock: Clock, limits: LoginLimits = DEFAULT_LOGIN_LIMITS): Promise<LoginGuard> {
  checkLoginLimit(limits.perAddress, 'log-in limit per address');
  checkLoginLimit(limits.perName, 'log-in limit per user name');
  await app.register(rateLimit, { global: false, store: clockStore(clock) });
  const tiers = (limit: LoginLimit, keyOf?: (request: FastifyRequest) => string): Tier[] =>
    [limit, burstOf(limit)].map((l) => ({
      limit: l,
      check: app.createRateLimit({ max: l.max, timeWindow: l.windowMs, ...(keyOf ? { keyGenerator: keyOf } : {}) }),
    }));
  const nameOf = (request: FastifyRequest): string => {
    const body = request.body as { readonly username?: unknown } | undefined; // the log-in body, checked by its schema
    return nameKey(typeof body?.username === 'string' ? body.username : '');
  };
  const byAddress = tiers(limits.perAddress);
  const byName = tiers(limits.perName, nameOf);
  const inFlight = new Set<string>();
  return {
    async admit(request) {
      const address = `address:${request.ip}`;
      const name = nameOf(request);
      if (inFlight.has(address)) throw refusal('address', 1000, 'in_flight');
      if (inFlight.has(name)) throw refusal('name', 1000, 'in_flight');
      // Marked before the first await, so a parallel attempt cannot pass the check in between.
      inFlight.add(address);
      inFlight.add(name);
      try {
        const addressWait = await overLimit(byAddress, request);
        if (addressWait > 0) throw refusal('address', addressWait, 'limit');
        const nameWait = await overLimit(byName, request);
        if (nameWait > 0) throw refusal('name', nameWait, 'limit');
      } catch (e) {
        inFlight.delete(address);
        inFlight.delete(name);
        throw e;
      }
      let ended = false;
      return {
        async failed() {
          for (const tier of [...byAddress, ...byName]) await tier.check(request);
        },
        end() {
          if (ended) return;
          ended = true;
          inFlight.delete(address);
          inFlight.delete(name);
        },
      };
    },
  };
}
