/**
 * The cluster on PostgreSQL (issue 8, SPEC H2/H4), with real `certfleet serve` processes:
 *
 * - propagation: a default change made through node A's API, until node B's device channel
 *   presents the new default (a TLS handshake without a server name gets the default), over 50
 *   changes; the baseline is the same delay on A's own channel (one node's own reload);
 * - failover: `kill -9` of the leader until the other node holds the rotation lease (the cluster
 *   status of the survivor says so), against the lease time.
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
import { CliSession } from '../test/support/cli.js';
import { createTestDatabase, databaseUnavailable } from '../test/support/databases.js';
import { killAllServers, serveProcess, type Serving } from '../test/support/serve-process.js';
import { goal, load, machineLine, printTable, ratio, type Row } from './support/common.js';

const CHANGES = Number(process.env['BENCH_CLUSTER_CHANGES'] ?? 50);
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

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
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

    // Failover: A leads (it started first); kill it and watch B's status.
    const cliB = new CliSession(b.url);
    await cliB.login('admin', PASSWORD);
    const killed = performance.now();
    a.child.kill('SIGKILL');
    await a.exited;
    let failover = NaN;
    for (;;) {
      const s = await cliB.json<ClusterStatus>(['cluster', 'status']);
      if (s.leader === b.nodeId) {
        failover = performance.now() - killed;
        break;
      }
      if (performance.now() - killed > (LEASE_S + 30) * 1000) throw new Error('B never took the lease');
      await new Promise((r) => setTimeout(r, 100));
    }
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
