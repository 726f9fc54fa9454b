/**
 * Enrollment tokens (R5) on both databases: one-time and N uses, expiry, unit-id binding,
 * revocation, and the race for the last use.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { SYSTEM_ACTOR, type Actor } from '../../src/app/context.js';
import {
  createEnrollmentToken,
  hashEnrollmentToken,
  listEnrollmentTokens,
  normalizeUnitId,
  revokeEnrollmentToken,
} from '../../src/app/enrollment.js';
import { registerDevice } from '../../src/app/register-device.js';
import { PROFILE_IDENTITY } from '../../src/domain/compatibility.js';
import { testAppContext, fixedClock, laterClock, type TestAppContext } from '../support/app-context.js';
import { refusedWith } from '../support/refusals.js';
import { forEachDatabase } from '../support/databases.js';
import { deviceKeystore, unitId } from '../support/device-fleet.js';

const viewer: Actor = { userId: 'u-viewer', username: 'vera', role: 'viewer', tokenId: null };
const operator: Actor = { userId: 'u-op', username: 'otto', role: 'operator', tokenId: null };


function register(ctx: TestAppContext, token: string, unit = unitId()) {
  return registerDevice(ctx, { enrollmentToken: token, unitId: unit, name: `tc-${unit}`, ...(PROFILE_IDENTITY['igel-os-12'] ?? { osFamily: '', osVersion: '' }) });
}

forEachDatabase('enrollment tokens', (db) => {
  const fresh = db.storePerTest();
  const T0 = '2030-01-01T00:00:00.000Z';
  let ctx: TestAppContext;
  const setup = async () => {
    ctx = testAppContext(fresh.store, { clock: fixedClock(T0) });
    await deviceKeystore(ctx);
  };

  it('a one-time token registers exactly one device, is stored only as a hash, and is listed as used', async () => {
    await setup();
    const { token, record } = await createEnrollmentToken(ctx, operator, {});
    assert.match(token, /^cfe_[A-Za-z0-9_-]{43}$/);
    assert.deepEqual({ uses: record.usesAllowed, left: record.usesLeft, state: record.state, by: record.createdBy }, { uses: 1, left: 1, state: 'active', by: 'otto' });
    assert.equal(record.expiresAt, '2030-01-02T00:00:00.000Z', 'a day by default');
    await register(ctx, token);
    await assert.rejects(register(ctx, token), refusedWith('enrollment_token_invalid'));
    const [listed] = await listEnrollmentTokens(ctx, viewer);
    assert.deepEqual({ left: listed?.usesLeft, state: listed?.state }, { left: 0, state: 'used' });
    const stored = JSON.stringify(await fresh.store.enrollment.list());
    assert.ok(!stored.includes(token));
    assert.ok(!(await fresh.store.audit.list({ limit: 50 })).some((e) => JSON.stringify(e).includes(token)), 'the token is never in the audit log');
    assert.equal(await fresh.store.enrollment.consume(hashEnrollmentToken(token), 'X', T0), null);
  });

  it('a token of N uses registers N devices', async () => {
    await setup();
    const { token } = await createEnrollmentToken(ctx, operator, { uses: 3 });
    for (let i = 0; i < 3; i++) await register(ctx, token);
    await assert.rejects(register(ctx, token), refusedWith('enrollment_token_invalid'));
    assert.equal((await fresh.store.devices.list({ offset: 0, limit: 10 })).count, 3);
  });

  it('an expired token is refused, and listed as expired', async () => {
    await setup();
    const { token } = await createEnrollmentToken(ctx, operator, { uses: 5, expiresInSeconds: 3600 });
    const later = { ...ctx, clock: laterClock(ctx.clock, 3600_000) };
    await assert.rejects(register(later, token), refusedWith('enrollment_token_invalid'));
    assert.equal((await listEnrollmentTokens(later, viewer))[0]?.state, 'expired');
    await register({ ...ctx, clock: laterClock(ctx.clock, 3599_000) }, token);
  });

  it('a token bound to a unit id registers only that unit, however its MAC address is written', async () => {
    await setup();
    const { token, record } = await createEnrollmentToken(ctx, operator, { unitId: '00-e0-c5-12-34-56', uses: 2 });
    assert.equal(record.unitId, '00:E0:C5:12:34:56');
    await assert.rejects(register(ctx, token, '00:E0:C5:12:34:57'), refusedWith('enrollment_token_invalid'));
    const ok = await register(ctx, token, '00e0.c512.3456');
    assert.equal((await fresh.store.devices.findById(ok.deviceId))?.unitId, '00:E0:C5:12:34:56');
    assert.equal(normalizeUnitId(' thin-client-7 '), 'thin-client-7', 'unit ids that are not MAC addresses are kept');
  });

  it('a revoked token is refused; revoking an unknown id is refused with enrollment_token_not_found', async () => {
    await setup();
    const { token, record } = await createEnrollmentToken(ctx, operator, { uses: 10 });
    await revokeEnrollmentToken(ctx, operator, record.id);
    await revokeEnrollmentToken(ctx, operator, record.id); // again: nothing changes
    await assert.rejects(register(ctx, token), refusedWith('enrollment_token_invalid'));
    const [listed] = await listEnrollmentTokens(ctx, viewer);
    assert.deepEqual({ state: listed?.state, revokedAt: listed?.revokedAt }, { state: 'revoked', revokedAt: T0 });
    await assert.rejects(revokeEnrollmentToken(ctx, operator, 'no-such-id'), refusedWith('enrollment_token_not_found'));
  });

  it('refuses what a viewer may not do and requests out of range, and audits both', async () => {
    await setup();
    await assert.rejects(createEnrollmentToken(ctx, viewer, {}), refusedWith('forbidden'));
    await assert.rejects(createEnrollmentToken(ctx, operator, { uses: 0 }), refusedWith('invalid_request'));
    await assert.rejects(createEnrollmentToken(ctx, operator, { uses: 100_001 }), refusedWith('invalid_request'));
    await assert.rejects(createEnrollmentToken(ctx, operator, { expiresInSeconds: 1.5 }), refusedWith('invalid_request'));
    const audit = await fresh.store.audit.list({ limit: 10 });
    assert.deepEqual(
      audit.filter((e) => e.action === 'enrollment.create').map((e) => e.code),
      ['invalid_request', 'invalid_request', 'invalid_request', 'forbidden'],
    );
    await createEnrollmentToken(ctx, SYSTEM_ACTOR, { uses: 100_000, expiresInSeconds: 60 });
  });

  it('two registrations racing for the last use: exactly one wins', async () => {
    await setup();
    for (let round = 0; round < 3; round++) {
      const { token } = await createEnrollmentToken(ctx, operator, { uses: 1 });
      const results = await Promise.allSettled(Array.from({ length: 6 }, () => register(ctx, token)));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of results) if (r.status === 'rejected') refusedWith('enrollment_token_invalid')(r.reason);
    }
    // The same at the store's level, on separate connections (PostgreSQL: a pool of 4).
    const { token } = await createEnrollmentToken(ctx, operator, { uses: 2 });
    const hash = hashEnrollmentToken(token);
    const other = await fresh.database.open();
    const taken = await Promise.all([fresh.store, other, fresh.store, other, fresh.store, other].map((s) => s.enrollment.consume(hash, 'u', T0)));
    assert.equal(taken.filter((id) => id !== null).length, 2);
    assert.equal((await fresh.store.enrollment.list()).find((t) => t.usesAllowed === 2)?.usesLeft, 0);
  });
});
