/**
 * R2 → R3 before saving: what replacing the compatibility table would do to the fleet against the
 * current default, without writing anything. Gather (the keystore and the fleet in firmware
 * cohorts, one grouped read), decide (domain `previewTableChange`, the rotation's own policy per
 * cohort), answer. The numbers are what the rotation does once the table is saved: the devices
 * newly switching get the default pending, those no longer switching lose it.
 */
import { previewTableChange, type CompatibilityRule, type FirmwareCohort, type TableChange } from '../domain/compatibility.js';
import { Permission } from '../domain/roles.js';
import { checkRules } from './compatibility.js';
import { authorize, type Actor, type AppContext } from './context.js';
import { UNKNOWN_PROFILE } from './rotation.js';

/** What the preview reads of the fleet. */
export interface FirmwareCohortRepo {
  /**
   * The fleet counted by firmware (OS family, version, profile, declared or not, mask) and pinned
   * certificate: one grouped read, for previewing a compatibility table edit.
   */
  firmwareCohorts(): Promise<FirmwareCohort[]>;
}

export interface ProfileCounts {
  readonly newlySwitching: number;
  readonly noLongerSwitching: number;
  readonly unsupportedPin: number;
}

export interface CompatibilityPreview extends Omit<TableChange, 'byProfile'> {
  /** The default the numbers are relative to; empty before the first start made one. */
  readonly defaultAlias: string;
  readonly defaultAlgorithm: string;
  /** Per firmware profile (`unknown` for devices that reported none), only where something changes. */
  readonly byProfile: Readonly<Record<string, ProfileCounts>>;
}

/**
 * Permission `read`, like `cert default --dry-run`: it changes nothing and tells nothing a viewer
 * cannot already read (the table, the devices with their firmware and pins, the keystore), so a
 * viewer may work out a proposal and hand it to an operator.
 */
export async function previewCompatibilityRules(ctx: AppContext, actor: Actor, rules: readonly CompatibilityRule[]): Promise<CompatibilityPreview> {
  authorize(actor, Permission.read);
  const proposed = checkRules(rules);
  const entries = await ctx.store.keystore.deviceEntries();
  const target = entries[0];
  const cohorts = await ctx.store.devices.firmwareCohorts();
  if (!target) {
    // Only before the first start has made `tckey`; no device can exist yet either.
    const none = { before: 0, after: 0 };
    return { defaultAlias: '', defaultAlgorithm: '', total: 0, declared: 0, switching: none, staying: none, newlySwitching: 0, noLongerSwitching: 0, unsupportedPin: 0, byProfile: {} };
  }
  const change = previewTableChange({
    proposed,
    target,
    algorithmOf: new Map(entries.map((e) => [e.id, e.signatureAlgorithm])),
    cohorts,
  });
  const byProfile: Record<string, ProfileCounts> = {};
  for (const { profile, ...counts } of change.byProfile) {
    const name = profile ?? UNKNOWN_PROFILE;
    const seen = byProfile[name];
    byProfile[name] = seen
      ? {
          newlySwitching: seen.newlySwitching + counts.newlySwitching,
          noLongerSwitching: seen.noLongerSwitching + counts.noLongerSwitching,
          unsupportedPin: seen.unsupportedPin + counts.unsupportedPin,
        }
      : counts;
  }
  return { ...change, defaultAlias: target.alias, defaultAlgorithm: target.signatureAlgorithm, byProfile };
}
