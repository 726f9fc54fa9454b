/**
 * The real `certfleet agent` binary against a real server (REST API + device channel over TLS), on
 * SQLite and PostgreSQL: registration with its state written atomically, check-in, a certificate
 * replacement end to end (default change → rotation → the agent confirms → `cert devices` counts
 * follow), a confirmation whose answer a fault injector drops, recovered at the next check-in,
 * and a device offline across two default changes that catches up.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { devicesOfCertificate, generateCertificate, reorderCertificate, setCertificateActive } from '../../src/app/certificates.js';
import { createEnrollmentToken } from '../../src/app/enrollment.js';
import { SYSTEM_ACTOR } from '../../src/app/context.js';
import type { StoredCertificate } from '../../src/app/records.js';
import { runRotation } from '../../src/app/rotation.js';
import type { AgentState } from '../../src/agent/agent-state.js';
import { pinServerName } from '../../src/domain/device-names.js';
import { startDeviceChannel, type DeviceChannel } from '../../src/transport/device-channel/device-channel.js';
import { nodeScheduler } from '../../src/main/system.js';
import { silentLog } from '../device-channel/channel-fixtures.js';
import { faultProxy } from '../device-channel/fault-proxy.js';
import { CliSession, runCli, type CliResult } from '../support/cli.js';
import type { DevicePage } from '../../src/transport/http-api/contract/index.js';
import { forEachDatabase } from '../support/databases.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../support/test-server.js';

interface OnceJson {
  readonly deviceId: string;
  readonly pinnedAlias: string;
  readonly pinnedSha256: string;
  readonly profile: string;
}

forEachDatabase('certfleet agent', (db) => {
  let server: TestServer;
  let channel: DeviceChannel;
  let cli: CliSession;
  let address: string;
  let tokenFile: string;
  let legacy: StoredCertificate;
  let ec: StoredCertificate;
  let tckey: StoredCertificate;

  const agent = async (stateDir: string, extra: readonly string[] = [], via = address): Promise<CliResult> =>
    runCli(['agent', '--server', via, '--state', stateDir, '--once', '--json', ...extra], { timeoutMs: 20_000 });
  const once = async (stateDir: string, extra: readonly string[] = [], via = address): Promise<OnceJson> => {
    const r = await agent(stateDir, extra, via);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as OnceJson; // agent --once --json
  };
  const newState = () => mkdtemp(join(tmpdir(), 'certfleet-agent-'));
  const readState = (dir: string) => JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as AgentState; // the agent's own file
  /** K10 in process (the CLI's `cert devices` is checked where the counts move). */
  const count = async (alias: string) => (await devicesOfCertificate(server.ctx, SYSTEM_ACTOR, alias, { offset: 0, limit: 1 })).count;
  const cliCount = async (alias: string) => (await cli.json<DevicePage>(['cert', 'devices', alias])).count;
  const device = async (id: string) => {
    const d = await server.ctx.store.devices.findById(id);
    assert.ok(d, `device ${id}`);
    return d;
  };
  const makeDefault = async (alias: string) => {
    await reorderCertificate(server.ctx, SYSTEM_ACTOR, alias, 'default');
    return runRotation(server.ctx, SYSTEM_ACTOR);
  };

  before(async () => {
    const holder: { channel?: DeviceChannel } = {};
    server = await startTestServer(await db.open(), { onKeystoreChanged: () => void holder.channel?.reload() });
    tckey = (await server.ctx.store.keystore.findByAlias('tckey')) as StoredCertificate; // made by startTestServer (K1)
    legacy = await generateCertificate(server.ctx, SYSTEM_ACTOR, { alias: 'legacy', signatureAlgorithm: 'SHA256withRSA', keySize: 2048 });
    ec = await generateCertificate(server.ctx, SYSTEM_ACTOR, { alias: 'ec', signatureAlgorithm: 'SHA256withECDSA' });
    channel = holder.channel = await startDeviceChannel({ scheduler: nodeScheduler, ctx: server.ctx, host: '127.0.0.1', port: 0, log: silentLog, pollIntervalMs: 500 });
    address = `127.0.0.1:${channel.address.port}`;
    cli = new CliSession(server.url);
    await cli.login('admin', ADMIN_PASSWORD);
    const { token } = await createEnrollmentToken(server.ctx, SYSTEM_ACTOR, { uses: 20 });
    tokenFile = cli.secretFile(token);
  });
  after(async () => {
    await channel?.close();
    await server?.close();
  });

  it('--once registers, keeps its state in a 0600 file written atomically; a second --once checks in', async () => {
    const dir = await newState();
    const r = await agent(dir, ['--token-file', tokenFile]);
    assert.equal(r.code, 0, r.stderr);
    const first = JSON.parse(r.stdout) as OnceJson; // agent --once --json
    assert.equal(first.pinnedAlias, 'tckey');
    assert.equal(first.pinnedSha256, tckey.facts.sha256Fingerprint);
    assert.equal(first.profile, 'igel-os-12');
    assert.equal(statSync(join(dir, 'state.json')).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir), ['state.json'], 'no temporary file is left behind');
    const state = readState(dir);
    assert.equal(state.deviceId, first.deviceId);
    assert.match(state.credential ?? '', /^cfd_/);
    assert.equal(state.next, null);
    assert.ok(!r.stdout.includes(state.credential ?? '-') && !r.stderr.includes(state.credential ?? '-'), 'the credential is never printed');

    const second = await once(dir);
    assert.equal(second.deviceId, first.deviceId, 'no second registration');
    const shown = await device(first.deviceId);
    assert.equal(shown.certificateAlias, 'tckey');
    assert.ok(shown.lastContactAt);
  });

  it('a legacy profile registers on the SHA256withRSA entry; a first run without --server is a usage error', async () => {
    const legacyDevice = await once(await newState(), ['--token-file', tokenFile, '--profile', 'windows-7-embedded-3.08.100']);
    assert.equal(legacyDevice.pinnedAlias, 'legacy');
    const usage = await runCli(['agent', '--state', await newState(), '--once']);
    assert.equal(usage.code, 2, 'the first run needs --server');
  });

  it('refuses a legacy device with the reason when no active entry fits its firmware (R1), over the channel', async () => {
    await setCertificateActive(server.ctx, SYSTEM_ACTOR, 'legacy', false);
    try {
      const r = await agent(await newState(), ['--token-file', tokenFile, '--profile', 'igel-linux-4.01.650']);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /no_compatible_certificate/);
      assert.match(r.stderr, /SHA512withRSA/, 'the message names what the firmware lacks');
    } finally {
      await setCertificateActive(server.ctx, SYSTEM_ACTOR, 'legacy', true);
    }
  });

  it('moves to a new default: rotation schedules it, the agent verifies and confirms it, the counts follow', async () => {
    const modern = await newState();
    const oldFirmware = await newState();
    await once(modern, ['--token-file', tokenFile, '--profile', 'igel-os-11']);
    await once(oldFirmware, ['--token-file', tokenFile, '--profile', 'igel-linux-4.01.650']);
    const report = await makeDefault('ec');
    assert.equal(report.scheduled, 2, `both modern devices get ec pending: ${JSON.stringify(report)}`);
    assert.equal(report.incompatible, 2, 'both legacy devices keep their certificate');
    // K10 counts the devices that pin a certificate or have it pending.
    assert.deepEqual([await count('tckey'), await count('ec')], [2, 2]);
    const moved = await once(modern);
    assert.equal(moved.pinnedAlias, 'ec');
    assert.equal(moved.pinnedSha256, ec.facts.sha256Fingerprint);
    assert.equal(readState(modern).next, null);
    assert.deepEqual([await cliCount('tckey'), await cliCount('ec')], [1, 2], '`cert devices`: the confirmed device left tckey');
    assert.equal((await once(oldFirmware)).pinnedAlias, 'legacy', 'legacy firmware stays, and keeps talking');
    assert.equal(await count('legacy'), 2);
  });

  it('recovers a confirmation whose answer was lost, at the next check-in', async () => {
    const dir = await newState();
    await once(dir, ['--token-file', tokenFile]); // registers on ec (the default now)
    await makeDefault('tckey');
    const proxy = await faultProxy({ host: '127.0.0.1', port: channel.address.port }, { servername: pinServerName(tckey.facts.sha256Fingerprint), times: 1 });
    try {
      const via = `127.0.0.1:${proxy.port}`;
      const lost = await agent(dir, [], via);
      assert.equal(lost.code, 1, 'the confirmation got no answer');
      assert.match(lost.stderr, /connection_failed/);
      assert.equal(proxy.cut(), 1);
      const state = readState(dir);
      assert.equal(state.pinned?.alias, 'ec', 'not promoted without an answer');
      assert.equal(state.next?.alias, 'tckey', 'the replacement is kept beside the pinned certificate');
      const recovered = await once(dir, [], via);
      assert.equal(recovered.pinnedAlias, 'tckey');
      assert.equal(readState(dir).next, null);
      const shown = await device(recovered.deviceId);
      assert.equal(shown.certificateAlias, 'tckey');
      assert.equal(shown.pendingCertificateAlias, null);
    } finally {
      await proxy.close();
    }
  });

  it('a device offline across two default changes catches up when it returns', async () => {
    const dir = await newState();
    const registered = await once(dir, ['--token-file', tokenFile]);
    assert.equal(registered.pinnedAlias, 'tckey');
    await makeDefault('ec');
    await makeDefault('legacy');
    const shown = await device(registered.deviceId);
    assert.equal(shown.pendingCertificateAlias, 'legacy', 'the pending replacement follows the default');
    const back = await once(dir);
    assert.equal(back.pinnedAlias, 'legacy');
    assert.equal(back.pinnedSha256, legacy.facts.sha256Fingerprint);
    assert.equal((await device(registered.deviceId)).certificateAlias, 'legacy');
  });
});
