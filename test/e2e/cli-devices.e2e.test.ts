/**
 * Issue 3's admin commands through the real CLI against a real server, on SQLite and PostgreSQL:
 * enroll create/list/revoke, compat list/set, device list/show/delete, sync run/status, and
 * `cert default --dry-run`, whose numbers must be what `sync run` schedules after `cert default`.
 * Devices register in process through the same use case the device channel calls.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { generateCertificate } from '../../src/app/certificates.js';
import { SYSTEM_ACTOR } from '../../src/app/context.js';
import type { RegisterResult } from '../../src/app/register-device.js';
import { assertRefused, CliSession, type CliResult } from '../support/cli.js';
import { found } from '../support/found.js';
import type {
  CompatibilityTable,
  DefaultPreview as Preview,
  DevicePage,
  DeviceSummary as Device,
  EnrollmentToken,
  IssuedEnrollmentToken,
  RotationReport as Report,
  RotationStatus,
} from '../../src/transport/http-api/contract/index.js';
import { forEachDatabase } from '../support/databases.js';
import { registerProfile } from '../support/device-fleet.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../support/test-server.js';

function assertUsage(r: CliResult): void {
  assert.equal(r.code, 2, `expected exit 2 (usage), got ${r.code}: ${r.stderr}`);
}

const FLEET = ['igel-os-12', 'igel-os-12', 'igel-os-11', 'igel-linux-4.01.650', 'windows-7-embedded-3.08.100'];

forEachDatabase('device administration through the CLI', (db) => {
  let server: TestServer;
  let cli: CliSession;
  let fleet: RegisterResult[];

  before(async () => {
    server = await startTestServer(await db.open());
    cli = new CliSession(server.url);
    await cli.login('admin', ADMIN_PASSWORD);
    await generateCertificate(server.ctx, SYSTEM_ACTOR, { alias: 'legacy256', signatureAlgorithm: 'SHA256withRSA', keySize: 2048 });
    await generateCertificate(server.ctx, SYSTEM_ACTOR, { alias: 'ec384', signatureAlgorithm: 'SHA384withECDSA' });
    fleet = [];
    for (const profile of FLEET) fleet.push(await registerProfile(server.ctx, profile));
  });
  after(() => server?.close());

  it('enroll create prints the token once; list never shows it; revoke ends it', async () => {
    const human = await cli.run(['enroll', 'create', '--uses', '5', '--expires', '90m', '--unit-id', '00:11:22:33:44:55']);
    assert.equal(human.code, 0, human.stderr);
    const token = /\b(cfe_[A-Za-z0-9_-]+)/.exec(human.stdout)?.[1];
    assert.ok(token, human.stdout);
    assert.match(human.stdout, /shown only now/);
    assert.match(human.stdout, /5 uses/);

    const created = await cli.json<IssuedEnrollmentToken>(['enroll', 'create', '--expires', '7d']);
    assert.match(created.token, /^cfe_/);
    assert.equal(created.usesAllowed, 1);
    assert.equal(created.unitId, null);
    assert.ok(Math.abs(Date.parse(created.expiresAt) - (Date.now() + 7 * 86_400_000)) < 60_000, created.expiresAt);

    const list = await cli.run(['enroll', 'list', '--json']);
    assert.equal(list.code, 0, list.stderr);
    assert.ok(!list.stdout.includes(token) && !list.stdout.includes(created.token), 'the list never holds a token');
    const tokens = JSON.parse(list.stdout) as { id: string; state: string }[]; // the API's EnrollmentToken list
    assert.equal(tokens.find((t) => t.id === created.id)?.state, 'active');
    const table = await cli.run(['enroll', 'list']);
    assert.match(table.stdout, new RegExp(created.id));

    const revoke = await cli.run(['enroll', 'revoke', created.id]);
    assert.equal(revoke.code, 0, revoke.stderr);
    const after = await cli.json<EnrollmentToken[]>(['enroll', 'list']);
    assert.equal(after.find((t) => t.id === created.id)?.state, 'revoked');

    assertRefused(await cli.run(['enroll', 'revoke', 'no-such-token']), 'enrollment_token_not_found');
    assertUsage(await cli.run(['enroll', 'create', '--expires', '24x']));
    assertUsage(await cli.run(['enroll', 'create', '--uses', 'many']));
  });

  it('compat list shows the table; compat set replaces it from a file and prints the new one', async () => {
    const { rules } = await cli.json<CompatibilityTable>(['compat', 'list']);
    assert.ok(rules.some((r) => r.profile === 'windows-7-embedded-3.08.100'));
    const human = await cli.run(['compat', 'list']);
    assert.match(human.stdout, /igel-linux-4\.01\.650\s+IGEL Linux\s+4\.01\.650/);

    const file = join(cli.dir, 'compat.json');
    const edited = [{ profile: 'thinos-9', osFamily: 'ThinOS', maxVersion: '9.1', algorithms: ['SHA256withRSA'] }, ...rules];
    writeFileSync(file, JSON.stringify({ rules: edited }));
    const set = await cli.run(['compat', 'set', file]);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /thinos-9\s+ThinOS\s+9\.1\s+SHA256withRSA/);
    assert.deepEqual((await cli.json<CompatibilityTable>(['compat', 'list'])).rules, edited);

    writeFileSync(file, JSON.stringify({ rules: [{ ...edited[0], algorithms: ['MD5withRSA'] }] }));
    assertRefused(await cli.run(['compat', 'set', file]), 'invalid_compatibility_rules');
    writeFileSync(file, '[]');
    assertUsage(await cli.run(['compat', 'set', file]));
    assertUsage(await cli.run(['compat', 'set', join(cli.dir, 'missing.json')]));

    writeFileSync(file, JSON.stringify({ rules }));
    assert.deepEqual((await cli.json<CompatibilityTable>(['compat', 'set', file])).rules, rules);
  });

  it('device list, show and delete', async () => {
    const all = await cli.json<DevicePage>(['device', 'list']);
    assert.equal(all.count, FLEET.length);
    assert.equal(all.devices.length, FLEET.length);
    const text = JSON.stringify(all);
    for (const f of fleet) assert.ok(!text.includes(f.credential), 'never a credential');

    const legacy = await cli.json<DevicePage>(['device', 'list', '--cert', 'legacy256']);
    assert.equal(legacy.count, 2);
    assert.ok(legacy.devices.every((d) => d.certificateAlias === 'legacy256'));
    const limited = await cli.json<DevicePage>(['device', 'list', '--limit', '2']);
    assert.equal(limited.count, FLEET.length);
    assert.equal(limited.devices.length, 2);

    const first = found(fleet[0], 'the first device of the fleet');
    const show = await cli.json<Device>(['device', 'show', first.deviceId]);
    assert.equal(show.id, first.deviceId);
    assert.equal(show.profile, 'igel-os-12');
    const searched = await cli.json<DevicePage>(['device', 'list', '--search', show.unitId]);
    assert.deepEqual(searched.devices.map((d) => d.id), [first.deviceId]);
    const human = await cli.run(['device', 'show', first.deviceId]);
    assert.match(human.stdout, /certificate:\s+tckey/);
    const listed = await cli.run(['device', 'list', '--cert', 'legacy256']);
    assert.match(listed.stdout, /Devices which use legacy256 \(2\)/);

    const gone = await registerProfile(server.ctx, 'igel-os-11');
    const del = await cli.run(['device', 'delete', gone.deviceId]);
    assert.equal(del.code, 0, del.stderr);
    assertRefused(await cli.run(['device', 'show', gone.deviceId]), 'device_not_found');
    assertRefused(await cli.run(['device', 'delete', gone.deviceId]), 'device_not_found');
    assertRefused(await cli.run(['device', 'list', '--cert', 'nope']), 'certificate_not_found');
  });

  it('cert default --dry-run changes nothing, and sync run after cert default schedules exactly what it said', async () => {
    const before = await cli.run(['cert', 'list', '--json']);
    const devicesBefore = await cli.run(['device', 'list', '--json']);
    const preview = await cli.json<Preview>(['cert', 'default', 'ec384', '--dry-run']);
    assert.equal(preview.alias, 'ec384');
    assert.deepEqual(preview.switching, { total: 3, byProfile: { 'igel-os-12': 2, 'igel-os-11': 1 } });
    assert.deepEqual(preview.staying, { total: 2, byProfile: { 'igel-linux-4.01.650': 1, 'windows-7-embedded-3.08.100': 1 }, lacking: 'SHA384withECDSA' });
    assert.equal(preview.alreadyCurrent, 0);
    const human = await cli.run(['cert', 'default', 'ec384', '--dry-run']);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /switch 3 devices/);
    assert.match(human.stdout, /keep 2 devices .*SHA384withECDSA/);
    assert.match(human.stdout, /Nothing was changed/);
    assert.equal((await cli.run(['cert', 'list', '--json'])).stdout, before.stdout, 'the dry run changes no certificate');
    assert.equal((await cli.run(['device', 'list', '--json'])).stdout, devicesBefore.stdout, 'the dry run changes no device');
    assertRefused(await cli.run(['cert', 'default', 'nope', '--dry-run']), 'certificate_not_found');

    const made = await cli.run(['cert', 'default', 'ec384']);
    assert.equal(made.code, 0, made.stderr);
    const report = await cli.json<Report>(['sync', 'run']);
    assert.equal(report.defaultAlias, 'ec384');
    assert.equal(report.checked, FLEET.length);
    assert.equal(report.scheduled, preview.switching.total);
    assert.equal(report.incompatible, preview.staying.total);
    assert.equal(report.alreadyCurrent, preview.alreadyCurrent);

    const again = await cli.run(['sync', 'run']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /Rotation to "ec384"/);
    const status = await cli.json<RotationStatus>(['sync', 'status']);
    assert.equal(status.defaultAlias, 'ec384');
    assert.equal(status.pending, preview.switching.total);
    assert.equal(status.lastRun?.awaitingConfirmation, preview.switching.total);
    const statusText = await cli.run(['sync', 'status']);
    assert.match(statusText.stdout, /3 pending replacement/);
  });
});
