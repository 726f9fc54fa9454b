/**
 * L2, automatic successors: the settings (`lifecycle set|off|show`) and one lifecycle pass, which
 * the leader's job (jobs/lifecycle.scheduler.ts) runs periodically. A pass gathers (the keystore
 * with its usage, the fleet in cohorts, the open successions), asks the domain for the next step
 * (domain/lifecycle.ts `nextLifecycleStep`), acts through the keystore's own use cases
 * (certificates.ts: generate, reorder, deactivate, delete — so every rule of K2–K7 and every
 * audit entry they write apply), and records the step with them in one transaction: the succession's
 * state, a lifecycle event (the console's timeline) and a `lifecycle.*` audit entry. Then it asks
 * again, until nothing is due.
 */
import { successionsEndedByRestore } from '../domain/backup.js';
import { daysUntilExpiry } from '../domain/certificate.js';
import { algorithmBit } from '../domain/compatibility.js';
import {
  blockedKey,
  formatWindow,
  nextLifecycleStep,
  nextWindowStart,
  parseDays,
  parseWindow,
  renewFrom,
  pinnedFallbacks,
  promoted,
  SuccessionRole,
  SuccessionState,
  DEFAULT_RETIRE_AFTER_DAYS,
  type LifecycleEntry,
  type LifecycleSettings,
  type LifecycleStep,
  type Succession,
} from '../domain/lifecycle.js';
import { Permission } from '../domain/roles.js';
import { AuditResult } from '../domain/vocabularies.js';
import { changeSlots, deleteCertificate, generateCertificate, setCertificateActive } from './certificates.js';
import { auditedChange, authorize, type Actor, type AppContext } from './context.js';
import type { StoredCertificate } from './records.js';
import { previewDefaultOf, RotationTrigger, type RotationFence } from './rotation.js';
import type { Repos } from './store.js';

/** The lifecycle acts as this actor: the audit log names it, and it holds the admin role. */
export const LIFECYCLE_ACTOR: Actor = { userId: 'system', username: 'lifecycle', role: 'admin', tokenId: null };

export interface StoredLifecycleSettings {
  readonly enabled: boolean;
  readonly renewBeforeDays: number;
  /** Canonical text (domain `formatWindow`). */
  readonly window: string;
  readonly retireAfterDays: number;
  readonly updatedAt: string | null;
  readonly updatedBy: string | null;
}

export const LifecycleEventStep = {
  generated: 'generated',
  promoted: 'promoted',
  deactivated: 'deactivated',
  deleted: 'deleted',
  blocked: 'blocked',
  /** Closed by a restore: one of its certificates is not in the restored keystore (domain/backup.ts). */
  ended: 'ended',
} as const;
export type LifecycleEventStep = (typeof LifecycleEventStep)[keyof typeof LifecycleEventStep];

export interface LifecycleEvent {
  readonly id: number;
  readonly at: string;
  readonly step: LifecycleEventStep;
  /** The entry the step was about: the successor for generated/promoted, the predecessor otherwise. */
  readonly alias: string;
  readonly successionId: string | null;
  readonly details: Readonly<Record<string, unknown>>;
}

export type NewLifecycleEvent = Omit<LifecycleEvent, 'id'>;

export interface LifecycleRepo {
  settings(): Promise<StoredLifecycleSettings>;
  saveSettings(s: StoredLifecycleSettings): Promise<void>;
  /** Successions not yet deleted, oldest first. */
  openSuccessions(): Promise<Succession[]>;
  /** The newest successions, open or closed, newest first. */
  successions(limit: number): Promise<Succession[]>;
  insertSuccession(s: Succession): Promise<void>;
  /** Moves a succession on; `at` is kept as the time of that state. */
  setSuccessionState(id: string, state: SuccessionState, at: string): Promise<void>;
  appendEvent(e: NewLifecycleEvent): Promise<void>;
  /** Newest first. */
  events(limit: number): Promise<LifecycleEvent[]>;
  /** The blocked steps reported so far (alias + step, domain `blockedKey`). */
  reportedBlocks(): Promise<Set<string>>;
}

export interface LifecycleSetRequest {
  readonly renewBefore: string;
  readonly window: string;
  readonly retireAfter?: string;
}

