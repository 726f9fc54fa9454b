/**
 * The admin side of issue 3 over HTTP, in process, on SQLite and PostgreSQL: enrollment tokens,
 * the compatibility table, devices, rotation on demand and the default preview. Statuses, exact
 * shapes, refusals with their codes; the device credential and the enrollment token text never
 * leave the server after the one answer that creates them.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { generateCertificate } from '../../src/app/certificates.js';
import type { RegisterResult } from '../../src/app/register-device.js';
import { ALLOWED_SIGNATURE_ALGORITHMS } from '../../src/domain/algorithms.js';
import { forEachDatabase } from '../support/databases.js';
import { found } from '../support/found.js';
import { registerProfile } from '../support/device-fleet.js';
import { assertError, auditSince, keystoreState, lastAuditId, startApi, type ApiHarness } from './support.js';
import type {
  CompatibilityTable,
  DefaultPreview as Preview,
  DevicePage,
  DeviceSummary as Device,
  EnrollmentToken,
  IssuedEnrollmentToken,
  RotationStatus,
} from '../../src/transport/http-api/contract/index.js';

const DEVICE_KEYS = [
  'certificateAlias', 'id', 'lastContactAt', 'name', 'osFamily', 'osVersion', 'pendingCertificateAlias', 'profile',
  'reRegistrationReason', 'reRegistrationRequired', 'registeredAt', 'supportedAlgorithms', 'unitId',
];
const TOKEN_KEYS = ['createdAt', 'createdBy', 'expiresAt', 'id', 'revokedAt', 'state', 'unitId', 'usesAllowed', 'usesLeft'];
const REPORT_KEYS = ['alreadyCurrent', 'awaitingConfirmation', 'checked', 'defaultAlias', 'finishedAt', 'incompatible', 'scheduled', 'startedAt'];
const LEGACY_ALGORITHMS = ['SHA1withRSA', 'SHA224withRSA', 'SHA256withRSA', 'SHA384withRSA'];


const keys = (o: object): string[] => Object.keys(o).sort();
const near = (iso: string, expectedMs: number, label: string) =>
  assert.ok(Math.abs(Date.parse(iso) - expectedMs) < 60_000, `${label}: ${iso} is not about ${new Date(expectedMs).toISOString()}`);

/** The fleet: four IGEL OS devices (all algorithms) and three legacy ones (RSA up to SHA-384). */
const FLEET = [
  'igel-os-12', 'igel-os-12', 'igel-os-12', 'igel-os-11',
  'igel-linux-4.01.650', 'igel-linux-4.01.650', 'windows-7-embedded-3.08.100',
];

