/**
 * The simulator on fake time (test/support/fake-time.ts), over real TLS to a channel with use cases in memory: ten
 * minutes of a fleet run in well under a second, and the check-in rate is exactly what the
 * interval says — no sleeping, no wall-clock bound.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { AppContext } from '../../src/app/context.js';
import { runSimulation } from '../../src/agent/simulator.js';
import { startDeviceChannel, type DeviceChannel } from '../../src/transport/device-channel/device-channel.js';
import { nodeScheduler, systemClock } from '../../src/main/system.js';
import { makeEntry, MEMORY_CREDENTIAL, memoryUseCases, silentLog } from './channel-fixtures.js';
import { FakeTime } from '../support/fake-time.js';

const DEVICES = 4;
const INTERVAL_MS = 60_000;
const DURATION_MS = 10 * 60_000;

let channel: DeviceChannel;

before(async () => {
  const entry = await makeEntry('sim', 'SHA256withRSA', 1);
  const ctx = { clock: systemClock } as AppContext; // the use cases in memory never look at the context; the channel reads its clock
  channel = await startDeviceChannel({ scheduler: nodeScheduler, ctx, host: '127.0.0.1', port: 0, log: silentLog, useCases: memoryUseCases({ current: { revision: 1, entries: [entry] } }).uc });
});
after(() => channel?.close());

it('simulates ten minutes of a fleet in virtual time: every device checks in once per interval', { timeout: 60_000 }, async () => {
  const clock = new FakeTime(Date.UTC(2030, 0, 1));
  let finished = false;
  const run = runSimulation({
    servers: [{ host: '127.0.0.1', port: channel.address.port }],
    token: MEMORY_CREDENTIAL,
    devices: DEVICES,
    mix: { 'igel-os-12': 1, 'igel-linux-4.01.650': 1 },
    intervalMs: INTERVAL_MS,
    durationMs: DURATION_MS,
    concurrency: 2,
    time: clock,
  }).finally(() => {
    finished = true;
  });
  // Idle: every device waits for its next cycle, plus the probe and the end of the run. Only then
  // does time move, to the next timer.
  let steps = 0;
  while (!finished) {
    await Promise.race([clock.whenPending(DEVICES + 2), run]);
    if (!finished) {
      clock.runNext();
      steps++;
    }
  }
  const summary = await run;
  assert.equal(summary.duration, DURATION_MS / 1000, 'the run lasts its duration on the scheduler');
  assert.equal(summary.registered, DEVICES);
  assert.equal(summary.errors, 0, JSON.stringify(summary.errorsByCode));
  // Each device: a check-in at registration (t = 0), the next at a random moment of the first
  // interval, then one every interval ±10 %: between 1 + 9 and 1 + 12 in ten minutes.
  assert.ok(summary.checkIns >= DEVICES * 10 && summary.checkIns <= DEVICES * 13, `check-ins: ${summary.checkIns}`);
  assert.equal(summary.handshakes.full + summary.handshakes.resumed, summary.checkIns + DEVICES, 'one connection per check-in, one more for each registration');
  assert.ok(summary.handshakes.resumed >= summary.checkIns - DEVICES, `check-ins resume their sessions: ${JSON.stringify(summary.handshakes)}`);
  assert.ok(steps > summary.checkIns, `time moved in ${steps} steps`);
});
