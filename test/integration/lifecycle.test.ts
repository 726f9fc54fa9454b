/**
 * L2 on SQLite and PostgreSQL, through the use cases on a fake clock (no agents; the three-year run
 * with real agents is test/e2e/lifecycle-years.e2e.test.ts): the legacy-fallback move in the
 * rotation's pending rule (storage/pending.ts) and in the usage counts (K7), a default succession
 * with its preview recorded, and a lifecycle that is off doing nothing.
 */
import assert from 'node:assert/strict';
import { before, it } from 'node:test';
import { deleteCertificate, generateCertificate } from '../../src/app/certificates.js';
import { SYSTEM_ACTOR } from '../../src/app/context.js';
import { authenticateDevice, checkInDevice } from '../../src/app/device-check-in.js';
import { disableLifecycle, runLifecyclePass, setLifecycle } from '../../src/app/lifecycle.js';
import type { StoredCertificate } from '../../src/app/records.js';
import { runRotation } from '../../src/app/rotation.js';
import { CertfleetError, ErrorCode } from '../../src/domain/errors.js';
import { DAY_MS } from '../../src/domain/time.js';
import { testAppContext, type TestAppContext } from '../support/app-context.js';
import { forEachDatabase } from '../support/databases.js';
import { pinning, registerProfile } from '../support/device-fleet.js';
import { FakeTime } from '../support/fake-time.js';

forEachDatabase('automatic successors', (db) => {
  let ctx: TestAppContext;
  const time = new FakeTime('2030-01-01T09:00:00.000Z'); // a Tuesday
  const entry = async (alias: string): Promise<StoredCertificate> => {
    const e = await ctx.store.keystore.findByAlias(alias);
    assert.ok(e, `${alias} is in the keystore`);
    return e;
  };
  const order = async () => (await ctx.store.keystore.list()).map((e) => `${e.alias}${e.active ? '' : '-'}`).join(' ');

  before(async () => {
    ctx = testAppContext(await db.open(), { clock: time });
    await generateCertificate(ctx, SYSTEM_ACTOR, { alias: 'tckey', signatureAlgorithm: 'SHA512withRSA', keySize: 2048, days: 400 });
    await generateCertificate(ctx, SYSTEM_ACTOR, { alias: 'legacy', signatureAlgorithm: 'SHA256withRSA', keySize: 2048, days: 200 });
  });

  it('does nothing while it is off', async () => {
    await time.advance(150 * DAY_MS);
    assert.deepEqual((await runLifecyclePass(ctx)).steps, []);
  });

  it('moves legacy devices to the successor of their fallback, and counts them as its pending devices (K7)', async () => {
    const legacy = [await registerProfile(ctx, 'igel-linux-4.01.650'), await registerProfile(ctx, 'windows-7-embedded-3.08.100')];
    const modern = await registerProfile(ctx, 'igel-os-12');
    assert.deepEqual(legacy.map((d) => d.certificate.alias), ['legacy', 'legacy']);
    await setLifecycle(ctx, SYSTEM_ACTOR, { renewBefore: '90d', window: 'Sat 02:00-05:00' });
    // Day 150, a Friday: the fallback expires in 50 days, the default in 250.
    assert.deepEqual((await runLifecyclePass(ctx)).steps, ['generate']);
    assert.equal(await order(), 'tckey legacy legacy-20300531-', 'the successor waits inactive right below its predecessor');
    await time.advance(17 * 3_600_000); // Saturday 02:00
    assert.deepEqual((await runLifecyclePass(ctx)).steps, ['promote']);
    assert.equal(await order(), 'tckey legacy-20300531 legacy', 'the successor is the fallback, right above its predecessor');
    const successor = await entry('legacy-20300531');
    for (const d of legacy) assert.equal((await ctx.store.devices.findById(d.deviceId))?.pendingCertificateId, successor.id, 'a legacy device has the successor pending');
    assert.equal((await ctx.store.devices.findById(modern.deviceId))?.pendingCertificateId, null, 'a modern device on the default has nothing pending');
    assert.deepEqual(successor.usage, { pinned: 0, pending: 2 });
    await assert.rejects(deleteCertificate(ctx, SYSTEM_ACTOR, successor.alias), (e: unknown) => e instanceof CertfleetError && e.code === ErrorCode.certificate_in_use);
    assert.deepEqual((await runLifecyclePass(ctx)).steps, [], 'the old fallback stays while legacy devices pin it');

    for (const d of legacy) {
      const moved = await checkInDevice(ctx, await authenticateDevice(ctx, d.credential), pinning(successor), {});
      assert.equal(moved.certificate.alias, successor.alias, 'the legacy device confirmed the successor');
    }
    assert.deepEqual((await entry('legacy')).usage, { pinned: 0, pending: 0 });
    assert.deepEqual((await runLifecyclePass(ctx)).steps, ['deactivate']);
    assert.equal(await order(), 'tckey legacy-20300531 legacy-');
    await time.advance(29 * DAY_MS);
    assert.deepEqual((await runLifecyclePass(ctx)).steps, [], 'not before retire-after');
    await time.advance(DAY_MS);
    assert.deepEqual((await runLifecyclePass(ctx)).steps, ['delete']);
    assert.equal(await order(), 'tckey legacy-20300531');
  });

  it('makes the successor of the default the default in the window, with the preview of the change recorded', async () => {
    // Day ~311: the default (400 days) is due from day 310, and so is the fallback's 200-day successor (from day 260).
    await time.advance(130 * DAY_MS);
    const steps = (await runLifecyclePass(ctx)).steps;
    assert.deepEqual(steps, ['generate', 'generate']);
    const next = (await ctx.store.keystore.list()).find((e) => e.alias.startsWith('tckey-'));
    assert.ok(next && !next.active && next.position === 2, `the default's successor waits inactive at position 2: ${await order()}`);
    while (!(await runLifecyclePass(ctx)).steps.includes('promote')) await time.advance(3_600_000);
    assert.equal((await ctx.store.keystore.list())[0]?.alias, next.alias, 'the successor is the default');
    const promoted = (await ctx.store.lifecycle.events(10)).find((e) => e.step === 'promoted' && e.alias === next.alias);
    assert.deepEqual(promoted?.details.preview, {
      alias: next.alias,
      switching: { total: 1, byProfile: { 'igel-os-12': 1 } },
      staying: { total: 2, byProfile: { 'igel-linux-4.01.650': 1, 'windows-7-embedded-3.08.100': 1 }, lacking: 'SHA512withRSA' },
      alreadyCurrent: 0,
    });
    const report = await runRotation(ctx, SYSTEM_ACTOR);
    assert.equal(report.scheduled, 1, 'the reconciler moves the modern device');
    await disableLifecycle(ctx, SYSTEM_ACTOR);
    assert.deepEqual((await runLifecyclePass(ctx)).steps, [], 'off: the succession waits');
  });
});
