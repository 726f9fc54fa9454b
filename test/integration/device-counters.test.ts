/**
 * The device counters (issue 11, migration 0008) on both databases: after rounds of concurrent
 * registrations, check-ins (some with new firmware, which changes a mask), confirmed replacements,
 * default changes with rotation passes and deletions, and after a restore, every certificate's
 * pinned and pending counts and every cohort equal what count(*) over the devices says.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { it } from 'node:test';
import { createBackup, restoreBackup } from '../../src/app/backup.js';
import { Reorder, reorderCertificate } from '../../src/app/certificates.js';
import { SYSTEM_ACTOR } from '../../src/app/context.js';
import { authenticateDevice, checkInDevice, confirmReplacement, getOwnDevice } from '../../src/app/device-check-in.js';
import { deleteDevice } from '../../src/app/devices.js';
import type { RegisterResult } from '../../src/app/register-device.js';
import { runRotation } from '../../src/app/rotation.js';
import { isCertfleetError } from '../../src/domain/errors.js';
import { MIGRATION_NAMES } from '../../src/storage/migrations/index.js';
import { testAppContext, type TestAppContext } from '../support/app-context.js';
import { forEachDatabase, type TestDatabase } from '../support/databases.js';
import { deviceKeystore, pinning, rawSql, registerProfile, type TestKeystore } from '../support/device-fleet.js';

const PROFILES = ['igel-os-12', 'igel-os-11', 'igel-linux-4.01.650', 'windows-7-embedded-3.08.100'] as const;
/** Firmware a check-in may report: an IGEL OS 11 device updated to 12 supports SHA512withRSA. */
const OS_VERSIONS = [undefined, undefined, '12.4.2', '11.10.150'] as const;
const ROUNDS = 6;
const OPERATIONS_PER_ROUND = 16;

/** A small deterministic generator (mulberry32), so that a failing mix can be run again. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

/** What count(*) over the devices says, per certificate: pinned, and pending through the rotation target (storage/pending.ts). */
async function countedByScan(db: TestDatabase, certificateId: string): Promise<{ pinned: number; pending: number }> {
  const [pinned] = await rawSql(db, 'select count(*) as n from devices where certificate_id = $1', [certificateId]);
  const [pending] = await rawSql(
    db,
    `select count(*) as n from devices d join rotation_state r on r.id = 1 and r.target_certificate_id = $1
     where d.certificate_id <> $2 and (d.supported_mask & r.target_bit) <> 0`,
    [certificateId, certificateId],
  );
  return { pinned: Number(pinned?.['n']), pending: Number(pending?.['n']) };
}

async function assertCountersExact(ctx: TestAppContext, db: TestDatabase, when: string): Promise<void> {
  const total = Number((await rawSql(db, 'select count(*) as n from devices'))[0]?.['n']);
  for (const entry of await ctx.store.keystore.list()) {
    const scanned = await countedByScan(db, entry.id);
    assert.deepEqual(entry.usage, scanned, `${when}: keystore.list() usage of ${entry.alias} equals count(*)`);
    assert.deepEqual(await ctx.store.keystore.usage(entry.id), scanned, `${when}: keystore.usage(${entry.alias}) equals count(*)`);
    const listed = await ctx.store.devices.list({ offset: 0, limit: 0, certificateId: entry.id });
    assert.equal(listed.count, scanned.pinned + scanned.pending, `${when}: the device list's count for ${entry.alias} equals count(*)`);
  }
  assert.equal((await ctx.store.devices.list({ offset: 0, limit: 0 })).count, total, `${when}: the device list's total equals count(*)`);
  const cohorts = await ctx.store.rotation.cohorts();
  const grouped = await rawSql(db, 'select certificate_id, supported_mask, count(*) as n from devices group by certificate_id, supported_mask');
  const key = (certificateId: unknown, mask: unknown) => `${String(certificateId)}/${Number(mask)}`;
  assert.deepEqual(
    new Map(cohorts.map((c) => [key(c.certificateId, c.supportedMask), c.count])),
    new Map(grouped.map((g) => [key(g['certificate_id'], g['supported_mask']), Number(g['n'])])),
    `${when}: the rotation cohorts (certificate × mask) equal a grouped count(*)`,
  );
  assert.equal(cohorts.reduce((sum, c) => sum + c.count, 0), total, `${when}: the cohorts add up to every device`);
}

/** Refusals are part of a random mix (a device deleted twice, a replacement another pass took back); anything else fails the test. */
async function tolerated(op: Promise<unknown>): Promise<void> {
  try {
    await op;
  } catch (e) {
    if (!isCertfleetError(e)) throw e;
  }
}

