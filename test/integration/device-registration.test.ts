/**
 * Registration (R1, R2, R4), check-in and confirmation (R3's two phases), and device isolation
 * (R5), through the use cases on both databases.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { it } from 'node:test';
import { SYSTEM_ACTOR } from '../../src/app/context.js';
import { deleteCertificate, generateCertificate, reorderCertificate, setCertificateActive } from '../../src/app/certificates.js';
import { createEnrollmentToken } from '../../src/app/enrollment.js';
import {
  authenticateDevice,
  checkInByCredential,
  checkInDevice,
  confirmReplacement,
  getOwnDevice,
  CHECK_IN_SECONDS,
} from '../../src/app/device-check-in.js';
import { keystoreRevision, loadDeviceKeystore } from '../../src/app/device-keystore.js';
import { deleteDevice, getDevice, listDevices } from '../../src/app/devices.js';
import { registerDevice } from '../../src/app/register-device.js';
import { runRotation } from '../../src/app/rotation.js';
import { readKeystore, toPem } from '../../src/crypto/index.js';
import { ALLOWED_SIGNATURE_ALGORITHMS } from '../../src/domain/algorithms.js';
import { PROFILE_IDENTITY } from '../../src/domain/compatibility.js';
import { isCertfleetError } from '../../src/domain/errors.js';
import { fixedClock, laterClock, testAppContext, type TestAppContext } from '../support/app-context.js';
import { found } from '../support/found.js';
import { refusedWith } from '../support/refusals.js';
import { forEachDatabase } from '../support/databases.js';
import { deviceKeystore, pinning, registerProfile, unitId, type TestKeystore } from '../support/device-fleet.js';
import { fixture, FIXTURE_PASSWORDS } from '../fixtures/fixtures.js';

const LEGACY_PROFILES = ['igel-linux-4.01.650', 'windows-7-embedded-3.08.100'];

function pick(r: { scheduled: number; awaitingConfirmation: number; alreadyCurrent: number }) {
  return { scheduled: r.scheduled, awaitingConfirmation: r.awaitingConfirmation, alreadyCurrent: r.alreadyCurrent };
}


forEachDatabase('device registration and check-in', (db) => {
  const fresh = db.storePerTest();
  let ctx: TestAppContext;
  let ks: TestKeystore;
  const setup = async () => {
    ctx = testAppContext(fresh.store);
    ks = await deviceKeystore(ctx);
  };

  it('gives a modern device the default, and a legacy one the first active SHA256withRSA entry (R1, R2)', async () => {
    await setup();
    const modern = await registerProfile(ctx, 'igel-os-12');
    assert.equal(modern.certificate.alias, 'tckey');
    assert.equal(new X509Certificate(modern.certificate.pem).fingerprint256, ks.tckey.facts.sha256Fingerprint);
    assert.match(modern.credential, new RegExp(`^cfd_${modern.deviceId}\\.[A-Za-z0-9_-]{43}$`));
    for (const profile of LEGACY_PROFILES) {
      const legacy = await registerProfile(ctx, profile);
      assert.deepEqual([legacy.certificate.alias, legacy.certificate.signatureAlgorithm], ['legacy', 'SHA256withRSA'], profile);
      const record = await getOwnDevice(ctx, { deviceId: legacy.deviceId });
      assert.equal(record.profile, profile);
      assert.ok(!record.supportedAlgorithms.includes('SHA512withRSA'));
    }
    // A declaration wins over the table: an IGEL OS 12 that says it only does ECDSA gets `ec`.
    const declared = await registerProfile(ctx, 'igel-os-12', { supportedAlgorithms: ['SHA256withECDSA'] });
    assert.equal(declared.certificate.alias, 'ec');
    assert.deepEqual((await getOwnDevice(ctx, declared)).supportedAlgorithms, ['SHA256withECDSA']);
    // Unknown firmware is assumed to support the allow-list (it fails its own pin check loudly otherwise).
    const unknown = await registerProfile(ctx, 'igel-os-12', { osFamily: 'Some Linux', osVersion: '1.0', profile: undefined });
    assert.equal(unknown.certificate.alias, 'tckey');
    assert.deepEqual((await getOwnDevice(ctx, unknown)).supportedAlgorithms, ALLOWED_SIGNATURE_ALGORITHMS);
    const audit = await fresh.store.audit.list({ limit: 20 });
    assert.equal(audit.filter((e) => e.action === 'device.register' && e.result === 'ok').length, 5);
    assert.equal(audit.find((e) => e.action === 'device.register')?.actor, `device:${unknown.deviceId}`);
  });

  it('refuses a legacy device when no active entry fits, saying what it lacks; nothing is written and the token keeps its use', async () => {
    await setup();
    await setCertificateActive(ctx, SYSTEM_ACTOR, 'legacy', false);
    const { token } = await createEnrollmentToken(ctx, SYSTEM_ACTOR, { uses: 1 });
    const identity = found(PROFILE_IDENTITY['igel-linux-4.01.650'], 'the identity of igel-linux-4.01.650');
    const request = { enrollmentToken: token, unitId: unitId(), name: 'old-one', ...identity, profile: 'igel-linux-4.01.650' };
    await assert.rejects(registerDevice(ctx, request), (e: unknown) => {
      refusedWith('no_compatible_certificate')(e);
      assert.ok(isCertfleetError(e));
      assert.deepEqual(e.details['lacking'], ['SHA512withRSA', 'SHA256withECDSA']);
      assert.match(e.message, /lacks SHA512withRSA, SHA256withECDSA/);
      assert.deepEqual(e.details['supported'], ['SHA1withRSA', 'SHA224withRSA', 'SHA256withRSA', 'SHA384withRSA']);
      return true;
    });
    assert.equal((await fresh.store.devices.list({ offset: 0, limit: 10 })).count, 0);
    assert.equal((await fresh.store.enrollment.list())[0]?.usesLeft, 1, 'the refused registration gave its use back');
    const [refusal] = await fresh.store.audit.list({ limit: 1 });
    assert.deepEqual([refusal?.action, refusal?.result, refusal?.code, refusal?.actor], ['device.register', 'refused', 'no_compatible_certificate', 'anonymous']);
    // Once an entry it supports is active again, the same token registers it.
    await setCertificateActive(ctx, SYSTEM_ACTOR, 'legacy', true);
    assert.equal((await registerDevice(ctx, request)).certificate.alias, 'legacy');
  });

  it('replaces an MD5-signed leftover certificate by R1 and records it (R4)', async () => {
    await setup();
    const md5 = await readKeystore({ file: fixture('md5-rsa.p12'), password: FIXTURE_PASSWORDS.storePassword });
    const leftover = toPem(md5.certificates[0] ?? Buffer.alloc(0), 'CERTIFICATE');
    const dev = await registerProfile(ctx, 'igel-os-11', { presentedCertificatePem: leftover });
    assert.equal(dev.certificate.alias, 'tckey');
    assert.equal(dev.replacedMd5Certificate?.signatureAlgorithm, 'MD5withRSA');
    const events = await fresh.store.audit.list({ limit: 5 });
    const replaced = found(events.find((e) => e.action === 'device.md5-certificate-replaced'), 'the audit entry device.md5-certificate-replaced');
    assert.equal(replaced.actor, `device:${dev.deviceId}`);
    assert.equal(replaced.details['presentedSignatureAlgorithm'], 'MD5withRSA');
    assert.equal(replaced.details['newAlias'], 'tckey');
    // A readable, non-MD5 leftover is no event; an unreadable one is noted, not refused.
    const sha = await registerProfile(ctx, 'igel-os-11', { presentedCertificatePem: dev.certificate.pem });
    const junk = await registerProfile(ctx, 'igel-os-11', { presentedCertificatePem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' });
    assert.equal(sha.replacedMd5Certificate, undefined);
    assert.equal(junk.certificate.alias, 'tckey');
    assert.equal((await fresh.store.audit.list({ limit: 50 })).filter((e) => e.action === 'device.md5-certificate-replaced').length, 1);
  });

  it('checks in: confirms a replacement on the new pin, recovers a lost confirmation, refuses any other pin', async () => {
    await setup();
    const a = await registerProfile(ctx, 'igel-os-12');
    const b = await registerProfile(ctx, 'igel-os-12');
    const idA = await authenticateDevice(ctx, a.credential);
    const idB = await authenticateDevice(ctx, b.credential);
    const quiet = await checkInDevice(ctx, idA, pinning(ks.tckey), {});
    assert.deepEqual(quiet, {
      deviceId: a.deviceId,
      certificate: { alias: 'tckey', sha256Fingerprint: ks.tckey.facts.sha256Fingerprint, signatureAlgorithm: 'SHA512withRSA' },
      replacement: null,
      checkInSeconds: CHECK_IN_SECONDS,
    });
    assert.ok((await getOwnDevice(ctx, idA)).lastContactAt);

    await reorderCertificate(ctx, SYSTEM_ACTOR, 'ec', 'default');
    const report = await runRotation(ctx, SYSTEM_ACTOR);
    assert.equal(report.scheduled, 2);
    // A checks in on its old pin: it is told to replace, then confirms on a connection pinning ec.
    const told = await checkInDevice(ctx, idA, pinning(ks.tckey), {});
    assert.equal(told.replacement?.alias, 'ec');
    assert.equal(new X509Certificate(told.replacement?.pem ?? '').fingerprint256, ks.ec.facts.sha256Fingerprint);
    await assert.rejects(confirmReplacement(ctx, idA, pinning(ks.tckey), ks.ec.facts.sha256Fingerprint), refusedWith('pin_mismatch'));
    const confirmed = await confirmReplacement(ctx, idA, pinning(ks.ec), ks.ec.facts.sha256Fingerprint);
    assert.equal(confirmed.certificate.alias, 'ec');
    assert.deepEqual([(await getOwnDevice(ctx, idA)).certificateAlias, (await getOwnDevice(ctx, idA)).pendingCertificateAlias], ['ec', null]);
    // B's confirmation is lost: its next check-in pins ec, which confirms it.
    const recovered = await checkInDevice(ctx, idB, pinning(ks.ec), {});
    assert.deepEqual([recovered.certificate.alias, recovered.replacement], ['ec', null]);
    // A connection without a pin changes nothing.
    assert.equal((await checkInDevice(ctx, idB, { pinnedSha256Hex: null }, {})).certificate.alias, 'ec');
    // B talks over legacy, an entry the record neither has nor expects: refused, nothing written,
    // and the answer names what the record has.
    const before = await getOwnDevice(ctx, idB);
    await assert.rejects(checkInDevice(ctx, idB, pinning(ks.legacy), {}), (e: unknown) => {
      refusedWith('pin_not_allowed')(e);
      assert.ok(isCertfleetError(e));
      assert.deepEqual(e.details['current'], { alias: 'ec', sha256Fingerprint: ks.ec.facts.sha256Fingerprint });
      return true;
    });
    await assert.rejects(confirmReplacement(ctx, idB, pinning(ks.legacy), ks.legacy.facts.sha256Fingerprint), refusedWith('pin_not_allowed'));
    assert.deepEqual(await getOwnDevice(ctx, idB), before, 'a refused pin writes nothing, not even the contact');
    // Each change of pin is in the audit log: A by its confirmation, B by its check-in.
    const changes = (await ctx.store.audit.list({ limit: 50 })).filter((e) => e.action === 'device.pin-changed');
    assert.deepEqual(
      changes.map((e) => [e.target, e.details['from'], e.details['to'], e.details['via']]).sort(),
      [[a.deviceId, 'tckey', 'ec', 'confirm'], [b.deviceId, 'tckey', 'ec', 'check-in']].sort(),
    );
  });

  it('a confirmation that lost its race with a newer default is refused, and the device goes on from its current pin', async () => {
    await setup();
    const a = await registerProfile(ctx, 'igel-os-12');
    const idA = await authenticateDevice(ctx, a.credential);
    await reorderCertificate(ctx, SYSTEM_ACTOR, 'ec', 'default');
    await runRotation(ctx, SYSTEM_ACTOR);
    assert.equal((await checkInDevice(ctx, idA, pinning(ks.tckey), {})).replacement?.alias, 'ec');
    // Before A confirms ec, the default moves on to legacy and a pass plans it:
    await reorderCertificate(ctx, SYSTEM_ACTOR, 'legacy', 'default');
    await runRotation(ctx, SYSTEM_ACTOR);
    await assert.rejects(confirmReplacement(ctx, idA, pinning(ks.ec), ks.ec.facts.sha256Fingerprint), refusedWith('pin_not_allowed'));
    const again = await checkInDevice(ctx, idA, pinning(ks.tckey), {});
    assert.deepEqual([again.certificate.alias, again.replacement?.alias], ['tckey', 'legacy']);
  });

  it('re-matches the compatibility table when a device reports new firmware', async () => {
    await setup();
    const old = await registerProfile(ctx, 'igel-linux-4.01.650');
    const id = await authenticateDevice(ctx, old.credential);
    assert.equal((await runRotation(ctx, SYSTEM_ACTOR)).incompatible, 1);
    await checkInDevice(ctx, id, pinning(ks.legacy), { osVersion: '4.01.700' });
    const record = await getOwnDevice(ctx, id);
    assert.equal(record.osVersion, '4.01.700');
    assert.ok(record.supportedAlgorithms.includes('SHA512withRSA'));
    // It can use the default now, so it has it pending at once (the next pass finds it awaiting).
    assert.equal((await checkInDevice(ctx, id, pinning(ks.legacy), {})).replacement?.alias, 'tckey');
    assert.deepEqual(pick(await runRotation(ctx, SYSTEM_ACTOR)), { scheduled: 0, awaitingConfirmation: 1, alreadyCurrent: 0 });
  });

  it("isolates devices: a credential reaches only its own record, and a forged one nothing (R5)", async () => {
    await setup();
    const a = await registerProfile(ctx, 'igel-os-12');
    const b = await registerProfile(ctx, 'igel-os-12');
    assert.deepEqual(await authenticateDevice(ctx, a.credential), { deviceId: a.deviceId });
    const secretOfA = a.credential.split('.')[1] ?? '';
    const secretOfB = b.credential.split('.')[1] ?? '';
    for (const forged of [
      `cfd_${b.deviceId}.${secretOfA}`, // A's secret under B's id
      `cfd_${a.deviceId}.${secretOfB}`,
      `cfd_${b.deviceId}.${'A'.repeat(43)}`,
      a.credential.slice(0, -1),
      `${a.credential} `,
      '',
      undefined,
    ]) {
      await assert.rejects(authenticateDevice(ctx, forged), refusedWith('device_unauthenticated'), String(forged));
    }
    // What A does changes A only.
    const before = await getOwnDevice(ctx, { deviceId: b.deviceId });
    await checkInDevice(ctx, await authenticateDevice(ctx, a.credential), pinning(ks.tckey), { osVersion: '12.5.0' });
    assert.deepEqual(await getOwnDevice(ctx, { deviceId: b.deviceId }), before);
    assert.equal((await getOwnDevice(ctx, { deviceId: a.deviceId })).osVersion, '12.5.0');
    // A deleted device's credential stops working at once.
    await deleteDevice(ctx, SYSTEM_ACTOR, a.deviceId);
    await assert.rejects(authenticateDevice(ctx, a.credential), refusedWith('device_unauthenticated'));
    await assert.rejects(checkInDevice(ctx, { deviceId: a.deviceId }, pinning(ks.tckey), {}), refusedWith('device_unauthenticated'));
  });

  it("the channel's check-in proves the credential in the statement that records it: one statement when all is well, the long way otherwise", async () => {
    await setup();
    const a = await registerProfile(ctx, 'igel-os-12');
    const b = await registerProfile(ctx, 'igel-os-12');
    let lookups = 0;
    const devices = ctx.store.devices;
    const findByCredentialHash = devices.findByCredentialHash.bind(devices);
    devices.findByCredentialHash = (hash) => {
      lookups++;
      return findByCredentialHash(hash);
    };
    const at = fixedClock('2031-05-06T07:08:09.000Z');
    const later = { ...ctx, clock: at };
    // The common case: the answer of the long way, the contact written, no credential lookup.
    const quick = await checkInByCredential(later, a.credential, pinning(ks.tckey), {});
    assert.equal(lookups, 0);
    assert.deepEqual(quick, await checkInDevice(later, await authenticateDevice(later, a.credential), pinning(ks.tckey), {}));
    assert.equal((await getOwnDevice(ctx, a)).lastContactAt, '2031-05-06T07:08:09.000Z');
    assert.equal((await checkInByCredential(later, a.credential, { pinnedSha256Hex: null }, { osVersion: '12.6.0' })).certificate.alias, 'tckey');
    assert.equal((await getOwnDevice(ctx, a)).osVersion, '12.6.0');
    // Forged credentials write nothing anywhere and are told what authenticateDevice tells.
    const beforeA = await getOwnDevice(ctx, a);
    const beforeB = await getOwnDevice(ctx, b);
    const secretOfA = a.credential.split('.')[1] ?? '';
    const secretOfB = b.credential.split('.')[1] ?? '';
    const evenLater = { ...ctx, clock: laterClock(at, 60_000) };
    for (const forged of [`cfd_${b.deviceId}.${secretOfA}`, `cfd_${a.deviceId}.${secretOfB}`, a.credential.slice(0, -1), '', undefined]) {
      await assert.rejects(checkInByCredential(evenLater, forged, pinning(ks.tckey), {}), refusedWith('device_unauthenticated'), String(forged));
    }
    assert.deepEqual([await getOwnDevice(ctx, a), await getOwnDevice(ctx, b)], [beforeA, beforeB]);
    // A pin to confirm finds no row on the short way and is confirmed on the long one (audited).
    await reorderCertificate(ctx, SYSTEM_ACTOR, 'ec', 'default');
    await runRotation(ctx, SYSTEM_ACTOR);
    lookups = 0;
    const confirmed = await checkInByCredential(evenLater, b.credential, pinning(ks.ec), {});
    assert.deepEqual([confirmed.certificate.alias, confirmed.replacement, lookups], ['ec', null, 1]);
    assert.equal((await getOwnDevice(ctx, b)).lastContactAt, '2031-05-06T07:09:09.000Z');
    // Another entry's pin: refused on the long way, nothing written.
    await assert.rejects(checkInByCredential(evenLater, a.credential, pinning(ks.legacy), {}), refusedWith('pin_not_allowed'));
    assert.equal((await getOwnDevice(ctx, a)).lastContactAt, '2031-05-06T07:08:09.000Z');
    // A deleted device's credential stops working at once.
    await deleteDevice(ctx, SYSTEM_ACTOR, a.deviceId);
    await assert.rejects(checkInByCredential(evenLater, a.credential, pinning(ks.tckey), {}), refusedWith('device_unauthenticated'));
  });

  it('lists, searches, shows and deletes devices (admin), and counts them per certificate (K10)', async () => {
    await setup();
    const viewer = { userId: 'v', username: 'vic', role: 'viewer', tokenId: null } as const;
    const modern = await registerProfile(ctx, 'igel-os-12', { name: 'lab-modern' });
    const legacy = await registerProfile(ctx, 'windows-7-embedded-3.08.100', { name: 'office-legacy' });
    await registerProfile(ctx, 'igel-os-11', { name: 'lab-eleven' });
    const all = await listDevices(ctx, viewer, { offset: 0, limit: 10 });
    assert.deepEqual(all.items.map((d) => d.name), ['lab-eleven', 'lab-modern', 'office-legacy']);
    assert.equal((await listDevices(ctx, viewer, { search: 'LAB', offset: 0, limit: 10 })).count, 2);
    assert.equal((await listDevices(ctx, viewer, { search: 'lab', offset: 1, limit: 1 })).items[0]?.name, 'lab-modern');
    const ofLegacy = await listDevices(ctx, viewer, { certificateAlias: 'legacy', offset: 0, limit: 10 });
    assert.deepEqual(ofLegacy.items.map((d) => d.id), [legacy.deviceId]);
    await assert.rejects(listDevices(ctx, viewer, { certificateAlias: 'nope', offset: 0, limit: 10 }), refusedWith('certificate_not_found'));
    assert.equal((await getDevice(ctx, viewer, modern.deviceId)).unitId, (await getOwnDevice(ctx, modern)).unitId);
    await assert.rejects(getDevice(ctx, viewer, 'nope'), refusedWith('device_not_found'));
    await assert.rejects(deleteDevice(ctx, viewer, modern.deviceId), refusedWith('forbidden'));
    await assert.rejects(deleteDevice(ctx, SYSTEM_ACTOR, 'nope'), refusedWith('device_not_found'));
    await deleteDevice(ctx, SYSTEM_ACTOR, modern.deviceId);
    assert.equal((await listDevices(ctx, viewer, { offset: 0, limit: 10 })).count, 2);
    assert.deepEqual((await fresh.store.keystore.findByAlias('tckey'))?.usage, { pinned: 1, pending: 0 });
    const audit = await fresh.store.audit.list({ limit: 3 });
    assert.deepEqual(audit.map((e) => `${e.action}:${e.result}`), ['device.delete:ok', 'device.delete:refused', 'device.delete:refused']);
  });

  it('serves the keystore to the channel with keys, and tells its revision', async () => {
    await setup();
    const served = await loadDeviceKeystore(ctx);
    assert.equal(served.revision, await keystoreRevision(ctx));
    assert.deepEqual(served.entries.map((e) => [e.alias, e.position, e.active]), [['tckey', 1, true], ['legacy', 2, true], ['ec', 3, true]]);
    for (const e of served.entries) {
      const cert = new X509Certificate(e.certPem);
      assert.equal(cert.fingerprint256.replace(/:/g, '').toLowerCase(), e.sha256Hex);
      assert.ok(cert.checkPrivateKey(createPrivateKey(e.keyPem)));
    }
    await generateCertificate(ctx, SYSTEM_ACTOR, { alias: 'more', signatureAlgorithm: 'SHA256withECDSA' });
    assert.equal(await keystoreRevision(ctx), served.revision + 1);
    await deleteCertificate(ctx, SYSTEM_ACTOR, 'more');
  });
});
