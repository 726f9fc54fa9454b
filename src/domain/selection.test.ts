import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { algorithmMask, algorithmsOfMask, compareVersions, DEFAULT_COMPATIBILITY_RULES, matchRule, supportedAlgorithms, validateRules } from './compatibility.js';
import { colonFingerprint, helloServerName, parseServerName, pinServerName } from './device-names.js';
import { decideRotation, outcomeOfPin } from './rotation.js';
import { selectCertificate, type SelectableEntry } from './selection.js';

const rules = DEFAULT_COMPATIBILITY_RULES;
const entry = (alias: string, position: number, signatureAlgorithm: string, active = true): SelectableEntry => ({ id: alias, alias, position, active, signatureAlgorithm });
const legacy = supportedAlgorithms(rules, { osFamily: 'IGEL Linux', osVersion: 'v4.01.650', declaredAlgorithms: null });
const modern = supportedAlgorithms(rules, { osFamily: 'IGEL OS', osVersion: '12.4.2', declaredAlgorithms: null });

describe('firmware support (R2)', () => {
  it('IGEL Linux up to v4.01.650 and Windows 7 Embedded up to 3.08.100 lack SHA512withRSA and ECDSA', () => {
    for (const d of [{ osFamily: 'IGEL Linux', osVersion: '4.01.650' }, { osFamily: 'IGEL Linux', osVersion: '3.9' }, { osFamily: 'Windows 7 Embedded', osVersion: '3.08.100' }]) {
      const algs = supportedAlgorithms(rules, { ...d, declaredAlgorithms: null });
      assert.ok(!algs.includes('SHA512withRSA'), JSON.stringify(d));
      assert.ok(!algs.some((a) => a.endsWith('ECDSA')), JSON.stringify(d));
      assert.ok(algs.includes('SHA256withRSA'));
    }
  });
  it('newer IGEL Linux, Windows 7 Embedded and IGEL OS 11/12 support the whole allow-list', () => {
    for (const d of [{ osFamily: 'IGEL Linux', osVersion: '4.01.651' }, { osFamily: 'Windows 7 Embedded', osVersion: '3.09.100' }, { osFamily: 'IGEL OS', osVersion: '11.10.150' }, { osFamily: 'IGEL OS', osVersion: '12.4.2' }]) {
      assert.ok(supportedAlgorithms(rules, { ...d, declaredAlgorithms: null }).includes('SHA512withRSA'), JSON.stringify(d));
    }
  });
  it('a device declaration takes precedence over the table', () => {
    assert.deepEqual(supportedAlgorithms(rules, { osFamily: 'IGEL OS', osVersion: '12', declaredAlgorithms: ['SHA256withRSA'] }), ['SHA256withRSA']);
  });
  it('compares versions numerically', () => {
    assert.equal(compareVersions('v4.01.650', '4.1.650'), 0);
    assert.equal(compareVersions('4.01.650', '4.01.7'), 1);
    assert.equal(compareVersions('11.10.150', '12'), -1);
    assert.equal(matchRule(rules, 'igel os', '11.3')?.profile, 'igel-os-11');
  });
  it('turns algorithm lists into masks and back', () => {
    assert.deepEqual(algorithmsOfMask(algorithmMask(legacy)), [...legacy]);
    assert.equal(algorithmMask(['MD5withRSA']), 0);
  });
  it('rejects rules with algorithms off the allow-list', () => {
    assert.match(validateRules([{ profile: 'x', osFamily: 'X', maxVersion: null, algorithms: ['MD5withRSA'] }]) ?? '', /allow-list/);
    assert.equal(validateRules(rules), null);
  });
});

describe('choosing a certificate at registration (R1)', () => {
  const keystore = [entry('tckey', 1, 'SHA512withRSA'), entry('old-inactive', 2, 'SHA256withRSA', false), entry('legacy', 3, 'SHA256withRSA')];
  it('gives the default to a device that supports it', () => {
    const s = selectCertificate(keystore, modern);
    assert.equal(s.kind === 'selected' && `${s.entry.alias}/${s.reason}`, 'tckey/default');
  });
  it('falls back to the first active entry from the top that the device supports', () => {
    const s = selectCertificate(keystore, legacy);
    assert.equal(s.kind === 'selected' && `${s.entry.alias}/${s.reason}`, 'legacy/fallback');
  });
  it('refuses, naming what the device lacks, when no active entry fits', () => {
    const s = selectCertificate([entry('tckey', 1, 'SHA512withRSA'), entry('off', 2, 'SHA256withRSA', false)], legacy);
    assert.equal(s.kind, 'none');
    assert.deepEqual(s.kind === 'none' && s.lacking, ['SHA512withRSA']);
  });
});

describe('rotation policy (R3)', () => {
  const base = { defaultId: 'B', defaultAlgorithm: 'SHA512withRSA' };
  it('names every decision', () => {
    assert.equal(decideRotation({ ...base, device: { certificateId: 'B', pendingCertificateId: null, supportedAlgorithms: modern } }), 'already_current');
    assert.equal(decideRotation({ ...base, device: { certificateId: 'A', pendingCertificateId: null, supportedAlgorithms: modern } }), 'schedule');
    assert.equal(decideRotation({ ...base, device: { certificateId: 'A', pendingCertificateId: 'B', supportedAlgorithms: modern } }), 'awaiting_confirmation');
    assert.equal(decideRotation({ ...base, device: { certificateId: 'A', pendingCertificateId: 'X', supportedAlgorithms: modern } }), 'schedule');
    assert.equal(decideRotation({ ...base, device: { certificateId: 'A', pendingCertificateId: null, supportedAlgorithms: legacy } }), 'incompatible');
  });
  it('confirms a pending replacement from the pin the device presents, even if the confirmation was lost', () => {
    assert.deepEqual(outcomeOfPin({ certificateId: 'A', pendingCertificateId: 'B' }, 'B'), { kind: 'confirmed', certificateId: 'B' });
    assert.deepEqual(outcomeOfPin({ certificateId: 'A', pendingCertificateId: 'B' }, 'A'), { kind: 'unchanged' });
    // Another entry's pin is refused, pending or not: the record follows only what it handed out.
    assert.deepEqual(outcomeOfPin({ certificateId: 'A', pendingCertificateId: null }, 'C'), { kind: 'refused' });
    assert.deepEqual(outcomeOfPin({ certificateId: 'A', pendingCertificateId: 'B' }, 'C'), { kind: 'refused' });
  });
});

describe('server names (R5)', () => {
  const fp = 'AB:'.repeat(31) + 'CD';
  it('round-trips a pin through the TLS server name', () => {
    const name = pinServerName(fp);
    assert.ok(name.split('.').every((label) => label.length <= 63));
    const parsed = parseServerName(name);
    assert.equal(parsed.kind === 'pin' && colonFingerprint(parsed.sha256Hex), fp);
  });
  it('reads first-contact names and falls back to the default', () => {
    assert.deepEqual(parseServerName(helloServerName(0x1f)), { kind: 'hello', algorithmMask: 0x1f });
    assert.deepEqual(parseServerName(undefined), { kind: 'default' });
    assert.deepEqual(parseServerName('server.example.com'), { kind: 'default' });
  });
});
