/**
 * L1: the certificates in use that expire soon or have expired, now and as a daily report. The
 * rule is domain/expiry.ts; this reads the keystore and the window, and writes the report.
 */
import { expiryAlerts, reportDay, type ExpiryAlert } from '../domain/expiry.js';
import { AuditResult } from '../domain/vocabularies.js';
import { SYSTEM_ACTOR, type AppContext } from './context.js';
import type { StoredCertificate } from './records.js';
import { readSettings } from './settings.js';

const REPORT_DAY_KEY = 'expiry_report_day';

/** The audit actions of the daily report, one entry per certificate named. */
export const ExpiryAuditAction = { warning: 'certificate.expiry-warning', expired: 'certificate.expired-in-use' } as const;

/** The alerts for a keystore listing (in its priority order). */
export function alertsOf(list: readonly StoredCertificate[], now: Date, windowDays: number): ExpiryAlert[] {
  return expiryAlerts(list.map((c) => ({ alias: c.alias, notAfter: c.facts.notAfter, load: c.usage })), now, windowDays);
}

export interface ExpiryReport {
  readonly day: string;
  readonly windowDays: number;
  readonly alerts: readonly ExpiryAlert[];
}

/**
 * The daily report: once per UTC day, as the database remembers it (so a restart or a new leader
 * neither repeats nor skips it), an audit entry per certificate in use that expires within the
 * window or has expired. Returns null when today's report was made already; the caller logs it.
 */
export async function dailyExpiryReport(ctx: AppContext): Promise<ExpiryReport | null> {
  const now = ctx.clock.now();
  const day = reportDay(now);
  return ctx.store.transaction(async (tx) => {
    if ((await tx.meta.get(REPORT_DAY_KEY)) === day) return null;
    const { expiryWarningDays } = await readSettings(tx.meta);
    const alerts = alertsOf(await tx.keystore.list(), now, expiryWarningDays);
    for (const a of alerts) {
      await tx.audit.append({
        at: now.toISOString(),
        actor: SYSTEM_ACTOR.username,
        action: ExpiryAuditAction[a.level],
        target: a.alias,
        result: AuditResult.ok,
        code: null,
        details: { notAfter: a.notAfter, daysLeft: a.daysLeft, pinned: a.pinned, pending: a.pending, windowDays: expiryWarningDays },
      });
    }
    await tx.meta.put(REPORT_DAY_KEY, day);
    return { day, windowDays: expiryWarningDays, alerts };
  });
}
