/**
 * L2 "done when": three years of a fleet with the lifecycle on, on an injected clock. Real agents
 * (modern and legacy firmware profiles) check in over real TLS to the real device channel, on the
 * real use cases and database; the rotation reconciler and the lifecycle job run on the FakeTime's
 * timers. The keystore starts with a default that expires within ~1.5 years (SHA512withRSA, 500
 * days) and a legacy SHA256withRSA fallback (730 days), so that in three years two defaults and
 * one legacy fallback are renewed. After every day: every device checks in, and every
 * certificate a device pins is valid at that instant. At the end: each old entry was deactivated
 * and, retire-after later, deleted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SYSTEM_ACTOR } from '../../src/app/context.js';
import { generateCertificate } from '../../src/app/certificates.js';
import { createEnrollmentToken } from '../../src/app/enrollment.js';
import { LifecycleEventStep, setLifecycle, type LifecycleEvent } from '../../src/app/lifecycle.js';
import { runRotation, RotationTrigger } from '../../src/app/rotation.js';
import type { Store } from '../../src/app/store.js';
import type { DeviceAgent } from '../../src/agent/agent.js';
import { DAY_MS } from '../../src/domain/time.js';
import { LifecycleSchedule } from '../../src/jobs/lifecycle.scheduler.js';
import { RotationReconciler } from '../../src/jobs/rotation.reconciler.js';
import type { DeviceChannel } from '../../src/transport/device-channel/device-channel.js';
import { testAppContext, type TestAppContext } from '../support/app-context.js';
import { openTestStore } from '../support/databases.js';
import { FakeTime } from '../support/fake-time.js';
import { channelOn, memoryAgent } from '../device-channel/channel-fixtures.js';

const START = '2030-01-01T03:00:00.000Z'; // a Tuesday; every daily step lands at 03:00 UTC, inside "Sat 02:00-05:00" on Saturdays
const DAYS = 3 * 365 + 1;
const PROFILES = ['igel-os-12', 'igel-os-11', 'igel-linux-4.01.650', 'windows-7-embedded-3.08.100'] as const;
const LEGACY_PROFILES: readonly string[] = ['igel-linux-4.01.650', 'windows-7-embedded-3.08.100'];
const silent = { info: () => undefined, error: () => undefined };

// SQLite only: the run takes a minute or more (a thousand days of TLS check-ins); the same rules on
// PostgreSQL are in test/integration/lifecycle.test.ts.
describe('three years of automatic successors [sqlite]', () => {
  let store: Store;
  let ctx: TestAppContext;
  let channel: DeviceChannel;
  let reconciler: RotationReconciler;
  let lifecycle: LifecycleSchedule;
  let reloading: Promise<void> = Promise.resolve();
  const time = new FakeTime(START);

  before(async () => {
    store = await openTestStore('sqlite');
    const holder: { channel?: DeviceChannel; reconciler?: RotationReconciler } = {};
    ctx = testAppContext(store, {
      clock: time,
      onKeystoreChanged: (change) => {
        if (holder.channel) reloading = holder.channel.reload();
        if (change.defaultChanged) holder.reconciler?.trigger(RotationTrigger.defaultChanged);
      },
      rotation: {
        runNow: (actor) => (holder.reconciler ? holder.reconciler.runNow(actor) : runRotation(ctx, actor)),
        trigger: (reason) => holder.reconciler?.trigger(reason),
      },
    });
    // The default (position 1) and the legacy fallback, both RSA 2048 (K5 allows it; the
    // successors repeat it, so each generation takes a pool key, not a second of CPU).
    await generateCertificate(ctx, SYSTEM_ACTOR, { alias: 'tckey', signatureAlgorithm: 'SHA512withRSA', keySize: 2048, days: 500 });
    await generateCertificate(ctx, SYSTEM_ACTOR, { alias: 'legacy', signatureAlgorithm: 'SHA256withRSA', keySize: 2048, days: 730 });
    channel = holder.channel = await channelOn(ctx, time);
    reconciler = holder.reconciler = new RotationReconciler({ run: (actor) => runRotation(ctx, actor), intervalMs: DAY_MS, scheduler: time, log: silent });
    reconciler.start();
    lifecycle = new LifecycleSchedule({ ctx, scheduler: time, log: silent, isLeader: () => true, checkMs: DAY_MS });
    lifecycle.start();
    await setLifecycle(ctx, SYSTEM_ACTOR, { renewBefore: '90d', window: 'Sat 02:00-05:00', retireAfter: '30d' });
  });
  after(async () => {
    await lifecycle?.stop();
    await reconciler?.stop();
    await channel?.close();
    await store?.close();
  });

  it('renews two defaults and a legacy fallback, strands no device, lets no pinned certificate expire, and retires the old entries', { timeout: 600_000 }, async () => {
    const servers = [{ host: '127.0.0.1', port: channel.address.port }];
    const { token } = await createEnrollmentToken(ctx, SYSTEM_ACTOR, { uses: PROFILES.length });
    const agents: { profile: string; agent: DeviceAgent }[] = [];
    for (const profile of PROFILES) {
      const agent = memoryAgent(servers, profile);
      await agent.cycle(token);
      agents.push({ profile, agent });
    }
    const pinnedAliases = new Map<string, Set<string>>(); // profile kind → aliases pinned over the years

    const checkEveryDevice = async (day: number) => {
      await reloading;
      const now = time.now().getTime();
      const keystore = new Map((await store.keystore.list()).map((e) => [e.id, e]));
      // All at once, as a fleet does; each is checked on its own.
      const results = await Promise.all(
        agents.map(({ profile, agent }) =>
          agent.cycle().catch((e: unknown) => {
            throw new Error(`day ${day}: the ${profile} device failed to check in: ${e instanceof Error ? e.message : String(e)}`);
          }),
        ),
      );
      for (const [i, { profile }] of agents.entries()) {
        const result = results[i];
        assert.ok(result, `day ${day}: the ${profile} device checked in`);
        const device = await store.devices.findById(result.deviceId);
        assert.ok(device, `day ${day}: the ${profile} device is on record`);
        const pinned = keystore.get(device.certificateId) ?? (await store.keystore.list()).find((e) => e.id === device.certificateId);
        assert.ok(pinned, `day ${day}: the certificate the ${profile} device pins is in the keystore`);
        assert.ok(Date.parse(pinned.facts.notAfter) > now, `day ${day}: ${pinned.alias}, pinned by a ${profile} device, expired on ${pinned.facts.notAfter}`);
        assert.ok(Date.parse(pinned.facts.notBefore) <= now, `day ${day}: ${pinned.alias} is valid already`);
        assert.equal(result.pinned.sha256, pinned.facts.sha256Fingerprint, `day ${day}: the ${profile} agent pins what the server has on record`);
        const kind = LEGACY_PROFILES.includes(profile) ? 'legacy' : 'modern';
        const seen = pinnedAliases.get(kind) ?? new Set<string>();
        seen.add(pinned.alias);
        pinnedAliases.set(kind, seen);
      }
    };

    await checkEveryDevice(0);
    for (let day = 1; day <= DAYS; day++) {
      await time.advance(DAY_MS);
      await lifecycle.tick(); // joins the pass the job's timer started at this instant
      await checkEveryDevice(day);
    }

    const events = [...(await store.lifecycle.events(1000))].reverse();
    const of = (step: LifecycleEvent['step'], alias: string) => events.find((e) => e.step === step && e.alias === alias);
    const generated = events.filter((e) => e.step === LifecycleEventStep.generated);
    assert.deepEqual(
      generated.map((e) => [e.details.role, e.details.replaces]),
      [
        ['default', 'tckey'],
        ['fallback', 'legacy'],
        ['default', generated[0]?.alias],
      ],
      `two defaults and one legacy fallback renewed: ${JSON.stringify(events.map((e) => [e.at, e.step, e.alias]))}`,
    );
    assert.equal(events.filter((e) => e.step === LifecycleEventStep.blocked).length, 0, 'no step was blocked');
    for (const g of generated) {
      const promoted = of(LifecycleEventStep.promoted, g.alias);
      assert.ok(promoted, `${g.alias} was promoted`);
      assert.equal(new Date(promoted.at).getUTCDay(), 6, `${g.alias} was promoted in the window (a Saturday)`);
      if (g.details.role === 'default') assert.ok(promoted.details.preview, `the preview of making ${g.alias} the default is recorded`);
      const old = String(g.details.replaces);
      const deactivated = of(LifecycleEventStep.deactivated, old);
      const deleted = of(LifecycleEventStep.deleted, old);
      assert.ok(deactivated && deleted, `${old} was deactivated and deleted`);
      assert.ok(Date.parse(deleted.at) - Date.parse(deactivated.at) >= 30 * DAY_MS, `${old} was deleted no sooner than retire-after (30 days) after it was deactivated`);
      assert.ok(Date.parse(deactivated.at) < Date.parse(String(g.details.replacesNotAfter)), `${old} was out of use before it expired`);
    }
    const left = (await store.keystore.list()).map((e) => [e.alias, e.position, e.active]);
    assert.deepEqual(left, [
      [generated[2]?.alias, 1, true],
      [generated[1]?.alias, 2, true],
    ], 'the old entries are gone; the newest default and the renewed fallback remain');
    assert.deepEqual([...(pinnedAliases.get('legacy') ?? [])], ['legacy', generated[1]?.alias], 'legacy devices moved from the fallback to its successor only');
    assert.equal(pinnedAliases.get('modern')?.size, 3, 'modern devices followed the default through both renewals');
    const audit = await store.audit.list({ limit: 500 });
    for (const step of ['lifecycle.generated', 'lifecycle.promoted', 'lifecycle.deactivated', 'lifecycle.deleted']) {
      assert.equal(audit.filter((a) => a.action === step && a.actor === 'lifecycle').length, 3, `three ${step} entries in the audit log`);
    }
  });
});
