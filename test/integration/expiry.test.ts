/**
 * L1, expiry seen early, on an injected clock: a certificate that devices pin is flagged in the
 * API's certificate list (what `cert list --json` prints) from the day it enters the warning
 * window; the leader's daily report writes it to the log and the audit log exactly once a day; an
 * expired certificate in use is an error everywhere; the window is a setting (admin, audited).
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { generateCertificate, reorderCertificate } from '../../src/app/certificates.js';
import { SYSTEM_ACTOR } from '../../src/app/context.js';
import { ExpiryAuditAction } from '../../src/app/expiry.js';
import { ExpirySchedule } from '../../src/jobs/expiry.scheduler.js';
import type { CertificateSummary, IssuedApiToken, SettingsView } from '../../src/transport/http-api/contract/index.js';
import { forEachDatabase } from '../support/databases.js';
import { registerProfile } from '../support/device-fleet.js';
import { FakeTime } from '../support/fake-time.js';
import { DAY_MS as DAY } from '../../src/domain/time.js';
import { assertError, startApi, type ApiHarness } from '../http-api/support.js';


interface LogLine {
  readonly level: 'info' | 'warn' | 'error';
  readonly obj: Record<string, unknown>;
  readonly msg: string;
}

forEachDatabase('expiry warnings', (db) => {
  let h: ApiHarness;
  let time: FakeTime;
  let token: string;
  let lines: LogLine[];
  let leader: boolean;
  let schedule: ExpirySchedule;

  before(async () => {
    time = new FakeTime('2030-01-01T00:00:00Z');
    h = await startApi(await db.open(), { clock: time });
    // A log-in lasts a week; the test spans months, so it uses a named token of a year.
    const res = await h.call('admin', { method: 'POST', url: '/api/v1/tokens', payload: { name: 'expiry-test', days: 365 } });
    assert.equal(res.statusCode, 201, res.body);
    token = res.json<IssuedApiToken>().token;
    // `short` (90 days) becomes the default and two devices pin it; `idle` (10 days) is used by none.
    await generateCertificate(h.ctx, SYSTEM_ACTOR, { alias: 'short', signatureAlgorithm: 'SHA256withECDSA', days: 90 });
    await generateCertificate(h.ctx, SYSTEM_ACTOR, { alias: 'idle', signatureAlgorithm: 'SHA256withECDSA', days: 10 });
    await reorderCertificate(h.ctx, SYSTEM_ACTOR, 'short', 'default');
    await registerProfile(h.ctx, 'igel-os-12');
    await registerProfile(h.ctx, 'igel-os-12');
    lines = [];
    leader = true;
    const log = (level: LogLine['level']) => (obj: object, msg: string) => void lines.push({ level, obj: obj as Record<string, unknown>, msg });
    schedule = new ExpirySchedule({ ctx: h.ctx, scheduler: time, log: { info: log('info'), warn: log('warn'), error: log('error') }, isLeader: () => leader });
  });
  after(async () => {
    await schedule.stop();
    await h.close();
  });

  const list = async (): Promise<CertificateSummary[]> => {
    const res = await h.app.inject({ method: 'GET', url: '/api/v1/certificates', headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<CertificateSummary[]>();
  };
  const entry = async (alias: string) => {
    const found = (await list()).find((c) => c.alias === alias);
    assert.ok(found, `${alias} is listed`);
    return found;
  };
  const expiryAudit = async () =>
    (await h.ctx.store.audit.list({ limit: 200 })).filter((e) => e.action === ExpiryAuditAction.warning || e.action === ExpiryAuditAction.expired);
  const reportLines = () => lines.filter((l) => l.level !== 'info');

  it('the window is a setting: administrators change it (audited), others may only read it, bad values change nothing', async () => {
    const show = await h.call('viewer', { method: 'GET', url: '/api/v1/settings' });
    assert.equal(show.statusCode, 200, show.body);
    assert.deepEqual(show.json<SettingsView>(), { expiryWarning: '60d', expiryWarningDays: 60 });
    assertError(await h.call('operator', { method: 'PUT', url: '/api/v1/settings/expiry-warning', payload: { value: '30d' } }), 403, 'forbidden');
    assertError(await h.call('admin', { method: 'PUT', url: '/api/v1/settings/expiry-warning', payload: { value: '30 days' } }), 400, 'invalid_setting');
    assertError(await h.call('admin', { method: 'PUT', url: '/api/v1/settings/colour', payload: { value: '30d' } }), 400, 'invalid_setting');
    const unchanged = await h.call('admin', { method: 'GET', url: '/api/v1/settings' });
    assert.deepEqual(unchanged.json<SettingsView>(), { expiryWarning: '60d', expiryWarningDays: 60 }, 'refusals changed nothing');

    const set = await h.app.inject({ method: 'PUT', url: '/api/v1/settings/expiry-warning', headers: { authorization: `Bearer ${token}` }, payload: { value: '400d' } });
    assert.equal(set.statusCode, 200, set.body);
    assert.deepEqual(set.json<SettingsView>(), { expiryWarning: '400d', expiryWarningDays: 400 });
    const audit = (await h.ctx.store.audit.list({ limit: 10 })).filter((e) => e.action === 'settings.set');
    assert.deepEqual(audit.map((e) => [e.result, e.target, e.code]), [['ok', 'expiry-warning', null], ['refused', 'colour', 'invalid_setting'], ['refused', 'expiry-warning', 'invalid_setting'], ['refused', 'expiry-warning', 'forbidden']]);
    assert.deepEqual(audit[0]?.details, { value: '400d', previous: '60d' });
    const wide = await list();
    assert.deepEqual(wide.filter((c) => c.expiryWarning).map((c) => c.alias), ['short'], 'a wider window flags the used entry only (tckey, idle: no devices)');
    const back = await h.call('admin', { method: 'PUT', url: '/api/v1/settings/expiry-warning', payload: { value: '60d' } });
    assert.equal(back.statusCode, 200, back.body);
  });

  it('flags nothing outside the window, and an unused certificate never', async () => {
    const short = await entry('short');
    assert.equal(short.deviceCount, 2);
    assert.deepEqual([short.daysUntilExpiry, short.expiryWarning, short.expired], [90, false, false]);
    const idle = await entry('idle');
    assert.deepEqual([idle.daysUntilExpiry, idle.expiryWarning, idle.expired], [10, false, false], 'idle: no device uses it');
    await schedule.tick();
    assert.deepEqual(reportLines(), [], 'nothing to report');
    assert.deepEqual(await expiryAudit(), []);
  });

  it('flags the pinned certificate once it enters the window, and reports it exactly once a day, on the leader only', async () => {
    await time.advance(31 * DAY); // 2030-02-01: 59 days left, within the 60-day window
    const short = await entry('short');
    assert.deepEqual([short.daysUntilExpiry, short.expiryWarning, short.expired], [59, true, false]);
    assert.equal((await entry('idle')).expiryWarning, false, 'idle expired, but nobody uses it');
    assert.equal((await entry('idle')).expired, true);

    leader = false;
    await schedule.tick();
    assert.deepEqual(reportLines(), [], 'a follower does not report');
    leader = true;
    await schedule.tick();
    await schedule.tick();
    await time.advance(6 * 3_600_000);
    await schedule.tick();
    assert.deepEqual(reportLines().map((l) => [l.level, l.obj['alias'], l.obj['daysLeft'], l.obj['pinned']]), [['warn', 'short', 59, 2]]);
    assert.match(reportLines()[0]?.msg ?? '', /"short" expires in 59 days and 2 devices use it/);
    const audit = await expiryAudit();
    assert.deepEqual(audit.map((e) => [e.action, e.target, e.actor, e.details['daysLeft'], e.details['windowDays']]), [[ExpiryAuditAction.warning, 'short', 'system', 59, 60]]);

    await time.advance(DAY); // the next day: once more
    await schedule.tick();
    await schedule.tick();
    assert.equal(reportLines().length, 2, 'one line per day');
    assert.equal((await expiryAudit()).length, 2, 'one audit entry per day');
  });

  it('an expired certificate in use is an error: expired in the list, an error line, its own audit action', async () => {
    await time.advance(60 * DAY);
    const short = await entry('short');
    assert.equal(short.expired, true);
    assert.equal(short.expiryWarning, true, 'still in use, so still flagged');
    assert.ok(short.daysUntilExpiry < 0, `negative days left: ${short.daysUntilExpiry}`);
    lines.length = 0;
    await schedule.tick();
    assert.deepEqual(reportLines().map((l) => [l.level, l.obj['alias'], l.obj['level']]), [['error', 'short', 'expired']]);
    assert.match(reportLines()[0]?.msg ?? '', /"short" has EXPIRED and 2 devices use it/);
    const newest = (await expiryAudit())[0];
    assert.deepEqual([newest?.action, newest?.target], [ExpiryAuditAction.expired, 'short']);
  });

});
