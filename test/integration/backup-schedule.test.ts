/**
 * Scheduled backups (issue 9, `serve --backup-dir`): only the leader writes, at most once an
 * interval as the database remembers it (so a restart or a new leader neither skips nor repeats),
 * never a half-written file under a backup's name, the newest N kept, failures recorded.
 * The clock is a FakeTime; each look is awaited (`tick()`), so nothing waits on the wall clock.
 */
import assert from 'node:assert/strict';
import { createReadStream, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { inspectBackup } from '../../src/app/backup.js';
import { ensureDefaultCertificate } from '../../src/app/certificates.js';
import { SYSTEM_ACTOR } from '../../src/app/context.js';
import { BackupSchedule } from '../../src/jobs/backup.scheduler.js';
import { MIGRATION_NAMES } from '../../src/storage/migrations/index.js';
import { testAppContext } from '../support/app-context.js';
import { forEachDatabase } from '../support/databases.js';
import { FakeTime } from '../support/fake-time.js';

const HOUR = 3_600_000;
const PASSPHRASE = 'scheduled backup passphrase';
const quiet = { info: () => undefined, error: () => undefined };

forEachDatabase('scheduled backups', (db) => {
  const fresh = db.storePerTest();

  function setup(o: { leader: { value: boolean }; keep?: number; dir?: string }) {
    const time = new FakeTime('2030-01-01T00:00:00Z');
    const ctx = testAppContext(fresh.store, { clock: time });
    const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'certfleet-backups-'));
    const errors: unknown[] = [];
    const schedule = new BackupSchedule({
      ctx,
      dir,
      everyMs: 24 * HOUR,
      keep: o.keep ?? 7,
      passphrase: PASSPHRASE,
      scheduler: time,
      log: { ...quiet, error: (obj) => errors.push(obj) },
      isLeader: () => o.leader.value,
      nodeId: 'node-1',
      serverVersion: 'test',
      schemaVersion: MIGRATION_NAMES.at(-1) ?? '',
      scryptLogN: 10,
    });
    return { time, ctx, dir, schedule, errors };
  }
  const backups = (dir: string) => readdirSync(dir).sort();

  it('only the leader writes, once an interval as the database remembers it, keeping the newest N', async () => {
    const leader = { value: false };
    const { time, ctx, dir, schedule } = setup({ leader, keep: 2 });
    try {
      await ensureDefaultCertificate(ctx, SYSTEM_ACTOR);
      schedule.start();
      assert.deepEqual(time.timers.map((t) => t.inMs), [60_000], 'it looks once a minute');
      await schedule.stop();
      assert.deepEqual(time.timers, []);
      // From here each look is taken by hand, so that the test awaits its I/O.
      await schedule.tick();
      assert.deepEqual(backups(dir), [], 'a follower writes nothing');

      leader.value = true;
      await schedule.tick();
      const [first] = backups(dir);
      assert.equal(first, 'certfleet-2030-01-01T00-00-00-000Z.cfbak');
      assert.equal(statSync(join(dir, first)).mode & 0o777, 0o600);
      const inspected = await inspectBackup(() => createReadStream(join(dir, first)), PASSPHRASE, MIGRATION_NAMES);
      assert.equal(inspected.header.certificates[0]?.alias, 'tckey');

      await time.advance(23 * HOUR);
      await schedule.tick();
      assert.equal(backups(dir).length, 1, 'not before the interval');
      // A restarted node (a new schedule on the same database) does not repeat it either.
      const again = setup({ leader, keep: 2, dir });
      await again.time.advance(23 * HOUR);
      await again.schedule.tick();
      assert.equal(backups(dir).length, 1);

      for (let day = 1; day <= 2; day++) {
        await time.advance(day === 1 ? HOUR : 24 * HOUR);
        await schedule.tick();
      }
      assert.deepEqual(backups(dir), ['certfleet-2030-01-02T00-00-00-000Z.cfbak', 'certfleet-2030-01-03T00-00-00-000Z.cfbak'], 'the newest two');
      const runs = await fresh.store.backups.listRuns(10);
      assert.deepEqual(runs.map((r) => [r.trigger, r.result, r.nodeId]), Array(3).fill(['scheduled', 'ok', 'node-1']));
      assert.equal(runs[0]?.sizeBytes, statSync(join(dir, 'certfleet-2030-01-03T00-00-00-000Z.cfbak')).size);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a backup that cannot be written is recorded as failed and leaves no file behind', async () => {
    const { ctx, dir, schedule, errors } = setup({ leader: { value: true } });
    await ensureDefaultCertificate(ctx, SYSTEM_ACTOR);
    rmSync(dir, { recursive: true, force: true });
    await schedule.tick();
    assert.equal(errors.length, 1);
    const [run] = await fresh.store.backups.listRuns(1);
    assert.equal(run?.result, 'failed');
    assert.match(run?.error ?? '', /ENOENT/);
  });
});
