/**
 * R3, the rotation: moving the fleet to the default without stranding a device. A reconciler in
 * the manner of cert-manager (jobs/rotation.reconciler.ts runs it):
 *
 *   gather  the default, and the fleet in cohorts (certificate × supported mask × pending
 *           replacement): a handful of rows read from one index, whatever the fleet's size
 *   decide  domain/rotation.ts `decideRotation` for each cohort; the report counts the decisions
 *   act     make the default the rotation target: every device that does not pin it and whose
 *           firmware supports it now has it pending (storage/pending.ts), one row written for the
 *           whole fleet
 *
 * `previewDefault` answers, without writing, what a pass would do if an entry became the default:
 * it decides the same cohorts against that entry, so its numbers are what the pass after that
 * change reports (switching = scheduled + awaiting confirmation).
 */
import { algorithmBit, algorithmsOfMask } from '../domain/compatibility.js';
import { makeDefault } from '../domain/keystore.js';
import { decideRotation, RotationDecision } from '../domain/rotation.js';
import { Permission } from '../domain/roles.js';
import { auditedChange, authorize, SYSTEM_ACTOR, type Actor, type AppContext } from './context.js';
import type { DeviceCohort, DeviceEntry, RotationRun } from './records.js';
import type { Repos } from './store.js';

/**
 * What the last rotation pass planned (R3): its default, and the bit of that certificate's
 * algorithm in the supported masks. A device's pending replacement is derived from it
 * (storage/pending.ts): the target, when the device does not pin it and can use it.
 */
export interface RotationTarget {
  readonly certificateId: string | null;
  readonly algorithmBit: number;
  readonly plannedAt: string | null;
}

export interface ProfileCohort extends DeviceCohort {
  /** The device's firmware profile; null when it reported none. */
  readonly profile: string | null;
}

export interface RotationRepo {
  /** The current target; `forUpdate` holds it (PostgreSQL row lock) until the transaction ends. */
  target(forUpdate?: boolean): Promise<RotationTarget>;
  /**
   * R3 planning, set-based: makes `certificateId` the target, so that every device that does not pin
   * it and whose mask has `algorithmBit` has it pending (one row written, whatever the fleet's size).
   */
  setTarget(certificateId: string, algorithmBit: number, at: string): Promise<void>;
  /**
   * L2, the lifecycle's legacy-fallback move (pending.ts): devices that pin `fromId`, cannot use
   * the default and support `algorithmBit` get `toId` pending. One at a time; it replaces the last.
   */
  setFallbackMove(fromId: string, toId: string, algorithmBit: number): Promise<void>;
  /** The fleet grouped by certificate, mask and pending replacement (read from one index). */
  cohorts(): Promise<DeviceCohort[]>;
  /** The same, per firmware profile. */
  cohortsByProfile(): Promise<ProfileCohort[]>;
  /** Keeps the report (and a bounded history of earlier ones). */
  recordRun(run: RotationRun, actor: string): Promise<void>;
  lastRun(): Promise<RotationRun | null>;
}

/** Why a pass was asked for, as the reconciler logs it. */
export const RotationTrigger = {
  start: 'start',
  interval: 'interval',
  defaultChanged: 'default-changed',
  compatibilityChanged: 'compatibility-changed',
  requested: 'requested',
} as const;
export type RotationTrigger = (typeof RotationTrigger)[keyof typeof RotationTrigger];

/**
 * Runs rotation passes one at a time (R3). In a server it is the reconciler
 * (jobs/rotation.reconciler.ts), so that `sync run`, the timer and the triggers share its
 * single flight; a process without one (tests, tools) runs each request at once.
 */
export interface RotationRunner {
  /** A pass that starts after this call, on behalf of `actor`; resolves with its report. */
  runNow(actor: Actor): Promise<RotationReport>;
  /** Asks for a pass soon; returns at once. */
  trigger(reason: RotationTrigger): void;
}