function settingsOf(s: StoredLifecycleSettings): LifecycleSettings {
  return { renewBeforeDays: s.renewBeforeDays, window: parseWindow(s.window), retireAfterDays: s.retireAfterDays };
}

/** `lifecycle set`: turns the successors on with these settings (administrators; audited). */
export async function setLifecycle(ctx: AppContext, actor: Actor, req: LifecycleSetRequest): Promise<StoredLifecycleSettings> {
  return auditedChange(ctx, actor, 'lifecycle.set', null, async (audit) => {
    authorize(actor, Permission.manageLifecycle);
    const renewBeforeDays = parseDays(req.renewBefore, 'renew-before');
    const window = formatWindow(parseWindow(req.window));
    const retireAfterDays = req.retireAfter === undefined ? DEFAULT_RETIRE_AFTER_DAYS : parseDays(req.retireAfter, 'retire-after');
    const saved: StoredLifecycleSettings = { enabled: true, renewBeforeDays, window, retireAfterDays, updatedAt: ctx.clock.now().toISOString(), updatedBy: actor.username };
    await ctx.store.transaction(async (tx) => {
      await tx.lifecycle.saveSettings(saved);
      await audit.ok(tx, { renewBeforeDays, window, retireAfterDays });
    });
    return saved;
  });
}

/** `lifecycle off`: no new successors; open successions stay where they are until it is on again. */
export async function disableLifecycle(ctx: AppContext, actor: Actor): Promise<StoredLifecycleSettings> {
  return auditedChange(ctx, actor, 'lifecycle.off', null, async (audit) => {
    authorize(actor, Permission.manageLifecycle);
    return ctx.store.transaction(async (tx) => {
      const saved = { ...(await tx.lifecycle.settings()), enabled: false, updatedAt: ctx.clock.now().toISOString(), updatedBy: actor.username };
      await tx.lifecycle.saveSettings(saved);
      await audit.ok(tx, {});
      return saved;
    });
  });
}

/** An entry the lifecycle looks after, with the days it has left. */
export interface TrackedCertificate {
  readonly alias: string;
  readonly role: SuccessionRole;
  readonly notAfter: string;
  readonly daysUntilExpiry: number;
  /** When its successor is due to be generated (notAfter − renew-before). */
  readonly renewFrom: string;
}

export interface LifecycleStatus {
  readonly settings: StoredLifecycleSettings;
  /** When the window opens next (now, if it is open); null while the lifecycle is off. */
  readonly nextWindow: string | null;
  readonly tracked: readonly TrackedCertificate[];
  readonly successions: readonly Succession[];
  /** Newest first: the timeline. */
  readonly events: readonly LifecycleEvent[];
}

function lifecycleEntry(c: StoredCertificate): LifecycleEntry {
  return {
    id: c.id,
    alias: c.alias,
    position: c.position,
    active: c.active,
    signatureAlgorithm: c.facts.signatureAlgorithm,
    keySize: c.facts.keySize,
    subject: c.facts.subject,
    notBefore: c.facts.notBefore,
    notAfter: c.facts.notAfter,
    pinned: c.usage.pinned,
    pending: c.usage.pending,
  };
}

export const TIMELINE_LENGTH = 200;

/** `lifecycle show` (read permission, like the rotation's status). */
export async function lifecycleStatus(ctx: AppContext, actor: Actor): Promise<LifecycleStatus> {
  authorize(actor, Permission.read);
  // Independent reads of a status page, at once (a pool on PostgreSQL; SQLite serialises them anyway).
  const [settings, keystore, cohorts, successions, events] = await Promise.all([
    ctx.store.lifecycle.settings(),
    ctx.store.keystore.list(),
    ctx.store.rotation.cohorts(),
    ctx.store.lifecycle.successions(50),
    ctx.store.lifecycle.events(TIMELINE_LENGTH),
  ]);
  const now = ctx.clock.now();
  const entries = keystore.map(lifecycleEntry);
  const track = (role: SuccessionRole, e: LifecycleEntry): TrackedCertificate => ({
    alias: e.alias,
    role,
    notAfter: e.notAfter,
    daysUntilExpiry: daysUntilExpiry(e.notAfter, now),
    renewFrom: renewFrom(e.notAfter, settings).toISOString(),
  });
  const top = entries[0];
  const tracked = top ? [track(SuccessionRole.default, top), ...pinnedFallbacks(entries, cohorts).map((e) => track(SuccessionRole.fallback, e))] : [];
  return {
    settings,
    nextWindow: settings.enabled ? nextWindowStart(parseWindow(settings.window), now).toISOString() : null,
    tracked,
    successions,
    events,
  };
}

