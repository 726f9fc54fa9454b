/**
 * The cluster on PostgreSQL (issue 8, SPEC H2/H4), with real `certfleet serve` processes:
 *
 * - propagation: a default change made through node A's API, until node B's device channel
 *   presents the new default (a TLS handshake without a server name gets the default), over 50
 *   changes; the baseline is the same delay on A's own channel (one node's own reload);
 * - check-ins per second with full handshakes through two nodes against one node, on the same
 *   machine (the nodes share its two cores: the goal is that coordination costs nearly nothing);
 * - failover: `kill -9` of the leader until the other node holds the rotation lease (the
 *   survivor says so as it happens, and its status agrees), against the lease time.
 *
 * The two certificates switched between are P-256 ones, so that each probing handshake costs
 * little and the delay measured is the propagation, not RSA-4096 signatures.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import type { ClusterStatus, CertificateSummary } from '../src/transport/http-api/contract/index.js';
import { SYSTEM_ACTOR } from '../src/app/context.js';
import { createEnrollmentToken } from '../src/app/enrollment.js';
import { registerDevice } from '../src/app/register-device.js';
import { PROFILE_IDENTITY } from '../src/domain/compatibility.js';
import { pinServerName } from '../src/domain/device-names.js';
import { openStore } from '../src/storage/open-store.js';
import { testAppContext } from '../test/support/app-context.js';
import { CliSession } from '../test/support/cli.js';
import { createTestDatabase, databaseUnavailable } from '../test/support/databases.js';
import { killAllServers, serveProcess, type Serving } from '../test/support/serve-process.js';
import { goal, load, machineLine, percentile, printTable, ratio, type Row } from './support/common.js';
import { perSecond, runLoad } from './support/run-load.js';
import type { LoadTask } from './support/tls-load.js';

const CHANGES = Number(process.env['BENCH_CLUSTER_CHANGES'] ?? 50);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 8) || 8;
const LOAD_SECONDS = Number(process.env['BENCH_SECONDS'] ?? 8) || 8;
const LEASE_S = Number(process.env['BENCH_LEASE_SECONDS'] ?? 15);
const PASSWORD = 'bench-admin-password';
const env = { CERTFLEET_ADMIN_PASSWORD: PASSWORD, CERTFLEET_MASTER_KEY: Buffer.alloc(32, 3).toString('base64'), CERTFLEET_LOG_LEVEL: 'warn' };

/** The SHA-256 (keytool form) of what a device channel presents to a device that names no pin. */
function presentedDefault(address: string): Promise<string> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const socket = connect({ host: host ?? '127.0.0.1', port: Number(port), rejectUnauthorized: false }, () => {
      const raw = socket.getPeerCertificate().raw;
      socket.destroy();
      resolve(new X509Certificate(raw).fingerprint256);
    });
    socket.once('error', reject);
  });
}

async function untilPresented(address: string, sha256: string, deadlineMs: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    if ((await presentedDefault(address)) === sha256) return performance.now() - started;
    if (performance.now() - started > deadlineMs) throw new Error(`${address} did not present ${sha256} within ${deadlineMs} ms`);
  }
}

