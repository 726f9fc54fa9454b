/**
 * L1, expiry seen early: which certificates in use expire within the warning window, and which in
 * use have expired already. Pure: the caller passes the time and the window.
 *
 *   in use?  no  → nothing to say (an unused entry expiring harms nobody)
 *            yes → expired (now ≥ notAfter)              → error: devices pinning it are cut off
 *                  within the window (notAfter − now ≤ window) → warning
 *                  otherwise                              → fine
 */
import { daysUntilExpiry } from './certificate.js';
import { CertfleetError, ErrorCode } from './errors.js';
import { DAY_MS } from './time.js';

/** The warning window when the administrator has set none (SPEC L1). */
export const DEFAULT_EXPIRY_WARNING_DAYS = 60;
/** Longest window accepted: ten years, the validity of a generated default. */
export const MAX_EXPIRY_WARNING_DAYS = 3650;

/** How many devices pin a certificate now, and how many are about to (pending replacement). */
export interface CertificateLoad {
  readonly pinned: number;
  readonly pending: number;
}

export interface ExpiryStatus {
  /** Whole days left (rounded down); negative once expired. */
  readonly daysLeft: number;
  readonly expired: boolean;
  /** Devices pin it (or are about to) and it expires within the window or has expired: say so. */
  readonly expiryWarning: boolean;
}

export function isInUse(load: CertificateLoad): boolean {
  return load.pinned + load.pending > 0;
}

export function expiryStatus(notAfter: string, load: CertificateLoad, now: Date, windowDays: number): ExpiryStatus {
  const leftMs = Date.parse(notAfter) - now.getTime();
  const expired = leftMs <= 0;
  return {
    daysLeft: daysUntilExpiry(notAfter, now),
    expired,
    expiryWarning: isInUse(load) && leftMs <= windowDays * DAY_MS,
  };
}

export const ExpiryAlertLevel = { warning: 'warning', expired: 'expired' } as const;
export type ExpiryAlertLevel = (typeof ExpiryAlertLevel)[keyof typeof ExpiryAlertLevel];

export interface ExpiryAlert {
  readonly alias: string;
  readonly level: ExpiryAlertLevel;
  readonly notAfter: string;
  readonly daysLeft: number;
  readonly pinned: number;
  readonly pending: number;
}

/** The certificates to warn about, in the order given (the keystore's priority order). */
export function expiryAlerts(
  entries: readonly { readonly alias: string; readonly notAfter: string; readonly load: CertificateLoad }[],
  now: Date,
  windowDays: number,
): ExpiryAlert[] {
  return entries.flatMap((e) => {
    const s = expiryStatus(e.notAfter, e.load, now, windowDays);
    if (!s.expiryWarning) return [];
    return [{ alias: e.alias, level: s.expired ? ExpiryAlertLevel.expired : ExpiryAlertLevel.warning, notAfter: e.notAfter, daysLeft: s.daysLeft, pinned: e.load.pinned, pending: e.load.pending }];
  });
}

/** The UTC calendar day of `at` (`YYYY-MM-DD`): the daily report is made once per such day. */
export function reportDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

const DAYS = /^([0-9]{1,5})d$/;

/** A window as the administrator writes it (`60d`); refused with `invalid_setting` otherwise. */
export function parseWarningWindow(text: string): number {
  const match = DAYS.exec(text.trim());
  const days = match ? Number(match[1]) : NaN;
  if (!Number.isInteger(days) || days < 1 || days > MAX_EXPIRY_WARNING_DAYS) {
    throw new CertfleetError(
      ErrorCode.invalid_setting,
      `"${text.slice(0, 40)}" is not a warning window. Give whole days from 1d to ${MAX_EXPIRY_WARNING_DAYS}d, for example 60d.`,
      { setting: 'expiry-warning', min: 1, max: MAX_EXPIRY_WARNING_DAYS },
    );
  }
  return days;
}

export function formatWarningWindow(days: number): string {
  return `${days}d`;
}