/** At most this many steps per pass; the next pass carries on (a pass never runs away). */
export const MAX_STEPS_PER_PASS = 10;

export interface LifecyclePassReport {
  readonly steps: readonly LifecycleStep['kind'][];
}

/**
 * One lifecycle pass (the leader only; `fence` refuses the writes of a node that lost the lease).
 * Does nothing while the lifecycle is off.
 */
export async function runLifecyclePass(ctx: AppContext, fence: RotationFence = () => Promise.resolve()): Promise<LifecyclePassReport> {
  const steps: LifecycleStep['kind'][] = [];
  for (let i = 0; i < MAX_STEPS_PER_PASS; i++) {
    const stored = await ctx.store.lifecycle.settings();
    if (!stored.enabled) break;
    const now = ctx.clock.now();
    const step = nextLifecycleStep({
      settings: settingsOf(stored),
      now,
      entries: (await ctx.store.keystore.list()).map(lifecycleEntry),
      cohorts: await ctx.store.rotation.cohorts(),
      open: await ctx.store.lifecycle.openSuccessions(),
      reported: await ctx.store.lifecycle.reportedBlocks(),
    });
    if (!step) break;
    await act(ctx, step, fence);
    steps.push(step.kind);
  }
  return { steps };
}

/**
 * After a restore has put its rows in (inside its transaction, any format version): the open
 * successions that lost their predecessor or successor are closed (state `deleted`, an `ended`
 * event and a `lifecycle.ended` audit entry by the restoring actor; domain/backup.ts
 * `successionsEndedByRestore`), and the legacy-fallback move, which the restore cleared with the
 * rotation target, is set again for the promoted fallback succession still open. Returns how many
 * were ended.
 */
export async function settleSuccessionsAfterRestore(ctx: AppContext, tx: Repos, actor: Actor): Promise<number> {
  const keystore = await tx.keystore.list();
  const open = await tx.lifecycle.openSuccessions();
  const ended = successionsEndedByRestore(open, new Set(keystore.map((c) => c.id)));
  const at = ctx.clock.now().toISOString();
  for (const { succession: s, missing } of ended) {
    const details = { role: s.role, predecessor: s.predecessorAlias, successor: s.successorAlias, state: s.state, missing };
    await tx.lifecycle.setSuccessionState(s.id, SuccessionState.deleted, at);
    await tx.lifecycle.appendEvent({ at, step: LifecycleEventStep.ended, alias: s.predecessorAlias, successionId: s.id, details });
    await tx.audit.append({ at, actor: actor.username, action: `lifecycle.${LifecycleEventStep.ended}`, target: s.predecessorAlias, result: AuditResult.ok, code: null, details });
  }
  const endedIds = new Set(ended.map((e) => e.succession.id));
  const moving = open.find((s) => !endedIds.has(s.id) && s.role === SuccessionRole.fallback && s.state === SuccessionState.promoted);
  const successor = moving && keystore.find((c) => c.id === moving.successorId);
  if (moving && successor) await tx.rotation.setFallbackMove(moving.predecessorId, moving.successorId, algorithmBit(successor.facts.signatureAlgorithm));
  return ended.length;
}

/** The lifecycle's own record of a step, written inside the keystore change's transaction. */
async function record(
  ctx: AppContext,
  tx: Repos,
  fence: RotationFence,
  step: LifecycleEventStep,
  alias: string,
  succession: Succession | null,
  details: Readonly<Record<string, unknown>>,
): Promise<void> {
  await fence(tx);
  const at = ctx.clock.now().toISOString();
  await tx.lifecycle.appendEvent({ at, step, alias, successionId: succession?.id ?? null, details });
  await tx.audit.append({ at, actor: LIFECYCLE_ACTOR.username, action: `lifecycle.${step}`, target: alias, result: AuditResult.ok, code: null, details });
}

