/**
 * The cluster's state on both databases (H1, H3, H4): the cluster row made once, a network token
 * for every certificate change and for nothing else, joining with the current token only, and
 * the rotation lease with its epoch and its fence.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { admitNode, ensureCluster, issueNetworkToken, registerNode, ROTATION_LEASE, setTokenLocation, type NodeIdentity } from '../../src/app/cluster.js';
import { generateCertificate, reorderCertificate, Reorder, setCertificateActive, deleteCertificate } from '../../src/app/certificates.js';
import { SYSTEM_ACTOR } from '../../src/app/context.js';
import { runRotation } from '../../src/app/rotation.js';
import { ClusterMember } from '../../src/jobs/cluster-member.js';
import { writeFileAtomic } from '../../src/storage/atomic-file.js';
import { formatNetworkToken, parseNetworkToken } from '../../src/domain/network-token.js';
import { keystoreDigest, verifyNetworkToken } from '../../src/crypto/network-token-signer.js';
import { testAppContext, fixedClock, type TestAppContext } from '../support/app-context.js';
import { forEachDatabase } from '../support/databases.js';
import { deviceKeystore, rawSql } from '../support/device-fleet.js';
import { refusedWith } from '../support/refusals.js';
import { FakeTime } from '../support/fake-time.js';

const T0 = '2030-01-01T00:00:00.000Z';

function node(id: string): NodeIdentity {
  return { id, name: `host-${id}`, apiAddress: '127.0.0.1:8080', deviceAddress: '127.0.0.1:30001', version: '0.1.0', servedRevision: 1 };
}

forEachDatabase('cluster', (db) => {
  const fresh = db.storePerTest();
  let ctx: TestAppContext;
  const setup = async () => {
    ctx = testAppContext(fresh.store, { clock: fixedClock(T0) });
    await deviceKeystore(ctx);
    return ensureCluster(ctx);
  };

  it('is made once, with a first token that describes the keystore and is signed by the cluster key', async () => {
    const cluster = await setup();
    const again = await ensureCluster(testAppContext(await fresh.database.open(), { clock: fixedClock(T0) }));
    assert.equal(again.id, cluster.id, 'a second node finds the same cluster');
    assert.equal(cluster.token.serial, 1);
    assert.equal(cluster.token.keystoreDigest, keystoreDigest(await fresh.store.keystore.deviceEntries()));
    assert.equal(verifyNetworkToken(cluster.token, cluster.signingPublicKey), true);
    // The private half is sealed under the master key, not stored in the clear.
    assert.equal(cluster.signingPrivateKeySealed.includes(Buffer.from('302e020100300506032b6570', 'hex')), false);
  });

  it('issues a new token for every certificate change, and none for a change that changes nothing', async () => {
    await setup();
    const serial = async () => (await fresh.store.cluster.get())?.token.serial;
    const entries = (await fresh.store.keystore.list()).map((e) => e.alias);
    assert.equal(await serial(), 1);
    await generateCertificate(ctx, SYSTEM_ACTOR, { alias: 'extra', signatureAlgorithm: 'SHA256withECDSA', days: 30 });
    assert.equal(await serial(), 2, 'generate');
    await reorderCertificate(ctx, SYSTEM_ACTOR, 'extra', Reorder.up);
    assert.equal(await serial(), 3, 'move up');
    await setCertificateActive(ctx, SYSTEM_ACTOR, 'extra', false);
    assert.equal(await serial(), 4, 'deactivate');
    await setCertificateActive(ctx, SYSTEM_ACTOR, 'extra', false);
    assert.equal(await serial(), 4, 'deactivating an inactive entry changes nothing');
    await deleteCertificate(ctx, SYSTEM_ACTOR, 'extra');
    assert.equal(await serial(), 5, 'delete');
    const cluster = await fresh.store.cluster.get();
    assert.equal(cluster?.token.keystoreDigest, keystoreDigest(await fresh.store.keystore.deviceEntries()));
    assert.deepEqual((await fresh.store.keystore.list()).map((e) => e.alias), entries, 'back to the keystore it started with');
    // The digest is that of the first token again (same keystore), but the serial only grows.
    assert.equal(await fresh.store.transaction((tx) => issueNetworkToken(ctx, tx)), null, 'nothing changed since: no token');
  });

  it('lets the first node in, then only nodes that bring the current token; a known node needs none', async () => {
    const cluster = await setup();
    const joinCluster = async (req: { node: NodeIdentity; joinToken: string | null; dataDir: string }) => {
      const joined = await admitNode(ctx, { nodeId: req.node.id, joinToken: req.joinToken, dataDir: req.dataDir });
      await registerNode(ctx, req.node);
      return { joined };
    };
    assert.deepEqual(await joinCluster({ node: node('a'), joinToken: null, dataDir: '/data/a' }), { joined: 'first' });
    await assert.rejects(joinCluster({ node: node('b'), joinToken: null, dataDir: '/data/b' }), refusedWith('join_token_required'));

    const first = formatNetworkToken(cluster.token);
    assert.deepEqual(await joinCluster({ node: node('b'), joinToken: first, dataDir: '/data/b' }), { joined: 'token' });
    assert.deepEqual(await joinCluster({ node: node('b'), joinToken: null, dataDir: '/data/b' }), { joined: 'known' });

    await generateCertificate(ctx, SYSTEM_ACTOR, { alias: 'later', signatureAlgorithm: 'SHA256withECDSA', days: 30 });
    await assert.rejects(joinCluster({ node: node('c'), joinToken: first, dataDir: '/data/c' }), (e: unknown) => {
      refusedWith('join_token_refused')(e);
      assert.match(String((e as Error).message), /serial 1.*current serial is 2/s); // checked to be a CertfleetError above
      return true;
    });
    const current = (await fresh.store.cluster.get())?.token;
    assert.ok(current !== undefined && current.serial === 2);
    const forged = formatNetworkToken({ ...current, signature: Buffer.alloc(64, 1).toString('base64url') });
    await assert.rejects(joinCluster({ node: node('c'), joinToken: forged, dataDir: '/data/c' }), (e: unknown) => {
      refusedWith('join_token_refused')(e);
      assert.match(String((e as Error).message), /not signed by this cluster/);
      return true;
    });
    assert.deepEqual(await joinCluster({ node: node('c'), joinToken: formatNetworkToken(current), dataDir: '/data/c' }), { joined: 'token' });
    assert.deepEqual((await fresh.store.cluster.nodes()).map((n) => n.id).sort(), ['a', 'b', 'c']);
  });

  it('hands the rotation lease to one holder at a time, with a new epoch for each, and fences the old one', async () => {
    await setup();
    const leases = fresh.store.leases;
    const at = (s: number) => new Date(Date.parse(T0) + s * 1000).toISOString();
    const a = await leases.acquire(ROTATION_LEASE, 'a', at(0), at(15));
    assert.equal(a, 1);
    assert.equal(await leases.acquire(ROTATION_LEASE, 'b', at(5), at(20)), null, 'a holds it');
    const heldA = { name: ROTATION_LEASE, holder: 'a', epoch: 1 };
    assert.equal(await leases.renew(heldA, at(10), at(25)), true);
    assert.equal(await leases.acquire(ROTATION_LEASE, 'b', at(20), at(35)), null, 'renewed until 25 s');
    assert.equal(await leases.holds(heldA, at(24)), true);
    // a stops renewing; after 25 s b takes over under epoch 2
    assert.equal(await leases.acquire(ROTATION_LEASE, 'b', at(26), at(41)), 2);
    assert.equal(await leases.holds(heldA, at(27)), false, 'the former holder is fenced off');
    assert.equal(await leases.renew(heldA, at(27), at(42)), false, 'and cannot renew');
    const heldB = { name: ROTATION_LEASE, holder: 'b', epoch: 2 };
    await leases.release(heldB);
    assert.deepEqual(await leases.state(ROTATION_LEASE), { holder: null, epoch: 2, expiresAt: null });
    assert.equal(await leases.acquire(ROTATION_LEASE, 'a', at(28), at(43)), 3, 'released: taken at once, under a new epoch');
  });

  if (db.dialect === 'postgres') {
    it('makes a takeover wait until the transaction that checked the fence has ended (PostgreSQL)', async () => {
      await setup();
      const other = await fresh.database.open();
      const at = (s: number) => new Date(Date.parse(T0) + s * 1000).toISOString();
      assert.equal(await fresh.store.leases.acquire(ROTATION_LEASE, 'a', at(0), at(15)), 1);
      const heldA = { name: ROTATION_LEASE, holder: 'a', epoch: 1 };
      const order: string[] = [];
      let releaseA!: () => void;
      const aMayCommit = new Promise<void>((resolve) => (releaseA = resolve));
      let aChecked!: () => void;
      const aHasChecked = new Promise<void>((resolve) => (aChecked = resolve));
      const passOfA = fresh.store.transaction(async (tx) => {
        assert.equal(await tx.leases.holds(heldA, at(14)), true);
        aChecked();
        await aMayCommit;
        order.push('a commits');
      });
      await aHasChecked;
      const takeover = other.leases.acquire(ROTATION_LEASE, 'b', at(16), at(31)).then((epoch) => {
        order.push('b takes over');
        return epoch;
      });
      // b's UPDATE is now queued behind a's share lock: wait until PostgreSQL says so.
      for (let i = 0; i < 500; i++) {
        const [row] = await rawSql(
          fresh.database,
          `select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and query ilike 'update "cluster_lease"%'`,
        );
        if (row?.['n'] === 1) break;
      }
      assert.deepEqual(order, [], 'b waits while a has not committed');
      releaseA();
      await passOfA;
      assert.equal(await takeover, 2);
      assert.deepEqual(order, ['a commits', 'b takes over']);
    });
  }
});

forEachDatabase('cluster member (heartbeat, lease, fence, token file) on fake time', (db) => {
  const fresh = db.storePerTest();

  it('leads, fences off a pass once another node took the lease, notices the loss at its next heartbeat, and keeps the token file current', async () => {
    const time = new FakeTime(T0);
    const ctx = testAppContext(fresh.store, { clock: time });
    await deviceKeystore(ctx);
    await ensureCluster(ctx);
    await registerNode(ctx, node('a'));
    const dataDir = mkdtempSync(join(tmpdir(), 'certfleet-member-'));
    const leadership: boolean[] = [];
    const member = new ClusterMember({
      ctx,
      nodeId: 'a',
      dataDir,
      leaseTtlMs: 3000,
      scheduler: time,
      log: { info: () => undefined, warn: () => undefined, error: () => undefined },
      servedRevision: () => 7,
      onLeadership: (leader) => leadership.push(leader),
      writeFile: writeFileAtomic,
    });
    await member.start();
    assert.deepEqual(leadership, [true]);
    assert.equal((await fresh.store.cluster.findNode('a'))?.servedRevision, 7, 'the heartbeat reports the served revision');
    const tokenFile = join(dataDir, 'certfleet-network-token');
    assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
    const serial = (await fresh.store.cluster.get())?.token.serial;
    assert.equal(parseNetworkToken(readFileSync(tokenFile, 'utf8')).kind === 'token' && serial !== undefined, true);

    const report = await runRotation(ctx, SYSTEM_ACTOR, member.fence);
    assert.equal(report.defaultAlias, 'tckey');
    const planned = (await fresh.store.rotation.target()).plannedAt;

    // Node b takes the lease after it expired on b's clock (a was paused, say): a's pass is refused.
    const later = new Date(Date.parse(T0) + 10_000);
    assert.equal(await fresh.store.leases.acquire(ROTATION_LEASE, 'b', later.toISOString(), new Date(later.getTime() + 3000).toISOString()), 2);
    await generateCertificate(ctx, SYSTEM_ACTOR, { alias: 'next', signatureAlgorithm: 'SHA256withECDSA', days: 30 });
    await reorderCertificate(ctx, SYSTEM_ACTOR, 'next', Reorder.makeDefault);
    await assert.rejects(runRotation(ctx, SYSTEM_ACTOR, member.fence), refusedWith('lease_lost'));
    assert.equal((await fresh.store.rotation.target()).plannedAt, planned, 'the fenced pass wrote nothing');

    // At its next heartbeat (a third of the lease on), a learns that it lost the lease, and rewrites the token file.
    await time.advance(1000);
    await member.idle();
    assert.deepEqual(leadership, [true, false]);
    assert.equal(member.isLeader, false);
    const parsed = parseNetworkToken(readFileSync(tokenFile, 'utf8'));
    assert.equal(parsed.kind === 'token' ? parsed.token.serial : null, (await fresh.store.cluster.get())?.token.serial);

    // `cluster token-location set DIR`: every node writes there from now on; a relative path is refused.
    const shared = mkdtempSync(join(tmpdir(), 'certfleet-shared-'));
    await assert.rejects(setTokenLocation(ctx, SYSTEM_ACTOR, 'relative/dir'), refusedWith('invalid_request'));
    await setTokenLocation(ctx, SYSTEM_ACTOR, shared);
    await member.syncTokenFile();
    const moved = parseNetworkToken(readFileSync(join(shared, 'certfleet-network-token'), 'utf8'));
    assert.equal(moved.kind === 'token' ? moved.token.serial : null, (await fresh.store.cluster.get())?.token.serial);
    // A location no node can write to is reported, never a reason to refuse a change.
    await setTokenLocation(ctx, SYSTEM_ACTOR, join(shared, 'missing', 'dir'));
    await member.syncTokenFile();
    assert.match((await fresh.store.cluster.findNode('a'))?.tokenWriteError ?? '', /ENOENT/);
    await generateCertificate(ctx, SYSTEM_ACTOR, { alias: 'still-possible', signatureAlgorithm: 'SHA256withECDSA', days: 30 });
    await member.stop();
  });
});
