/**
 * A simulated fleet after a default change (issue 3, "Done when"): BENCH_FLEET_DEVICES simulated
 * devices (default 10,000; the default mix) register with an in-process server (the device channel
 * and a RotationReconciler every BENCH_SYNC_SECONDS, default 60 s, on SQLite; devices check in every
 * BENCH_CHECKIN_SECONDS, default 60 s: at 10,000 devices a 20 s check-in is 500 check-ins/s, more than this 2-core machine serves). Once all are registered and idle, another RSA-4096
 * SHA512withRSA certificate is made the default (`reorderCertificate … 'default'`), and the time
 * until every compatible device is on it (as the server records it: confirmed) is measured
 * (goal: within one sync interval + 10 s), and the rate at which devices switch beside the full
 * handshakes/s of a bare TLS server with the same certificate, measured first in the same run
 * (goal ≥ 0.8×: each switching device needs one full RSA-4096 handshake under its new pin). The simulator runs in a child process; its memory per
 * idle device is its RSS / heap after a GC, minus the same process with 0 devices, divided by the
 * devices.
 *
 *   npm run build && node dist/bench/fleet.bench.js
 *   BENCH_FLEET_DEVICES=2000 BENCH_SYNC_SECONDS=20 BENCH_CHECKIN_SECONDS=20 BENCH_FLEET_BUDGET_SECONDS=300
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { createInterface } from 'node:readline';
import pino from 'pino';
import { generateCertificate, reorderCertificate } from '../src/app/certificates.js';
import { SYSTEM_ACTOR } from '../src/app/context.js';
import { createEnrollmentToken } from '../src/app/enrollment.js';
import { previewDefault, RotationTrigger, runRotation } from '../src/app/rotation.js';
import { RotationReconciler } from '../src/jobs/rotation.reconciler.js';
import { nodeScheduler } from '../src/main/system.js';
import { startDeviceChannel, type DeviceChannel } from '../src/transport/device-channel/device-channel.js';
import { testAppContext } from '../test/support/app-context.js';
import { openTestStore } from '../test/support/databases.js';
import { deviceKeystore } from '../test/support/device-fleet.js';
import { loadDeviceKeystore } from '../src/app/device-keystore.js';
import { pinServerName } from '../src/domain/device-names.js';
import { goal, HANDSHAKE_THREADS, load, machineLine, printTable, ratio, type Row } from './support/common.js';
import { startBareTlsServer } from './support/bare-tls.js';
import { perSecond, runLoad } from './support/run-load.js';

const DEVICES = Math.max(1, Math.min(50_000, Number(process.env['BENCH_FLEET_DEVICES'] ?? 10_000) || 10_000));
const SYNC_MS = (Number(process.env['BENCH_SYNC_SECONDS'] ?? 60) || 60) * 1000;
const CHECKIN_MS = (Number(process.env['BENCH_CHECKIN_SECONDS'] ?? 60) || 60) * 1000;
const BUDGET_MS = (Number(process.env['BENCH_FLEET_BUDGET_SECONDS'] ?? 300) || 300) * 1000;
const CONCURRENCY = Number(process.env['BENCH_FLEET_CONCURRENCY'] ?? 16) || 16;
const BARE_MS = 10_000;
const IDLE_MS = 10_000;
/** Every handshake on the channel's event loop: then its main thread alone bounds the switch rate. */
const threadsOff = HANDSHAKE_THREADS.handshakeThreads === 0;
const CHILD = new URL('./support/fleet-child.js', import.meta.url).pathname;

interface Memory {
  rss: number;
  heapUsed: number;
  external: number;
}

interface Progress {
  type: 'progress' | 'summary';
  registered: number;
  onDefault: number;
  pending: number;
  errors: number;
  checkIns: number;
  handshakes: { full: number; resumed: number };
  /** After a GC; in the summary line only. */
  memory?: Memory;
}

interface Simulator {
  child: ChildProcess;
  /** The newest progress (or summary) line. */
  latest: () => Progress | null;
  lines: Progress[];
  /** The child's memory after a GC, asked for now (SIGUSR2). */
  memory: () => Promise<Memory>;
}

