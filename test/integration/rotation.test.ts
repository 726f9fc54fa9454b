/**
 * The rotation (R3) on both databases: the set-based planner agrees with `decideRotation` device by
 * device; a device offline across two default changes catches up; a pending certificate cannot be
 * deleted (K7); editing the compatibility table changes masks and the next pass; the preview
 * predicts the pass exactly.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { SYSTEM_ACTOR, type Actor } from '../../src/app/context.js';
import { deleteCertificate, generateCertificate, reorderCertificate } from '../../src/app/certificates.js';
import { getCompatibilityRules, setCompatibilityRules } from '../../src/app/compatibility.js';
import { authenticateDevice, checkInDevice, confirmReplacement, getOwnDevice } from '../../src/app/device-check-in.js';
import { deleteDevice } from '../../src/app/devices.js';
import type { DeviceRecord, StoredCertificate } from '../../src/app/records.js';
import { previewDefault, REPORT_FIELD_OF_DECISION, requestRotation, RotationTrigger, rotationStatus, runRotation } from '../../src/app/rotation.js';
import { ALLOWED_SIGNATURE_ALGORITHMS } from '../../src/domain/algorithms.js';
import { algorithmBit, algorithmMask, algorithmsOfMask, DEFAULT_COMPATIBILITY_RULES } from '../../src/domain/compatibility.js';
import { isCertfleetError } from '../../src/domain/errors.js';
import { decideRotation, RotationDecision } from '../../src/domain/rotation.js';
import { testAppContext, type TestAppContext } from '../support/app-context.js';
import { found } from '../support/found.js';
import { refusedWith } from '../support/refusals.js';
import { forEachDatabase } from '../support/databases.js';
import { deviceKeystore, pinning, registerProfile, unitId, type TestKeystore } from '../support/device-fleet.js';

const operator: Actor = { userId: 'u-op', username: 'otto', role: 'operator', tokenId: null };
const viewer: Actor = { userId: 'u-v', username: 'vic', role: 'viewer', tokenId: null };

const MASKS = {
  legacy: algorithmMask(['SHA1withRSA', 'SHA224withRSA', 'SHA256withRSA', 'SHA384withRSA']),
  all: algorithmMask(ALLOWED_SIGNATURE_ALGORITHMS),
  ecdsaOnly: algorithmMask(['SHA256withECDSA']),
  sha512Only: algorithmMask(['SHA512withRSA']),
} as const;


async function allDevices(ctx: TestAppContext): Promise<DeviceRecord[]> {
  return [...(await ctx.store.devices.list({ offset: 0, limit: 1000 })).items];
}

/** Makes `previous` the rotation target, as an earlier pass (for an earlier default) would have left it. */
async function planned(ctx: TestAppContext, previous: StoredCertificate): Promise<void> {
  await ctx.store.rotation.setTarget(previous.id, algorithmBit(previous.facts.signatureAlgorithm), new Date(0).toISOString());
}