/** Devices that reported no firmware profile are counted under this name. */
export const UNKNOWN_PROFILE = 'unknown';

/** What one pass found and did; the counts are those of `RotationDecision`. */
export type RotationReport = RotationRun;

export interface RotationStatus {
  readonly lastRun: RotationReport | null;
  readonly defaultAlias: string;
  readonly total: number;
  readonly onDefault: number;
  /** Devices with a pending replacement (not yet confirmed). */
  readonly pending: number;
  /** Devices not on the default whose firmware lacks its algorithm: they keep their certificate. */
  readonly staying: number;
}

export interface DefaultPreview {
  readonly alias: string;
  readonly switching: { readonly total: number; readonly byProfile: Record<string, number> };
  readonly staying: { readonly total: number; readonly byProfile: Record<string, number>; readonly lacking: string };
  readonly alreadyCurrent: number;
}

/** The report's count for each decision, so that a reader can match them to `decideRotation`. */
export const REPORT_FIELD_OF_DECISION = {
  [RotationDecision.alreadyCurrent]: 'alreadyCurrent',
  [RotationDecision.schedule]: 'scheduled',
  [RotationDecision.awaitingConfirmation]: 'awaitingConfirmation',
  [RotationDecision.incompatible]: 'incompatible',
} as const satisfies Record<RotationDecision, keyof RotationReport>;

function defaultOf(entries: readonly DeviceEntry[]): DeviceEntry | null {
  return entries[0] ?? null;
}

type DecisionCounts = { -readonly [K in (typeof REPORT_FIELD_OF_DECISION)[RotationDecision]]: number };

/** `decideRotation` for each cohort, counted by decision. */
export function decideCohorts(cohorts: readonly DeviceCohort[], target: Pick<DeviceEntry, 'id' | 'signatureAlgorithm'>): DecisionCounts & { total: number } {
  const counts = { alreadyCurrent: 0, scheduled: 0, awaitingConfirmation: 0, incompatible: 0, total: 0 };
  for (const c of cohorts) {
    const decision = decideRotation({
      defaultId: target.id,
      defaultAlgorithm: target.signatureAlgorithm,
      device: { certificateId: c.certificateId, pendingCertificateId: c.pendingCertificateId, supportedAlgorithms: algorithmsOfMask(c.supportedMask) },
    });
    counts[REPORT_FIELD_OF_DECISION[decision]] += c.count;
    counts.total += c.count;
  }
  return counts;
}

/**
 * Checked first in a pass's transaction, before it reads or writes: in a cluster, that this node
 * still holds the rotation lease under the epoch it took it with (H4, jobs/cluster-member.ts), so
 * a node that lost the lease while it was paused writes nothing. Throws to refuse the pass.
 */
export type RotationFence = (tx: Repos) => Promise<void>;

const NO_FENCE: RotationFence = () => Promise.resolve();

export async function runRotation(ctx: AppContext, actor: Actor, fence: RotationFence = NO_FENCE): Promise<RotationReport> {
  return auditedChange(ctx, actor, 'rotation.run', null, async (audit) => {
    authorize(actor, Permission.manageCertificates);
    const startedAt = ctx.clock.now().toISOString();
    return ctx.store.transaction(async (tx) => {
      await fence(tx);
      // Gather. The target row's lock makes passes on several nodes take turns.
      const before = await tx.rotation.target(true);
      const target = defaultOf(await tx.keystore.deviceEntries());
      if (!target) {
        // Only before the first start has made `tckey`; no device can exist yet either.
        return { defaultAlias: '', checked: 0, scheduled: 0, incompatible: 0, alreadyCurrent: 0, awaitingConfirmation: 0, startedAt, finishedAt: startedAt };
      }
      const cohorts = await tx.rotation.cohorts();
      // Decide.
      const decided = decideCohorts(cohorts, target);
      // Act.
      await tx.rotation.setTarget(target.id, algorithmBit(target.signatureAlgorithm), startedAt);
      const report: RotationReport = {
        defaultAlias: target.alias,
        checked: decided.total,
        scheduled: decided.scheduled,
        incompatible: decided.incompatible,
        alreadyCurrent: decided.alreadyCurrent,
        awaitingConfirmation: decided.awaitingConfirmation,
        startedAt,
        finishedAt: ctx.clock.now().toISOString(),
      };
      await tx.rotation.recordRun(report, actor.username);
      // The periodic pass is in the audit log when it changed something; a pass someone asked for, always.
      const changed = decided.scheduled > 0 || before.certificateId !== target.id;
      if (changed || actor.userId !== SYSTEM_ACTOR.userId) {
        await audit.ok(tx, { ...report, previousTarget: before.certificateId });
      }
      return report;
    });
  });
}

