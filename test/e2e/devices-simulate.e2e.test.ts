/**
 * `certfleet simulate` (the real binary) against a real server, on SQLite and PostgreSQL: a mixed
 * fleet of 50 devices registers over real TLS, the default changes while it runs, every device
 * whose firmware supports the new default moves to it within an interval, the legacy ones stay
 * on the SHA256withRSA entry, and the run ends by itself at --duration with its summary.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { devicesOfCertificate, generateCertificate, reorderCertificate } from '../../src/app/certificates.js';
import { SYSTEM_ACTOR } from '../../src/app/context.js';
import { createEnrollmentToken } from '../../src/app/enrollment.js';
import { runRotation } from '../../src/app/rotation.js';
import type { SimulationSummary } from '../../src/agent/simulator.js';
import { startDeviceChannel, type DeviceChannel } from '../../src/transport/device-channel/device-channel.js';
import { nodeScheduler } from '../../src/main/system.js';
import { silentLog } from '../device-channel/channel-fixtures.js';
import { CliSession, startCli } from '../support/cli.js';
import { forEachDatabase } from '../support/databases.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const DEVICES = 50;
const LEGACY_PROFILES = ['igel-linux-4.01.650', 'windows-7-embedded-3.08.100'];

forEachDatabase('certfleet simulate', (db) => {
  let server: TestServer;
  let channel: DeviceChannel;

  before(async () => {
    const holder: { channel?: DeviceChannel } = {};
    server = await startTestServer(await db.open(), { onKeystoreChanged: () => void holder.channel?.reload() });
    await generateCertificate(server.ctx, SYSTEM_ACTOR, { alias: 'legacy', signatureAlgorithm: 'SHA256withRSA', keySize: 2048 });
    await generateCertificate(server.ctx, SYSTEM_ACTOR, { alias: 'ec', signatureAlgorithm: 'SHA256withECDSA' });
    channel = holder.channel = await startDeviceChannel({ scheduler: nodeScheduler, ctx: server.ctx, host: '127.0.0.1', port: 0, log: silentLog, pollIntervalMs: 500 });
  });
  after(async () => {
    await channel?.close();
    await server?.close();
  });

  it(`${DEVICES} devices register, follow a default change, and the run stops at --duration`, async () => {
    const { token } = await createEnrollmentToken(server.ctx, SYSTEM_ACTOR, { uses: DEVICES });
    const tokenFile = new CliSession(server.url).secretFile(token);
    const run = startCli(
      ['simulate', '--server', `127.0.0.1:${channel.address.port}`, '--token-file', tokenFile, '--devices', String(DEVICES),
        '--interval', '2s', '--duration', '8s', '--concurrency', '8', '--json'],
      { timeoutMs: 25_000 },
    );
    const registered = async () =>
      (await devicesOfCertificate(server.ctx, SYSTEM_ACTOR, 'tckey', { offset: 0, limit: 1 })).count +
      (await devicesOfCertificate(server.ctx, SYSTEM_ACTOR, 'legacy', { offset: 0, limit: 1 })).count;
    // The simulator's progress line says when every device has registered.
    await run.watch.waitFor(new RegExp(`registered ${DEVICES}/${DEVICES}`), 'the fleet registered', 15_000);
    assert.equal(await registered(), DEVICES);
    await reorderCertificate(server.ctx, SYSTEM_ACTOR, 'ec', 'default');
    const report = await runRotation(server.ctx, SYSTEM_ACTOR);

    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as SimulationSummary; // simulate --json
    assert.equal(summary.registered, DEVICES);
    assert.equal(summary.errors, 0, JSON.stringify(summary.errorsByCode));
    assert.equal(summary.refused, 0);
    const legacy = LEGACY_PROFILES.reduce((n, p) => n + (summary.byProfile[p]?.devices ?? 0), 0);
    assert.ok(legacy > 0, 'the default mix has legacy firmware');
    assert.equal(report.scheduled, DEVICES - legacy, JSON.stringify(report));
    assert.equal(summary.default.alias, 'ec');
    assert.equal(summary.onDefault, DEVICES - legacy, 'every device that supports ec moved to it');
    assert.equal(summary.replacements, DEVICES - legacy);
    assert.equal(summary.pending, 0);
    for (const p of LEGACY_PROFILES) assert.equal(summary.byProfile[p]?.onDefault, 0, `${p} stays on legacy`);
    assert.ok(summary.checkIns > DEVICES, `check-ins: ${summary.checkIns}`);
    assert.ok(summary.handshakes.resumed > 0, 'check-ins resume their TLS sessions');
    // Exit code 0 before startCli's kill: it stopped by itself; its own clock says after --duration.
    assert.ok(summary.duration >= 8, `ran its --duration: ${summary.duration} s`);
    assert.match(r.stderr, /registered \d+\/50/, 'progress on stderr');
    const onEc = (await devicesOfCertificate(server.ctx, SYSTEM_ACTOR, 'ec', { offset: 0, limit: 1 })).count;
    assert.equal(onEc, DEVICES - legacy, 'the server agrees');
  });
});
