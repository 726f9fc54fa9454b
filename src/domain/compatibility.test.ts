import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  algorithmMask,
  DEFAULT_COMPATIBILITY_RULES,
  previewTableChange,
  PROFILE_IDENTITY,
  supportedAlgorithms,
  type CompatibilityRule,
  type FirmwareCohort,
  type TableChangeInput,
} from './compatibility.js';

const rules = DEFAULT_COMPATIBILITY_RULES;
/** tckey is the default (SHA512withRSA); rsa256 is what the legacy firmware pins. */
const target = { id: 'tckey', signatureAlgorithm: 'SHA512withRSA' };
const algorithmOf: ReadonlyMap<string, string> = new Map([
  ['tckey', 'SHA512withRSA'],
  ['rsa256', 'SHA256withRSA'],
  ['ec', 'SHA256withECDSA'],
]);

/** A cohort of `count` devices of a profile (PROFILE_IDENTITY), its mask from the shipped table. */
function cohort(profile: string, certificateId: string, count: number, declared: readonly string[] | null = null): FirmwareCohort {
  const identity = PROFILE_IDENTITY[profile];
  assert.ok(identity, profile);
  const mask = algorithmMask(supportedAlgorithms(rules, { ...identity, declaredAlgorithms: declared }));
  return { ...identity, profile, declared: declared !== null, supportedMask: mask, certificateId, count };
}

const withRule = (profile: string, change: Partial<CompatibilityRule>): CompatibilityRule[] =>
  rules.map((r) => (r.profile === profile ? { ...r, ...change } : r));

const FLEET: readonly FirmwareCohort[] = [
  cohort('igel-os-12', 'tckey', 5),
  cohort('igel-os-11', 'rsa256', 3), // not on the default yet: switching
  cohort('igel-linux-4.01.650', 'rsa256', 4), // lacks SHA512withRSA: staying
  cohort('windows-7-embedded-3.08.100', 'rsa256', 2), // staying
];

const preview = (proposed: readonly CompatibilityRule[], cohorts: readonly FirmwareCohort[] = FLEET) =>
  previewTableChange({ proposed, target, algorithmOf, cohorts } satisfies TableChangeInput);

describe('previewing a compatibility table edit (R2 → R3)', () => {
  it('changes nothing when the table is the same', () => {
    assert.deepEqual(preview(rules), {
      total: 14,
      declared: 0,
      switching: { before: 3, after: 3 },
      staying: { before: 6, after: 6 },
      newlySwitching: 0,
      noLongerSwitching: 0,
      unsupportedPin: 0,
      byProfile: [],
    });
  });

  it('counts devices that would newly get the default, per profile', () => {
    const p = preview(withRule('igel-linux-4.01.650', { algorithms: ['SHA1withRSA', 'SHA224withRSA', 'SHA256withRSA', 'SHA384withRSA', 'SHA512withRSA'] }));
    assert.deepEqual([p.switching, p.staying, p.newlySwitching, p.noLongerSwitching], [{ before: 3, after: 7 }, { before: 6, after: 2 }, 4, 0]);
    assert.deepEqual(p.byProfile, [{ profile: 'igel-linux-4.01.650', newlySwitching: 4, noLongerSwitching: 0, unsupportedPin: 0 }]);
  });

  it('counts devices that would no longer switch, and those already on the default whose pin the table would call unsupported', () => {
    // IGEL OS without SHA512withRSA: 11.x stops switching; 12.x pins tckey (SHA512withRSA).
    const p = preview(rules.map((r) => (r.osFamily === 'IGEL OS' ? { ...r, algorithms: ['SHA256withRSA'] } : r)));
    assert.deepEqual([p.switching, p.staying], [{ before: 3, after: 0 }, { before: 6, after: 9 }]);
    assert.equal(p.noLongerSwitching, 3);
    assert.equal(p.unsupportedPin, 5);
    assert.deepEqual(p.byProfile, [
      { profile: 'igel-os-12', newlySwitching: 0, noLongerSwitching: 0, unsupportedPin: 5 },
      { profile: 'igel-os-11', newlySwitching: 0, noLongerSwitching: 3, unsupportedPin: 0 },
    ]);
  });

  it('follows the table order: a row moved above another decides first', () => {
    const strict: CompatibilityRule = { profile: 'igel-os-12-strict', osFamily: 'IGEL OS', maxVersion: '12.99.999', algorithms: ['SHA256withRSA'] };
    const below = preview([...rules, strict]);
    assert.equal(below.unsupportedPin, 0, 'below the catch-all IGEL OS rule it matches nothing');
    const above = preview([...rules.slice(0, 3), strict, ...rules.slice(3)]);
    assert.equal(above.unsupportedPin, 5);
    assert.equal(above.noLongerSwitching, 0, 'IGEL OS 11 still matches its own rule first');
  });

  it('leaves devices that declared their own algorithms alone', () => {
    const declared = cohort('igel-os-11', 'rsa256', 7, ['SHA256withRSA', 'SHA512withRSA']);
    const p = preview(
      rules.map((r) => ({ ...r, algorithms: ['SHA1withRSA'] })),
      [declared],
    );
    assert.deepEqual(p, {
      total: 7,
      declared: 7,
      switching: { before: 7, after: 7 },
      staying: { before: 0, after: 0 },
      newlySwitching: 0,
      noLongerSwitching: 0,
      unsupportedPin: 0,
      byProfile: [],
    });
  });

  it('counts firmware that no rule matches as supporting the whole allow-list, as registration does', () => {
    const unknown: FirmwareCohort = { osFamily: 'ThinOS', osVersion: '9', profile: null, declared: false, supportedMask: algorithmMask(['SHA256withRSA']), certificateId: 'rsa256', count: 2 };
    const p = preview(rules, [unknown]);
    assert.deepEqual([p.newlySwitching, p.byProfile], [2, [{ profile: null, newlySwitching: 2, noLongerSwitching: 0, unsupportedPin: 0 }]]);
  });
});
