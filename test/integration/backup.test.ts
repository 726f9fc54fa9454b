/**
 * Backup and restore (B1, B2) through the use cases on both databases, and across them: round
 * trips compared row by row, the restore report and the devices it marks, dry runs, and bad
 * backups that change nothing.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createBackup, inspectBackup, restoreBackup, type BackupOpener, type RestoreReport } from '../../src/app/backup.js';
import { deleteCertificate, generateCertificate } from '../../src/app/certificates.js';
import { LifecycleEventStep, setLifecycle } from '../../src/app/lifecycle.js';
import { SYSTEM_ACTOR, type Actor } from '../../src/app/context.js';
import { authenticateDevice, checkInByCredential, checkInDevice } from '../../src/app/device-check-in.js';
import type { StoredCertificate } from '../../src/app/records.js';
import { algorithmBit } from '../../src/domain/compatibility.js';
import { createEnrollmentToken } from '../../src/app/enrollment.js';
import { listDevices } from '../../src/app/devices.js';
import { registerDevice } from '../../src/app/register-device.js';
import type { Store } from '../../src/app/store.js';
import { BACKUP_FORMAT_VERSION, BACKUP_TABLES, backupTablesOf, ReRegistrationReason, type BackupHeader, type BackupTable } from '../../src/domain/backup.js';
import { SuccessionRole, SuccessionState, type Succession } from '../../src/domain/lifecycle.js';
import { ErrorCode } from '../../src/domain/errors.js';
import { PROFILE_IDENTITY } from '../../src/domain/compatibility.js';
import { MIGRATION_NAMES } from '../../src/storage/migrations/index.js';
import { BackupFileWriter, readBackupFile } from '../../src/crypto/backup-file.js';
import { testAppContext, type TestAppContext } from '../support/app-context.js';
import { createTestDatabase, forEachDatabase, TEST_DIALECTS, type TestDatabase } from '../support/databases.js';
import { deviceKeystore, pinning, registerProfile, type TestKeystore } from '../support/device-fleet.js';
import { refusedWith } from '../support/refusals.js';

const PASSPHRASE = 'correct horse battery staple';
/** Fast key derivation for tests; the product's default is 2^18. */
const LOG_N = 10;
const VIEWER: Actor = { userId: 'v', username: 'viewer', role: 'viewer', tokenId: null };

class Collect extends Writable {
  readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.chunks.push(chunk);
    cb();
  }
  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

async function backupOf(ctx: TestAppContext): Promise<Buffer> {
  const out = new Collect();
  await createBackup(ctx, SYSTEM_ACTOR, out, {
    passphrase: PASSPHRASE,
    serverVersion: 'test',
    schemaVersion: MIGRATION_NAMES.at(-1) ?? '',
    scryptLogN: LOG_N,
    trigger: 'manual',
    nodeId: null,
    file: null,
  });
  return out.bytes;
}

const opener = (bytes: Buffer): BackupOpener => () => (async function* () {
  // In pieces, as a file or an upload arrives.
  for (let i = 0; i < bytes.length; i += 7000) yield bytes.subarray(i, i + 7000);
})();

function restore(ctx: TestAppContext, bytes: Buffer, o: { dryRun?: boolean; keep?: boolean; passphrase?: string } = {}): Promise<RestoreReport> {
  return restoreBackup(ctx, SYSTEM_ACTOR, opener(bytes), {
    passphrase: o.passphrase ?? PASSPHRASE,
    dryRun: o.dryRun ?? false,
    keepCurrentCertificates: o.keep ?? false,
    knownMigrations: MIGRATION_NAMES,
    file: null,
  });
}

/** Every row of every table a backup holds, keys unsealed, ids as numbers: comparable across databases and master keys. */
async function dump(ctx: TestAppContext, skip: readonly string[] = []): Promise<Record<string, unknown[][]>> {
  const out: Record<string, unknown[][]> = {};
  await ctx.store.backups.readSnapshot(async (snap) => {
    for (const table of BACKUP_TABLES) {
      if (skip.includes(table)) continue;
      const columns = ctx.store.backups.columns(table);
      const page = await snap.page(table, null, 1_000_000);
      out[table] = page.rows.map((r) =>
        r.map((v, i) => {
          if (columns[i] === 'sealed_key') return ctx.sealer.open(v as Buffer, String(r[0])).toString('hex');
          if (Buffer.isBuffer(v)) return v.toString('hex');
          return v;
        }),
      );
    }
  });
  return out;
}

