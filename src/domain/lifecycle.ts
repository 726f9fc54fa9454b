/**
 * L2, automatic successors: the settings (`lifecycle set`), the maintenance window, and the pure
 * policy that decides the next step of each certificate's succession. The leader's job
 * (jobs/lifecycle.scheduler.ts) gathers the keystore, the fleet in cohorts and the open
 * successions, asks `nextLifecycleStep`, acts (app/lifecycle.ts), and asks again.
 *
 * One succession, predecessor P → successor S:
 *
 *   P within renew-before of its expiry
 *     │ generate: S (same algorithm, key size, subject, validity length), inactive, right below P
 *     ▼
 *   generated ──in the window──▶ promoted: S active, right above P (the default, or the fallback
 *     │                            that P's legacy devices now move to); the reconciler moves them
 *     │                                   │ no device pins P or has it pending
 *     │                                   ▼
 *     │                           deactivated: P inactive (never chosen again)
 *     │                                   │ retire-after later, still unused
 *     │                                   ▼
 *     └───────────────────────────▶ deleted: P gone; the succession is closed
 *
 * Each step is refused (`blocked`, with a reason) when, after it, some firmware seen in the fleet
 * would have no active certificate it supports, or a device would pin a deleted entry: the rule
 * that legacy devices are never stranded is checked here, before any write.
 */
import { GENERATION_ALGORITHMS, isGenerationAlgorithm } from './algorithms.js';
import { algorithmBit, algorithmsOfMask } from './compatibility.js';
import { CertfleetError, ErrorCode } from './errors.js';
import { selectCertificate } from './selection.js';
import { DAY_MS } from './time.js';

/** Sunday first, as Date#getUTCDay counts. */
export const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;

/**
 * When successors may be made the default (or fallback): on the given days of the week, from
 * `startMinute` to `endMinute` (minutes after midnight, UTC). An end at or before the start means
 * the window runs past midnight into the next day.
 */
export interface MaintenanceWindow {
  /** 0 = Sunday … 6 = Saturday, ascending, no repeats. */
  readonly days: readonly number[];
  readonly startMinute: number;
  readonly endMinute: number;
}

export interface LifecycleSettings {
  readonly renewBeforeDays: number;
  readonly window: MaintenanceWindow;
  readonly retireAfterDays: number;
}

export const DEFAULT_RETIRE_AFTER_DAYS = 30;
export const MAX_LIFECYCLE_DAYS = 3650;

function invalid(message: string, details: Readonly<Record<string, unknown>>): CertfleetError {
  return new CertfleetError(ErrorCode.invalid_lifecycle_settings, message, details);
}

/** `90d` (or `90`) → 90. Whole days from 1 to 3650. */
export function parseDays(text: string, field: string): number {
  const m = /^\s*(\d{1,5})\s*d?\s*$/i.exec(text);
  const days = m ? Number(m[1]) : Number.NaN;
  if (!Number.isInteger(days) || days < 1 || days > MAX_LIFECYCLE_DAYS) {
    throw invalid(`${field} "${text.slice(0, 40)}" is not a duration: give whole days from 1 to ${MAX_LIFECYCLE_DAYS}, such as 90d.`, {
      field,
      value: text.slice(0, 40),
    });
  }
  return days;
}

function dayIndex(name: string): number {
  const i = WEEKDAYS.findIndex((d) => d.toLowerCase() === name.slice(0, 3).toLowerCase());
  const full = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
  const ok = i >= 0 && (name.length === 3 || full[i] === name.toLowerCase());
  return ok ? i : -1;
}

function parseMinute(text: string): number {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text);
  if (!m) return -1;
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (h === 24 && min === 0) return 24 * 60;
  return h < 24 && min < 60 ? h * 60 + min : -1;
}