async function act(ctx: AppContext, step: LifecycleStep, fence: RotationFence): Promise<void> {
  const now = ctx.clock.now().toISOString();
  switch (step.kind) {
    case 'generate': {
      const p = step.predecessor;
      const { plan } = step;
      await generateCertificate(
        ctx,
        LIFECYCLE_ACTOR,
        { alias: plan.alias, commonName: plan.commonName, signatureAlgorithm: plan.signatureAlgorithm, keySize: plan.keySize, days: plan.days },
        {
          inactiveBelow: p.alias,
          also: async (tx, entry) => {
            const succession: Succession = {
              id: ctx.random.uuid(),
              role: step.role,
              predecessorId: p.id,
              predecessorAlias: p.alias,
              successorId: entry.id,
              successorAlias: entry.alias,
              state: SuccessionState.generated,
              createdAt: now,
              deactivatedAt: null,
            };
            await tx.lifecycle.insertSuccession(succession);
            await record(ctx, tx, fence, LifecycleEventStep.generated, entry.alias, succession, {
              role: step.role,
              replaces: p.alias,
              replacesNotAfter: p.notAfter,
              signatureAlgorithm: plan.signatureAlgorithm,
              keySize: plan.keySize,
              days: plan.days,
              notAfter: entry.facts.notAfter,
            });
          },
        },
      );
      return;
    }
    case 'promote': {
      const s = step.succession;
      const before = await ctx.store.keystore.list();
      const successor = before.find((e) => e.id === s.successorId);
      // The preview of a default change, recorded with it (what `cert default --dry-run` would say).
      const preview =
        s.role === SuccessionRole.default && successor
          ? previewDefaultOf(await ctx.store.rotation.cohortsByProfile(), { id: successor.id, alias: successor.alias, signatureAlgorithm: successor.facts.signatureAlgorithm })
          : null;
      await changeSlots(ctx, LIFECYCLE_ACTOR, 'certificate.make-successor', s.successorAlias, (list) => promoted(list, s.successorId, s.predecessorId), async (tx, after) => {
        if (s.role === SuccessionRole.fallback && successor) {
          await tx.rotation.setFallbackMove(s.predecessorId, s.successorId, algorithmBit(successor.facts.signatureAlgorithm));
        }
        await tx.lifecycle.setSuccessionState(s.id, SuccessionState.promoted, now);
        await record(ctx, tx, fence, LifecycleEventStep.promoted, s.successorAlias, s, {
          role: s.role,
          replaces: s.predecessorAlias,
          position: after.find((e) => e.id === s.successorId)?.position ?? null,
          ...(preview ? { preview } : {}),
        });
      });
      if (s.role === SuccessionRole.fallback) ctx.rotation.trigger(RotationTrigger.defaultChanged);
      return;
    }
    case 'deactivate': {
      const s = step.succession;
      await setCertificateActive(ctx, LIFECYCLE_ACTOR, s.predecessorAlias, false, async (tx) => {
        await tx.lifecycle.setSuccessionState(s.id, SuccessionState.deactivated, now);
        await record(ctx, tx, fence, LifecycleEventStep.deactivated, s.predecessorAlias, s, { role: s.role, replacedBy: s.successorAlias });
      });
      return;
    }
    case 'delete': {
      const s = step.succession;
      const close = async (tx: Repos) => {
        await tx.lifecycle.setSuccessionState(s.id, SuccessionState.deleted, now);
        await record(ctx, tx, fence, LifecycleEventStep.deleted, s.predecessorAlias, s, { role: s.role, replacedBy: s.successorAlias });
      };
      if (await ctx.store.keystore.findByAlias(s.predecessorAlias)) await deleteCertificate(ctx, LIFECYCLE_ACTOR, s.predecessorAlias, close);
      else await ctx.store.transaction(close);
      return;
    }
    case 'blocked': {
      await ctx.store.transaction((tx) =>
        record(ctx, tx, fence, LifecycleEventStep.blocked, step.alias, null, { step: step.step, reason: step.reason, key: blockedKey(step.alias, step.step) }),
      );
      return;
    }
  }
}
