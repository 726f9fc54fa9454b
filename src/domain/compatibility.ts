/**
 * R2: which signature algorithms a device's firmware supports. A device's own declaration wins;
 * otherwise the first rule of the compatibility table that matches its OS family and version.
 * Algorithms are also kept as a bit mask over the allow-list, so that the database can answer
 * "which devices support the default" for a million rows in one set-based statement.
 */
import { ALLOWED_SIGNATURE_ALGORITHMS } from './algorithms.js';
import { decideRotation, RotationDecision } from './rotation.js';

export interface CompatibilityRule {
  /** The firmware profile this rule describes (`igel-os-12` …); agents emulate profiles by name. */
  readonly profile: string;
  readonly osFamily: string;
  /** The rule applies to versions up to and including this one; null: every version. */
  readonly maxVersion: string | null;
  readonly algorithms: readonly string[];
}

const ALL = ALLOWED_SIGNATURE_ALGORITHMS;
/** What IGEL Linux ≤ v4.01.650 and Windows 7 Embedded ≤ 3.08.100 can verify: RSA, no SHA-512, no ECDSA. */
const LEGACY = ['SHA1withRSA', 'SHA224withRSA', 'SHA256withRSA', 'SHA384withRSA'] as const;

export const OsFamily = { igelOs: 'IGEL OS', igelLinux: 'IGEL Linux', windows7Embedded: 'Windows 7 Embedded' } as const;

/**
 * The table certfleet ships with, in match order: the first rule whose family matches and whose
 * maxVersion is at or above the device's version decides.
 */
export const DEFAULT_COMPATIBILITY_RULES: readonly CompatibilityRule[] = [
  { profile: 'igel-linux-4.01.650', osFamily: OsFamily.igelLinux, maxVersion: '4.01.650', algorithms: LEGACY },
  { profile: 'windows-7-embedded-3.08.100', osFamily: OsFamily.windows7Embedded, maxVersion: '3.08.100', algorithms: LEGACY },
  { profile: 'igel-os-11', osFamily: OsFamily.igelOs, maxVersion: '11.99.999', algorithms: ALL },
  { profile: 'igel-os-12', osFamily: OsFamily.igelOs, maxVersion: null, algorithms: ALL },
  { profile: 'igel-linux', osFamily: OsFamily.igelLinux, maxVersion: null, algorithms: ALL },
  { profile: 'windows-7-embedded', osFamily: OsFamily.windows7Embedded, maxVersion: null, algorithms: ALL },
];

/** What a firmware profile (as the agent emulates it) reports about itself at registration. */
export const PROFILE_IDENTITY: Readonly<Record<string, { readonly osFamily: string; readonly osVersion: string }>> = {
  'igel-os-12': { osFamily: OsFamily.igelOs, osVersion: '12.4.2' },
  'igel-os-11': { osFamily: OsFamily.igelOs, osVersion: '11.10.150' },
  'igel-linux-4.01.650': { osFamily: OsFamily.igelLinux, osVersion: '4.01.650' },
  'windows-7-embedded-3.08.100': { osFamily: OsFamily.windows7Embedded, osVersion: '3.08.100' },
};

