import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { algorithmMask, DEFAULT_COMPATIBILITY_RULES, supportedAlgorithms } from './compatibility.js';
import { CertfleetError, ErrorCode } from './errors.js';
import { DAY_MS } from './time.js';
import {
  formatWindow,
  inWindow,
  nextLifecycleStep,
  nextWindowStart,
  parseDays,
  parseWindow,
  pinnedFallbacks,
  strandedBy,
  SuccessionRole,
  SuccessionState,
  successorAlias,
  type LifecycleEntry,
  type LifecycleSettings,
  type Succession,
} from './lifecycle.js';

const rules = DEFAULT_COMPATIBILITY_RULES;
const LEGACY = algorithmMask(supportedAlgorithms(rules, { osFamily: 'IGEL Linux', osVersion: '4.01.650', declaredAlgorithms: null }));
const MODERN = algorithmMask(supportedAlgorithms(rules, { osFamily: 'IGEL OS', osVersion: '12.4.2', declaredAlgorithms: null }));
const refused = (code: ErrorCode) => (e: unknown) => e instanceof CertfleetError && e.code === code;

describe('the maintenance window', () => {
  it('reads one day, lists, ranges, daily, and a window past midnight', () => {
    assert.deepEqual(parseWindow('Sat 02:00-05:00'), { days: [6], startMinute: 120, endMinute: 300 });
    assert.deepEqual(parseWindow('mon,Wed,friday 1:30-03:00').days, [1, 3, 5]);
    assert.deepEqual(parseWindow('Mon-Fri 22:00-02:00'), { days: [1, 2, 3, 4, 5], startMinute: 1320, endMinute: 120 });
    assert.deepEqual(parseWindow('Fri-Mon 00:00-24:00').days, [0, 1, 5, 6]);
    assert.deepEqual(parseWindow('daily 03:00-04:00').days, [0, 1, 2, 3, 4, 5, 6]);
  });
  it('prints a window so that it reads back the same', () => {
    for (const text of ['Sat 02:00-05:00', 'Mon,Tue,Wed,Thu,Fri 22:00-02:00', 'daily 03:00-04:00']) {
      assert.equal(formatWindow(parseWindow(text)), text);
    }
  });
  it('refuses what is not a window, with invalid_lifecycle_settings', () => {
    for (const bad of ['', 'Sat', 'Sat 02:00', 'Caturday 02:00-05:00', 'Sat 25:00-05:00', 'Sat 02:61-05:00', 'Sat 02:00-02:00', 'Mon-Tue-Wed 01:00-02:00']) {
      assert.throws(() => parseWindow(bad), refused(ErrorCode.invalid_lifecycle_settings), bad);
    }
  });
  it('is open from its start up to (not including) its end, in UTC', () => {
    const w = parseWindow('Sat 02:00-05:00');
    // 2030-01-05 is a Saturday.
    assert.equal(inWindow(w, new Date('2030-01-05T01:59:00Z')), false, 'before');
    assert.equal(inWindow(w, new Date('2030-01-05T02:00:00Z')), true, 'at the start');
    assert.equal(inWindow(w, new Date('2030-01-05T04:59:00Z')), true, 'inside');
    assert.equal(inWindow(w, new Date('2030-01-05T05:00:00Z')), false, 'at the end');
    assert.equal(inWindow(w, new Date('2030-01-06T03:00:00Z')), false, 'Sunday');
  });
  it('a window past midnight belongs to the day it starts on', () => {
    const w = parseWindow('Fri 22:00-02:00');
    assert.equal(inWindow(w, new Date('2030-01-04T23:00:00Z')), true, 'Friday night');
    assert.equal(inWindow(w, new Date('2030-01-05T01:30:00Z')), true, 'early Saturday');
    assert.equal(inWindow(w, new Date('2030-01-05T23:00:00Z')), false, 'Saturday night');
    assert.equal(inWindow(w, new Date('2030-01-04T01:30:00Z')), false, 'early Friday (Thursday is not in it)');
  });
  it('says when it opens next', () => {
    const w = parseWindow('Sat 02:00-05:00');
    assert.equal(nextWindowStart(w, new Date('2030-01-01T12:00:00Z')).toISOString(), '2030-01-05T02:00:00.000Z');
    assert.equal(nextWindowStart(w, new Date('2030-01-05T06:00:00Z')).toISOString(), '2030-01-12T02:00:00.000Z');
    assert.equal(nextWindowStart(w, new Date('2030-01-05T03:00:00Z')).toISOString(), '2030-01-05T03:00:00.000Z', 'open now');
  });
  it('reads durations in whole days', () => {
    assert.equal(parseDays('90d', 'renew-before'), 90);
    assert.equal(parseDays('30', 'retire-after'), 30);
    for (const bad of ['0d', '-3d', '1.5d', '12h', '99999d', 'soon']) {
      assert.throws(() => parseDays(bad, 'renew-before'), refused(ErrorCode.invalid_lifecycle_settings), bad);
    }
  });
});

