/**
 * The device channel on the real use cases, over real TLS, on SQLite and PostgreSQL: which
 * certificate each server name gets, registration and check-in by the agent (in process), one
 * device never reaching another's record, the agent's pin check and fail-over, and a keystore
 * change made on another node reaching this node's channel without a restart (H2).
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { generateCertificate, reorderCertificate } from '../../src/app/certificates.js';
import { SYSTEM_ACTOR } from '../../src/app/context.js';
import { createEnrollmentToken } from '../../src/app/enrollment.js';
import { AgentError, CertificateNotSupportedError, PinMismatchError, ServerRefusal } from '../../src/agent/agent-errors.js';
import { runAgentCommand } from '../../src/agent/agent-runner.js';
import { firmwareProfile } from '../../src/agent/profiles.js';
import { DeviceConnection } from '../../src/agent/tls-client.js';
import { readKeystore } from '../../src/crypto/keystore-reader.js';
import { toPem } from '../../src/crypto/pem.js';
import { fingerprintHex, helloServerName, pinServerName } from '../../src/domain/device-names.js';
import { startDeviceChannel, type DeviceChannel } from '../../src/transport/device-channel/device-channel.js';
import { nodeScheduler } from '../../src/main/system.js';
import { fixture, FIXTURE_PASSWORDS } from '../fixtures/fixtures.js';
import { testAppContext, type TestAppContext } from '../support/app-context.js';
import { forEachDatabase } from '../support/databases.js';
import { deviceKeystore, type TestKeystore } from '../support/device-fleet.js';
import { impostorServer, makeEntry, memoryAgent, presentedFor, signallingLog, silentLog } from './channel-fixtures.js';
import { FakeTime } from '../support/fake-time.js';

const hex = (c: { facts: { sha256Fingerprint: string } }) => fingerprintHex(c.facts.sha256Fingerprint);

interface Me {
  id: string;
  osVersion: string;
  certificateAlias: string;
  lastContactAt: string | null;
}

forEachDatabase('device channel', (db) => {
  let ctx: TestAppContext;
  let ks: TestKeystore;
  let channel: DeviceChannel;
  let server: { host: string; port: number };
  let token: string;

  before(async () => {
    const holder: { channel?: DeviceChannel } = {};
    ctx = testAppContext(await db.open(), { onKeystoreChanged: () => void holder.channel?.reload() });
    ks = await deviceKeystore(ctx);
    channel = holder.channel = await startDeviceChannel({ scheduler: nodeScheduler, ctx, host: '127.0.0.1', port: 0, log: silentLog, pollIntervalMs: 200 });
    server = { host: '127.0.0.1', port: channel.address.port };
    token = (await createEnrollmentToken(ctx, SYSTEM_ACTOR, { uses: 50 })).token;
  });
  after(() => channel?.close());

  it('presents the pinned entry, fails an unknown pin, answers first contact by R1 and no SNI with the default', async () => {
    for (const c of [ks.tckey, ks.legacy, ks.ec]) assert.equal((await presentedFor(server.port, pinServerName(c.facts.sha256Fingerprint))).sha256Hex, hex(c), c.alias);
    await assert.rejects(presentedFor(server.port, pinServerName('0f'.repeat(32))), /unrecognized name|ECONNRESET|socket disconnected/i);
    const legacy = firmwareProfile('windows-7-embedded-3.08.100');
    const modern = firmwareProfile('igel-os-11');
    assert.ok(legacy && modern, 'both profiles exist');
    assert.equal((await presentedFor(server.port, helloServerName(legacy.mask))).sha256Hex, hex(ks.legacy), 'legacy firmware: the SHA256withRSA entry');
    assert.equal((await presentedFor(server.port, helloServerName(modern.mask))).sha256Hex, hex(ks.tckey), 'modern firmware: the default');
    assert.equal((await presentedFor(server.port, undefined)).sha256Hex, hex(ks.tckey), 'no SNI: the default');
  });

  it('registers agents on the certificate their first handshake showed, and checks them in', async () => {
    const modern = memoryAgent([server], 'igel-os-12');
    const first = await modern.cycle(token);
    assert.equal(first.registered, true);
    assert.equal(first.pinned.alias, 'tckey');
    assert.equal(first.pinned.sha256, ks.tckey.facts.sha256Fingerprint);
    const again = await modern.cycle();
    assert.equal(again.registered, false);
    assert.equal(again.deviceId, first.deviceId);

    const legacy = memoryAgent([server], 'igel-linux-4.01.650');
    await assert.rejects(legacy.cycle(), (e: unknown) => e instanceof AgentError && e.code === 'enrollment_token_missing');
    const l = await legacy.cycle(token);
    assert.equal(l.pinned.alias, 'legacy');
    assert.equal(l.pinned.signatureAlgorithm, 'SHA256withRSA');
  });

  it('an agent that shows an MD5-signed certificate left from an older installation gets a new one (R4)', async () => {
    const md5 = await readKeystore({ file: fixture('md5-rsa.p12'), password: FIXTURE_PASSWORDS.storePassword });
    const leftover = toPem(md5.certificates[0] as Buffer, 'CERTIFICATE'); // the fixture holds one certificate
    const agent = memoryAgent([server], 'igel-os-12', { presentedCertificatePem: leftover });
    const r = await agent.cycle(token);
    assert.equal(r.pinned.alias, 'tckey');
    const events = await ctx.store.audit.list({ limit: 20 });
    assert.ok(events.some((e) => e.action === 'device.md5-certificate-replaced' && e.target === r.deviceId), 'the replacement of the MD5 certificate is audited');
  });

  it('a legacy profile refuses an SHA512withRSA certificate in the handshake', async () => {
    const legacy = firmwareProfile('igel-linux-4.01.650');
    assert.ok(legacy, 'the profile exists');
    await assert.rejects(
      DeviceConnection.open({ server, servername: pinServerName(ks.tckey.facts.sha256Fingerprint), check: { pinSha256Hex: hex(ks.tckey), acceptedAlgorithms: legacy.algorithms }, timeoutMs: 5000 }),
      (e: unknown) => e instanceof CertificateNotSupportedError && e.signatureAlgorithm === 'SHA512withRSA',
    );
  });

  it('a device cannot read or change another device\'s record', async () => {
    const a = memoryAgent([server], 'igel-os-12');
    const b = memoryAgent([server], 'igel-os-11');
    await a.cycle(token);
    await b.cycle(token);
    const credA = a.state.credential as string; // registered above
    const idB = b.state.deviceId as string; // registered above
    const pin = (agent: typeof a) => {
      const p = agent.state.pinned;
      assert.ok(p, 'the agent pins a certificate');
      return { servername: pinServerName(p.sha256), check: { pinSha256Hex: fingerprintHex(p.sha256), acceptedAlgorithms: firmwareProfile('igel-os-12')?.algorithms ?? [] } };
    };
    const conn = await DeviceConnection.open({ server, ...pin(a), timeoutMs: 5000 });
    try {
      const meBefore = (await conn.request('GET', '/device/v1/me', undefined, b.state.credential as string)).body as Me; // registered above
      // A's credential with B's id in the body: the answer and the change are A's.
      const answer = (await conn.request('POST', '/device/v1/check-in', { deviceId: idB, id: idB, osVersion: '12.9.9' }, credA)).body as { deviceId: string };
      assert.equal(answer.deviceId, a.state.deviceId);
      const meA = (await conn.request('GET', '/device/v1/me', undefined, credA)).body as Me;
      assert.equal(meA.id, a.state.deviceId);
      assert.equal(meA.osVersion, '12.9.9');
      const meB = (await conn.request('GET', '/device/v1/me', undefined, b.state.credential as string)).body as Me; // registered above
      assert.deepEqual(meB, meBefore, 'B is untouched');
      // No route takes an id; a query naming B is ignored; B's id with A's secret opens nothing.
      for (const path of [`/device/v1/devices/${idB}`, `/device/v1/me/${idB}`]) {
        await assert.rejects(conn.request('GET', path, undefined, credA), (e: unknown) => e instanceof ServerRefusal && e.status === 404, path);
      }
      assert.equal(((await conn.request('GET', `/device/v1/me?id=${idB}`, undefined, credA)).body as Me).id, a.state.deviceId);
      const forged = `cfd_${idB}.${credA.split('.')[1] ?? ''}`;
      await assert.rejects(conn.request('GET', '/device/v1/me', undefined, forged), (e: unknown) => e instanceof ServerRefusal && e.status === 401 && e.code === 'device_unauthenticated');
    } finally {
      conn.close();
    }
  });

  it('a pin mismatch is a hard error, never a reason to try the next server; an unreachable server is', async () => {
    const agent = memoryAgent([server], 'igel-os-12');
    await agent.cycle(token);
    const impostor = await impostorServer(await makeEntry('impostor', 'SHA512withRSA', 1));
    try {
      // The same device, its first server an impostor: the cycle fails there and does not move on.
      const misled = memoryAgent([{ host: '127.0.0.1', port: impostor.port }, server], 'igel-os-12', { state: agent.state });
      await assert.rejects(misled.cycle(), PinMismatchError);
      await impostor.closed();
      assert.equal(impostor.received(), 0, 'not a byte of the request reached the impostor');
    } finally {
      await impostor.close();
    }
    const failover = memoryAgent([{ host: '127.0.0.1', port: impostor.port }, server], 'igel-os-12', { state: agent.state });
    const r = await failover.cycle();
    assert.equal(r.deviceId, agent.state.deviceId, 'the closed first server was skipped');
  });

  it('the agent without --once checks in every interval until it is stopped', async () => {
    const lines: string[] = [];
    const stop = new AbortController();
    const start = Date.UTC(2030, 0, 1);
    const clock = new FakeTime(start);
    const stateDir = await mkdtemp(join(tmpdir(), 'certfleet-agent-loop-'));
    const running = runAgentCommand(
      { servers: [server], stateDir, token, profile: 'igel-os-11', intervalSeconds: 60, once: false, json: true, unitId: undefined, name: undefined },
      { out: (l) => lines.push(l), err: () => undefined, signal: stop.signal, time: clock },
    );
    // After each cycle the agent waits one interval (±10 %) on its scheduler, and nothing else.
    for (let cycle = 1; cycle <= 2; cycle++) {
      await clock.whenPending(1);
      assert.equal(lines.length, cycle, `cycle ${cycle} printed its line before waiting`);
      const [wait = -1] = clock.timers.map((t) => t.inMs);
      assert.ok(wait >= 54_000 && wait <= 66_000, `waits ${wait} ms, one interval of 60 s ±10 %`);
      if (cycle < 2) clock.runNext();
    }
    stop.abort();
    assert.equal(await running, 0);
    assert.deepEqual(clock.timers, [], 'the abort cancelled the wait');
    const [first, second] = lines.map((l) => JSON.parse(l) as { at: string; deviceId: string; pinnedAlias: string }); // the agent's --json line
    assert.equal(first?.deviceId, second?.deviceId);
    assert.equal(second?.pinnedAlias, 'tckey');
    assert.equal(first?.at, new Date(start).toISOString(), 'the line carries the scheduler\'s time');
  });

  it('serves a certificate made on another node, and its new default, by polling the revision (H2)', { timeout: 20_000 }, async () => {
    const shared = await db.database();
    const nodeA = testAppContext(await shared.open());
    await deviceKeystore(nodeA);
    const logsA = signallingLog();
    const channelA = await startDeviceChannel({ scheduler: nodeScheduler, ctx: nodeA, host: '127.0.0.1', port: 0, log: logsA.log, pollIntervalMs: 200 });
    try {
      // Node B: its own Store (and connections) on the same database. Node A's channel is told
      // nothing (its context's onKeystoreChanged only records): it learns by polling the revision.
      const nodeB = testAppContext(await shared.open(), { sealer: nodeA.sealer });
      const made = await generateCertificate(nodeB, SYSTEM_ACTOR, { alias: 'from-b', signatureAlgorithm: 'SHA384withECDSA' });
      await reorderCertificate(nodeB, SYSTEM_ACTOR, 'from-b', 'default');
      // Nobody calls channelA.reload(): a load that changes the default can only come from its poll.
      await logsA.waitFor('device channel keystore loaded', (l) => l.defaultChanged === true);
      assert.equal((await presentedFor(channelA.address.port, undefined)).sha256Hex, hex(made), 'the new default');
      assert.equal((await presentedFor(channelA.address.port, pinServerName(made.facts.sha256Fingerprint))).sha256Hex, hex(made));
    } finally {
      await channelA.close();
    }
  });
});
