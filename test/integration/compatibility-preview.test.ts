/**
 * Previewing a compatibility table edit (R2 → R3) on both databases: the one grouped read plus the
 * pure `previewTableChange` predict exactly what the rotation does once the table is saved —
 * which devices get the default pending, which lose it, and whose pin the new table calls
 * unsupported — and the preview itself writes nothing.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { previewCompatibilityRules, type CompatibilityPreview } from '../../src/app/compatibility-preview.js';
import { getCompatibilityRules, setCompatibilityRules } from '../../src/app/compatibility.js';
import { reorderCertificate } from '../../src/app/certificates.js';
import { SYSTEM_ACTOR, type Actor } from '../../src/app/context.js';
import type { DeviceRecord } from '../../src/app/records.js';
import { rotationStatus, runRotation, UNKNOWN_PROFILE } from '../../src/app/rotation.js';
import { DEFAULT_COMPATIBILITY_RULES, type CompatibilityRule } from '../../src/domain/compatibility.js';
import { testAppContext, type TestAppContext } from '../support/app-context.js';
import { found } from '../support/found.js';
import { refusedWith } from '../support/refusals.js';
import { forEachDatabase } from '../support/databases.js';
import { deviceKeystore, registerProfile, type TestKeystore } from '../support/device-fleet.js';

const operator: Actor = { userId: 'u-op', username: 'otto', role: 'operator', tokenId: null };
const viewer: Actor = { userId: 'u-v', username: 'vic', role: 'viewer', tokenId: null };


/**
 * The shipped table edited four ways at once: legacy IGEL Linux gains SHA512withRSA (its devices
 * would switch), IGEL OS 11 loses it (its devices would stop switching), a stricter IGEL OS 12 row
 * is put above the catch-all (its devices pin tckey, SHA512withRSA: unsupported), and the old
 * Windows 7 Embedded row is removed (those devices fall through to the newer row: switching).
 */
function editedTable(): CompatibilityRule[] {
  const edited: CompatibilityRule[] = [];
  for (const r of DEFAULT_COMPATIBILITY_RULES) {
    if (r.profile === 'windows-7-embedded-3.08.100') continue;
    if (r.profile === 'igel-linux-4.01.650') edited.push({ ...r, algorithms: [...r.algorithms, 'SHA512withRSA'] });
    else if (r.profile === 'igel-os-11') edited.push({ ...r, algorithms: r.algorithms.filter((a) => a !== 'SHA512withRSA') });
    else {
      if (r.profile === 'igel-os-12') edited.push({ profile: 'igel-os-12-strict', osFamily: 'IGEL OS', maxVersion: '12.99.999', algorithms: ['SHA256withRSA'] });
      edited.push(r);
    }
  }
  return edited;
}

async function allDevices(ctx: TestAppContext): Promise<DeviceRecord[]> {
  return [...(await ctx.store.devices.list({ offset: 0, limit: 1000 })).items];
}

/** What the rotation did between two snapshots, counted as the preview counts it. */
function observed(before: readonly DeviceRecord[], after: readonly DeviceRecord[], algorithmOf: ReadonlyMap<string, string>, declaredIds: ReadonlySet<string>) {
  const was = new Map(before.map((d) => [d.id, d]));
  const counts = { newlySwitching: 0, noLongerSwitching: 0, unsupportedPin: 0 };
  const byProfile: Record<string, { newlySwitching: number; noLongerSwitching: number; unsupportedPin: number }> = {};
  const add = (d: DeviceRecord, field: keyof typeof counts) => {
    counts[field] += 1;
    const profile = d.profile ?? UNKNOWN_PROFILE;
    const seen = (byProfile[profile] ??= { newlySwitching: 0, noLongerSwitching: 0, unsupportedPin: 0 });
    seen[field] += 1;
  };
  for (const d of after) {
    const old = was.get(d.id);
    assert.ok(old, d.id);
    assert.equal(d.certificateId, old.certificateId, 'saving the table never changes what a device pins');
    if (old.pendingCertificateId === null && d.pendingCertificateId !== null) add(d, 'newlySwitching');
    if (old.pendingCertificateId !== null && d.pendingCertificateId === null) add(d, 'noLongerSwitching');
    const pinned = found(algorithmOf.get(d.certificateId), `the algorithm of the certificate ${d.certificateId}`);
    if (!declaredIds.has(d.id) && !d.supportedAlgorithms.includes(pinned)) add(d, 'unsupportedPin');
  }
  return { ...counts, byProfile };
}