forEachDatabase('rotation', (db) => {
  const fresh = db.storePerTest();
  let ctx: TestAppContext;
  let ks: TestKeystore;
  const setup = async () => {
    ctx = testAppContext(fresh.store);
    ks = await deviceKeystore(ctx);
  };

  it('plans set-based exactly what decideRotation decides, for every combination of current, pending and mask', async () => {
    await setup();
    const certs: readonly StoredCertificate[] = [ks.tckey, ks.legacy, ks.ec];
    let n = 0;
    for (const current of certs) {
      for (const mask of Object.values(MASKS)) {
        const id = `dev-${String(++n).padStart(3, '0')}`;
        await fresh.store.devices.insert({
          id, unitId: unitId(), name: id, osFamily: 'IGEL OS', osVersion: '12', profile: null, declaredAlgorithms: null,
          supportedMask: mask, certificateId: current.id, credentialHash: `hash-${id}`, registeredAt: new Date().toISOString(),
        });
      }
    }
    // The default is tckey (SHA512withRSA), then ec (SHA256withECDSA), then legacy (SHA256withRSA);
    // before each pass the target an earlier pass left is no one's yet, or any certificate, so that
    // every device meets the pass with no pending replacement, the new default pending, or another.
    const steps = (['tckey', 'ec', 'legacy'] as const).flatMap((next, i) =>
      [...(i === 0 ? [null] : []), ...certs].map((previous, j) => ({ next: i > 0 && j === 0 ? next : null, previous })),
    );
    for (const { next, previous } of steps) {
      if (next) await reorderCertificate(ctx, SYSTEM_ACTOR, next, 'default');
      if (previous) await planned(ctx, previous);
      const target = found((await ctx.store.keystore.list())[0], 'the default');
      const before = new Map((await allDevices(ctx)).map((d) => [d.id, d]));
      const report = await runRotation(ctx, SYSTEM_ACTOR);
      const after = new Map((await allDevices(ctx)).map((d) => [d.id, d]));
      const tally = { alreadyCurrent: 0, scheduled: 0, awaitingConfirmation: 0, incompatible: 0 };
      for (const [id, was] of before) {
        const decision = decideRotation({
          defaultId: target.id,
          defaultAlgorithm: target.facts.signatureAlgorithm,
          device: { certificateId: was.certificateId, pendingCertificateId: was.pendingCertificateId, supportedAlgorithms: was.supportedAlgorithms },
        });
        tally[REPORT_FIELD_OF_DECISION[decision]] += 1;
        const now = found(after.get(id), `device ${id} after the pass`);
        const expectedPending =
          decision === RotationDecision.schedule || decision === RotationDecision.awaitingConfirmation ? target.id : null;
        assert.equal(now.pendingCertificateId, expectedPending, `${id} (${decision}, default ${target.alias})`);
        assert.equal(now.certificateId, was.certificateId, 'a rotation never changes what a device pins');
      }
      assert.deepEqual(
        { alreadyCurrent: report.alreadyCurrent, scheduled: report.scheduled, awaitingConfirmation: report.awaitingConfirmation, incompatible: report.incompatible },
        tally,
        `default ${target.alias}`,
      );
      assert.equal(report.checked, n);
      assert.equal(report.defaultAlias, target.alias);
      // A second pass finds nothing more to do.
      const again = await runRotation(ctx, SYSTEM_ACTOR);
      assert.deepEqual([again.scheduled, again.awaitingConfirmation], [0, tally.scheduled + tally.awaitingConfirmation]);
    }
  });

  it('a device offline across two default changes catches up with the newest; a pending certificate cannot be deleted (K7)', async () => {
    await setup();
    const away = await registerProfile(ctx, 'igel-os-12');
    const stays = await registerProfile(ctx, 'igel-linux-4.01.650');
    await generateCertificate(ctx, SYSTEM_ACTOR, { alias: 'second', signatureAlgorithm: 'SHA384withRSA', keySize: 2048 });
    await reorderCertificate(ctx, SYSTEM_ACTOR, 'second', 'default');
    const first = await runRotation(ctx, SYSTEM_ACTOR);
    assert.deepEqual([first.scheduled, first.incompatible, first.alreadyCurrent], [2, 0, 0], 'the legacy firmware supports SHA384withRSA');
    assert.equal((await getOwnDevice(ctx, away)).pendingCertificateAlias, 'second');
    await assert.rejects(deleteCertificate(ctx, SYSTEM_ACTOR, 'tckey'), refusedWith('certificate_in_use'));
    await reorderCertificate(ctx, SYSTEM_ACTOR, 'ec', 'default');
    await assert.rejects(deleteCertificate(ctx, SYSTEM_ACTOR, 'second'), (e: unknown) => {
      refusedWith('certificate_in_use')(e);
      assert.ok(isCertfleetError(e));
      assert.deepEqual([e.details['pinned'], e.details['pending']], [0, 2]);
      assert.match(e.message, /certfleet cert devices second/);
      return true;
    });
    const second = await runRotation(ctx, SYSTEM_ACTOR);
    assert.deepEqual([second.scheduled, second.incompatible], [1, 1], 'away re-pointed to ec; the legacy device cannot use ec and drops second');
    assert.deepEqual((await fresh.store.keystore.findByAlias('second'))?.usage, { pinned: 0, pending: 0 });
    await deleteCertificate(ctx, SYSTEM_ACTOR, 'second');
    // Weeks later `away` checks in on its old pin, gets the newest default, and confirms it.
    const id = await authenticateDevice(ctx, away.credential);
    const told = await checkInDevice(ctx, id, pinning(ks.tckey), {});
    assert.equal(told.replacement?.alias, 'ec');
    await confirmReplacement(ctx, id, pinning(ks.ec), ks.ec.facts.sha256Fingerprint);
    const record = await getOwnDevice(ctx, id);
    assert.deepEqual([record.certificateAlias, record.pendingCertificateAlias], ['ec', null]);
    assert.deepEqual([(await getOwnDevice(ctx, stays)).certificateAlias, (await getOwnDevice(ctx, stays)).pendingCertificateAlias], ['legacy', null]);
    assert.deepEqual(await rotationStatus(ctx, viewer), {
      lastRun: second,
      defaultAlias: 'ec',
      total: 2,
      onDefault: 1,
      pending: 0,
      staying: 1,
    });
  });

  it('an edit of the compatibility table recomputes masks, keeps declarations, and changes the next pass', async () => {
    await setup();
    const legacy = await registerProfile(ctx, 'igel-linux-4.01.650');
    const declared = await registerProfile(ctx, 'igel-linux-4.01.650', { supportedAlgorithms: ['SHA256withRSA'] });
    assert.deepEqual(await getCompatibilityRules(ctx, viewer), DEFAULT_COMPATIBILITY_RULES.map((r) => ({ ...r, algorithms: [...r.algorithms] })));
    assert.equal((await runRotation(ctx, SYSTEM_ACTOR)).incompatible, 2);
    const edited = DEFAULT_COMPATIBILITY_RULES.map((r) => (r.profile === 'igel-linux-4.01.650' ? { ...r, algorithms: [...ALLOWED_SIGNATURE_ALGORITHMS] } : r));
    await assert.rejects(setCompatibilityRules(ctx, viewer, edited), refusedWith('forbidden'));
    await assert.rejects(
      setCompatibilityRules(ctx, operator, [{ profile: 'x', osFamily: 'X', maxVersion: null, algorithms: ['MD5withRSA'] }]),
      refusedWith('invalid_compatibility_rules'),
    );
    await assert.rejects(setCompatibilityRules(ctx, operator, [{ profile: 'x', osFamily: 'X', maxVersion: 'latest', algorithms: ['SHA256withRSA'] }]), refusedWith('invalid_compatibility_rules'));
    const changesBefore = ctx.changes.length;
    const triggersBefore = ctx.triggers.length;
    const saved = await setCompatibilityRules(ctx, operator, edited);
    assert.deepEqual(saved.find((r) => r.profile === 'igel-linux-4.01.650')?.algorithms, ALLOWED_SIGNATURE_ALGORITHMS);
    assert.deepEqual(ctx.triggers.slice(triggersBefore), [RotationTrigger.compatibilityChanged], 'the reconciler is woken');
    assert.equal(ctx.changes.length, changesBefore, 'the keystore did not change');
    assert.ok((await getOwnDevice(ctx, legacy)).supportedAlgorithms.includes('SHA512withRSA'));
    assert.deepEqual((await getOwnDevice(ctx, declared)).supportedAlgorithms, ['SHA256withRSA'], 'a declaration is kept');
    // The target (tckey) decides pending replacements: the device that can use it now has it pending at once.
    assert.equal((await getOwnDevice(ctx, legacy)).pendingCertificateAlias, 'tckey');
    const next = await runRotation(ctx, SYSTEM_ACTOR);
    assert.deepEqual([next.scheduled, next.awaitingConfirmation, next.incompatible], [0, 1, 1]);
    // Back to the shipped table: the device can no longer use the default, and its pending goes.
    await setCompatibilityRules(ctx, operator, DEFAULT_COMPATIBILITY_RULES.map((r) => ({ ...r, algorithms: [...r.algorithms] })));
    assert.deepEqual(algorithmsOfMask(algorithmMask((await getOwnDevice(ctx, legacy)).supportedAlgorithms)), ['SHA1withRSA', 'SHA224withRSA', 'SHA256withRSA', 'SHA384withRSA']);
    const back = await runRotation(ctx, SYSTEM_ACTOR);
    assert.deepEqual([back.scheduled, back.incompatible], [0, 2]);
    assert.equal((await getOwnDevice(ctx, legacy)).pendingCertificateAlias, null);
    assert.equal((await fresh.store.audit.list({ limit: 50 })).filter((e) => e.action === 'compatibility.set' && e.result === 'ok').length, 2);
  });

  it('previews a default change per profile, writing nothing, and the pass after the change does exactly that', async () => {
    await setup();
    const profiles = ['igel-os-12', 'igel-os-12', 'igel-os-11', 'igel-linux-4.01.650', 'windows-7-embedded-3.08.100', 'windows-7-embedded-3.08.100'];
    const devices = [];
    for (const p of profiles) devices.push(await registerProfile(ctx, p));
    // One modern device is on ec already; the others that can use legacy have it pending from an earlier pass.
    const onEc = devices[1];
    const stale = devices[2];
    assert.ok(onEc && stale);
    // (ec planned first: a device may only present its current or pending pin.)
    await planned(ctx, ks.ec);
    await checkInDevice(ctx, { deviceId: onEc.deviceId }, pinning(ks.ec), {});
    await planned(ctx, ks.legacy);
    const revision = await ctx.store.keystore.revision();

    const preview = await previewDefault(ctx, viewer, 'ec');
    assert.deepEqual(preview, {
      alias: 'ec',
      switching: { total: 2, byProfile: { 'igel-os-12': 1, 'igel-os-11': 1 } },
      staying: { total: 3, byProfile: { 'igel-linux-4.01.650': 1, 'windows-7-embedded-3.08.100': 2 }, lacking: 'SHA256withECDSA' },
      alreadyCurrent: 1,
    });
    assert.equal(await ctx.store.keystore.revision(), revision, 'the preview changes nothing');
    assert.equal((await getOwnDevice(ctx, stale)).pendingCertificateAlias, 'legacy');
    await assert.rejects(previewDefault(ctx, viewer, 'nope'), refusedWith('certificate_not_found'));

    await reorderCertificate(ctx, SYSTEM_ACTOR, 'ec', 'default');
    const report = await requestRotation(ctx, operator); // `sync run`, through the context's runner
    assert.equal(report.scheduled + report.awaitingConfirmation, preview.switching.total);
    assert.equal(report.incompatible, preview.staying.total);
    assert.equal(report.alreadyCurrent, preview.alreadyCurrent);
    const pendingByProfile: Record<string, number> = {};
    for (const d of await allDevices(ctx)) {
      if (d.pendingCertificateAlias === 'ec') pendingByProfile[d.profile ?? 'unknown'] = (pendingByProfile[d.profile ?? 'unknown'] ?? 0) + 1;
    }
    assert.deepEqual(pendingByProfile, preview.switching.byProfile);
    // The current default previews as "nothing to switch".
    const now = await previewDefault(ctx, viewer, 'ec');
    assert.deepEqual([now.switching.total, now.staying.total, now.alreadyCurrent], [2, 3, 1]);
    const audit = (await ctx.store.audit.list({ limit: 5 })).find((e) => e.action === 'rotation.run');
    assert.equal(audit?.actor, 'otto');
  });

  it('a device registering between a default change and the next pass is not sent back to the old default', async () => {
    await setup();
    const early = await registerProfile(ctx, 'igel-os-12');
    await runRotation(ctx, SYSTEM_ACTOR);
    await reorderCertificate(ctx, SYSTEM_ACTOR, 'ec', 'default');
    const late = await registerProfile(ctx, 'igel-os-12');
    assert.equal(late.certificate.alias, 'ec');
    assert.deepEqual([(await getOwnDevice(ctx, late)).certificateAlias, (await getOwnDevice(ctx, late)).pendingCertificateAlias], ['ec', null]);
    assert.equal((await getOwnDevice(ctx, early)).pendingCertificateAlias, 'ec', 'the registration moved the target to the new default');
    assert.deepEqual(await fresh.store.rotation.target(), {
      certificateId: ks.ec.id,
      algorithmBit: algorithmMask(['SHA256withECDSA']),
      plannedAt: (await fresh.store.rotation.target()).plannedAt,
    });
  });

  it('the database refuses to delete the certificate devices have pending through the target (K7)', async () => {
    await setup();
    await registerProfile(ctx, 'igel-os-12');
    await reorderCertificate(ctx, SYSTEM_ACTOR, 'ec', 'default');
    await runRotation(ctx, SYSTEM_ACTOR);
    assert.deepEqual((await fresh.store.keystore.findByAlias('ec'))?.usage, { pinned: 0, pending: 1 });
    // Below the use case's check: the rotation target's foreign key itself.
    await assert.rejects(fresh.store.keystore.remove(ks.ec.id), refusedWith('certificate_in_use'));
    // Once no device needs it, the target lets go and the entry can go (here the default itself).
    const modern = found((await allDevices(ctx))[0], 'the modern device');
    await deleteDevice(ctx, SYSTEM_ACTOR, modern.id);
    await registerProfile(ctx, 'igel-linux-4.01.650'); // cannot use ec: nothing pending through the target
    assert.deepEqual((await fresh.store.keystore.findByAlias('ec'))?.usage, { pinned: 0, pending: 0 });
    await deleteCertificate(ctx, SYSTEM_ACTOR, 'ec');
    assert.equal((await fresh.store.rotation.target()).certificateId, null);
    const next = await runRotation(ctx, SYSTEM_ACTOR);
    assert.deepEqual([next.defaultAlias, next.incompatible], ['tckey', 1]);
  });

  it('audits the periodic pass only when it changed something; a viewer may not run it', async () => {
    await setup();
    await registerProfile(ctx, 'igel-os-12');
    const passes = async () => (await ctx.store.audit.list({ limit: 50 })).filter((e) => e.action === 'rotation.run').length;
    await runRotation(ctx, SYSTEM_ACTOR); // the first pass sets the target: a change
    await runRotation(ctx, SYSTEM_ACTOR);
    assert.equal(await passes(), 1);
    await reorderCertificate(ctx, SYSTEM_ACTOR, 'ec', 'default');
    await runRotation(ctx, SYSTEM_ACTOR);
    await runRotation(ctx, SYSTEM_ACTOR);
    assert.equal(await passes(), 2);
    await assert.rejects(runRotation(ctx, viewer), refusedWith('forbidden'));
    await assert.rejects(requestRotation(ctx, viewer), refusedWith('forbidden'));
    const refusal = (await ctx.store.audit.list({ limit: 1 }))[0];
    assert.deepEqual([refusal?.action, refusal?.actor, refusal?.result, refusal?.code], ['rotation.run', 'vic', 'refused', 'forbidden']);
    assert.equal((await rotationStatus(ctx, viewer)).lastRun?.awaitingConfirmation, 1);
  });
});
