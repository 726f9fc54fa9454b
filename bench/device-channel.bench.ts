/**
 * Device channel throughput (issue 3, "Done when"): check-ins per second with full RSA-4096
 * handshakes against the real channel on SQLite vs a bare Node `tls.createServer` with the same
 * certificate answering a minimal HTTP response (goal ≥ 0.95×, raised by issue 11); check-ins with TLS session
 * resumption vs full handshakes on the channel (goal ≥ 3×); registrations per second vs bare full
 * handshakes (goal ≥ 0.8×). The full check-ins run twice: on the channel as configured (its
 * handshake threads, BENCH_HANDSHAKE_THREADS or one per core) and on the same channel with every
 * handshake on the event loop; for both, the server's event-loop delay while they run.
 *
 *   npm run build && node dist/bench/device-channel.bench.js
 *   BENCH_SECONDS=5 BENCH_WARMUP_SECONDS=1 BENCH_CONCURRENCY=8 BENCH_ROUNDS=5
 *
 * The phases are interleaved (BENCH_ROUNDS rounds of SECONDS / ROUNDS each, every slice after its
 * own warm-up), so that load from other work on the machine falls on all of them alike.
 * The server runs in the main thread, the client loop in a worker thread (same loop, same
 * concurrency, same duration for every phase). Keys come from the test pool, so set-up is fast.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import pino from 'pino';
import { ensureDefaultCertificate } from '../src/app/certificates.js';
import { SYSTEM_ACTOR } from '../src/app/context.js';
import { loadDeviceKeystore } from '../src/app/device-keystore.js';
import { createEnrollmentToken } from '../src/app/enrollment.js';
import { registerDevice } from '../src/app/register-device.js';
import { PROFILE_IDENTITY } from '../src/domain/compatibility.js';
import { pinServerName, helloServerName } from '../src/domain/device-names.js';
import { algorithmMask } from '../src/domain/compatibility.js';
import { ALLOWED_SIGNATURE_ALGORITHMS } from '../src/domain/algorithms.js';
import { startDeviceChannel, type DeviceChannel } from '../src/transport/device-channel/device-channel.js';
import { DEFAULT_HANDSHAKE_THREADS } from '../src/transport/device-channel/limits.js';
import { APP_DEVICE_USE_CASES, type DeviceUseCases } from '../src/transport/device-channel/device-use-cases.js';
import { CHECK_IN_SECONDS } from '../src/app/device-check-in.js';
import { nodeScheduler } from '../src/main/system.js';
import { testAppContext } from '../test/support/app-context.js';
import { openTestStore } from '../test/support/databases.js';
import { goal, HANDSHAKE_THREADS, load, machineLine, median, printTable, ratio, type Row } from './support/common.js';
import type { LoadResult, LoadTask } from './support/tls-load.js';
import { perSecond, runLoad } from './support/run-load.js';
import { startBareTlsServer } from './support/bare-tls.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5) || 5;
const WARMUP_SECONDS = Number(process.env['BENCH_WARMUP_SECONDS'] ?? 1);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 8) || 8;
const ROUNDS = Math.max(1, Math.min(50, Number(process.env['BENCH_ROUNDS'] ?? 5) || 5));
const PROFILE = 'igel-os-12';

const fmt = (r: LoadResult): string =>
  `${perSecond(r).toFixed(1)}/s (p50 ${r.latencyMsP50.toFixed(0)} ms, p99 ${r.latencyMsP99.toFixed(0)} ms${r.errors ? `, ${r.errors} errors` : ''})`;

async function main(): Promise<void> {
  console.log(`device channel: ${CONCURRENCY} in flight, ${SECONDS} s measured per phase in ${ROUNDS} interleaved rounds, each after a ${WARMUP_SECONDS} s warm-up; ${machineLine()}`);
  const store = await openTestStore('sqlite');
  const holder: { channel?: DeviceChannel } = {};
  const ctx = testAppContext(store, { onKeystoreChanged: () => void holder.channel?.reload() });
  const tckey = await ensureDefaultCertificate(ctx, SYSTEM_ACTOR);
  if (!tckey) throw new Error('the keystore was not empty');
  if (tckey.facts.keySize !== 4096) throw new Error(`expected an RSA-4096 default, got ${tckey.facts.keySize}`);
  const channel = (holder.channel = await startDeviceChannel({ scheduler: nodeScheduler, ctx, host: '127.0.0.1', port: 0, ...HANDSHAKE_THREADS, log: pino({ level: 'silent' }) }));

  // The same certificate and key in a bare TLS server that answers every request with `{}`.
  const entry = (await loadDeviceKeystore(ctx)).entries.find((e) => e.alias === 'tckey');
  if (!entry) throw new Error('tckey not served');
  const bare = await startBareTlsServer(entry.certPem, entry.keyPem);
  const barePort = bare.port;

  const identity = { ...(PROFILE_IDENTITY[PROFILE] as { osFamily: string; osVersion: string }), profile: PROFILE };
  const { token } = await createEnrollmentToken(ctx, SYSTEM_ACTOR, { uses: 100_000 });
  const credentials: string[] = [];
  for (let i = 0; i < CONCURRENCY; i++) {
    const r = await registerDevice(ctx, { enrollmentToken: token, unitId: `02:BE:00:00:00:${i.toString(16).padStart(2, '0')}`, name: `bench-${i}`, ...identity });
    credentials.push(r.credential);
  }
  // The floor: the same channel (transport, TLS, HTTP, routes) with use cases that answer a
  // check-in at once, with no database and no application code: what the transport alone costs.
  const answerAtOnce: DeviceUseCases = {
    ...APP_DEVICE_USE_CASES,
    checkInByCredential: async () => ({
      deviceId: 'floor',
      certificate: { alias: tckey.alias, sha256Fingerprint: tckey.facts.sha256Fingerprint, signatureAlgorithm: tckey.facts.signatureAlgorithm },
      replacement: null,
      checkInSeconds: CHECK_IN_SECONDS,
    }),
  };
  const floor = await startDeviceChannel({ scheduler: nodeScheduler, ctx, host: '127.0.0.1', port: 0, ...HANDSHAKE_THREADS, log: pino({ level: 'silent' }), useCases: answerAtOnce });
  // The same channel with every handshake on its event loop (`--device-handshake-threads 0`).
  const inline = await startDeviceChannel({ scheduler: nodeScheduler, ctx, host: '127.0.0.1', port: 0, handshakeThreads: 0, log: pino({ level: 'silent' }) });
  const pin = pinServerName(tckey.facts.sha256Fingerprint);
  const threads = HANDSHAKE_THREADS.handshakeThreads ?? DEFAULT_HANDSHAKE_THREADS;
  const common = { concurrency: CONCURRENCY, credentials, servername: pin } as const;

  // The phases run interleaved, ROUNDS times each (a warm-up, then SECONDS / ROUNDS measured), so
  // that every phase sees the same share of a machine shared with other work.
  // The load runs in a worker thread: the event loop measured here is the server's (the
  // console, the API and the device channel share it).
  type Phase = { name: string; task: LoadTask; parts: LoadResult[]; loads: number[]; loopDelay: { p99: number; max: number }[] };
  const mk = (name: string, task: Omit<LoadTask, 'warmupMs' | 'durationMs'>): Phase => ({
    name,
    task: { ...task, warmupMs: WARMUP_SECONDS * 1000, durationMs: (SECONDS * 1000) / ROUNDS },
    parts: [],
    loads: [],
    loopDelay: [],
  });
  const phases = {
    bare1: mk('bare TLS, full handshakes', { ...common, port: barePort, mode: 'check-in', resume: false }),
    full: mk('channel check-in, full handshakes', { ...common, port: channel.address.port, mode: 'check-in', resume: false }),
    inline: mk('channel check-in, full handshakes, all on the event loop', { ...common, port: inline.address.port, mode: 'check-in', resume: false }),
    floor: mk('channel without application work, full handshakes', { ...common, port: floor.address.port, mode: 'check-in', resume: false }),
    resumed: mk('channel check-in, resumed sessions', { ...common, port: channel.address.port, mode: 'check-in', resume: true }),
    reg: mk('channel registration (first contact)', {
      ...common,
      port: channel.address.port,
      mode: 'register',
      resume: false,
      servername: helloServerName(algorithmMask(ALLOWED_SIGNATURE_ALGORITHMS)),
      token,
      identity,
    }),
    bare2: mk('bare TLS, full handshakes (again)', { ...common, port: barePort, mode: 'check-in', resume: false }),
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const ph of Object.values(phases)) {
      // A monitor per slice: one enabled again after a pause reports the pause as a delay.
      const slice = monitorEventLoopDelay({ resolution: 1 });
      slice.enable();
      const r = await runLoad({ ...ph.task, unitPrefix: round });
      slice.disable();
      ph.loopDelay.push({ p99: slice.percentile(99) / 1e6, max: slice.max / 1e6 });
      ph.parts.push(r);
      ph.loads.push(Number(load()));
    }
    process.stdout.write(`round ${round + 1}/${ROUNDS}: ${Object.values(phases).map((ph) => `${(perSecond(ph.parts[round] as LoadResult)).toFixed(0)}/s`).join(', ')}\n`);
  }
  const total = (ph: Phase): { r: LoadResult; load: string } => {
    const parts = ph.parts;
    const r: LoadResult = {
      completed: parts.reduce((a, p) => a + p.completed, 0),
      errors: parts.reduce((a, p) => a + p.errors, 0),
      firstError: parts.find((p) => p.firstError)?.firstError ?? null,
      seconds: parts.reduce((a, p) => a + p.seconds, 0),
      resumed: parts.reduce((a, p) => a + p.resumed, 0),
      latencyMsP50: median(parts.map((p) => p.latencyMsP50)),
      latencyMsP99: Math.max(...parts.map((p) => p.latencyMsP99)),
    };
    const l = (ph.loads.reduce((a, b) => a + b, 0) / ph.loads.length).toFixed(2);
    console.log(`${ph.name}: ${fmt(r)}, resumed ${r.resumed}/${r.completed}, load ${l}${r.firstError ? `, first error: ${r.firstError}` : ''}`);
    return { r, load: l };
  };
  const bare1 = total(phases.bare1);
  const full = total(phases.full);
  const inlineRun = total(phases.inline);
  const delay = (ph: Phase) =>
    `p99 ${median(ph.loopDelay.map((d) => d.p99)).toFixed(1)} ms (median of the slices), max ${Math.max(...ph.loopDelay.map((d) => d.max)).toFixed(0)} ms`;
  const floorRun = total(phases.floor);
  const resumed = total(phases.resumed);
  const reg = total(phases.reg);
  const bare2 = total(phases.bare2);

  const a = perSecond(full.r) / perSecond(bare1.r);
  const b = perSecond(resumed.r) / perSecond(full.r);
  const c = perSecond(reg.r) / perSecond(bare2.r);
  const rows: Row[] = [
    [`check-ins/s, full RSA-4096 handshakes, ${CONCURRENCY} in flight (SQLite)`, fmt(full.r), `bare tls.createServer: ${fmt(bare1.r)}`, ratio(perSecond(full.r), perSecond(bare1.r)), goal('≥ 0.95×', a >= 0.95), full.load],
    [`the same, every handshake on the event loop (\`--device-handshake-threads 0\`)`, fmt(inlineRun.r), `bare tls.createServer: ${fmt(bare1.r)}`, ratio(perSecond(inlineRun.r), perSecond(bare1.r)), 'reported', inlineRun.load],
    [`the server's event-loop delay during those full check-ins (the console and the API wait as long)`, `${delay(phases.full)} (${threads} handshake threads)`, `all on the event loop: ${delay(phases.inline)}`, '', 'reported', full.load],
    [`the same channel answering at once (no database, no application code): the transport's floor`, fmt(floorRun.r), `bare tls.createServer: ${fmt(bare1.r)}`, ratio(perSecond(floorRun.r), perSecond(bare1.r)), 'reported', floorRun.load],
    [`check-ins/s with TLS session resumption`, fmt(resumed.r), `channel, full handshakes: ${fmt(full.r)}`, ratio(perSecond(resumed.r), perSecond(full.r)), goal('≥ 3×', b >= 3), resumed.load],
    [`registrations/s (first contact, full handshake)`, fmt(reg.r), `bare tls.createServer: ${fmt(bare2.r)}`, ratio(perSecond(reg.r), perSecond(bare2.r)), goal('≥ 0.8×', c >= 0.8), reg.load],
  ];
  printTable('Device channel (issue 3)', rows);

  await channel.close();
  await floor.close();
  await inline.close();
  await bare.close();
  await store.close();
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
