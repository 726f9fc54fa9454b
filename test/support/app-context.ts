/**
 * An AppContext for tests on a real store: a KeySealer under a random master key, key pairs from
 * the pool of pre-made keys (no test waits for RSA-4096), host name `certfleet.test`, the
 * keystore changes and rotation triggers recorded instead of acted upon, and a one-shot rotation
 * runner (each `runNow` runs its pass at once; there is no reconciler).
 *
 *   const ctx = testAppContext(store);                          // system clock, Node's random
 *   const ctx = testAppContext(store, { clock: fixedClock('2030-01-01T00:00:00Z'), random: new SeededRandom() });
 *   const later = { ...ctx, clock: laterClock(ctx.clock, 2 * DAY_MS) };   // same store, two days on (DAY_MS: domain/time.ts)
 */
import { randomBytes } from 'node:crypto';
import type { AppContext, KeystoreChange } from '../../src/app/context.js';
import type { Clock } from '../../src/domain/time.js';
import { runRotation, type RotationTrigger } from '../../src/app/rotation.js';
import type { Store } from '../../src/app/store.js';
import { KeySealer, MASTER_KEY_BYTES } from '../../src/crypto/index.js';
import { createAppContext, type AppPorts } from '../../src/main/app-context.js';
import { systemClock, systemRandom } from '../../src/main/system.js';
import { poolKeyPairSource } from './key-pool.js';

export const TEST_HOST_NAME = 'certfleet.test';

export interface TestAppContext extends AppContext {
  /** Every keystore change the use cases announced, in order. */
  readonly changes: readonly KeystoreChange[];
  /** Every rotation trigger the use cases pulled, in order. */
  readonly triggers: readonly RotationTrigger[];
}

export function testAppContext(store: Store, overrides: Partial<Omit<AppPorts, 'store'>> = {}): TestAppContext {
  const changes: KeystoreChange[] = [];
  const triggers: RotationTrigger[] = [];
  const ctx: TestAppContext = {
    ...createAppContext({
      store,
      clock: systemClock,
      random: systemRandom,
      sealer: new KeySealer(randomBytes(MASTER_KEY_BYTES)),
      keyPairs: poolKeyPairSource(),
      hostName: TEST_HOST_NAME,
      onKeystoreChanged: (change) => {
        changes.push(change);
      },
      rotation: {
        runNow: (actor) => runRotation(ctx, actor),
        trigger: (reason) => {
          triggers.push(reason);
        },
      },
      ...overrides,
    }),
    changes,
    triggers,
  };
  return ctx;
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