describe('successor aliases', () => {
  it('are NAME-YYYYMMDD, without piling up dates, and never a taken alias', () => {
    const now = new Date('2030-03-15T02:00:00Z');
    assert.equal(successorAlias('tckey', now, new Set()), 'tckey-20300315');
    assert.equal(successorAlias('tckey-20290101', now, new Set()), 'tckey-20300315');
    assert.equal(successorAlias('tckey', now, new Set(['tckey-20300315'])), 'tckey-20300315-2');
  });
});

const T0 = new Date('2030-01-01T00:00:00Z');
const settings: LifecycleSettings = { renewBeforeDays: 90, window: parseWindow('Sat 02:00-05:00'), retireAfterDays: 30 };
const entry = (id: string, position: number, signatureAlgorithm: string, expiresInDays: number, extra: Partial<LifecycleEntry> = {}): LifecycleEntry => ({
  id,
  alias: id,
  position,
  active: true,
  signatureAlgorithm,
  keySize: 2048,
  subject: 'CN=certfleet.test',
  notBefore: new Date(T0.getTime() - 100 * DAY_MS).toISOString(),
  notAfter: new Date(T0.getTime() + expiresInDays * DAY_MS).toISOString(),
  pinned: 0,
  pending: 0,
  ...extra,
});
const succession = (role: SuccessionRole, predecessorId: string, successorId: string, state: SuccessionState, deactivatedAt: string | null = null): Succession => ({
  id: `${predecessorId}>${successorId}`,
  role,
  predecessorId,
  predecessorAlias: predecessorId,
  successorId,
  successorAlias: successorId,
  state,
  createdAt: T0.toISOString(),
  deactivatedAt,
});