/**
 * `Sat 02:00-05:00`, `Mon,Wed,Fri 01:00-03:00`, `Mon-Fri 22:00-02:00` (past midnight), `daily
 * 03:00-04:00`. Days by their English names or three-letter abbreviations; times in UTC.
 */
export function parseWindow(text: string): MaintenanceWindow {
  const bad = (why: string) =>
    invalid(`The window "${text.slice(0, 60)}" ${why}. Write days and a time range in UTC, such as "Sat 02:00-05:00" or "Mon-Fri 22:00-02:00".`, {
      field: 'window',
      value: text.slice(0, 60),
    });
  const m = /^\s*(\S+)\s+(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$/.exec(text);
  if (!m) throw bad('is not "DAYS HH:MM-HH:MM"');
  const [, dayText = '', fromText = '', toText = ''] = m;
  const days = new Set<number>();
  if (/^(daily|\*)$/i.test(dayText)) for (let d = 0; d < 7; d++) days.add(d);
  else {
    for (const part of dayText.split(',')) {
      const range = part.split('-');
      if (range.length > 2) throw bad(`has a bad day range "${part}"`);
      const from = dayIndex(range[0] ?? '');
      const to = dayIndex(range[1] ?? range[0] ?? '');
      if (from < 0 || to < 0) throw bad(`names an unknown day in "${part}"`);
      for (let d = from; ; d = (d + 1) % 7) {
        days.add(d);
        if (d === to) break;
      }
    }
  }
  const startMinute = parseMinute(fromText);
  const endMinute = parseMinute(toText);
  if (startMinute < 0 || startMinute >= 24 * 60 || endMinute < 0) throw bad('has a time that is not HH:MM (00:00 to 24:00)');
  if (startMinute === endMinute) throw bad('is empty (it starts when it ends)');
  return { days: [...days].sort((a, b) => a - b), startMinute, endMinute };
}

function hhmm(minute: number): string {
  return `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
}

/** The canonical text of a window (what `lifecycle show` prints and `parseWindow` reads back). */
export function formatWindow(w: MaintenanceWindow): string {
  const days = w.days.length === 7 ? 'daily' : w.days.map((d) => WEEKDAYS[d]).join(',');
  return `${days} ${hhmm(w.startMinute)}-${hhmm(w.endMinute === 24 * 60 ? 24 * 60 : w.endMinute)}`;
}

function windowLength(w: MaintenanceWindow): number {
  return w.endMinute > w.startMinute ? w.endMinute - w.startMinute : 24 * 60 - w.startMinute + w.endMinute;
}

/** Whether `now` falls inside the window (a window past midnight belongs to the day it starts). */
export function inWindow(w: MaintenanceWindow, now: Date): boolean {
  const minuteOfDay = now.getUTCHours() * 60 + now.getUTCMinutes();
  for (const back of [0, 1]) {
    const day = (now.getUTCDay() - back + 7) % 7;
    if (!w.days.includes(day)) continue;
    const since = minuteOfDay + back * 24 * 60 - w.startMinute;
    if (since >= 0 && since < windowLength(w)) return true;
  }
  return false;
}

/** The next time the window opens, at or after `now` (now itself when it is open). */
export function nextWindowStart(w: MaintenanceWindow, now: Date): Date {
  if (inWindow(w, now)) return now;
  const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  for (let d = 0; d <= 7; d++) {
    const day = new Date(midnight + d * DAY_MS);
    const start = midnight + d * DAY_MS + w.startMinute * 60_000;
    if (w.days.includes(day.getUTCDay()) && start >= now.getTime()) return new Date(start);
  }
  throw new Error('nextWindowStart: a window has at least one day'); // parseWindow guarantees one
}

/** `NAME-YYYYMMDD`: the predecessor's alias without an earlier date suffix, and today's date (UTC). */
export function successorAlias(predecessor: string, now: Date, taken: ReadonlySet<string>): string {
  const base = predecessor.replace(/-\d{8}(-\d+)?$/, '').slice(0, 50);
  const date = now.toISOString().slice(0, 10).replace(/-/g, '');
  let alias = `${base}-${date}`;
  for (let n = 2; taken.has(alias); n++) alias = `${base}-${date}-${n}`;
  return alias;
}

/** What the policy reads of a keystore entry. */
export interface LifecycleEntry {
  readonly id: string;
  readonly alias: string;
  readonly position: number;
  readonly active: boolean;
  readonly signatureAlgorithm: string;
  readonly keySize: number;
  readonly subject: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly pinned: number;
  readonly pending: number;
}

/** Devices with one supported mask that pin one certificate (the rotation's cohorts). */
export interface FleetCohort {
  readonly certificateId: string;
  readonly supportedMask: number;
  readonly count: number;
}

export const SuccessionRole = { default: 'default', fallback: 'fallback' } as const;
export type SuccessionRole = (typeof SuccessionRole)[keyof typeof SuccessionRole];

export const SuccessionState = { generated: 'generated', promoted: 'promoted', deactivated: 'deactivated', deleted: 'deleted' } as const;
export type SuccessionState = (typeof SuccessionState)[keyof typeof SuccessionState];

export interface Succession {
  readonly id: string;
  readonly role: SuccessionRole;
  readonly predecessorId: string;
  readonly predecessorAlias: string;
  readonly successorId: string;
  readonly successorAlias: string;
  readonly state: SuccessionState;
  readonly createdAt: string;
  /** When the predecessor was deactivated; retire-after counts from here. */
  readonly deactivatedAt: string | null;
}

/** What a new successor is made from: the predecessor's own parameters. */
export interface SuccessorPlan {
  readonly alias: string;
  readonly commonName: string;
  readonly signatureAlgorithm: string;
  readonly keySize: number;
  readonly days: number;
}

export type LifecycleStep =
  | { readonly kind: 'generate'; readonly role: SuccessionRole; readonly predecessor: LifecycleEntry; readonly plan: SuccessorPlan }
  | { readonly kind: 'promote'; readonly succession: Succession }
  | { readonly kind: 'deactivate'; readonly succession: Succession }
  | { readonly kind: 'delete'; readonly succession: Succession }
  /** A step that is due but would break a rule; it is reported, nothing is written. */
  | { readonly kind: 'blocked'; readonly alias: string; readonly step: 'generate' | 'promote' | 'deactivate' | 'delete'; readonly reason: string };

export interface LifecycleInput {
  readonly settings: LifecycleSettings;
  readonly now: Date;
  /** In priority order (position 1 first). */
  readonly entries: readonly LifecycleEntry[];
  readonly cohorts: readonly FleetCohort[];
  /** Successions not yet deleted. */
  readonly open: readonly Succession[];
  /** Blocked steps already reported (alias + step), so each is reported once. */
  readonly reported?: ReadonlySet<string>;
}

export function blockedKey(alias: string, step: string): string {
  return `${alias} ${step}`;
}

function commonNameOf(subject: string): string | null {
  const m = /(?:^|[,/]\s*)CN=([^,/]+)/.exec(subject);
  return m?.[1]?.trim() ?? null;
}

/** The successor of `p` with the same parameters, or why none can be generated. */
export function planSuccessor(p: LifecycleEntry, now: Date, taken: ReadonlySet<string>): SuccessorPlan | string {
  if (!isGenerationAlgorithm(p.signatureAlgorithm)) return `certfleet cannot generate ${p.signatureAlgorithm} certificates; replace "${p.alias}" by hand`;
  const commonName = commonNameOf(p.subject);
  if (!commonName) return `the subject of "${p.alias}" has no common name to repeat`;
  const spec = GENERATION_ALGORITHMS[p.signatureAlgorithm];
  const keySize = spec.keyAlgorithm === 'RSA' ? p.keySize : spec.keyAlgorithm === 'EC' && 'curve' in spec && spec.curve === 'P-384' ? 384 : 256;
  const days = Math.max(1, Math.round((Date.parse(p.notAfter) - Date.parse(p.notBefore)) / DAY_MS));
  return { alias: successorAlias(p.alias, now, taken), commonName, signatureAlgorithm: p.signatureAlgorithm, keySize, days };
}

/**
 * The keystore after a step, as the registration rule (R1) and the pins see it: `null` when the
 * step strands no one, else why. A firmware (supported mask) seen in the fleet must still find an
 * active entry it supports (selection.ts), and no device may pin a deleted entry.
 */
export function strandedBy(after: readonly LifecycleEntry[], cohorts: readonly FleetCohort[]): string | null {
  const ids = new Set(after.map((e) => e.id));
  const orphan = cohorts.find((c) => c.count > 0 && !ids.has(c.certificateId));
  if (orphan) return `${orphan.count} device(s) would pin a certificate that no longer exists`;
  for (const mask of new Set(cohorts.filter((c) => c.count > 0).map((c) => c.supportedMask))) {
    const selection = selectCertificate(after, algorithmsOfMask(mask));
    if (selection.kind === 'none') return `devices supporting only ${algorithmsOfMask(mask).join(', ')} would have no active certificate they support`;
  }
  return null;
}

function sortedEntries(entries: readonly LifecycleEntry[]): LifecycleEntry[] {
  return [...entries].sort((a, b) => a.position - b.position).map((e, i) => (e.position === i + 1 ? e : { ...e, position: i + 1 }));
}

type Slot = { readonly id: string; readonly position: number; readonly active: boolean };

/** `entries` renumbered 1..n with `movedId` taken out and put back next to `anchorId` (above or below). */
function placedNextTo<T extends Slot>(entries: readonly T[], movedId: string, anchorId: string, side: 'above' | 'below', patch: Partial<T> = {}): T[] {
  const list = [...entries].sort((a, b) => a.position - b.position);
  const moved = list.find((e) => e.id === movedId);
  const rest = list.filter((e) => e.id !== movedId);
  const at = rest.findIndex((e) => e.id === anchorId);
  const placed = moved && at >= 0 ? [...rest.slice(0, side === 'above' ? at : at + 1), { ...moved, ...patch }, ...rest.slice(side === 'above' ? at : at + 1)] : list;
  return placed.map((e, i) => (e.position === i + 1 ? e : { ...e, position: i + 1 }));
}

/** The keystore once `successorId` is active and right above `predecessorId` (the default, if that was). */
export function promoted<T extends Slot>(entries: readonly T[], successorId: string, predecessorId: string): T[] {
  return placedNextTo(entries, successorId, predecessorId, 'above', { active: true } as Partial<T>); // `active` is a field of every Slot
}

/** The keystore once the new entry waits, inactive, right below `predecessorId`. */
export function placedBelow<T extends Slot>(entries: readonly T[], newId: string, predecessorId: string): T[] {
  return placedNextTo(entries, newId, predecessorId, 'below', { active: false } as Partial<T>); // as above
}

/** When a certificate that expires at `notAfter` comes within renew-before of its expiry. */
export function renewFrom(notAfter: string, s: Pick<LifecycleSettings, 'renewBeforeDays'>): Date {
  return new Date(Date.parse(notAfter) - s.renewBeforeDays * DAY_MS);
}

function withinRenewal(e: LifecycleEntry, s: LifecycleSettings, now: Date): boolean {
  return now.getTime() >= renewFrom(e.notAfter, s).getTime();
}

/**
 * The fallbacks the lifecycle looks after: active entries below the default that some device pins
 * because its firmware lacks the default's algorithm (a legacy fallback).
 */
export function pinnedFallbacks(entries: readonly LifecycleEntry[], cohorts: readonly FleetCohort[]): LifecycleEntry[] {
  const [top, ...rest] = sortedEntries(entries);
  if (!top) return [];
  const bit = algorithmBit(top.signatureAlgorithm);
  return rest.filter((e) => e.active && cohorts.some((c) => c.certificateId === e.id && c.count > 0 && (c.supportedMask & bit) === 0));
}

/**
 * The next step due now, or null. Open successions move first (oldest first); then an entry in
 * its renewal period that has no succession yet gets one. A step that would strand a firmware is
 * returned as `blocked` (once: `reported` holds those already told).
 */
export function nextLifecycleStep(input: LifecycleInput): LifecycleStep | null {
  const { settings, now, cohorts } = input;
  const entries = sortedEntries(input.entries);
  const byId = new Map(entries.map((e) => [e.id, e]));
  const reported = input.reported ?? new Set<string>();
  const block = (alias: string, step: 'generate' | 'promote' | 'deactivate' | 'delete', reason: string): LifecycleStep | null =>
    reported.has(blockedKey(alias, step)) ? null : { kind: 'blocked', alias, step, reason };
  const fallbackMoving = input.open.some((s) => s.role === SuccessionRole.fallback && s.state === SuccessionState.promoted);

  for (const s of [...input.open].sort((a, b) => a.createdAt.localeCompare(b.createdAt))) {
    const p = byId.get(s.predecessorId);
    const succ = byId.get(s.successorId);
    if (s.state === SuccessionState.generated) {
      if (!p || !succ) continue; // someone deleted one by hand: nothing left to do
      if (!inWindow(settings.window, now)) continue;
      // One fallback move at a time: the rotation carries one (storage/pending.ts).
      if (s.role === SuccessionRole.fallback && fallbackMoving) continue;
      const why = strandedBy(promoted(entries, succ.id, p.id), cohorts);
      if (why) {
        const b = block(succ.alias, 'promote', why);
        if (b) return b;
        continue;
      }
      return { kind: 'promote', succession: s };
    }
    if (s.state === SuccessionState.promoted) {
      if (!p) continue;
      if (p.pinned + p.pending > 0 || p.position === 1) continue;
      if (!p.active) return { kind: 'deactivate', succession: s }; // already inactive: record it
      const why = strandedBy(entries.map((e) => (e.id === p.id ? { ...e, active: false } : e)), cohorts);
      if (why) {
        const b = block(p.alias, 'deactivate', why);
        if (b) return b;
        continue;
      }
      return { kind: 'deactivate', succession: s };
    }
    if (s.state === SuccessionState.deactivated) {
      if (!p) return { kind: 'delete', succession: s }; // gone already: close the succession
      if (s.deactivatedAt === null || now.getTime() - Date.parse(s.deactivatedAt) < settings.retireAfterDays * DAY_MS) continue;
      if (p.pinned + p.pending > 0 || p.active) continue;
      const why = strandedBy(entries.filter((e) => e.id !== p.id), cohorts);
      if (why) {
        const b = block(p.alias, 'delete', why);
        if (b) return b;
        continue;
      }
      return { kind: 'delete', succession: s };
    }
  }

  const inSuccession = new Set(input.open.flatMap((s) => [s.predecessorId]));
  const taken = new Set(entries.map((e) => e.alias));
  const candidates: [SuccessionRole, LifecycleEntry][] = [];
  const top = entries[0];
  if (top) candidates.push([SuccessionRole.default, top]);
  for (const f of pinnedFallbacks(entries, cohorts)) candidates.push([SuccessionRole.fallback, f]);
  for (const [role, e] of candidates) {
    if (inSuccession.has(e.id) || !withinRenewal(e, settings, now)) continue;
    const plan = planSuccessor(e, now, taken);
    if (typeof plan === 'string') {
      const b = block(e.alias, 'generate', plan);
      if (b) return b;
      continue;
    }
    return { kind: 'generate', role, predecessor: e, plan };
  }
  return null;
}