/**
 * A populated installation: three certificates, devices of new and old firmware, tokens, the
 * lifecycle turned on with a succession (legacy → ec) and its events, an audit log.
 */
async function populate(ctx: TestAppContext): Promise<TestKeystore> {
  const keystore = await deviceKeystore(ctx);
  await registerProfile(ctx, 'igel-os-12');
  await registerProfile(ctx, 'igel-os-11');
  await registerProfile(ctx, 'igel-linux-4.01.650');
  await createEnrollmentToken(ctx, SYSTEM_ACTOR, { uses: 5 });
  await setLifecycle(ctx, SYSTEM_ACTOR, { renewBefore: '60d', window: 'Sun 01:00-04:00', retireAfter: '14d' });
  await addSuccession(ctx, keystore.legacy, keystore.ec);
  return keystore;
}

/** A succession predecessor → successor as the lifecycle records one (by default the default's, `generated`), with its event. */
async function addSuccession(
  ctx: TestAppContext,
  predecessor: StoredCertificate,
  successor: StoredCertificate,
  o: Partial<Pick<Succession, 'role' | 'state'>> = {},
): Promise<Succession> {
  const succession: Succession = {
    id: ctx.random.uuid(),
    role: SuccessionRole.default,
    ...o,
    predecessorId: predecessor.id,
    predecessorAlias: predecessor.alias,
    successorId: successor.id,
    successorAlias: successor.alias,
    state: SuccessionState.generated,
    createdAt: ctx.clock.now().toISOString(),
    deactivatedAt: null,
    ...o,
  };
  await ctx.store.lifecycle.insertSuccession(succession);
  await ctx.store.lifecycle.appendEvent({ at: succession.createdAt, step: LifecycleEventStep.generated, alias: successor.alias, successionId: succession.id, details: { replaces: predecessor.alias } });
  return succession;
}

/**
 * A device moves to `to` the way a rotation moves it: `to` planned as the target, then the device
 * checks in pinning it, which confirms the replacement (a device may present no other pin).
 */
async function moveByRotation(ctx: TestAppContext, deviceId: string, to: StoredCertificate): Promise<void> {
  await ctx.store.rotation.setTarget(to.id, algorithmBit(to.facts.signatureAlgorithm), new Date().toISOString());
  await checkInDevice(ctx, { deviceId }, pinning(to), {});
}

/**
 * The backup `bytes` written again through `patch`: its header changed, and only the sections of
 * `tables` (a format-1 backup holds fewer). The rows are the same.
 */
async function rewrite(bytes: Buffer, patch: (h: BackupHeader) => BackupHeader, tables: readonly BackupTable[] = BACKUP_TABLES): Promise<Buffer> {
  const out = new Collect();
  const w = BackupFileWriter.open(out, { passphrase: PASSPHRASE, scryptLogN: LOG_N });
  let keep = false;
  for await (const item of readBackupFile(opener(bytes)(), PASSPHRASE, MIGRATION_NAMES)) {
    if (item.kind === 'header') await w.header(patch(item.header));
    else if (item.kind === 'section') {
      keep = tables.includes(item.table);
      if (keep) await w.section(item.table, item.columns);
    } else if (keep) await w.rows(item.rows);
  }
  await w.finish();
  return out.bytes;
}

/** The header of a format-1 backup of the same rows: version 1, counts of its tables only. */
const asFormat1 = (h: BackupHeader): BackupHeader => ({
  ...h,
  formatVersion: 1,
  counts: Object.fromEntries(backupTablesOf(1).map((t) => [t, h.counts[t]])),
});

/** The audit entries `lifecycle.ended` (target = predecessor alias, actor). */
async function endedAudits(ctx: TestAppContext): Promise<unknown[][]> {
  const audit = (await dump(ctx)).audit_log ?? [];
  return audit.filter((r) => r[3] === 'lifecycle.ended').map((r) => [r[4], r[2]]);
}

