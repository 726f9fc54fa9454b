/**
 * Issue 10, item 3: how many wrong passwords one address can try per minute against the real
 * HTTP API (goal ≤ 30), beside the same attacker on the same server build with the log-in limits
 * lifted, measured in the same run. The attacker sends 8 log-ins at a time from one address, a
 * new user name each (so that only the address limit can stop it), on the real clock. With the
 * limits lifted one attempt per address is still checked at a time (that rule has no setting), so
 * the baseline is what scrypt alone lets one address try, one after the other.
 *
 *   npm run build && node dist/bench/login-throttle.bench.js [seconds=60]
 */
import { performance } from 'node:perf_hooks';
import { ensureAdminAccount } from '../src/app/accounts.js';
import { ensureDefaultCertificate } from '../src/app/certificates.js';
import { ensureCluster } from '../src/app/cluster.js';
import { SYSTEM_ACTOR } from '../src/app/context.js';
import { buildHttpApi } from '../src/transport/http-api/server.js';
import { DEFAULT_LOGIN_LIMITS, type LoginLimits } from '../src/transport/http-api/login-limits.js';
import { testAppContext } from '../test/support/app-context.js';
import { openTestStore } from '../test/support/databases.js';
import { goal, load, machineLine, printTable, ratio, type Row } from './support/common.js';

const SECONDS = Math.max(10, Number(process.argv[2] ?? 60) || 60);
const BASELINE_SECONDS = 10;
const IN_FLIGHT = 8;
const GOAL_PER_MINUTE = 30;
const UNLIMITED: LoginLimits = { perAddress: { max: 1_000_000, windowMs: 60_000 }, perName: { max: 1_000_000, windowMs: 60_000 } };

interface Outcome {
  readonly wrong: number;
  readonly throttled: number;
  readonly perMinute: number;
}

async function attack(limits: LoginLimits, seconds: number): Promise<Outcome> {
  const store = await openTestStore('sqlite');
  const ctx = testAppContext(store);
  await ensureAdminAccount(ctx, 'bench-admin-password');
  await ensureDefaultCertificate(ctx, SYSTEM_ACTOR);
  await ensureCluster(ctx);
  const app = await buildHttpApi({ ctx, logger: false, logins: { limits } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('no TCP address');
  const url = `http://127.0.0.1:${address.port}/api/v1/auth/login`;
  let wrong = 0;
  let throttled = 0;
  let n = 0;
  const end = performance.now() + seconds * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: `guess-${n++}`, password: 'wrong-password' }) });
      await res.arrayBuffer();
      if (res.status === 401) wrong++;
      else if (res.status === 429) {
        throttled++;
        // A polite attacker would wait Retry-After; this one only backs off a little, to keep trying.
        await new Promise((r) => setTimeout(r, 50));
      } else throw new Error(`unexpected status ${res.status}`);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  await app.close();
  await store.close();
  return { wrong, throttled, perMinute: (wrong * 60) / seconds };
}

console.log(machineLine());
console.log(`One address, ${IN_FLIGHT} log-ins in flight, wrong passwords: ${SECONDS} s with the limits, ${BASELINE_SECONDS} s without.`);
const baseline = await attack(UNLIMITED, BASELINE_SECONDS);
const limited = await attack(DEFAULT_LOGIN_LIMITS, SECONDS);
console.log(`limited: ${limited.wrong} wrong passwords, ${limited.throttled} refused with 429; unlimited: ${baseline.wrong} wrong passwords`);
const rows: Row[] = [
  [
    'wrong passwords per minute, one address (defaults 30/1m)',
    `${limited.perMinute.toFixed(1)}/min`,
    `limits lifted: ${baseline.perMinute.toFixed(0)}/min`,
    ratio(limited.perMinute, baseline.perMinute),
    goal(`≤ ${GOAL_PER_MINUTE}/min`, limited.perMinute <= GOAL_PER_MINUTE),
    load(),
  ],
];
printTable('Log-in throttling (issue 10, item 3)', rows);
