/**
 * First contact without blind trust (L3, issue 10 item 6), on the real channel over real TLS: a
 * token made with `pinCurrent` comes with the fingerprints of the active entries; an agent given
 * them registers only over a connection that presented one of them, skips those its firmware
 * cannot verify, and sends the token to no other server — not a byte reaches an impostor, and no
 * use of the token is taken.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { SYSTEM_ACTOR } from '../../src/app/context.js';
import { createEnrollmentToken, listEnrollmentTokens } from '../../src/app/enrollment.js';
import { AgentError, PinMismatchError } from '../../src/agent/agent-errors.js';
import { DeviceAgent } from '../../src/agent/agent.js';
import { initialState, memoryStateStore } from '../../src/agent/agent-state.js';
import { firmwareProfile } from '../../src/agent/profiles.js';
import { formatServer } from '../../src/agent/servers.js';
import { startDeviceChannel, type DeviceChannel } from '../../src/transport/device-channel/device-channel.js';
import { nodeScheduler } from '../../src/main/system.js';
import { testAppContext, type TestAppContext } from '../support/app-context.js';
import { forEachDatabase } from '../support/databases.js';
import { deviceKeystore, type TestKeystore } from '../support/device-fleet.js';
import { impostorServer, makeEntry, silentLog } from './channel-fixtures.js';

function pinnedAgent(servers: readonly { host: string; port: number }[], profileName: string, expectedFingerprints: readonly string[]): DeviceAgent {
  const profile = firmwareProfile(profileName);
  if (!profile) throw new Error(`no profile ${profileName}`);
  return new DeviceAgent(initialState({ servers: servers.map(formatServer), profile: profileName }), memoryStateStore, {
    servers,
    profile,
    timeoutMs: 5000,
    expectedFingerprints,
  });
}

forEachDatabase('first contact pinned (L3)', (db) => {
  let ctx: TestAppContext;
  let ks: TestKeystore;
  let channel: DeviceChannel;
  let server: { host: string; port: number };

  before(async () => {
    ctx = testAppContext(await db.open());
    ks = await deviceKeystore(ctx);
    channel = await startDeviceChannel({ scheduler: nodeScheduler, ctx, host: '127.0.0.1', port: 0, log: silentLog });
    server = { host: '127.0.0.1', port: channel.address.port };
  });
  after(() => channel?.close());

  const usesLeft = async (id: string) => (await listEnrollmentTokens(ctx, SYSTEM_ACTOR)).find((t) => t.id === id)?.usesLeft;

  it('hands a pinned token out with the fingerprints of the active entries, in priority order', async () => {
    const plain = await createEnrollmentToken(ctx, SYSTEM_ACTOR, {});
    assert.deepEqual(plain.expectedFingerprints, []);
    const pinned = await createEnrollmentToken(ctx, SYSTEM_ACTOR, { pinCurrent: true });
    assert.deepEqual(pinned.expectedFingerprints, [ks.tckey, ks.legacy, ks.ec].map((c) => c.facts.sha256Fingerprint));
  });

  it('registers over a connection that presented an expected certificate, skipping those the firmware cannot verify', async () => {
    const issued = await createEnrollmentToken(ctx, SYSTEM_ACTOR, { uses: 2, pinCurrent: true });
    const modern = await pinnedAgent([server], 'igel-os-12', issued.expectedFingerprints).cycle(issued.token);
    assert.equal(modern.pinned.alias, 'tckey');
    // The legacy firmware cannot verify tckey (SHA512withRSA): it goes on to legacy, which it can.
    const legacy = await pinnedAgent([server], 'igel-linux-4.01.650', issued.expectedFingerprints).cycle(issued.token);
    assert.equal(legacy.pinned.alias, 'legacy');
    assert.equal(await usesLeft(issued.record.id), 0);
  });

  it('sends the token to no other server: an impostor gets not a byte, and no use is taken', async () => {
    const issued = await createEnrollmentToken(ctx, SYSTEM_ACTOR, { pinCurrent: true });
    const impostor = await impostorServer(await makeEntry('impostor', 'SHA512withRSA', 1));
    try {
      // The impostor answers every server name with its own certificate: refused at once, and the
      // real server after it in the list is not tried (a wrong certificate is no reason to move on).
      const agent = pinnedAgent([{ host: '127.0.0.1', port: impostor.port }, server], 'igel-os-12', issued.expectedFingerprints);
      await assert.rejects(agent.cycle(issued.token), PinMismatchError);
      await impostor.closed();
      assert.equal(impostor.received(), 0, 'not a byte of the registration reached the impostor');
      assert.equal(agent.state.deviceId, null);
    } finally {
      await impostor.close();
    }
    assert.equal(await usesLeft(issued.record.id), 1, 'the token was never used');
  });

  it('refuses a server that has none of the expected certificates (any more), naming why', async () => {
    const issued = await createEnrollmentToken(ctx, SYSTEM_ACTOR, {});
    const stale = await makeEntry('gone', 'SHA256withRSA', 1);
    const agent = pinnedAgent([server], 'igel-os-12', [stale.sha256Hex]);
    await assert.rejects(agent.cycle(issued.token), (e: unknown) => e instanceof AgentError && e.code === 'server_not_expected' && /token was not sent/.test(e.message));
    assert.equal(await usesLeft(issued.record.id), 1);
  });
});
