/**
 * An AppContext for tests on a real store: a KeySealer under a random master key, key pairs from
 * the pool of pre-made keys (no test waits for RSA-4096), host name `certfleet.test`, and the
 * keystore changes recorded instead of acted upon.
 *
 *   const ctx = testAppContext(store);                          // system clock
 *   const ctx = testAppContext(store, { clock: fixedClock('2030-01-01T00:00:00Z') });
 *   const later = { ...ctx, clock: laterClock(ctx.clock, 2 * DAY_MS) };   // same store, two days on
 */
import { randomBytes } from 'node:crypto';
import type { AppContext, KeystoreChange } from '../../src/app/context.js';
import { systemClock, type Clock, type Store } from '../../src/app/ports.js';
import { KeySealer, MASTER_KEY_BYTES } from '../../src/crypto/index.js';
import { poolKeyPairSource } from './key-pool.js';

export const TEST_HOST_NAME = 'certfleet.test';
export const DAY_MS = 86_400_000;

export interface TestAppContext extends AppContext {
  /** Every keystore change the use cases announced, in order. */
  readonly changes: readonly KeystoreChange[];
}

export function testAppContext(store: Store, overrides: Partial<Omit<AppContext, 'store'>> = {}): TestAppContext {
  const changes: KeystoreChange[] = [];
  return {
    store,
    clock: systemClock,
    sealer: new KeySealer(randomBytes(MASTER_KEY_BYTES)),
    keyPairs: poolKeyPairSource(),
    hostName: TEST_HOST_NAME,
    onKeystoreChanged: (change) => {
      changes.push(change);
    },
    ...overrides,
    changes,
  };
}

/** A clock that always says the same time. */
export function fixedClock(at: Date | string): Clock {
  const t = new Date(at).getTime();
  return { now: () => new Date(t) };
}

/** The given clock moved on by `ms`. */
export function laterClock(clock: Clock, ms: number): Clock {
  return { now: () => new Date(clock.now().getTime() + ms) };
}