describe('the lifecycle policy', () => {
  const modern = { certificateId: 'd', supportedMask: MODERN, count: 5 };
  const legacy = { certificateId: 'f', supportedMask: LEGACY, count: 3 };

  it('renews the default within renew-before of its expiry, with the same parameters', () => {
    const d = entry('d', 1, 'SHA512withRSA', 89);
    const step = nextLifecycleStep({ settings, now: T0, entries: [d], cohorts: [modern], open: [] });
    assert.equal(step?.kind, 'generate');
    assert.ok(step?.kind === 'generate');
    assert.equal(step.role, SuccessionRole.default);
    assert.deepEqual(step.plan, { alias: 'd-20300101', commonName: 'certfleet.test', signatureAlgorithm: 'SHA512withRSA', keySize: 2048, days: 189 });
    assert.equal(nextLifecycleStep({ settings, now: T0, entries: [entry('d', 1, 'SHA512withRSA', 91)], cohorts: [modern], open: [] }), null, 'not yet');
  });
  it('renews a fallback only when devices pin it because they lack the default', () => {
    const entries = [entry('d', 1, 'SHA512withRSA', 900), entry('f', 2, 'SHA256withRSA', 30), entry('x', 3, 'SHA256withRSA', 30)];
    assert.deepEqual(pinnedFallbacks(entries, [modern, legacy]).map((e) => e.id), ['f']);
    const step = nextLifecycleStep({ settings, now: T0, entries, cohorts: [modern, legacy], open: [] });
    assert.ok(step?.kind === 'generate' && step.role === SuccessionRole.fallback && step.predecessor.id === 'f', JSON.stringify(step));
    assert.equal(step.plan.signatureAlgorithm, 'SHA256withRSA', 'the legacy firmware supports the successor');
  });
  it('promotes a successor only inside the window', () => {
    const entries = [entry('d', 1, 'SHA512withRSA', 80), entry('s', 2, 'SHA512withRSA', 400, { active: false })];
    const open = [succession(SuccessionRole.default, 'd', 's', SuccessionState.generated)];
    assert.equal(nextLifecycleStep({ settings, now: T0, entries, cohorts: [modern], open }), null, 'Tuesday: wait');
    const sat = new Date('2030-01-05T02:30:00Z');
    assert.equal(nextLifecycleStep({ settings, now: sat, entries, cohorts: [modern], open })?.kind, 'promote');
  });
  it('deactivates the predecessor once no device pins it or has it pending, and deletes it after retire-after', () => {
    const open = [succession(SuccessionRole.default, 'd', 's', SuccessionState.promoted)];
    const pinned = [entry('s', 1, 'SHA512withRSA', 400), entry('d', 2, 'SHA512withRSA', 80, { pinned: 1 })];
    assert.equal(nextLifecycleStep({ settings, now: T0, entries: pinned, cohorts: [modern], open }), null, 'a device still pins it');
    const unused = [entry('s', 1, 'SHA512withRSA', 400), entry('d', 2, 'SHA512withRSA', 80)];
    const moved = [{ ...modern, certificateId: 's' }];
    assert.equal(nextLifecycleStep({ settings, now: T0, entries: unused, cohorts: moved, open })?.kind, 'deactivate');
    const retiring = [succession(SuccessionRole.default, 'd', 's', SuccessionState.deactivated, T0.toISOString())];
    const inactive = [unused[0] as LifecycleEntry, { ...(unused[1] as LifecycleEntry), active: false }];
    assert.equal(nextLifecycleStep({ settings, now: new Date(T0.getTime() + 29 * DAY_MS), entries: inactive, cohorts: moved, open: retiring }), null, 'before retire-after');
    assert.equal(nextLifecycleStep({ settings, now: new Date(T0.getTime() + 30 * DAY_MS), entries: inactive, cohorts: moved, open: retiring })?.kind, 'delete');
  });

  // The rule that legacy devices are never stranded: a step that would leave their firmware
  // without an active certificate it supports is blocked, and reported once.
  it('blocks a step that would leave legacy devices without a certificate their firmware supports', () => {
    // f, the only active entry legacy firmware supports, was succeeded by an SHA512 entry (an
    // administrator's hand edit, say); the legacy devices pin x, an inactive SHA384 entry, and
    // would need f to register again. Deactivating f would strand their firmware.
    const entries = [entry('s', 1, 'SHA512withRSA', 400), entry('f', 2, 'SHA256withRSA', 80), entry('x', 3, 'SHA384withRSA', 400, { active: false, pinned: 2 })];
    const stillLegacy = [{ ...modern, certificateId: 's' }, { certificateId: 'x', supportedMask: LEGACY, count: 2 }];
    const open = [succession(SuccessionRole.fallback, 'f', 's', SuccessionState.promoted)];
    const step = nextLifecycleStep({ settings, now: T0, entries, cohorts: stillLegacy, open });
    assert.ok(step?.kind === 'blocked' && step.step === 'deactivate' && step.alias === 'f', JSON.stringify(step));
    assert.match(step.reason, /no active certificate they support/);
    assert.equal(nextLifecycleStep({ settings, now: T0, entries, cohorts: stillLegacy, open, reported: new Set(['f deactivate']) }), null, 'reported once');
  });
  it('strandedBy: a deleted pinned entry and a firmware left without an active entry are both caught', () => {
    const entries = [entry('d', 1, 'SHA512withRSA', 400), entry('f', 2, 'SHA256withRSA', 400)];
    assert.equal(strandedBy(entries, [modern, legacy]), null);
    assert.match(strandedBy([entries[0] as LifecycleEntry], [modern, legacy]) ?? '', /no longer exists/);
    assert.match(strandedBy([entries[0] as LifecycleEntry, { ...(entries[1] as LifecycleEntry), active: false }], [modern, legacy]) ?? '', /SHA256withRSA/);
  });
  it('moves one legacy fallback at a time', () => {
    const sat = new Date('2030-01-05T02:30:00Z');
    const entries = [
      entry('d', 1, 'SHA512withRSA', 900),
      entry('g2', 2, 'SHA384withRSA', 400, { active: false }),
      entry('g', 3, 'SHA384withRSA', 60),
      entry('f2', 4, 'SHA256withRSA', 400),
      entry('f', 5, 'SHA256withRSA', 60, { pinned: 3 }),
    ];
    const open = [succession(SuccessionRole.fallback, 'f', 'f2', SuccessionState.promoted), succession(SuccessionRole.fallback, 'g', 'g2', SuccessionState.generated)];
    assert.equal(nextLifecycleStep({ settings, now: sat, entries, cohorts: [modern, legacy], open }), null);
  });
  it('reports, once, a predecessor it cannot generate again', () => {
    const d = entry('d', 1, 'SHA1withRSA', 10);
    const step = nextLifecycleStep({ settings, now: T0, entries: [d], cohorts: [modern], open: [] });
    assert.ok(step?.kind === 'blocked' && step.step === 'generate', JSON.stringify(step));
    assert.equal(nextLifecycleStep({ settings, now: T0, entries: [d], cohorts: [modern], open: [], reported: new Set(['d generate']) }), null);
  });
});
