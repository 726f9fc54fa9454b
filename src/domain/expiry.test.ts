import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CertfleetError, ErrorCode } from './errors.js';
import { DAY_MS } from './time.js';
import { DEFAULT_EXPIRY_WARNING_DAYS, expiryAlerts, expiryStatus, parseWarningWindow, reportDay } from './expiry.js';

const NOW = new Date('2027-03-01T12:00:00Z');
const USED = { pinned: 3, pending: 0 };
const PENDING_ONLY = { pinned: 0, pending: 2 };
const UNUSED = { pinned: 0, pending: 0 };
const plusDays = (days: number) => new Date(NOW.getTime() + days * DAY_MS).toISOString();

describe('expiry status (L1)', () => {
  it('warns about a certificate in use from the moment it enters the window, not a millisecond before', () => {
    const edge = plusDays(60);
    assert.deepEqual(expiryStatus(edge, USED, NOW, 60), { daysLeft: 60, expired: false, expiryWarning: true });
    const outside = new Date(Date.parse(edge) + 1).toISOString();
    assert.deepEqual(expiryStatus(outside, USED, NOW, 60), { daysLeft: 60, expired: false, expiryWarning: false });
  });

  it('counts devices that are about to pin it (pending) as using it', () => {
    assert.equal(expiryStatus(plusDays(10), PENDING_ONLY, NOW, 60).expiryWarning, true, 'pending devices make it in use');
  });

  it('says nothing about an unused certificate, expiring or expired, but still tells that it expired', () => {
    assert.deepEqual(expiryStatus(plusDays(5), UNUSED, NOW, 60), { daysLeft: 5, expired: false, expiryWarning: false });
    assert.deepEqual(expiryStatus(plusDays(-5), UNUSED, NOW, 60), { daysLeft: -5, expired: true, expiryWarning: false });
  });

  it('treats an expired certificate in use as expired and flagged, with negative days left', () => {
    assert.deepEqual(expiryStatus(plusDays(-1.5), USED, NOW, 60), { daysLeft: -2, expired: true, expiryWarning: true });
    assert.equal(expiryStatus(NOW.toISOString(), USED, NOW, 60).expired, true, 'notAfter == now is expired');
  });

  it('lists alerts in the given order with their level and load', () => {
    const alerts = expiryAlerts(
      [
        { alias: 'fine', notAfter: plusDays(400), load: USED },
        { alias: 'soon', notAfter: plusDays(30), load: USED },
        { alias: 'unused', notAfter: plusDays(3), load: UNUSED },
        { alias: 'gone', notAfter: plusDays(-3), load: PENDING_ONLY },
      ],
      NOW,
      DEFAULT_EXPIRY_WARNING_DAYS,
    );
    assert.deepEqual(alerts, [
      { alias: 'soon', level: 'warning', notAfter: plusDays(30), daysLeft: 30, pinned: 3, pending: 0 },
      { alias: 'gone', level: 'expired', notAfter: plusDays(-3), daysLeft: -3, pinned: 0, pending: 2 },
    ]);
  });

  it('reports once per UTC calendar day', () => {
    assert.equal(reportDay(new Date('2027-03-01T23:59:59Z')), '2027-03-01');
    assert.equal(reportDay(new Date('2027-03-02T00:00:00Z')), '2027-03-02');
  });
});

describe('the warning window setting', () => {
  it('reads whole days written as Nd', () => {
    assert.equal(parseWarningWindow('60d'), 60);
    assert.equal(parseWarningWindow(' 1d '), 1);
    assert.equal(parseWarningWindow('3650d'), 3650);
  });

  for (const bad of ['60', '0d', '3651d', '-5d', '1.5d', '60 days', '', 'd']) {
    it(`refuses ${JSON.stringify(bad)} with invalid_setting`, () => {
      assert.throws(() => parseWarningWindow(bad), (e: unknown) => e instanceof CertfleetError && e.code === ErrorCode.invalid_setting);
    });
  }
});