/** The simulator child. */
function simulator(port: number, token: string, devices: number, durationMs: number): Simulator {
  const profile = process.env['BENCH_SIMULATOR_CPU_PROF_DIR'];
  const child = spawn(process.execPath, ['--expose-gc', ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : []), CHILD, String(port), token, String(devices), String(CHECKIN_MS), String(durationMs), String(CONCURRENCY)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: Progress[] = [];
  const memoryWaiters: ((m: Memory) => void)[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (l) => {
    let parsed: (Progress | { type: 'memory'; memory: Memory }) | null = null;
    try {
      parsed = JSON.parse(l) as Progress | { type: 'memory'; memory: Memory };
    } catch {
      return; // not ours
    }
    if (parsed.type === 'memory') memoryWaiters.shift()?.(parsed.memory);
    else lines.push(parsed);
  });
  const memory = () =>
    new Promise<Memory>((resolve) => {
      memoryWaiters.push(resolve);
      child.kill('SIGUSR2');
    });
  return { child, latest: () => lines[lines.length - 1] ?? null, lines, memory };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

/** User + system CPU seconds so far of the process or thread whose /proc stat file this is; null without /proc. */
function statCpuSeconds(statFile: string): number | null {
  try {
    const fields = readFileSync(statFile, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return null;
  }
}

/** User + system CPU seconds of another process so far (0 without /proc). */
function processCpuSeconds(pid: number | undefined): number {
  return statCpuSeconds(`/proc/${pid}/stat`) ?? 0;
}

/**
 * CPU seconds of this process's main thread so far — the device channel's thread, which the
 * one-core bound is about (without /proc: the whole process's, GC and pool threads included).
 */
function mainThreadCpuSeconds(): number {
  const u = process.cpuUsage();
  return statCpuSeconds(`/proc/self/task/${process.pid}/stat`) ?? (u.user + u.system) / 1e6;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (b: number) => `${(b / 1048576).toFixed(1)} MB`;
const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`;

async function main(): Promise<void> {
  console.log(`fleet: ${DEVICES} simulated devices, sync every ${SYNC_MS / 1000} s, check-in every ${CHECKIN_MS / 1000} s, ${CONCURRENCY} handshakes in flight; ${machineLine()}`);
  const started = Date.now();
  const store = await openTestStore('sqlite');
  const log = pino({ level: 'silent' });
  const holder: { channel?: DeviceChannel; reconciler?: RotationReconciler } = {};
  const ctx = testAppContext(store, {
    onKeystoreChanged: (change) => {
      void holder.channel?.reload();
      if (change.defaultChanged) holder.reconciler?.trigger(RotationTrigger.defaultChanged);
    },
  });
  await deviceKeystore(ctx); // tckey (default, SHA512withRSA RSA-4096), legacy (SHA256withRSA), ec
  const next = await generateCertificate(ctx, SYSTEM_ACTOR, { alias: 'next', signatureAlgorithm: 'SHA512withRSA', keySize: 4096 });
  const channel = (holder.channel = await startDeviceChannel({ scheduler: nodeScheduler, ctx, host: '127.0.0.1', port: 0, ...HANDSHAKE_THREADS, log }));
  const reconciler = (holder.reconciler = new RotationReconciler({ run: (actor) => runRotation(ctx, actor), intervalMs: SYNC_MS, scheduler: nodeScheduler, log }));
  reconciler.start();
  const { token } = await createEnrollmentToken(ctx, SYSTEM_ACTOR, { uses: DEVICES + 10 });
  const port = channel.address.port;

  // Baseline: full handshakes/s of a bare TLS server with the new default's certificate and key,
  // from the same number of clients in flight, on this machine, now.
  const nextServed = (await loadDeviceKeystore(ctx)).entries.find((e) => e.alias === 'next');
  if (!nextServed) throw new Error('"next" is not served');
  const bare = await startBareTlsServer(nextServed.certPem, nextServed.keyPem);
  const bareRun = await runLoad({ port: bare.port, mode: 'check-in', resume: false, concurrency: CONCURRENCY, warmupMs: 1000, durationMs: BARE_MS, servername: pinServerName(next.facts.sha256Fingerprint), credentials: ['cfd_bare'] });
  await bare.close();
  const bareRate = perSecond(bareRun);
  console.log(`bare TLS server, full RSA-4096 handshakes, ${CONCURRENCY} in flight: ${bareRate.toFixed(1)}/s, load ${load()}`);

  // Baseline: the simulator process with 0 devices.
  const empty = simulator(port, token, 0, 6000);
  await new Promise((r) => empty.child.once('exit', r));
  const base = empty.lines.find((l) => l.type === 'summary')?.memory;
  if (!base) throw new Error('the 0-device simulator printed no summary');

  const sim = simulator(port, token, DEVICES, BUDGET_MS + 60_000);
  const rows: Row[] = [];
  try {
    // Registration.
    const regStart = Date.now();
    let last = '';
    while (Date.now() - started < BUDGET_MS) {
      await sleep(1000);
      const p = sim.latest();
      if (!p) continue;
      const line = `registered ${p.registered}/${DEVICES}, errors ${p.errors}`;
      if (line !== last && (Date.now() - regStart) % 10_000 < 1000) console.log(`  ${Math.round((Date.now() - regStart) / 1000)} s: ${line}, load ${load()}`);
      last = line;
      if (p.registered >= DEVICES) break;
    }
    const regSeconds = (Date.now() - regStart) / 1000;
    const registered = sim.latest()?.registered ?? 0;
    console.log(`registration: ${registered}/${DEVICES} in ${regSeconds.toFixed(0)} s (${(registered / regSeconds).toFixed(1)}/s), load ${load()}`);

    // Idle: a few seconds with only periodic check-ins; the memory per device then, and the
    // server's CPU per resumed check-in. Measured one check-in interval after the last
    // registration: a device's first check-in after registering is a full handshake (its
    // registration was made under the first-contact name, whose session does not resume under
    // the pin); the ones after it resume.
    await sleep(CHECKIN_MS + 2000);
    const idleFrom = sim.latest();
    const idleCpu0 = mainThreadCpuSeconds();
    await sleep(IDLE_MS);
    const idle = sim.latest();
    const idleMemory = await sim.memory();
    const idleLoad = load();
    const idleCpu = mainThreadCpuSeconds() - idleCpu0;
    const idleConnections = idle && idleFrom ? idle.handshakes.resumed - idleFrom.handshakes.resumed + idle.handshakes.full - idleFrom.handshakes.full : 0;
    const resumedCost = idleConnections > 0 ? idleCpu / idleConnections : null;
    if (resumedCost !== null && idle && idleFrom) {
      console.log(
        `idle: ${idleConnections} check-ins in ${IDLE_MS / 1000} s (${idle.handshakes.full - idleFrom.handshakes.full} of them full handshakes), ` +
          `the server's main thread ${(resumedCost * 1000).toFixed(2)} ms of CPU per check-in`,
      );
    }
    if (idle) {
      const rss = (idleMemory.rss - base.rss) / Math.max(1, idle.registered);
      const heap = (idleMemory.heapUsed - base.heapUsed) / Math.max(1, idle.registered);
      console.log(`simulator memory: ${mb(idleMemory.rss)} RSS / ${mb(idleMemory.heapUsed)} heap with ${idle.registered} devices; ${mb(base.rss)} / ${mb(base.heapUsed)} with 0`);
      rows.push([`simulator memory per idle device (${idle.registered} devices, after GC)`, `${kb(rss)} RSS, ${kb(heap)} heap`, `0 devices: ${mb(base.rss)} RSS, ${mb(base.heapUsed)} heap (${idle.registered} devices: ${mb(idleMemory.rss)}, ${mb(idleMemory.heapUsed)})`, '', 'reported', idleLoad]);
    }

    if (registered < DEVICES) {
      rows.push([`${DEVICES} simulated devices: registration`, `${registered} registered in ${regSeconds.toFixed(0)} s`, '', '', 'all registered within the budget — MISSED', load()]);
    } else {
      const preview = await previewDefault(ctx, SYSTEM_ACTOR, 'next');
      const expected = preview.switching.total;
      console.log(`default change to "next": ${expected} devices should switch, ${preview.staying.total} stay (${preview.staying.lacking})`);
      const t0 = Date.now();
      const serverCpu0 = process.cpuUsage();
      const mainThread0 = mainThreadCpuSeconds();
      const simulatorCpu0 = processCpuSeconds(sim.child.pid);
      const handshakes0 = sim.latest()?.handshakes ?? { full: 0, resumed: 0 };
      await reorderCertificate(ctx, SYSTEM_ACTOR, 'next', 'default');
      let onNext = 0;
      let doneMs: number | null = null;
      const limitMs = Math.max(SYNC_MS + 10_000, Math.min(BUDGET_MS, 240_000));
      let lastPrint = 0;
      const samples: { readonly ms: number; readonly on: number }[] = [];
      while (Date.now() - t0 < limitMs) {
        await sleep(250);
        const usage = (await store.keystore.list()).find((e) => e.id === next.id)?.usage;
        onNext = (usage as { pinned?: number } | undefined)?.pinned ?? 0;
        samples.push({ ms: Date.now() - t0, on: onNext });
        if (Date.now() - lastPrint > 5000) {
          lastPrint = Date.now();
          console.log(`  +${((Date.now() - t0) / 1000).toFixed(0)} s: ${onNext}/${expected} on "next", load ${load()}`);
        }
        if (onNext >= expected) {
          doneMs = Date.now() - t0;
          break;
        }
      }
      const switchLoad = load();
      // Where the two cores went while the fleet switched: this process (the server) and the simulator.
      const windowSeconds = (Date.now() - t0) / 1000;
      const serverCpu = process.cpuUsage(serverCpu0);
      const serverSeconds = (serverCpu.user + serverCpu.system) / 1e6;
      const simulatorSeconds = processCpuSeconds(sim.child.pid) - simulatorCpu0;
      console.log(
        `CPU while switching (${windowSeconds.toFixed(1)} s, ${cpus().length} cores = ${(windowSeconds * cpus().length).toFixed(0)} core-s): ` +
          `server ${serverSeconds.toFixed(1)} s (${((100 * serverSeconds) / windowSeconds).toFixed(0)} % of a core), ` +
          `simulator ${simulatorSeconds.toFixed(1)} s (${((100 * simulatorSeconds) / windowSeconds).toFixed(0)} % of a core); ` +
          `server CPU per switched device ${((1000 * serverSeconds) / Math.max(1, onNext)).toFixed(1)} ms`,
      );
      // What one core can do: the main thread's CPU in the window is (full handshakes × their
      // cost) + (resumed check-ins × theirs, measured idle above). A fleet checking in every interval
      // leaves (1 − check-ins/s × that cost) of the core to switching devices, each of which
      // needs a full handshake (and its confirmation): the most the server thread can switch.
      const handshakes1 = sim.latest()?.handshakes ?? handshakes0;
      const full = handshakes1.full - handshakes0.full;
      const resumed = handshakes1.resumed - handshakes0.resumed;
      const mainThreadSeconds = mainThreadCpuSeconds() - mainThread0;
      const fullCost = resumedCost !== null && full > 0 ? (mainThreadSeconds - resumed * resumedCost) / full : null;
      const checkInRate = registered / (CHECKIN_MS / 1000);
      const coreBound = fullCost !== null && resumedCost !== null ? Math.max(0, 1 - checkInRate * resumedCost) / fullCost : null;
      if (fullCost !== null && resumedCost !== null && coreBound !== null) {
        console.log(
          `the server's main thread while switching: ${mainThreadSeconds.toFixed(1)} s of CPU (${((100 * mainThreadSeconds) / windowSeconds).toFixed(0)} %), ${full} full handshakes at ${(fullCost * 1000).toFixed(2)} ms (with the confirmation), ${resumed} resumed at ${(resumedCost * 1000).toFixed(2)} ms; ` +
            `one core switches at most (1 − ${checkInRate.toFixed(0)}/s × ${(resumedCost * 1000).toFixed(2)} ms) / ${(fullCost * 1000).toFixed(2)} ms = ${coreBound.toFixed(1)}/s = ${(coreBound / bareRate).toFixed(2)}× the bare rate`,
        );
      }
      const goalMs = SYNC_MS + 10_000;
      // The switch rate where the fleet is switching at full pace: from 10 % to 90 % of it (the
      // first devices wait for their check-in, the last stragglers for theirs).
      const at = (share: number) => samples.find((x) => x.on >= expected * share);
      const from = at(0.1);
      const to = at(0.9);
      const steadyRate = from && to && to.ms > from.ms ? (to.on - from.on) / ((to.ms - from.ms) / 1000) : null;
      const wholeRate = doneMs !== null ? expected / (doneMs / 1000) : null;
      const minimumMs = (expected / bareRate) * 1000;
      rows.push([
        `switch rate, ${expected} devices (10 % → 90 %; whole window)`,
        steadyRate !== null ? `${steadyRate.toFixed(1)}/s (${wholeRate !== null ? `${wholeRate.toFixed(1)}/s` : 'unfinished'})` : 'too few samples',
        `bare TLS full handshakes, ${CONCURRENCY} in flight: ${bareRate.toFixed(1)}/s`,
        steadyRate !== null ? ratio(steadyRate, bareRate) : '',
        goal('≥ 0.8×', steadyRate !== null && steadyRate >= 0.8 * bareRate),
        switchLoad,
      ]);
      // No device can switch before its next check-in tells it of the change: a fleet learns at
      // (devices / check-in interval) at most, whatever the server could do.
      const learnRate = expected / (CHECKIN_MS / 1000);
      rows.push([
        `switch rate beside the rate the fleet learns of the change (${expected} devices / ${CHECKIN_MS / 1000} s check-in interval)`,
        steadyRate !== null ? `${steadyRate.toFixed(1)}/s` : 'too few samples',
        `learning: ${learnRate.toFixed(1)}/s${learnRate < 0.8 * bareRate ? ` (< 0.8 × ${bareRate.toFixed(1)}/s: the schedule, not the server, caps the ratio to the bare rate at ${(learnRate / bareRate).toFixed(2)}×)` : ''}`,
        steadyRate !== null ? ratio(steadyRate, learnRate) : '',
        'reported',
        switchLoad,
      ]);
      // With handshake threads the server uses both cores, which the simulator shares: the bound is
      // then the machine's, its cores over the CPU (server + simulator) one switched device costs.
      const machineBound = onNext > 0 ? cpus().length / ((serverSeconds + simulatorSeconds) / onNext) : null;
      if (machineBound !== null) {
        rows.push([
          `switch rate beside what the machine's ${cpus().length} cores can switch (server + simulator CPU per switched device)`,
          steadyRate !== null ? `${steadyRate.toFixed(1)}/s` : 'too few samples',
          `${cpus().length} s / (${((1000 * serverSeconds) / onNext).toFixed(1)} + ${((1000 * simulatorSeconds) / onNext).toFixed(1)} ms) = ${machineBound.toFixed(1)}/s (${(machineBound / bareRate).toFixed(2)}× bare)`,
          steadyRate !== null ? ratio(steadyRate, machineBound) : '',
          'reported',
          switchLoad,
        ]);
      }
      if (coreBound !== null && fullCost !== null && resumedCost !== null && threadsOff) {
        rows.push([
          `switch rate beside what one core can switch while the fleet checks in (${checkInRate.toFixed(0)} check-ins/s)`,
          steadyRate !== null ? `${steadyRate.toFixed(1)}/s` : 'too few samples',
          `(1 s − ${checkInRate.toFixed(0)} × ${(resumedCost * 1000).toFixed(2)} ms) / ${(fullCost * 1000).toFixed(2)} ms per full handshake = ${coreBound.toFixed(1)}/s (${(coreBound / bareRate).toFixed(2)}× bare)`,
          steadyRate !== null ? ratio(steadyRate, coreBound) : '',
          'reported',
          switchLoad,
        ]);
      }
      console.log(`switching at ${steadyRate?.toFixed(1) ?? '?'}/s from 10 % to 90 %; ${expected} full handshakes at the bare rate take at least ${(minimumMs / 1000).toFixed(1)} s`);
      console.log(doneMs !== null ? `all ${expected} compatible devices on "next" after ${(doneMs / 1000).toFixed(1)} s` : `only ${onNext}/${expected} after ${(limitMs / 1000).toFixed(0)} s`);
      rows.push([
        `${registered} simulated devices (default mix), default change until every compatible device (${expected}) is on it; SQLite`,
        doneMs !== null ? `${(doneMs / 1000).toFixed(1)} s` : `${onNext}/${expected} after ${(limitMs / 1000).toFixed(0)} s`,
        `one sync interval (${SYNC_MS / 1000} s), check-in every ${CHECKIN_MS / 1000} s`,
        doneMs !== null ? `${(doneMs / SYNC_MS).toFixed(2)} intervals` : '',
        goal(`≤ ${goalMs / 1000} s (interval + 10 s); ≥ ${(minimumMs / 1000).toFixed(0)} s at the bare handshake rate`, doneMs !== null && doneMs <= goalMs),
        switchLoad,
      ]);
      rows.push([`${registered} simulated devices: registration (set-up)`, `${regSeconds.toFixed(0)} s (${(registered / regSeconds).toFixed(1)}/s)`, '', '', '', '']);
    }
    const p = sim.latest();
    if (p) console.log(`simulator at the end: ${JSON.stringify({ registered: p.registered, onDefault: p.onDefault, pending: p.pending, errors: p.errors, checkIns: p.checkIns })}`);
  } finally {
    await stop(sim.child);
    await reconciler.stop();
    await channel.close();
    await store.close();
  }
  printTable('Fleet (issue 3)', rows);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