/** What the mix did, so that the test knows it changed pins and masks rather than only adding rows. */
interface Tally {
  switched: number;
  masksChanged: number;
  deleted: number;
}

async function checkInAndConfirm(ctx: TestAppContext, ks: TestKeystore, device: RegisterResult, osVersion: string | undefined, tally: Tally): Promise<void> {
  const identity = await authenticateDevice(ctx, device.credential);
  const own = await getOwnDevice(ctx, identity);
  const pinned = [ks.tckey, ks.legacy, ks.ec].find((c) => c.id === own.certificateId);
  assert.ok(pinned, `the device pins one of the test keystore's certificates (${own.certificateId})`);
  const told = await checkInDevice(ctx, identity, pinning(pinned), osVersion === undefined ? {} : { osVersion });
  const after = await getOwnDevice(ctx, identity);
  if (after.supportedAlgorithms.join() !== own.supportedAlgorithms.join()) tally.masksChanged++;
  if (!told.replacement) return;
  await confirmReplacement(ctx, identity, pinning(told.replacement), told.replacement.sha256Fingerprint);
  tally.switched++;
}

class Collect extends Writable {
  readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.chunks.push(chunk);
    cb();
  }
}

/** A backup of the store now, restored over it once the caller has changed more. */
async function backupNow(ctx: TestAppContext): Promise<() => Promise<unknown>> {
  const out = new Collect();
  const passphrase = 'counters counted again';
  await createBackup(ctx, SYSTEM_ACTOR, out, {
    passphrase, serverVersion: 'test', schemaVersion: MIGRATION_NAMES.at(-1) ?? '', scryptLogN: 10, trigger: 'manual', nodeId: null, file: null,
  });
  const bytes = Buffer.concat(out.chunks);
  return () =>
    restoreBackup(ctx, SYSTEM_ACTOR, () => (async function* () { yield bytes; })(), {
      passphrase, dryRun: false, keepCurrentCertificates: false, knownMigrations: MIGRATION_NAMES, file: null,
    });
}

forEachDatabase('device counters', (db) => {
  const fresh = db.storePerTest();

  it('equal count(*) for every certificate after concurrent registrations, check-ins, rotations, deletions and a restore', async () => {
    const ctx = testAppContext(fresh.store);
    const ks = await deviceKeystore(ctx);
    const random = seeded(11);
    const devices: RegisterResult[] = [];
    const tally: Tally = { switched: 0, masksChanged: 0, deleted: 0 };
    await assertCountersExact(ctx, fresh.database, 'empty');
    let restoreLater: (() => Promise<unknown>) | null = null;

    for (let round = 0; round < ROUNDS; round++) {
      const operations: Promise<void>[] = [];
      for (let i = 0; i < OPERATIONS_PER_ROUND; i++) {
        const roll = random();
        if (roll < 0.45 || devices.length === 0) {
          operations.push(tolerated(registerProfile(ctx, pick(random, PROFILES)).then((d) => void devices.push(d))));
        } else if (roll < 0.75) {
          operations.push(tolerated(checkInAndConfirm(ctx, ks, pick(random, devices), pick(random, OS_VERSIONS), tally)));
        } else if (roll < 0.87) {
          const alias = pick(random, [ks.tckey, ks.legacy, ks.ec]).alias;
          operations.push(tolerated(reorderCertificate(ctx, SYSTEM_ACTOR, alias, Reorder.makeDefault).then(() => runRotation(ctx, SYSTEM_ACTOR))));
        } else {
          operations.push(tolerated(deleteDevice(ctx, SYSTEM_ACTOR, pick(random, devices).deviceId).then(() => void tally.deleted++)));
        }
      }
      await Promise.all(operations);
      await assertCountersExact(ctx, fresh.database, `after round ${round + 1}`);
      if (round === 2) restoreLater = await backupNow(ctx);
    }
    assert.ok(devices.length > 20, `enough devices registered to count (${devices.length})`);
    assert.ok(tally.switched > 0 && tally.masksChanged > 0 && tally.deleted > 0, `the mix switched pins, changed masks and deleted devices (${JSON.stringify(tally)})`);

    assert.ok(restoreLater, 'a backup was taken half-way');
    await restoreLater();
    await assertCountersExact(ctx, fresh.database, 'after the restore');
    // The triggers are back after a restore (SQLite takes them away during the load).
    await registerProfile(ctx, 'igel-os-11');
    await deleteDevice(ctx, SYSTEM_ACTOR, (devices[0] as RegisterResult).deviceId);
    await assertCountersExact(ctx, fresh.database, 'after a registration and a deletion following the restore');
  });
});