forEachDatabase('backup and restore', (db) => {
  it('round trip: a backup restored into a fresh database under another master key gives back every row', async () => {
    const source = testAppContext(await db.open());
    await populate(source);
    const bytes = await backupOf(source);
    const target = testAppContext(await (await db.database()).open());
    const report = await restore(target, bytes);
    // The history a fresh installation had (none here) comes after the backup's.
    const restored = await dump(target, ['audit_log']);
    const original = await dump(source, ['audit_log']);
    assert.deepEqual(restored, original);
    // The lifecycle came along: settings turned on, the succession open, its event.
    assert.equal(report.backup.formatVersion, BACKUP_FORMAT_VERSION);
    assert.deepEqual(await target.store.lifecycle.settings(), await source.store.lifecycle.settings());
    assert.equal((await target.store.lifecycle.settings()).enabled, true, 'the lifecycle is on after the restore');
    assert.deepEqual(await target.store.lifecycle.openSuccessions(), await source.store.lifecycle.openSuccessions());
    assert.equal((await target.store.lifecycle.openSuccessions()).length, 1, 'the open succession is restored');
    assert.deepEqual(await target.store.lifecycle.events(10), await source.store.lifecycle.events(10));
    assert.equal(original.lifecycle_events?.length, 1, 'the event is in the backup');
    const sourceAudit = (await dump(source)).audit_log ?? [];
    const targetAudit = (await dump(target)).audit_log ?? [];
    assert.deepEqual(targetAudit.slice(0, sourceAudit.length - 1), sourceAudit.slice(0, -1), 'the backup audit rows, in order');
    assert.equal(report.reRegistrationRequired.reRegistrationRequired, 0);
    assert.equal(report.certificates.onlyInBackup.length, 3);
    const inspected = await inspectBackup(opener(bytes), PASSPHRASE, MIGRATION_NAMES);
    assert.equal(inspected.header.counts.devices, 3);
    assert.deepEqual(inspected.header.certificates.map((c) => [c.alias, c.isDefault]), [['tckey', true], ['legacy', false], ['ec', false]]);
  });

  it('a restore with another keystore marks exactly the devices that pin what it drops and those it does not know', async () => {
    const ctx = testAppContext(await db.open());
    await populate(ctx);
    const bytes = await backupOf(ctx);
    // After the backup: a device registers, one certificate is replaced by a new one a device pins.
    const late = await registerProfile(ctx, 'igel-os-12');
    const fresh = await generateCertificate(ctx, SYSTEM_ACTOR, { alias: 'fresh', signatureAlgorithm: 'SHA256withRSA', keySize: 2048 });
    const all = (await listDevices(ctx, SYSTEM_ACTOR, { offset: 0, limit: 100 })).items;
    const moved = all.find((d) => d.id !== late.deviceId) ?? assert.fail('a device');
    await moveByRotation(ctx, moved.id, fresh);

    const dry = await restore(ctx, bytes, { dryRun: true });
    const before = await dump(ctx);
    const real = await restore(ctx, bytes);
    assert.deepEqual(dry.reRegistrationRequired, real.reRegistrationRequired, 'the dry run reports what the restore does');
    const listed = new Map(real.reRegistrationRequired.devices.map((d) => [d.id, d.reason]));
    assert.deepEqual(
      listed,
      new Map([
        [late.deviceId, ReRegistrationReason.registeredAfterBackup],
        [moved.id, ReRegistrationReason.pinnedCertificateNotRestored],
      ]),
    );
    assert.deepEqual(real.certificates.onlyCurrent.map((c) => c.alias), ['fresh']);
    assert.notDeepEqual(await dump(ctx), before);
    // Marked devices are told to register again; the others authenticate.
    const flagged = await listDevices(ctx, SYSTEM_ACTOR, { offset: 0, limit: 100, reRegistrationRequired: true });
    assert.deepEqual(new Set(flagged.items.map((d) => d.id)), new Set(listed.keys()));
    await assert.rejects(authenticateDevice(ctx, late.credential), refusedWith(ErrorCode.re_registration_required));
    // The channel's one-statement check-in writes nothing for it and answers the same.
    await assert.rejects(checkInByCredential(ctx, late.credential, { pinnedSha256Hex: null }, {}), refusedWith(ErrorCode.re_registration_required));
    // The same unit registering again replaces its waiting record.
    const { token } = await createEnrollmentToken(ctx, SYSTEM_ACTOR, {});
    const lateRecord = flagged.items.find((d) => d.id === late.deviceId) ?? assert.fail('late device listed');
    const again = await registerDevice(ctx, { enrollmentToken: token, unitId: lateRecord.unitId, name: lateRecord.name, ...PROFILE_IDENTITY['igel-os-12'], profile: 'igel-os-12' });
    assert.equal((await authenticateDevice(ctx, again.credential)).deviceId, again.deviceId);
    const left = await listDevices(ctx, SYSTEM_ACTOR, { offset: 0, limit: 100, reRegistrationRequired: true });
    assert.deepEqual(left.items.map((d) => d.id), [moved.id]);
  });

  it('--keep-current-certificates keeps every device the backup knows talking; only unknown ones are listed', async () => {
    const ctx = testAppContext(await db.open());
    await populate(ctx);
    const bytes = await backupOf(ctx);
    const late = await registerProfile(ctx, 'igel-os-12');
    const fresh = await generateCertificate(ctx, SYSTEM_ACTOR, { alias: 'tckey-2', signatureAlgorithm: 'SHA256withRSA', keySize: 2048 });
    const devices = (await listDevices(ctx, SYSTEM_ACTOR, { offset: 0, limit: 100 })).items;
    const moved = devices.find((d) => d.id !== late.deviceId) ?? assert.fail('a device');
    await moveByRotation(ctx, moved.id, fresh);
    const report = await restore(ctx, bytes, { keep: true });
    assert.deepEqual(report.reRegistrationRequired.devices.map((d) => [d.id, d.reason]), [[late.deviceId, ReRegistrationReason.registeredAfterBackup]]);
    assert.deepEqual(report.certificates.restored.map((c) => [c.alias, c.active]), [['tckey', true], ['legacy', true], ['ec', true], ['tckey-2', true]]);
    const after = (await listDevices(ctx, SYSTEM_ACTOR, { offset: 0, limit: 100 })).items.find((d) => d.id === moved.id);
    assert.equal(after?.certificateAlias, 'tckey-2', 'the device follows what it pins now');
    assert.equal(after?.reRegistrationReason, null);
  });

  it('lifecycle: history since the backup is kept, settings replaced, a succession whose certificate the backup lacks is ended', async () => {
    const ctx = testAppContext(await db.open());
    const { tckey } = await populate(ctx);
    const next = await generateCertificate(ctx, SYSTEM_ACTOR, { alias: 'tckey-next', signatureAlgorithm: 'SHA256withRSA', keySize: 2048 });
    const orphan = await addSuccession(ctx, tckey, next);
    await deleteCertificate(ctx, SYSTEM_ACTOR, 'tckey-next'); // by hand: the succession stays open without its successor
    const settings = await ctx.store.lifecycle.settings();
    const bytes = await backupOf(ctx);
    await setLifecycle(ctx, SYSTEM_ACTOR, { renewBefore: '30d', window: 'Mon 01:00-02:00' });
    const since = { at: new Date(Date.now() + 60_000).toISOString(), step: LifecycleEventStep.blocked, alias: 'legacy', successionId: null, details: { reason: 'after the backup' } };
    await ctx.store.lifecycle.appendEvent(since);
    const eventsAtBackup = (await ctx.store.lifecycle.events(100)).slice(1);

    await restore(ctx, bytes);
    assert.deepEqual(await ctx.store.lifecycle.settings(), settings, "the backup's settings replace those made since");
    assert.deepEqual((await ctx.store.lifecycle.openSuccessions()).map((s) => [s.predecessorAlias, s.successorAlias]), [['legacy', 'ec']]);
    const closed = (await ctx.store.lifecycle.successions(10)).find((s) => s.id === orphan.id);
    assert.equal(closed?.state, SuccessionState.deleted, 'the succession without its successor is closed');
    const events = await ctx.store.lifecycle.events(100);
    assert.deepEqual(
      events.slice(0, 2).map((e) => [e.step, e.alias, e.successionId, e.details]),
      [
        [LifecycleEventStep.ended, 'tckey', orphan.id, { role: 'default', predecessor: 'tckey', successor: 'tckey-next', state: 'generated', missing: ['successor'] }],
        [since.step, since.alias, null, since.details],
      ],
      'the ended event after the history since the backup',
    );
    assert.deepEqual(events.slice(2).map((e) => [e.step, e.alias, e.at]), eventsAtBackup.map((e) => [e.step, e.alias, e.at]), "the backup's events");
    assert.deepEqual(await endedAudits(ctx), [['tckey', SYSTEM_ACTOR.username]]);
  });

  it('a promoted fallback succession has its legacy devices moving again after the restore', async () => {
    const source = testAppContext(await db.open());
    const { legacy } = await populate(source);
    const next = await generateCertificate(source, SYSTEM_ACTOR, { alias: 'legacy-next', signatureAlgorithm: 'SHA256withRSA', keySize: 2048 });
    await addSuccession(source, legacy, next, { role: SuccessionRole.fallback, state: SuccessionState.promoted });
    await source.store.rotation.setFallbackMove(legacy.id, next.id, algorithmBit(next.facts.signatureAlgorithm));
    const old = (await listDevices(source, SYSTEM_ACTOR, { offset: 0, limit: 100 })).items.find((d) => d.certificateAlias === 'legacy') ?? assert.fail('a device pinning legacy');
    assert.equal(old.pendingCertificateId, next.id, 'before: the legacy device has the successor pending');
    const target = testAppContext(await (await db.database()).open());
    await restore(target, await backupOf(source));
    assert.equal((await target.store.devices.findById(old.id))?.pendingCertificateId, next.id, 'after: the same');
  });

  it('a format-1 backup restores its tables and leaves the lifecycle as it is, ending the successions it strands', async () => {
    const source = testAppContext(await db.open());
    await populate(source);
    const v1 = await rewrite(await backupOf(source), asFormat1, backupTablesOf(1));
    const target = testAppContext(await (await db.database()).open());
    const own = await deviceKeystore(target);
    await setLifecycle(target, SYSTEM_ACTOR, { renewBefore: '45d', window: 'Wed 22:00-23:00' });
    const settings = await target.store.lifecycle.settings();
    const stranded = await addSuccession(target, own.tckey, own.ec);
    const report = await restore(target, v1);
    assert.equal(report.backup.formatVersion, 1);
    assert.deepEqual(report.backup.counts, asFormat1((await inspectBackup(opener(v1), PASSPHRASE, MIGRATION_NAMES)).header).counts);
    assert.deepEqual(await dump(target, ['audit_log', ...BACKUP_TABLES.filter((t) => !backupTablesOf(1).includes(t))]), await dump(source, ['audit_log', 'lifecycle_settings', 'lifecycle_successions', 'lifecycle_events']));
    assert.deepEqual(await target.store.lifecycle.settings(), settings, 'the lifecycle settings are untouched');
    assert.deepEqual(await target.store.lifecycle.openSuccessions(), [], 'no succession left open');
    const events = await target.store.lifecycle.events(10);
    assert.deepEqual(
      events.map((e) => [e.step, e.successionId, e.details.missing ?? null]),
      [
        [LifecycleEventStep.ended, stranded.id, ['predecessor', 'successor']],
        [LifecycleEventStep.generated, stranded.id, null],
      ],
      'the events are kept and the ending appended',
    );
  });

  describe('bad backups change nothing', () => {
    let ctx: TestAppContext;
    let good: Buffer;
    let state: Record<string, unknown[][]>;
    before(async () => {
      ctx = testAppContext(await db.open());
      await populate(ctx);
      good = await backupOf(ctx);
      state = await dump(ctx);
    });
    after(async () => {
      // Refusals are audited; nothing else moved.
      assert.deepEqual(await dump(ctx, ['audit_log']), Object.fromEntries(Object.entries(state).filter(([t]) => t !== 'audit_log')));
    });

    it('a wrong passphrase', async () => {
      await assert.rejects(restore(ctx, good, { passphrase: 'not the passphrase at all' }), refusedWith(ErrorCode.backup_wrong_passphrase));
    });
    it('a truncated file', async () => {
      await assert.rejects(restore(ctx, good.subarray(0, good.length - 40)), refusedWith(ErrorCode.backup_corrupt));
    });
    it('a changed byte', async () => {
      const bad = Buffer.from(good);
      bad[bad.length - 100] = (bad[bad.length - 100] ?? 0) ^ 1;
      await assert.rejects(restore(ctx, bad), refusedWith(ErrorCode.backup_corrupt));
    });
    it('random bytes and another product\'s file', async () => {
      await assert.rejects(restore(ctx, randomBytes(5000)), refusedWith(ErrorCode.backup_not_a_backup));
      const other = new Collect();
      const w = BackupFileWriter.open(other, { passphrase: PASSPHRASE, scryptLogN: LOG_N });
      await w.rows([['not', 'a', 'header']]);
      await w.finish();
      await assert.rejects(restore(ctx, other.bytes), refusedWith(ErrorCode.backup_not_a_backup));
    });
    it('a newer format and a newer schema', async () => {
      for (const [patch, code] of [
        [{ formatVersion: 99 }, ErrorCode.backup_format_too_new],
        [{ schemaVersion: '9999-future' }, ErrorCode.backup_schema_too_new],
      ] as const) {
        const out = new Collect();
        const w = BackupFileWriter.open(out, { passphrase: PASSPHRASE, scryptLogN: LOG_N });
        const { header } = await inspectBackup(opener(good), PASSPHRASE, MIGRATION_NAMES);
        await w.header({ ...header, ...patch });
        await w.finish();
        await assert.rejects(restore(ctx, out.bytes), refusedWith(code));
      }
    });
    it('a header of format 2 without the count of a lifecycle table, and a format-1 backup holding one', async () => {
      assert.equal((await inspectBackup(opener(await rewrite(good, (h) => h)), PASSPHRASE, MIGRATION_NAMES)).header.formatVersion, 2, 'the rewritten backup is good');
      for (const table of ['lifecycle_settings', 'lifecycle_successions', 'lifecycle_events'] as const) {
        const bad = await rewrite(good, (h) => ({ ...h, counts: Object.fromEntries(Object.entries(h.counts).filter(([t]) => t !== table)) }));
        await assert.rejects(restore(ctx, bad), refusedWith(ErrorCode.backup_corrupt), `without ${table}`);
      }
      await assert.rejects(restore(ctx, await rewrite(good, asFormat1)), refusedWith(ErrorCode.backup_corrupt));
    });
    it('a caller without the backup permission', async () => {
      await assert.rejects(restoreBackup(ctx, VIEWER, opener(good), { passphrase: PASSPHRASE, dryRun: true, keepCurrentCertificates: false, knownMigrations: MIGRATION_NAMES, file: null }), refusedWith(ErrorCode.forbidden));
      await assert.rejects(createBackup(ctx, VIEWER, new Collect(), { passphrase: PASSPHRASE, serverVersion: 't', schemaVersion: 's', trigger: 'manual', nodeId: null, file: null }), refusedWith(ErrorCode.forbidden));
    });
  });
});

describe('backup across databases', () => {
  const dbs: TestDatabase[] = [];
  after(async () => {
    for (const d of dbs) await d.drop();
  });

  it('SQLite → PostgreSQL → SQLite gives back every row', async () => {
    const open = async (dialect: (typeof TEST_DIALECTS)[number]): Promise<Store> => {
      const d = await createTestDatabase(dialect);
      dbs.push(d);
      return d.open();
    };
    const sqlite = testAppContext(await open('sqlite'));
    await populate(sqlite);
    const postgres = testAppContext(await open('postgres'));
    await restore(postgres, await backupOf(sqlite));
    const back = testAppContext(await open('sqlite'));
    await restore(back, await backupOf(postgres));
    const skip = ['audit_log'];
    assert.deepEqual(await dump(postgres, skip), await dump(sqlite, skip));
    assert.deepEqual(await dump(back, skip), await dump(sqlite, skip));
  });
});