forEachDatabase('devices, enrollment, compatibility and rotation over HTTP', (db) => {
  let h: ApiHarness;
  let fleet: RegisterResult[];
  const devices = async (query = ''): Promise<DevicePage> => {
    const res = await h.call('viewer', { method: 'GET', url: `/api/v1/devices${query}` });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<DevicePage>();
  };

  before(async () => {
    h = await startApi(await db.open());
    const admin = await h.actor('admin');
    // Legacy firmware cannot use the SHA512withRSA default: it gets this one (R1).
    await generateCertificate(h.ctx, admin, { alias: 'legacy256', signatureAlgorithm: 'SHA256withRSA', keySize: 2048 });
    await generateCertificate(h.ctx, admin, { alias: 'ec256', signatureAlgorithm: 'SHA256withECDSA' });
    fleet = [];
    for (const profile of FLEET) fleet.push(await registerProfile(h.ctx, profile));
  });
  after(async () => {
    await h.close();
  });

  it('creates an enrollment token, shows its text in that answer only, lists and revokes it', async () => {
    const since = await lastAuditId(h.ctx);
    const res = await h.call('operator', {
      method: 'POST',
      url: '/api/v1/enrollment-tokens',
      payload: { uses: 3, expiresIn: 3600, unitId: '00:11:22:aa:bb:cc' },
    });
    assert.equal(res.statusCode, 201, res.body);
    const created = res.json<IssuedEnrollmentToken>();
    assert.deepEqual(keys(created), [...TOKEN_KEYS, 'expectedFingerprints', 'token'].sort());
    assert.match(created.token, /^cfe_[A-Za-z0-9_-]{43}$/);
    assert.equal(created.usesAllowed, 3);
    assert.equal(created.usesLeft, 3);
    assert.equal(created.state, 'active');
    assert.equal(created.unitId?.toLowerCase(), '00:11:22:aa:bb:cc');
    near(created.expiresAt, Date.now() + 3600_000, 'expiresAt');

    // No body at all: every default, as `curl -X POST` would ask.
    const defaults = await h.call('admin', { method: 'POST', url: '/api/v1/enrollment-tokens' });
    assert.equal(defaults.statusCode, 201, defaults.body);
    const d = defaults.json<IssuedEnrollmentToken>();
    assert.equal(d.usesAllowed, 1);
    assert.equal(d.unitId, null);
    near(d.expiresAt, Date.now() + 86_400_000, 'default expiry');

    const listed = await h.call('viewer', { method: 'GET', url: '/api/v1/enrollment-tokens' });
    assert.equal(listed.statusCode, 200);
    assert.ok(!listed.body.includes(created.token) && !listed.body.includes(d.token), 'the list never holds a token');
    const list = listed.json<EnrollmentToken[]>();
    for (const t of list) assert.deepEqual(keys(t), TOKEN_KEYS);
    assert.ok(list.some((t) => t.id === created.id) && list.some((t) => t.id === d.id));
    const audit = JSON.stringify(await auditSince(h.ctx, since));
    assert.ok(!audit.includes(created.token), 'the audit log never holds a token');

    const revoked = await h.call('operator', { method: 'DELETE', url: `/api/v1/enrollment-tokens/${created.id}` });
    assert.equal(revoked.statusCode, 204, revoked.body);
    const after = (await h.call('viewer', { method: 'GET', url: '/api/v1/enrollment-tokens' })).json<EnrollmentToken[]>();
    const row = after.find((t) => t.id === created.id);
    assert.equal(row?.state, 'revoked');
    assert.ok(row?.revokedAt);
  });

  it('refuses a bad enrollment token request, and revoking an unknown one', async () => {
    const bad = [{ uses: '3' }, { uses: 0 }, { expiresIn: -5 }, { uses: 1.5 }, { colour: 'blue' }];
    for (const payload of bad) {
      assertError(await h.call('admin', { method: 'POST', url: '/api/v1/enrollment-tokens', payload }), 400, 'invalid_request');
    }
    const since = await lastAuditId(h.ctx);
    assertError(await h.call('admin', { method: 'DELETE', url: '/api/v1/enrollment-tokens/no-such-token' }), 404, 'enrollment_token_not_found');
    const events = await auditSince(h.ctx, since);
    assert.equal(events.length, 1, JSON.stringify(events));
    assert.equal(events[0]?.result, 'refused');
    assert.equal(events[0]?.code, 'enrollment_token_not_found');
  });

  it('reads and replaces the compatibility table, and devices follow it', async () => {
    const res = await h.call('viewer', { method: 'GET', url: '/api/v1/compatibility' });
    assert.equal(res.statusCode, 200);
    const shipped = res.json<CompatibilityTable>();
    assert.deepEqual(keys(shipped), ['rules']);
    for (const r of shipped.rules) assert.deepEqual(keys(r), ['algorithms', 'maxVersion', 'osFamily', 'profile']);
    const profiles = shipped.rules.map((r) => r.profile);
    for (const p of ['igel-os-12', 'igel-os-11', 'igel-linux-4.01.650', 'windows-7-embedded-3.08.100']) assert.ok(profiles.includes(p), p);
    assert.ok(!shipped.rules.find((r) => r.profile === 'igel-linux-4.01.650')?.algorithms.includes('SHA512withRSA'));

    const legacyId = fleet[4]?.deviceId;
    const legacy = async () => (await h.call('viewer', { method: 'GET', url: `/api/v1/devices/${legacyId}` })).json<Device>();
    assert.deepEqual([...(await legacy()).supportedAlgorithms].sort(), [...LEGACY_ALGORITHMS].sort());

    // A firmware update that adds SHA-512: the table says so, and the device's support follows.
    const updated = shipped.rules.map((r) => (r.profile === 'igel-linux-4.01.650' ? { ...r, algorithms: [...r.algorithms, 'SHA512withRSA'] } : r));
    const put = await h.call('operator', { method: 'PUT', url: '/api/v1/compatibility', payload: { rules: updated } });
    assert.equal(put.statusCode, 200, put.body);
    assert.deepEqual(put.json(), { rules: updated });
    assert.deepEqual((await h.call('viewer', { method: 'GET', url: '/api/v1/compatibility' })).json(), { rules: updated });
    assert.ok((await legacy()).supportedAlgorithms.includes('SHA512withRSA'));

    const restored = await h.call('admin', { method: 'PUT', url: '/api/v1/compatibility', payload: shipped });
    assert.equal(restored.statusCode, 200, restored.body);
    assert.deepEqual([...(await legacy()).supportedAlgorithms].sort(), [...LEGACY_ALGORITHMS].sort());
  });

  it('refuses a compatibility table that is wrong, and keeps the old one', async () => {
    const before = (await h.call('viewer', { method: 'GET', url: '/api/v1/compatibility' })).body;
    const rule = { profile: 'x', osFamily: 'X OS', maxVersion: null, algorithms: ['SHA256withRSA'] };
    for (const rules of [[{ ...rule, algorithms: ['MD5withRSA'] }], [{ ...rule, algorithms: [] }], [{ ...rule, profile: ' ' }]]) {
      assertError(await h.call('operator', { method: 'PUT', url: '/api/v1/compatibility', payload: { rules } }), 400, 'invalid_compatibility_rules');
    }
    // Nested values are not coerced: 4 is not the version "4", a string is not a list.
    const mistyped = assertError(
      await h.call('operator', { method: 'PUT', url: '/api/v1/compatibility', payload: { rules: [{ ...rule, maxVersion: 4 }] } }),
      400,
      'invalid_request',
    );
    assert.deepEqual(mistyped.details['errors'], [{ in: 'body', path: '/rules/0/maxVersion', message: 'must be string or null' }]);
    for (const rules of [[{ ...rule, algorithms: 'SHA256withRSA' }], [{ ...rule, colour: 'blue' }], [{ profile: 'x' }], 'all']) {
      assertError(await h.call('operator', { method: 'PUT', url: '/api/v1/compatibility', payload: { rules } }), 400, 'invalid_request');
    }
    assert.equal((await h.call('viewer', { method: 'GET', url: '/api/v1/compatibility' })).body, before);
  });

  it('lists devices (never a credential), by certificate, searched and paged', async () => {
    const all = await devices();
    assert.equal(all.count, FLEET.length);
    assert.equal(all.devices.length, FLEET.length);
    for (const d of all.devices) assert.deepEqual(keys(d), DEVICE_KEYS);
    const text = JSON.stringify(all);
    for (const f of fleet) assert.ok(!text.includes(f.credential) && !text.includes(f.credential.split('.').pop() ?? '-'), 'no credential');

    const legacy = await devices('?certificate=legacy256');
    assert.equal(legacy.count, 3);
    assert.ok(legacy.devices.every((d) => d.certificateAlias === 'legacy256'));
    assert.equal((await devices('?certificate=tckey')).count, 4);

    const one = found(all.devices[2], 'a third device in the listing');
    const matching = await devices(`?search=${encodeURIComponent(one.unitId)}`);
    assert.deepEqual(matching.devices.map((d) => d.id), [one.id]);
    assert.equal((await devices(`?certificate=legacy256&search=${encodeURIComponent(one.unitId)}`)).count, one.certificateAlias === 'legacy256' ? 1 : 0);

    const page = await devices('?offset=2&limit=3');
    assert.equal(page.count, FLEET.length);
    assert.deepEqual(page.devices.map((d) => d.id), all.devices.slice(2, 5).map((d) => d.id), 'pages are slices of one order');

    assertError(await h.call('viewer', { method: 'GET', url: '/api/v1/devices?certificate=nope' }), 404, 'certificate_not_found');
    for (const q of ['?limit=0', '?limit=501', '?offset=-1', '?colour=blue']) {
      assertError(await h.call('viewer', { method: 'GET', url: `/api/v1/devices${q}` }), 400, 'invalid_request');
    }
  });

  it('shows one device with what its firmware supports, and deletes one', async () => {
    const [modern, , , , legacy] = fleet;
    assert.ok(modern && legacy);
    const show = await h.call('viewer', { method: 'GET', url: `/api/v1/devices/${modern.deviceId}` });
    assert.equal(show.statusCode, 200, show.body);
    const d = show.json<Device>();
    assert.deepEqual(keys(d), DEVICE_KEYS);
    assert.equal(d.id, modern.deviceId);
    assert.equal(d.profile, 'igel-os-12');
    assert.equal(d.certificateAlias, 'tckey');
    assert.equal(d.pendingCertificateAlias, null);
    assert.deepEqual([...d.supportedAlgorithms].sort(), [...ALLOWED_SIGNATURE_ALGORITHMS].sort());
    assert.ok(!show.body.includes(modern.credential.split('.').pop() ?? '-'));
    const l = (await h.call('viewer', { method: 'GET', url: `/api/v1/devices/${legacy.deviceId}` })).json<Device>();
    assert.equal(l.certificateAlias, 'legacy256');

    assertError(await h.call('viewer', { method: 'GET', url: '/api/v1/devices/no-such-device' }), 404, 'device_not_found');

    const gone = await registerProfile(h.ctx, 'igel-os-12');
    const since = await lastAuditId(h.ctx);
    const del = await h.call('operator', { method: 'DELETE', url: `/api/v1/devices/${gone.deviceId}` });
    assert.equal(del.statusCode, 204, del.body);
    const events = await auditSince(h.ctx, since);
    assert.ok(events.some((e) => e.action === 'device.delete' && e.result === 'ok' && e.actor === 'operator'), JSON.stringify(events));
    assertError(await h.call('viewer', { method: 'GET', url: `/api/v1/devices/${gone.deviceId}` }), 404, 'device_not_found');
    assertError(await h.call('operator', { method: 'DELETE', url: `/api/v1/devices/${gone.deviceId}` }), 404, 'device_not_found');
    assert.equal((await devices()).count, FLEET.length);
  });

  it('previews a default change without changing anything, and sync run then does what the preview said', async () => {
    const status0 = await h.call('viewer', { method: 'GET', url: '/api/v1/sync/status' });
    assert.equal(status0.statusCode, 200, status0.body);
    const s0 = status0.json<RotationStatus>();
    assert.deepEqual(keys(s0), ['defaultAlias', 'lastRun', 'onDefault', 'pending', 'staying', 'total']);
    assert.equal(s0.lastRun, null);
    assert.equal(s0.defaultAlias, 'tckey');
    assert.equal(s0.total, FLEET.length);

    const keystoreBefore = await keystoreState(h.ctx);
    const devicesBefore = JSON.stringify(await devices());
    const res = await h.call('viewer', { method: 'GET', url: '/api/v1/certificates/ec256/default-preview' });
    assert.equal(res.statusCode, 200, res.body);
    const preview = res.json<Preview>();
    assert.deepEqual(keys(preview), ['alias', 'alreadyCurrent', 'staying', 'switching']);
    assert.deepEqual(preview, {
      alias: 'ec256',
      switching: { total: 4, byProfile: { 'igel-os-12': 3, 'igel-os-11': 1 } },
      staying: { total: 3, byProfile: { 'igel-linux-4.01.650': 2, 'windows-7-embedded-3.08.100': 1 }, lacking: 'SHA256withECDSA' },
      alreadyCurrent: 0,
    });
    assert.equal(await keystoreState(h.ctx), keystoreBefore, 'the preview changes no certificate');
    assert.equal(JSON.stringify(await devices()), devicesBefore, 'the preview changes no device');
    assertError(await h.call('viewer', { method: 'GET', url: '/api/v1/certificates/nope/default-preview' }), 404, 'certificate_not_found');

    assert.equal((await h.call('operator', { method: 'POST', url: '/api/v1/certificates/ec256/make-default' })).statusCode, 200);
    const run = await h.call('operator', { method: 'POST', url: '/api/v1/sync/run' });
    assert.equal(run.statusCode, 200, run.body);
    const report = run.json<Record<string, unknown>>();
    assert.deepEqual(keys(report), REPORT_KEYS);
    assert.equal(report['defaultAlias'], 'ec256');
    assert.equal(report['checked'], FLEET.length);
    assert.equal(report['scheduled'], preview.switching.total);
    assert.equal(report['incompatible'], preview.staying.total);
    assert.equal(report['alreadyCurrent'], preview.alreadyCurrent);
    assert.equal(report['awaitingConfirmation'], 0);

    const again = (await h.call('admin', { method: 'POST', url: '/api/v1/sync/run' })).json<Record<string, unknown>>();
    assert.equal(again['scheduled'], 0, 'a second run schedules nothing new');
    assert.equal(again['awaitingConfirmation'], preview.switching.total);

    const status = (await h.call('viewer', { method: 'GET', url: '/api/v1/sync/status' })).json<Record<string, unknown>>();
    assert.deepEqual(status['lastRun'], again);
    assert.equal(status['defaultAlias'], 'ec256');
    assert.equal(status['pending'], preview.switching.total);
    assert.equal(status['staying'], preview.staying.total);
    assert.equal(status['onDefault'], 0);
    const pending = await devices('?certificate=ec256');
    assert.equal(pending.count, preview.switching.total);
    assert.ok(pending.devices.every((d) => d.pendingCertificateAlias === 'ec256'));
  });
});
