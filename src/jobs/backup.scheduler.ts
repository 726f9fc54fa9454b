/**
 * Scheduled backups (`serve --backup-dir DIR --backup-every 24h --backup-keep 7
 * --backup-passphrase-file F`). Every node with the flags looks once a minute (or every interval, if
 * shorter); only the rotation leader writes, and only when the newest scheduled backup in the
 * database is at least an interval old. The database, not the node, remembers when the last one
 * ran, so a restart or a new leader neither skips nor repeats one.
 *
 * A backup is written to `certfleet-<time>.cfbak.partial` and renamed when complete, so the
 * directory never holds a half-written file under a backup's name; then all but the newest `keep`
 * backups are removed. Success and failure are recorded (backup list, the console).
 */
import { createWriteStream } from 'node:fs';
import { readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createBackup, type BackupRun } from '../app/backup.js';
import { SYSTEM_ACTOR, type AppContext } from '../app/context.js';
import type { Scheduler } from '../domain/time.js';
import { PeriodicLook } from './periodic-look.js';

export interface BackupLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface BackupScheduleOptions {
  readonly ctx: AppContext;
  readonly dir: string;
  readonly everyMs: number;
  readonly keep: number;
  readonly passphrase: string;
  readonly scheduler: Scheduler;
  readonly log: BackupLog;
  /** Whether this node holds the rotation lease now (H4). */
  readonly isLeader: () => boolean;
  readonly nodeId: string;
  readonly serverVersion: string;
  readonly schemaVersion: string;
  readonly scryptLogN?: number;
}

const NAME = /^certfleet-(.+)\.cfbak$/;
const CHECK_MS = 60_000;

export function backupFileName(at: Date): string {
  return `certfleet-${at.toISOString().replace(/[:.]/g, '-')}.cfbak`;
}

export class BackupSchedule {
  private readonly loop: PeriodicLook;

  constructor(private readonly o: BackupScheduleOptions) {
    this.loop = new PeriodicLook(o.scheduler, Math.min(CHECK_MS, o.everyMs), () => this.maybeBackup(), (e) => o.log.error({ err: e }, 'scheduled backup failed'));
  }

  start(): void {
    this.loop.start();
  }

  /** Stops the timer and waits for a backup being written. */
  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One look: writes a backup if this node leads and the last one is an interval old. */
  tick(): Promise<void> {
    return this.loop.tick();
  }

  private async lastScheduled(): Promise<BackupRun | null> {
    const runs = await this.o.ctx.store.backups.listRuns(50);
    return runs.find((r) => r.trigger === 'scheduled' && r.result === 'ok') ?? null;
  }

  private async maybeBackup(): Promise<void> {
    if (!this.o.isLeader()) return;
    const now = this.o.ctx.clock.now();
    const last = await this.lastScheduled();
    if (last && now.getTime() - Date.parse(last.startedAt) < this.o.everyMs) return;
    const name = backupFileName(now);
    const file = join(this.o.dir, name);
    const partial = `${file}.partial`;
    try {
      const summary = await createBackup(this.o.ctx, SYSTEM_ACTOR, createWriteStream(partial, { mode: 0o600, flags: 'wx' }), {
        passphrase: this.o.passphrase,
        serverVersion: this.o.serverVersion,
        schemaVersion: this.o.schemaVersion,
        ...(this.o.scryptLogN !== undefined ? { scryptLogN: this.o.scryptLogN } : {}),
        trigger: 'scheduled',
        nodeId: this.o.nodeId,
        file,
      });
      await rename(partial, file);
      this.o.log.info({ file, bytes: summary.bytes, counts: summary.counts }, 'wrote a scheduled backup');
    } catch (e) {
      await rm(partial, { force: true });
      throw e;
    }
    await this.prune();
  }

  /** Removes all but the newest `keep` backups of this directory (names sort by time). */
  private async prune(): Promise<void> {
    const names = (await readdir(this.o.dir)).filter((n) => NAME.test(n)).sort();
    for (const old of names.slice(0, Math.max(0, names.length - this.o.keep))) {
      await rm(join(this.o.dir, old), { force: true });
      this.o.log.info({ file: join(this.o.dir, old) }, 'removed an old scheduled backup');
    }
  }
}