/** Compares dotted versions numerically (`v4.01.650` < `4.2` < `11.10.150`); a leading `v` is ignored. */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) => v.replace(/^v/i, '').split(/[.\-_]/).map((p) => Number.parseInt(p, 10) || 0);
  const x = parts(a);
  const y = parts(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

export function matchRule(rules: readonly CompatibilityRule[], osFamily: string, osVersion: string): CompatibilityRule | null {
  const family = osFamily.trim().toLowerCase();
  return (
    rules.find((r) => r.osFamily.toLowerCase() === family && (r.maxVersion === null || compareVersions(osVersion, r.maxVersion) <= 0)) ??
    null
  );
}

/**
 * The algorithms a device supports: its declaration, else its rule, else (unknown firmware) the
 * whole allow-list — a device that cannot verify what it is given fails its own pin check loudly.
 */
export function supportedAlgorithms(
  rules: readonly CompatibilityRule[],
  device: { readonly osFamily: string; readonly osVersion: string; readonly declaredAlgorithms: readonly string[] | null },
): readonly string[] {
  if (device.declaredAlgorithms && device.declaredAlgorithms.length > 0) return device.declaredAlgorithms;
  return matchRule(rules, device.osFamily, device.osVersion)?.algorithms ?? ALL;
}

/** Bit i stands for ALLOWED_SIGNATURE_ALGORITHMS[i]; algorithms off the allow-list have no bit. */
export function algorithmMask(algorithms: readonly string[]): number {
  return algorithms.reduce((mask, a) => {
    const i = ALL.indexOf(a);
    return i < 0 ? mask : mask | (1 << i);
  }, 0);
}

export function algorithmsOfMask(mask: number): string[] {
  return ALL.filter((_, i) => (mask & (1 << i)) !== 0);
}

export function algorithmBit(algorithm: string): number {
  const i = ALL.indexOf(algorithm);
  return i < 0 ? 0 : 1 << i;
}

export function validateRules(rules: readonly CompatibilityRule[]): string | null {
  for (const [i, r] of rules.entries()) {
    if (!r.profile.trim() || !r.osFamily.trim()) return `rule ${i + 1}: profile and osFamily must not be empty`;
    const unknown = r.algorithms.filter((a) => !ALL.includes(a));
    if (unknown.length > 0) return `rule ${i + 1}: ${unknown.join(', ')} is not on the allow-list`;
    if (r.algorithms.length === 0) return `rule ${i + 1}: a rule must allow at least one algorithm`;
  }
  return null;
}

/**
 * Devices of one firmware that pin one certificate, counted: what a compatibility table edit is
 * previewed over (a handful of rows for a whole fleet, like the rotation's cohorts).
 */
export interface FirmwareCohort {
  readonly osFamily: string;
  readonly osVersion: string;
  /** The firmware profile the devices reported; null when they reported none. */
  readonly profile: string | null;
  /** They declared their own algorithms (R2): the table does not apply to them. */
  readonly declared: boolean;
  /** What they support now (the mask the rotation uses). */
  readonly supportedMask: number;
  readonly certificateId: string;
  readonly count: number;
}

export interface TableChangeInput {
  readonly proposed: readonly CompatibilityRule[];
  /** The default the rotation moves the fleet to. */
  readonly target: { readonly id: string; readonly signatureAlgorithm: string };
  /** The signature algorithm of each keystore entry, by id. */
  readonly algorithmOf: ReadonlyMap<string, string>;
  readonly cohorts: readonly FirmwareCohort[];
}

export interface ProfileChange {
  readonly profile: string | null;
  readonly newlySwitching: number;
  readonly noLongerSwitching: number;
  readonly unsupportedPin: number;
}

/**
 * What replacing the table with `proposed` would do to the fleet against the current default.
 * `switching`: devices not on the default whose firmware supports it (they get or keep it pending);
 * `staying`: devices not on the default whose firmware lacks it (they keep their certificate).
 */
export interface TableChange {
  readonly total: number;
  /** Devices with their own declaration: counted in switching/staying, never changed by the table. */
  readonly declared: number;
  readonly switching: { readonly before: number; readonly after: number };
  readonly staying: { readonly before: number; readonly after: number };
  /** Staying before, switching after: the default would be scheduled for them. */
  readonly newlySwitching: number;
  /** Switching before, staying after: their pending replacement would be dropped. */
  readonly noLongerSwitching: number;
  /**
   * Devices the table governs whose pinned certificate's algorithm the proposed table says their
   * firmware does not support: if the table were right, those devices could not talk to the server.
   */
  readonly unsupportedPin: number;
  /** Only the profiles with a change or an unsupported pin. */
  readonly byProfile: readonly ProfileChange[];
}

type Side = 'current' | 'switching' | 'staying';

/** The rotation's decision (domain/rotation.ts) for a device that pins `certificateId`, as a side. */
function sideOf(target: TableChangeInput['target'], certificateId: string, mask: number): Side {
  const decision = decideRotation({
    defaultId: target.id,
    defaultAlgorithm: target.signatureAlgorithm,
    device: { certificateId, pendingCertificateId: null, supportedAlgorithms: algorithmsOfMask(mask) },
  });
  if (decision === RotationDecision.alreadyCurrent) return 'current';
  return decision === RotationDecision.incompatible ? 'staying' : 'switching';
}

export function previewTableChange(input: TableChangeInput): TableChange {
  const totals = { total: 0, declared: 0, switchingBefore: 0, switchingAfter: 0, stayingBefore: 0, stayingAfter: 0 };
  const byProfile = new Map<string | null, { newlySwitching: number; noLongerSwitching: number; unsupportedPin: number }>();
  const change = (profile: string | null) => {
    const seen = byProfile.get(profile) ?? { newlySwitching: 0, noLongerSwitching: 0, unsupportedPin: 0 };
    byProfile.set(profile, seen);
    return seen;
  };
  for (const c of input.cohorts) {
    const after = c.declared ? c.supportedMask : algorithmMask(supportedAlgorithms(input.proposed, { ...c, declaredAlgorithms: null }));
    const was = sideOf(input.target, c.certificateId, c.supportedMask);
    const will = sideOf(input.target, c.certificateId, after);
    totals.total += c.count;
    if (c.declared) totals.declared += c.count;
    if (was === 'switching') totals.switchingBefore += c.count;
    if (was === 'staying') totals.stayingBefore += c.count;
    if (will === 'switching') totals.switchingAfter += c.count;
    if (will === 'staying') totals.stayingAfter += c.count;
    if (was === 'staying' && will === 'switching') change(c.profile).newlySwitching += c.count;
    if (was === 'switching' && will === 'staying') change(c.profile).noLongerSwitching += c.count;
    const pinned = input.algorithmOf.get(c.certificateId);
    if (!c.declared && pinned !== undefined && (after & algorithmBit(pinned)) === 0) change(c.profile).unsupportedPin += c.count;
  }
  const profiles = [...byProfile].map(([profile, counts]) => ({ profile, ...counts }));
  const sum = (field: 'newlySwitching' | 'noLongerSwitching' | 'unsupportedPin') => profiles.reduce((n, p) => n + p[field], 0);
  return {
    total: totals.total,
    declared: totals.declared,
    switching: { before: totals.switchingBefore, after: totals.switchingAfter },
    staying: { before: totals.stayingBefore, after: totals.stayingAfter },
    newlySwitching: sum('newlySwitching'),
    noLongerSwitching: sum('noLongerSwitching'),
    unsupportedPin: sum('unsupportedPin'),
    byProfile: profiles.filter((p) => p.newlySwitching + p.noLongerSwitching + p.unsupportedPin > 0),
  };
}