async function main(): Promise<void> {
  console.log(machineLine());
  const problem = databaseUnavailable('postgres');
  if (problem) throw new Error(problem);
  const db = await createTestDatabase('postgres');
  const rows: Row[] = [];
  try {
    const args = ['--lease-ttl', `${LEASE_S}s`, '--sync-interval', '1h'];
    const a = await serveProcess({ dataDir: mkdtempSync(join(tmpdir(), 'bench-a-')), db: db.url, env, args });
    const cli = new CliSession(a.url);
    await cli.login('admin', PASSWORD);
    const tokenFile = join(cli.dir, 'token');
    await cli.run(['cluster', 'token', '--out', tokenFile]);
    // The token changes with every certificate change: make both certificates first, then join B.
    await cli.json(['cert', 'generate', '--alias', 'p256-a', '--sig-alg', 'SHA256withECDSA']);
    await cli.json(['cert', 'generate', '--alias', 'p256-b', '--sig-alg', 'SHA256withECDSA']);
    await cli.run(['cluster', 'token', '--out', tokenFile]);
    const b: Serving = await serveProcess({ dataDir: mkdtempSync(join(tmpdir(), 'bench-b-')), db: db.url, env, args: [...args, '--join-token', tokenFile] });
    const list = await cli.json<CertificateSummary[]>(['cert', 'list']);
    const sha = new Map(list.map((c) => [c.alias, c.sha256Fingerprint]));

    const toB: number[] = [];
    const own: number[] = [];
    for (let i = 0; i < CHANGES; i++) {
      const alias = i % 2 === 0 ? 'p256-a' : 'p256-b';
      const target = sha.get(alias) ?? '';
      const r = await cli.run(['cert', 'default', alias]);
      if (r.code !== 0) throw new Error(r.stderr);
      // The CLI returns once A committed; from then on, both channels are probed at once.
      const [onB, onA] = await Promise.all([untilPresented(b.deviceAddress, target, 10_000), untilPresented(a.deviceAddress, target, 10_000)]);
      toB.push(onB);
      own.push(onA);
    }
    const p50 = percentile(toB, 50);
    const p99 = percentile(toB, 99);
    rows.push([
      `default change A → B's device channel, ${CHANGES} changes, p50 / p99`,
      `${p50.toFixed(1)} / ${p99.toFixed(1)} ms`,
      `A's own channel: ${percentile(own, 50).toFixed(1)} / ${percentile(own, 99).toFixed(1)} ms`,
      ratio(p99, percentile(own, 99)),
      goal('p99 ≤ 250 ms', p99 <= 250),
      load(),
    ]);

    // Check-ins through two nodes vs one, on the same machine: devices registered in the shared
    // database (on the P-256 default the changes above left), then full-handshake check-ins
    // against A alone, and split over A and B.
    const store = await openStore({ url: db.url });
    try {
      const ctx = testAppContext(store);
      const tckey = (await ctx.store.keystore.list()).find((c) => c.alias === 'tckey');
      if (!tckey) throw new Error('no tckey');
      const identity = { ...(PROFILE_IDENTITY['igel-os-12'] as { osFamily: string; osVersion: string }), profile: 'igel-os-12' };
      const { token } = await createEnrollmentToken(ctx, SYSTEM_ACTOR, { uses: 1000 });
      const credentials: string[] = [];
      for (let i = 0; i < CONCURRENCY; i++) {
        const r = await registerDevice(ctx, { enrollmentToken: token, unitId: `02:C1:00:00:00:${i.toString(16).padStart(2, '0')}`, name: `bench-${i}`, ...identity });
        credentials.push(r.credential);
      }
      // Registered on the default of the time; check in pinning what each device pins.
      const pinned = await ctx.store.keystore.list();
      const pinOf = (await ctx.store.devices.list({ offset: 0, limit: CONCURRENCY })).items[0]?.certificateAlias;
      const entry = pinned.find((c) => c.alias === pinOf);
      if (!entry) throw new Error('the bench devices pin nothing known');
      const servername = pinServerName(entry.facts.sha256Fingerprint);
      const port = (address: string) => Number(address.split(':')[1]);
      const task = (address: string, creds: readonly string[]): LoadTask => ({
        port: port(address), mode: 'check-in', resume: false, concurrency: creds.length, credentials: creds, servername,
        warmupMs: 1000, durationMs: LOAD_SECONDS * 1000,
      });
      const one = await runLoad(task(a.deviceAddress, credentials));
      const half = credentials.length / 2;
      const [onA, onB] = await Promise.all([runLoad(task(a.deviceAddress, credentials.slice(0, half))), runLoad(task(b.deviceAddress, credentials.slice(half)))]);
      const two = perSecond(onA) + perSecond(onB);
      rows.push([
        `check-ins/s, full handshakes, ${CONCURRENCY} in flight: two nodes (A + B)`,
        `${two.toFixed(1)}/s (${perSecond(onA).toFixed(1)} + ${perSecond(onB).toFixed(1)}${onA.errors + onB.errors ? `, ${onA.errors + onB.errors} errors` : ''})`,
        `one node: ${perSecond(one).toFixed(1)}/s`,
        ratio(two, perSecond(one)),
        goal('≥ 0.9×', two >= 0.9 * perSecond(one)),
        load(),
      ]);
    } finally {
      await store.close();
    }

    // Failover: A leads (it started first); kill it and wait for B to say it took the lease.
    const cliB = new CliSession(b.url);
    await cliB.login('admin', PASSWORD);
    const mark = b.watch.mark();
    const killed = performance.now();
    a.child.kill('SIGKILL');
    await b.watch.waitFor(/took the rotation lease/, 'B takes the lease', (LEASE_S + 30) * 1000, mark);
    const failover = performance.now() - killed;
    const s = await cliB.json<ClusterStatus>(['cluster', 'status']);
    if (s.leader !== b.nodeId) throw new Error(`B said it leads, the status says ${String(s.leader)}`);
    rows.push([
      'failover after kill -9 of the leader (B holds the lease)',
      `${(failover / 1000).toFixed(2)} s`,
      `lease time ${LEASE_S} s`,
      ratio(failover, LEASE_S * 1000),
      goal(`≤ lease + 2 s`, failover <= (LEASE_S + 2) * 1000),
      load(),
    ]);
  } finally {
    killAllServers();
    await db.drop();
  }
  printTable('Cluster (PostgreSQL, two real nodes)', rows);
}

await main();
