/**
 * A cluster of real `certfleet serve` processes on the real PostgreSQL (SPEC H1–H5): joining with
 * the network token only, a certificate change on one node served by the other at once, the token
 * file, `sync run` on a follower running on the leader, failover after `kill -9` of the leader, a
 * paused leader that writes nothing after it lost the lease, and agents behind a real HAProxy that
 * keep checking in while a node dies.
 *
 * Leases are 3 s here (`--lease-ttl 3s`, the smallest allowed) so that failover is quick; what is
 * awaited across processes is the line a process prints when it happens (support/output-watch.ts).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseNetworkToken } from '../../src/domain/network-token.js';
import type { CertificateSummary, ClusterStatus, IssuedEnrollmentToken, RotationReport } from '../../src/transport/http-api/contract/index.js';
import { CliSession } from '../support/cli.js';
import { createTestDatabase, databaseUnavailable, type TestDatabase } from '../support/databases.js';
import { startHaproxy, type RunningHaproxy } from '../support/haproxy.js';
import { killAllServers, serveProcess, type Serving } from '../support/serve-process.js';

const ADMIN_PASSWORD = 'cluster-admin-password';
const MASTER_KEY = Buffer.alloc(32, 7).toString('base64');
const LEASE = ['--lease-ttl', '3s', '--sync-interval', '1h'];
const env = { CERTFLEET_ADMIN_PASSWORD: ADMIN_PASSWORD, CERTFLEET_MASTER_KEY: MASTER_KEY };

const problem = databaseUnavailable('postgres');
const skip = problem !== null && process.env.CI !== 'true' ? problem : false;

function tokenSerial(file: string): number {
  const parsed = parseNetworkToken(readFileSync(file, 'utf8'));
  if (parsed.kind !== 'token') throw new Error(`${file} is not a network token: ${parsed.reason}`);
  return parsed.token.serial;
}

describe('a cluster of two real nodes on PostgreSQL (H1–H5)', { skip }, () => {
  let db: TestDatabase;
  let a: Serving;
  let b: Serving;
  let dataA: string;
  let dataB: string;
  let cliA: CliSession;
  let cliB: CliSession;
  let lb: RunningHaproxy | null = null;
  const work = mkdtempSync(join(tmpdir(), 'certfleet-cluster-'));

  before(async () => {
    db = await createTestDatabase('postgres');
    dataA = mkdtempSync(join(tmpdir(), 'certfleet-node-a-'));
    dataB = mkdtempSync(join(tmpdir(), 'certfleet-node-b-'));
    a = await serveProcess({ dataDir: dataA, db: db.url, env, args: LEASE });
    cliA = new CliSession(a.url);
    await cliA.login('admin', ADMIN_PASSWORD);
  });

  after(async () => {
    await lb?.stop();
    killAllServers();
    await db?.drop();
  });

  it('refuses a new node without the current token, names the serials and where it is; takes it with the token', async () => {
    assert.equal(a.leaderAtStart, true, 'the first node leads');
    // No token at all.
    const none = await serveProcess({ dataDir: dataB, db: db.url, env, args: LEASE }).then(
      () => assert.fail('a new node without a token must not start'),
      (e: { exitCode: number; output: string }) => e,
    );
    assert.notEqual(none.exitCode, 0);
    assert.match(none.output, /join_token_required.*--join-token FILE.*serial 2/s);
    assert.throws(() => statSync(join(dataB, 'node-id')), { code: 'ENOENT' }, 'a refused node keeps no id');

    // An outdated token: exported, then the keystore changed.
    const old = join(work, 'old-token');
    assert.equal((await cliA.run(['cluster', 'token', '--out', old])).code, 0);
    assert.equal(statSync(old).mode & 0o777, 0o600);
    const oldSerial = tokenSerial(old);
    await cliA.json(['cert', 'generate', '--alias', 'ec1', '--sig-alg', 'SHA256withECDSA']);
    const outdated = await serveProcess({ dataDir: dataB, db: db.url, env, args: [...LEASE, '--join-token', old] }).then(
      () => assert.fail('an outdated token must not admit a node'),
      (e: { exitCode: number; output: string }) => e,
    );
    assert.match(outdated.output, new RegExp(`join_token_refused.*serial ${oldSerial}.*current serial is ${oldSerial + 1}.*certfleet-network-token`, 's'));

    // A forged one: the current token with another signature.
    const current = join(work, 'token');
    assert.equal((await cliA.run(['cluster', 'token', '--out', current])).code, 0);
    const forgedFile = join(work, 'forged');
    const forged = JSON.parse(readFileSync(current, 'utf8')) as Record<string, unknown>; // the token file is JSON
    writeFileSync(forgedFile, JSON.stringify({ ...forged, signature: Buffer.alloc(64, 9).toString('base64url') }));
    const refused = await serveProcess({ dataDir: dataB, db: db.url, env, args: [...LEASE, '--join-token', forgedFile] }).then(
      () => assert.fail('a forged token must not admit a node'),
      (e: { exitCode: number; output: string }) => e,
    );
    assert.match(refused.output, /join_token_refused.*not signed by this cluster/s);

    b = await serveProcess({ dataDir: dataB, db: db.url, env, args: [...LEASE, '--join-token', current] });
    assert.equal(b.leaderAtStart, false, 'the second node follows');
    cliB = new CliSession(b.url);
    await cliB.login('admin', ADMIN_PASSWORD);
  });

  it('shows both nodes, the leader and the token in cluster status --json', async () => {
    const s = await cliB.json<ClusterStatus>(['cluster', 'status']);
    assert.deepEqual(Object.keys(s).sort(), ['clusterId', 'keystoreRevision', 'leader', 'networkToken', 'nodes'].sort());
    assert.equal(s.leader, a.nodeId);
    assert.deepEqual(s.nodes.map((n) => n.id).sort(), [a.nodeId, b.nodeId].sort());
    for (const n of s.nodes) {
      assert.deepEqual(Object.keys(n).sort(), ['alive', 'apiAddress', 'deviceAddress', 'id', 'isLeader', 'lastHeartbeatAt', 'name', 'servedRevision', 'startedAt', 'version'].sort());
      assert.equal(n.alive, true);
      assert.equal(n.isLeader, n.id === a.nodeId);
    }
    assert.equal(s.networkToken.serial, tokenSerial(join(dataA, 'certfleet-network-token')));
  });

  it('serves a default changed on A from B at once, rewrites the token file on every node, and runs sync run from B on the leader', async () => {
    const serialBefore = tokenSerial(join(dataB, 'certfleet-network-token'));
    const tokenFile = join(work, 'enroll');
    const issued = await cliA.json<IssuedEnrollmentToken>(['enroll', 'create', '--uses', '10']);
    writeFileSync(tokenFile, issued.token);
    const stateDir = join(work, 'agent');
    // An agent registered through B pins the default of the time, tckey.
    const first = await cliB.json<{ pinnedAlias: string }>(['agent', '--server', b.deviceAddress, '--state', stateDir, '--token-file', tokenFile, '--once']);
    assert.equal(first.pinnedAlias, 'tckey');

    const mark = b.watch.mark();
    const changed = Date.now();
    await cliA.json<CertificateSummary[]>(['cert', 'default', 'ec1']);
    const status = await cliA.json<ClusterStatus>(['cluster', 'status']);
    const served = await b.watch.waitFor(new RegExp(`"revision":${status.keystoreRevision},[^\n]*"msg":"serving keystore revision"`), "B's device channel serves the new revision", 2000 + (Date.now() - changed), mark);
    // From A's commit to B serving it, by the two nodes' own log lines (the CLI runs around them
    // take their own time on a loaded machine).
    const lineTime = (line: string) => (JSON.parse(line) as { time: number }).time; // pino's JSON line, epoch ms
    const servedLine = b.output().slice(mark).split('\n').find((l) => l.includes(served[0])) ?? '';
    const changedLine = a.output().split('\n').find((l) => l.includes(`"revision":${status.keystoreRevision},`) && l.includes('"msg":"keystore changed"')) ?? '';
    assert.ok(lineTime(servedLine) - lineTime(changedLine) < 2000, `served ${lineTime(servedLine) - lineTime(changedLine)} ms after the change`);
    const s = await cliB.json<ClusterStatus>(['cluster', 'status']);
    assert.equal(s.nodes.find((n) => n.id === b.nodeId)?.servedRevision, status.keystoreRevision);
    await b.watch.waitFor(new RegExp(`"serial":${serialBefore + 1},[^\n]*"msg":"wrote the network token"`), 'B writes the new token file', 2000, mark);
    assert.equal(tokenSerial(join(dataB, 'certfleet-network-token')), serialBefore + 1);
    assert.equal(tokenSerial(join(dataA, 'certfleet-network-token')), serialBefore + 1);

    // sync run on the follower: the leader runs the pass and B answers with its report.
    const report = await cliB.json<RotationReport>(['sync', 'run']);
    assert.equal(report.defaultAlias, 'ec1');
    // The agent, checking in through B, gets the replacement and confirms it.
    await cliB.json(['agent', '--server', b.deviceAddress, '--state', stateDir, '--once']);
    const after = await cliB.json<{ pinnedAlias: string }>(['agent', '--server', b.deviceAddress, '--state', stateDir, '--once']);
    assert.equal(after.pinnedAlias, 'ec1');
    // Check-ins change no certificate: the token file stays as it is.
    assert.equal(tokenSerial(join(dataB, 'certfleet-network-token')), serialBefore + 1);
  });

  it('keeps agents behind HAProxy checking in while a node is killed, and another node takes the lease within its time', async () => {
    const balancer = await startHaproxy(
      [
        { name: 'a', device: a.deviceAddress, api: a.url.replace('http://', '') },
        { name: 'b', device: b.deviceAddress, api: b.url.replace('http://', '') },
      ],
      500,
    );
    lb = balancer;
    const tokenFile = join(work, 'enroll-lb');
    writeFileSync(tokenFile, (await cliA.json<IssuedEnrollmentToken>(['enroll', 'create', '--uses', '10'])).token);
    const states = [join(work, 'lb-1'), join(work, 'lb-2'), join(work, 'lb-3')];
    for (const s of states) {
      const r = await cliB.json<{ pinnedAlias: string }>(['agent', '--server', balancer.address, '--state', s, '--token-file', tokenFile, '--once']);
      assert.equal(r.pinnedAlias, 'ec1', 'registered through the balancer with the default');
    }

    const killedAt = Date.now();
    const mark = b.watch.mark();
    a.child.kill('SIGKILL');
    await a.exited;
    // Devices keep checking in through the balancer: it sends them to B.
    for (const s of states) {
      const r = await cliB.run(['agent', '--server', balancer.address, '--state', s, '--once', '--json']);
      assert.equal(r.code, 0, r.stderr);
    }
    await b.watch.waitFor(/took the rotation lease/, 'B takes the rotation lease', 3000 + 2000, mark);
    // When B took the lease: the time of its log line, not of this check, which comes after the
    // agents' runs above (each a process of its own, slow on a loaded machine).
    const line = b.output().slice(mark).split('\n').find((l) => l.includes('took the rotation lease')) ?? '';
    const tookAt = (JSON.parse(line) as { time: number }).time; // pino's JSON line, epoch ms
    assert.ok(tookAt - killedAt <= 3000 + 2000, `failover after ${tookAt - killedAt} ms`);
    const s = await cliB.json<ClusterStatus>(['cluster', 'status']);
    assert.equal(s.leader, b.nodeId);
    assert.equal(s.nodes.find((n) => n.id === a.nodeId)?.alive, false, 'the killed node is marked stale');
    // The new leader runs the rotation.
    assert.equal((await cliB.json<RotationReport>(['sync', 'run'])).defaultAlias, 'ec1');
  });

  it('lets a restarted node in without a token, and a paused leader writes nothing once its lease is gone', async () => {
    // A restarts: known, so no token is needed.
    a = await serveProcess({ dataDir: dataA, db: db.url, env, args: LEASE });
    assert.equal(a.leaderAtStart, false, 'B leads now');
    // Pause the leader past its lease: A takes over; B, resumed, finds its lease lost and stops.
    const markB = b.watch.mark();
    b.child.kill('SIGSTOP');
    try {
      await a.watch.waitFor(/took the rotation lease/, 'A takes the lease from the paused B', 3000 + 3000);
      assert.equal(await leaderSeenFrom(a), a.nodeId);
    } finally {
      b.child.kill('SIGCONT');
    }
    await b.watch.waitFor(/lost the rotation lease/, 'B notices it lost the lease', 3000, markB);
    assert.doesNotMatch(b.output().split('lost the rotation lease')[1] ?? '', /"msg":"rotation pass"/, 'B ran no pass after it lost the lease');
  });
});

async function leaderSeenFrom(node: Serving): Promise<string | null> {
  const cli = new CliSession(node.url);
  await cli.login('admin', ADMIN_PASSWORD);
  return (await cli.json<ClusterStatus>(['cluster', 'status'])).leader;
}

describe('a rotation that survives kill -9 of the leader, over 200 simulated devices behind HAProxy (H4)', { skip }, () => {
  let db: TestDatabase;
  let lb: RunningHaproxy | null = null;
  const work = mkdtempSync(join(tmpdir(), 'certfleet-failover-'));
  after(async () => {
    await lb?.stop();
    killAllServers();
    await db?.drop();
  });

  it('moves every device to the new default, each replaced exactly once, although the leader died as the default changed', { timeout: 180_000 }, async () => {
    const DEVICES = 200;
    db = await createTestDatabase('postgres');
    const a = await serveProcess({ dataDir: mkdtempSync(join(tmpdir(), 'certfleet-fa-')), db: db.url, env, args: LEASE });
    const cliA = new CliSession(a.url);
    await cliA.login('admin', ADMIN_PASSWORD);
    await cliA.json(['cert', 'generate', '--alias', 'next', '--sig-alg', 'SHA256withECDSA']);
    const tokenFile = join(work, 'token');
    assert.equal((await cliA.run(['cluster', 'token', '--out', tokenFile])).code, 0);
    const b = await serveProcess({ dataDir: mkdtempSync(join(tmpdir(), 'certfleet-fb-')), db: db.url, env, args: [...LEASE, '--join-token', tokenFile] });
    const cliB = new CliSession(b.url);
    await cliB.login('admin', ADMIN_PASSWORD);
    const balancer = await startHaproxy(
      [
        { name: 'a', device: a.deviceAddress, api: a.url.replace('http://', '') },
        { name: 'b', device: b.deviceAddress, api: b.url.replace('http://', '') },
      ],
      500,
    );
    lb = balancer;
    const enroll = join(work, 'enroll');
    writeFileSync(enroll, (await cliA.json<IssuedEnrollmentToken>(['enroll', 'create', '--uses', String(DEVICES)])).token);

    const simulation = cliB.start(
      ['simulate', '--server', balancer.address, '--token-file', enroll, '--devices', String(DEVICES), '--mix', 'igel-os-12=1', '--interval', '4s', '--duration', '45s', '--concurrency', '16', '--json'],
      { timeoutMs: 120_000 },
    );
    // Once the fleet is registered on tckey, the default changes through B, and the leader dies.
    await simulation.watch.waitFor(new RegExp(`registered ${DEVICES}/${DEVICES}`), 'the fleet registered', 60_000);
    assert.equal(await registeredCount(cliB), DEVICES);
    await cliB.json(['cert', 'default', 'next']);
    a.child.kill('SIGKILL');
    await a.exited;

    const r = await simulation.done;
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as { registered: number; onDefault: number; replacements: number; default: { alias: string | null } }; // the simulator's --json summary
    assert.equal(summary.registered, DEVICES);
    assert.equal(summary.default.alias, 'next');
    assert.equal(summary.onDefault, DEVICES, 'every device ends on the new default');
    assert.equal(summary.replacements, DEVICES, 'each device was replaced exactly once');
    const status = await cliB.json<ClusterStatus>(['cluster', 'status']);
    assert.equal(status.leader, b.nodeId);
  });
});

async function registeredCount(cli: CliSession): Promise<number> {
  return (await cli.json<{ count: number }>(['device', 'list', '--limit', '1'])).count;
}
