/**
 * Property-based test of the device protocol (issue 10, item 8, the device half): mutated requests
 * — methods, paths, headers, bodies, JSON shapes — sent over real TLS to the real channel on the
 * real use cases (SQLite). Every case must answer a 4xx with a known error code whose status is
 * the one of the table (src/transport/http-api/errors.ts), within a second, never a 500 or a
 * crash; and together they write nothing (no device, no token use, no change to the device that
 * is there; their refusals are at most one aggregated audit entry, written when the channel closes).
 *
 * Seeded: a random seed each run, printed; CERTFLEET_FUZZ_SEED repeats a run and
 * CERTFLEET_FUZZ_RUNS sets the number of cases (default 10,000, as the import fuzz; about a minute on two cores).
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, it } from 'node:test';
import fc from 'fast-check';
import { SYSTEM_ACTOR } from '../../src/app/context.js';
import { createEnrollmentToken, revokeEnrollmentToken } from '../../src/app/enrollment.js';
import { registerDevice } from '../../src/app/register-device.js';
import { ErrorCode } from '../../src/domain/errors.js';
import { pinServerName } from '../../src/domain/device-names.js';
import { HTTP_STATUS } from '../../src/transport/http-api/errors.js';
import type { DeviceChannel } from '../../src/transport/device-channel/device-channel.js';
import { testAppContext, type TestAppContext } from '../support/app-context.js';
import { openTestStore } from '../support/databases.js';
import { deviceKeystore, type TestKeystore } from '../support/device-fleet.js';
import { FakeTime } from '../support/fake-time.js';
import { channelOn } from './channel-fixtures.js';
import { errorCode, floodAgent, rawRequest, type RawAnswer } from './raw-client.js';

const RUNS = Number(process.env.CERTFLEET_FUZZ_RUNS ?? 10_000);
const SEED = Number(process.env.CERTFLEET_FUZZ_SEED ?? randomInt(2 ** 31));
const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));
const PATHS = ['/device/v1/register', '/device/v1/check-in', '/device/v1/confirm', '/device/v1/me'] as const;

let ctx: TestAppContext;
let ks: TestKeystore;
let channel: DeviceChannel;
let closeStore: () => Promise<void>;
let credential: string;
let revokedToken: string;

interface Snapshot {
  readonly devices: unknown;
  readonly tokens: unknown;
  readonly audit: number;
}

async function snapshot(): Promise<Snapshot> {
  const devices = await ctx.store.devices.list({ offset: 0, limit: 1000 });
  return {
    devices,
    tokens: await ctx.store.enrollment.list(),
    audit: (await ctx.store.audit.list({ limit: 10_000 })).length,
  };
}

before(async () => {
  const opened = await openTestStore('sqlite');
  closeStore = () => opened.close(); // also removes the database
  const time = new FakeTime(Date.UTC(2030, 0, 1));
  ctx = testAppContext(opened, { clock: time });
  ks = await deviceKeystore(ctx);
  const token = (await createEnrollmentToken(ctx, SYSTEM_ACTOR, { uses: 1 })).token;
  credential = (await registerDevice(ctx, { enrollmentToken: token, unitId: '00:11:22:33:44:55', name: 'tc', osFamily: 'IGEL OS', osVersion: '12.01.100' })).credential;
  const revoked = await createEnrollmentToken(ctx, SYSTEM_ACTOR, { uses: 5 });
  await revokeEnrollmentToken(ctx, SYSTEM_ACTOR, revoked.record.id);
  revokedToken = revoked.token;
  // The throttle is not what is tested here: every case should reach the parsing and the use cases.
  channel = await channelOn(ctx, time, { registrationBurst: 1e9, registrationsPerMinute: 1e9 });
});
after(async () => {
  await channel?.close();
  await closeStore?.();
});

/** A value of any JSON shape, sometimes huge or odd. */
const anyJson = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ maxLength: 300 }),
  fc.constant('x'.repeat(70_000)),
  fc.integer(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 40 }),
);

/** A valid-looking body per route, to mutate. None of them can succeed (see the header). */
function baseBody(path: string): Record<string, unknown> {
  switch (path) {
    case '/device/v1/register':
      return {
        enrollmentToken: revokedToken,
        unitId: '00:11:22:33:44:66',
        name: 'fuzz',
        osFamily: 'IGEL OS',
        osVersion: '12.01.100',
        profile: 'igel-os-12',
        supportedAlgorithms: ['SHA256withRSA'],
      };
    case '/device/v1/confirm':
      return { sha256Fingerprint: ks.legacy.facts.sha256Fingerprint };
    default:
      return { osVersion: '12.5.0' };
  }
}

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('drop' as const), index: fc.nat() }),
  fc.record({ kind: fc.constant('set' as const), index: fc.nat(), value: anyJson }),
  fc.record({ kind: fc.constant('add' as const), key: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('__proto__', 'constructor', 'deviceId')), value: anyJson }),
);