/**
 * `sync run`: a pass through the context's runner (the reconciler's single flight in a server),
 * on behalf of `actor`. The pass audits itself under the actor; a refusal is audited here, before
 * anything is queued.
 */
export async function requestRotation(ctx: AppContext, actor: Actor): Promise<RotationReport> {
  await auditedChange(ctx, actor, 'rotation.run', null, async () => authorize(actor, Permission.manageCertificates));
  return ctx.rotation.runNow(actor);
}

export async function rotationStatus(ctx: AppContext, actor: Actor): Promise<RotationStatus> {
  authorize(actor, Permission.read);
  const target = defaultOf(await ctx.store.keystore.deviceEntries());
  const lastRun = await ctx.store.rotation.lastRun();
  if (!target) return { lastRun, defaultAlias: '', total: 0, onDefault: 0, pending: 0, staying: 0 };
  const bit = algorithmBit(target.signatureAlgorithm);
  let total = 0;
  let onDefault = 0;
  let pending = 0;
  let staying = 0;
  for (const c of await ctx.store.rotation.cohorts()) {
    total += c.count;
    if (c.certificateId === target.id) onDefault += c.count;
    else if ((c.supportedMask & bit) === 0) staying += c.count;
    if (c.pendingCertificateId !== null) pending += c.count;
  }
  return { lastRun, defaultAlias: target.alias, total, onDefault, pending, staying };
}

export async function previewDefault(ctx: AppContext, actor: Actor, alias: string): Promise<DefaultPreview> {
  authorize(actor, Permission.read);
  const entries = await ctx.store.keystore.deviceEntries();
  // The same rule as `cert default`: an unknown or inactive entry is refused here too.
  const candidate = makeDefault(entries, alias)[0] as DeviceEntry; // makeDefault puts `alias` first or throws
  return previewDefaultOf(await ctx.store.rotation.cohortsByProfile(), candidate);
}

/** What making `candidate` the default would do to the fleet's cohorts (also recorded by the lifecycle, L2). */
export function previewDefaultOf(cohorts: readonly ProfileCohort[], candidate: Pick<DeviceEntry, 'id' | 'alias' | 'signatureAlgorithm'>): DefaultPreview {
  const switching: Record<string, number> = {};
  const staying: Record<string, number> = {};
  let alreadyCurrent = 0;
  const add = (counts: Record<string, number>, profile: string, n: number) => {
    if (n > 0) counts[profile] = (counts[profile] ?? 0) + n;
  };
  for (const c of cohorts) {
    const decided = decideCohorts([c], candidate);
    const profile = c.profile ?? UNKNOWN_PROFILE;
    add(switching, profile, decided.scheduled + decided.awaitingConfirmation);
    add(staying, profile, decided.incompatible);
    alreadyCurrent += decided.alreadyCurrent;
  }
  const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
  return {
    alias: candidate.alias,
    switching: { total: sum(switching), byProfile: switching },
    staying: { total: sum(staying), byProfile: staying, lacking: candidate.signatureAlgorithm },
    alreadyCurrent,
  };
}
