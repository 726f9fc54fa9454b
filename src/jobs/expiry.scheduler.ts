/**
 * The daily expiry report (L1): every node looks every ten minutes (and once at start); only the
 * rotation leader reports, and only once per UTC day as the database remembers it
 * (app/expiry.ts). Each certificate in use that expires within the window is a warning line in
 * the log, each expired one in use an error line; both go to the audit log too.
 */
import type { AppContext } from '../app/context.js';
import { dailyExpiryReport } from '../app/expiry.js';
import { ExpiryAlertLevel } from '../domain/expiry.js';
import type { Scheduler } from '../domain/time.js';
import { PeriodicLook } from './periodic-look.js';

export interface ExpiryLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ExpiryScheduleOptions {
  readonly ctx: AppContext;
  readonly scheduler: Scheduler;
  readonly log: ExpiryLog;
  /** Whether this node holds the rotation lease now (H4). */
  readonly isLeader: () => boolean;
}

export const EXPIRY_CHECK_MS = 10 * 60_000;

export class ExpirySchedule {
  private readonly loop: PeriodicLook;

  constructor(private readonly o: ExpiryScheduleOptions) {
    this.loop = new PeriodicLook(o.scheduler, EXPIRY_CHECK_MS, () => this.maybeReport(), (e) => o.log.error({ err: e }, 'expiry report failed'));
  }

  /** Looks now and every EXPIRY_CHECK_MS. */
  start(): void {
    this.loop.start();
    void this.loop.tick();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One look: reports if this node leads and today's report is not made yet. */
  tick(): Promise<void> {
    return this.loop.tick();
  }

  private async maybeReport(): Promise<void> {
    if (!this.o.isLeader()) return;
    const report = await dailyExpiryReport(this.o.ctx);
    if (!report) return;
    for (const a of report.alerts) {
      const line = { event: 'certificate.expiry', ...a, windowDays: report.windowDays };
      if (a.level === ExpiryAlertLevel.expired) {
        this.o.log.error(line, `certificate "${a.alias}" has EXPIRED and ${a.pinned + a.pending} devices use it: they cannot reach the server; make another certificate the default`);
      } else {
        this.o.log.warn(line, `certificate "${a.alias}" expires in ${a.daysLeft} days and ${a.pinned + a.pending} devices use it; make a successor the default before then`);
      }
    }
    this.o.log.info({ event: 'certificate.expiry-report', day: report.day, windowDays: report.windowDays, alerts: report.alerts.length }, 'daily expiry report');
  }
}
