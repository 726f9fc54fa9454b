/**
 * The compatibility table (R2): which signature algorithms each firmware supports. An
 * administrator may replace it; every device that relies on it (no declaration of its own) gets
 * its supported mask recomputed in the same transaction, set-based, and the reconciler is woken
 * so that the fleet follows at once (a device that can now use the default gets it pending; one
 * that no longer can keeps its certificate).
 */
import { algorithmMask, supportedAlgorithms, validateRules, type CompatibilityRule } from '../domain/compatibility.js';
import { CertfleetError, ErrorCode } from '../domain/errors.js';
import { Permission } from '../domain/roles.js';
import type { Clock } from '../domain/time.js';
import { auditedChange, authorize, type Actor, type AppContext } from './context.js';
import type { Firmware } from './records.js';
import { RotationTrigger } from './rotation.js';
import type { Repos } from './store.js';

export interface CompatibilityRepo {
  /** The rules in match order. */
  list(): Promise<CompatibilityRule[]>;
  /** Replaces the whole table, keeping the given order. */
  replaceAll(rules: readonly CompatibilityRule[]): Promise<void>;
}

/** The devices that rely on the table (no declaration), by firmware, for recomputing their masks. */
export interface FirmwareMaskRepo {
  /** The distinct OS family/version pairs of devices without declared algorithms. */
  firmwareWithoutDeclaration(): Promise<Firmware[]>;
  /**
   * Sets the supported mask of every device without declared algorithms whose firmware is listed,
   * set-based (one statement per chunk of firmware); returns how many devices changed.
   */
  setMaskOfFirmware(mask: number, firmware: readonly Firmware[]): Promise<number>;
}

export const MAX_COMPATIBILITY_RULES = 1000;

/**
 * How long a check-in may use the table it read before: a device that reports a new OS version
 * is re-matched against it. An edit on this node is seen at once; on another node within this.
 */
export const RULES_CACHE_MS = 10_000;

/** The table as check-ins read it: one read per RULES_CACHE_MS per context, not one per check-in. */
export class CompatibilityRules {
  private cached: { readonly rules: Promise<CompatibilityRule[]>; readonly at: number } | null = null;

  constructor(
    private readonly repo: Pick<CompatibilityRepo, 'list'>,
    private readonly clock: Clock,
  ) {}

  current(): Promise<CompatibilityRule[]> {
    const now = this.clock.now().getTime();
    if (this.cached && now - this.cached.at < RULES_CACHE_MS) return this.cached.rules;
    const entry = { rules: this.repo.list(), at: now };
    this.cached = entry;
    // A failed read is not kept: the next check-in reads again.
    entry.rules.catch(() => {
      if (this.cached === entry) this.cached = null;
    });
    return entry.rules;
  }

  /** After an edit on this node: the next check-in reads the new table. */
  invalidate(): void {
    this.cached = null;
  }
}

export async function getCompatibilityRules(ctx: AppContext, actor: Actor): Promise<CompatibilityRule[]> {
  authorize(actor, Permission.read);
  return ctx.store.compatibility.list();
}

/** The mask a device without a declaration gets from `rules`. */
export function maskOfFirmware(rules: readonly CompatibilityRule[], firmware: Firmware): number {
  return algorithmMask(supportedAlgorithms(rules, { ...firmware, declaredAlgorithms: null }));
}

/**
 * Recomputes the supported mask of every device without a declaration: one read of the distinct
 * firmware (OS family and version) in the fleet, then one UPDATE per resulting mask and family.
 * Returns how many devices changed.
 */
export async function recomputeSupportedMasks(tx: Repos, rules: readonly CompatibilityRule[]): Promise<number> {
  const byMask = new Map<number, Firmware[]>();
  for (const firmware of await tx.devices.firmwareWithoutDeclaration()) {
    const mask = maskOfFirmware(rules, firmware);
    byMask.set(mask, [...(byMask.get(mask) ?? []), firmware]);
  }
  let changed = 0;
  for (const [mask, firmware] of byMask) changed += await tx.devices.setMaskOfFirmware(mask, firmware);
  return changed;
}

/** Trims the rules and refuses a table that cannot be saved (`invalid_compatibility_rules`). */
export function checkRules(rules: readonly CompatibilityRule[]): CompatibilityRule[] {
  const refuse = (message: string): never => {
    throw new CertfleetError(ErrorCode.invalid_compatibility_rules, message, { reason: message });
  };
  if (rules.length === 0) refuse('The compatibility table needs at least one rule.');
  if (rules.length > MAX_COMPATIBILITY_RULES) refuse(`The compatibility table holds at most ${MAX_COMPATIBILITY_RULES} rules.`);
  const cleaned = rules.map((r) => ({
    profile: r.profile.trim(),
    osFamily: r.osFamily.trim(),
    maxVersion: r.maxVersion === null ? null : r.maxVersion.trim(),
    algorithms: [...new Set(r.algorithms)],
  }));
  for (const [i, r] of cleaned.entries()) {
    if (r.profile.length > 64 || r.osFamily.length > 64) refuse(`rule ${i + 1}: profile and osFamily are at most 64 characters`);
    if (r.maxVersion !== null && !/^v?\d+([.\-_]\d+)*$/i.test(r.maxVersion)) {
      refuse(`rule ${i + 1}: maxVersion "${r.maxVersion.slice(0, 40)}" is not a dotted version such as 4.01.650 (or null for every version)`);
    }
  }
  const problem = validateRules(cleaned);
  if (problem !== null) refuse(`The compatibility table was not changed: ${problem}.`);
  return cleaned;
}

export async function setCompatibilityRules(ctx: AppContext, actor: Actor, rules: CompatibilityRule[]): Promise<CompatibilityRule[]> {
  return auditedChange(ctx, actor, 'compatibility.set', null, async (audit) => {
    authorize(actor, Permission.manageCertificates);
    const cleaned = checkRules(rules);
    const saved = await ctx.store.transaction(async (tx) => {
      await tx.compatibility.replaceAll(cleaned);
      const devicesChanged = await recomputeSupportedMasks(tx, cleaned);
      await audit.ok(tx, { rules: cleaned.length, profiles: cleaned.map((r) => r.profile), devicesChanged });
      return tx.compatibility.list();
    });
    ctx.compatibilityRules.invalidate();
    // Which devices can use the default has changed (the keystore itself has not).
    ctx.rotation.trigger(RotationTrigger.compatibilityChanged);
    return saved;
  });
}