forEachDatabase('compatibility table preview', (db) => {
  const fresh = db.storePerTest();
  let ctx: TestAppContext;
  let ks: TestKeystore;
  const declaredIds = new Set<string>();

  /**
   * tckey (SHA512withRSA) is the default. IGEL OS 12 pins it; IGEL OS 11 registered while `legacy`
   * was the default and has tckey pending; the legacy firmware pins `legacy` and stays; one
   * device declared its own algorithms (RSA up to SHA-256) and stays whatever the table says.
   */
  const fleet = async (): Promise<void> => {
    ctx = testAppContext(fresh.store);
    ks = await deviceKeystore(ctx);
    declaredIds.clear();
    await reorderCertificate(ctx, SYSTEM_ACTOR, 'legacy', 'default');
    for (let i = 0; i < 3; i++) await registerProfile(ctx, 'igel-os-11');
    await reorderCertificate(ctx, SYSTEM_ACTOR, 'tckey', 'default');
    for (let i = 0; i < 2; i++) await registerProfile(ctx, 'igel-os-12');
    for (let i = 0; i < 4; i++) await registerProfile(ctx, 'igel-linux-4.01.650');
    await registerProfile(ctx, 'windows-7-embedded-3.08.100');
    const declared = await registerProfile(ctx, 'igel-linux-4.01.650', { supportedAlgorithms: ['SHA256withRSA'] });
    declaredIds.add(declared.deviceId);
    await runRotation(ctx, SYSTEM_ACTOR);
  };

  it('predicts what the rotation does after the table is saved, device by device and per profile', async () => {
    await fleet();
    const status = await rotationStatus(ctx, SYSTEM_ACTOR);
    const table = editedTable();
    const preview = await previewCompatibilityRules(ctx, operator, table);
    assert.deepEqual(preview, {
      defaultAlias: 'tckey',
      defaultAlgorithm: 'SHA512withRSA',
      total: 11,
      declared: 1,
      switching: { before: 3, after: 5 },
      staying: { before: 6, after: 4 },
      newlySwitching: 5,
      noLongerSwitching: 3,
      unsupportedPin: 2,
      byProfile: {
        'igel-linux-4.01.650': { newlySwitching: 4, noLongerSwitching: 0, unsupportedPin: 0 },
        'windows-7-embedded-3.08.100': { newlySwitching: 1, noLongerSwitching: 0, unsupportedPin: 0 },
        'igel-os-11': { newlySwitching: 0, noLongerSwitching: 3, unsupportedPin: 0 },
        'igel-os-12': { newlySwitching: 0, noLongerSwitching: 0, unsupportedPin: 2 },
      },
    } satisfies CompatibilityPreview);
    // "before" is what the rotation sees now.
    assert.equal(preview.staying.before, status.staying);
    assert.equal(preview.switching.before, status.pending);

    const algorithmOf = new Map([ks.tckey, ks.legacy, ks.ec].map((c) => [c.id, c.facts.signatureAlgorithm]));
    const before = await allDevices(ctx);
    await setCompatibilityRules(ctx, operator, table);
    const report = await runRotation(ctx, SYSTEM_ACTOR);
    const after = await allDevices(ctx);
    assert.equal(report.scheduled + report.awaitingConfirmation, preview.switching.after);
    assert.equal(report.incompatible, preview.staying.after);
    const seen = observed(before, after, algorithmOf, declaredIds);
    assert.deepEqual(
      { newlySwitching: seen.newlySwitching, noLongerSwitching: seen.noLongerSwitching, unsupportedPin: seen.unsupportedPin },
      { newlySwitching: preview.newlySwitching, noLongerSwitching: preview.noLongerSwitching, unsupportedPin: preview.unsupportedPin },
    );
    assert.deepEqual(seen.byProfile, preview.byProfile);

    // Back to the shipped table: the preview is the mirror image, and "before" is the saved edit.
    const back = await previewCompatibilityRules(ctx, operator, DEFAULT_COMPATIBILITY_RULES);
    assert.deepEqual(
      [back.switching, back.staying, back.newlySwitching, back.noLongerSwitching, back.unsupportedPin],
      [{ before: 5, after: 3 }, { before: 4, after: 6 }, 3, 5, 0],
    );
  });

  it('writes nothing, is open to viewers, and refuses a table that PUT would refuse', async () => {
    await fleet();
    const before = await allDevices(ctx);
    const rules = await getCompatibilityRules(ctx, viewer);
    const announced = ctx.changes.length;
    const preview = await previewCompatibilityRules(ctx, viewer, editedTable());
    assert.equal(preview.newlySwitching, 5);
    assert.deepEqual(await getCompatibilityRules(ctx, viewer), rules);
    assert.deepEqual(await allDevices(ctx), before);
    assert.equal(ctx.changes.length, announced, 'no change announced to the reconciler');
    await assert.rejects(previewCompatibilityRules(ctx, viewer, []), refusedWith('invalid_compatibility_rules'));
    await assert.rejects(
      previewCompatibilityRules(ctx, viewer, [{ profile: 'x', osFamily: 'IGEL OS', maxVersion: null, algorithms: ['MD5withRSA'] }]),
      refusedWith('invalid_compatibility_rules'),
    );
    await assert.rejects(
      previewCompatibilityRules(ctx, viewer, [{ profile: 'x', osFamily: 'IGEL OS', maxVersion: 'twelve', algorithms: ['SHA256withRSA'] }]),
      refusedWith('invalid_compatibility_rules'),
    );
  });
});