const bodyArb = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('mutated' as const), mutations: fc.array(mutation, { minLength: 1, maxLength: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('json' as const), value: anyJson }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('bytes' as const), bytes: fc.uint8Array({ maxLength: 512 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncated' as const), cut: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'empty' as const }) },
);

const caseArb = fc.record({
  path: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...PATHS) }, { weight: 1, arbitrary: fc.constantFrom('/device/v1/register/', '/device/v1//me', '/device/v1/me/x', '/device/v2/register', '/', '/device/v1/register?x=1') }),
  method: fc.oneof({ weight: 6, arbitrary: fc.constant('route') }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'FROB') }),
  contentType: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'text/plain', 'application/x-www-form-urlencoded', ''),
  auth: fc.oneof(
    fc.constant('none' as const),
    fc.constant('valid' as const),
    fc.record({ kind: fc.constant('mutated' as const), cut: fc.nat(), char: fc.constantFrom('A', '.', '-', '_', '0') }),
    fc.string({ maxLength: 120, unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABC0123456789._-~ '.split('')) }),
  ),
  pinned: fc.boolean(),
  body: bodyArb,
});

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

/** 'route': the method the route has (GET for /me, POST for the others). */
function methodOf(c: Case): string {
  if (c.method !== 'route') return c.method;
  return c.path.startsWith('/device/v1/me') ? 'GET' : 'POST';
}

function bodyOf(c: Case): string | Buffer | undefined {
  const base = baseBody(c.path.split('?')[0] ?? '');
  switch (c.body.kind) {
    case 'empty':
      return undefined;
    case 'bytes':
      return Buffer.from(c.body.bytes);
    case 'json':
      return JSON.stringify(c.body.value) ?? '';
    case 'truncated': {
      const text = JSON.stringify(base);
      return text.slice(0, c.body.cut % text.length);
    }
    case 'mutated': {
      const body: Record<string, unknown> = { ...base };
      for (const m of c.body.mutations) {
        const keys = Object.keys(body);
        if (m.kind === 'add') body[m.key] = m.value;
        else if (keys.length > 0) {
          const key = keys[m.index % keys.length] as string; // keys is not empty
          if (m.kind === 'drop') delete body[key];
          else body[key] = m.value;
        }
      }
      return JSON.stringify(body);
    }
  }
}

function authOf(c: Case): string | undefined {
  if (c.auth === 'none') return undefined;
  if (c.auth === 'valid') return `Bearer ${credential}`;
  if (typeof c.auth === 'string') return c.auth.trim().length === 0 ? undefined : `Bearer ${c.auth.trim()}`;
  const cut = c.auth.cut % credential.length;
  return `Bearer ${credential.slice(0, cut)}${c.auth.char}${credential.slice(cut + 1)}`;
}

/** The cases that could lawfully succeed are made to fail by construction; these would not be. */
function couldSucceed(c: Case): boolean {
  const path = c.path.split('?')[0];
  // A check-in or a read of one's own record with the valid credential succeeds, whatever the body
  // of a GET; keep those out (they write the contact), as the header says.
  const method = methodOf(c);
  return authOf(c) === `Bearer ${credential}` && ((path === '/device/v1/check-in' && method === 'POST') || (path === '/device/v1/me' && method === 'GET'));
}

it(`answers every mutated request with a 4xx and a known code, and writes nothing (${RUNS} cases)`, { timeout: 600_000 }, async (t) => {
  t.diagnostic(`fast-check seed ${SEED}, ${RUNS} runs (CERTFLEET_FUZZ_SEED=${SEED} repeats this run)`);
  const before = await snapshot();
  const agent = floodAgent(2);
  const port = channel.address.port;
  const seenCodes = new Map<string, number>();
  let slowest = 0;
  try {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        fc.pre(!couldSucceed(c));
        const headers: Record<string, string> = {};
        if (c.contentType) headers['content-type'] = c.contentType;
        const auth = authOf(c);
        if (auth !== undefined) headers['authorization'] = auth;
        const body = bodyOf(c);
        const started = performance.now();
        const a: RawAnswer = await rawRequest(port, {
          method: methodOf(c),
          path: c.path,
          headers,
          ...(body !== undefined ? { body } : {}),
          ...(c.pinned ? { servername: pinServerName(ks.tckey.facts.sha256Fingerprint) } : {}),
          agent,
        });
        const ms = performance.now() - started;
        slowest = Math.max(slowest, ms);
        const code = errorCode(a);
        assert.ok(a.status >= 400 && a.status < 500, `status ${a.status}: ${a.text.slice(0, 300)}`);
        assert.ok(code !== null && KNOWN_CODES.has(code), `unknown code in ${a.text.slice(0, 300)}`);
        assert.equal(a.status, HTTP_STATUS[code as ErrorCode], `the status of ${code}`); // a known code, checked above
        assert.ok(ms < 1000, `answered in ${ms.toFixed(0)} ms`);
        seenCodes.set(code as string, (seenCodes.get(code as string) ?? 0) + 1);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  } catch (e) {
    t.diagnostic(`failed with fast-check seed ${SEED}: rerun with CERTFLEET_FUZZ_SEED=${SEED}`);
    throw e;
  } finally {
    agent.destroy();
  }
  t.diagnostic(`codes: ${JSON.stringify(Object.fromEntries(seenCodes))}; slowest answer ${slowest.toFixed(1)} ms`);
  assert.ok(seenCodes.size >= 5, 'the cases reached several refusals, not one');
  const afterCases = await snapshot();
  assert.deepEqual(afterCases.devices, before.devices, 'no device was written');
  assert.deepEqual(afterCases.tokens, before.tokens, 'no enrollment token was used');
  assert.equal(afterCases.audit, before.audit, 'no refusal was written one by one');
  await channel.close();
  assert.ok((await snapshot()).audit <= before.audit + 1, 'the refusals are one aggregated entry at most');
});
