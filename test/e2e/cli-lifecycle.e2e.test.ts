/**
 * `certfleet lifecycle set|show|off` (L2) through the real CLI against a real server, on SQLite and
 * PostgreSQL: administrators only, bad settings refused with nothing changed, every change audited,
 * and `show --json` lists the default with its days left.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { assertRefused, CliSession, type CliResult } from '../support/cli.js';
import type { AuditEvent, LifecycleSettings, LifecycleStatus } from '../../src/transport/http-api/contract/index.js';
import { forEachDatabase } from '../support/databases.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../support/test-server.js';

function ok(r: CliResult): CliResult {
  assert.equal(r.code, 0, r.stderr);
  return r;
}

forEachDatabase('lifecycle through the CLI', (db) => {
  let server: TestServer;
  let admin: CliSession;
  let operator: CliSession;

  before(async () => {
    server = await startTestServer(await db.open());
    admin = new CliSession(server.url);
    await admin.login('admin', ADMIN_PASSWORD);
    ok(await admin.run(['user', 'create', 'olga', '--role', 'operator', '--password-stdin'], { stdin: 'operator-pass-1' }));
    operator = new CliSession(server.url);
    await operator.login('olga', 'operator-pass-1');
  });
  after(() => server?.close());

  it('is off until an administrator sets it; show lists the default with its days left', async () => {
    const before = await admin.json<LifecycleStatus>(['lifecycle', 'show']);
    assert.equal(before.settings.enabled, false, 'off by default');
    assert.equal(before.nextWindow, null);
    const set = await admin.json<LifecycleSettings>(['lifecycle', 'set', '--renew-before', '90d', '--window', 'sat 2:00-05:00', '--retire-after', '14d']);
    assert.deepEqual(
      { enabled: set.enabled, renewBeforeDays: set.renewBeforeDays, window: set.window, retireAfterDays: set.retireAfterDays, updatedBy: set.updatedBy },
      { enabled: true, renewBeforeDays: 90, window: 'Sat 02:00-05:00', retireAfterDays: 14, updatedBy: 'admin' },
    );
    const shown = await admin.json<LifecycleStatus>(['lifecycle', 'show']);
    assert.equal(shown.tracked[0]?.alias, 'tckey');
    assert.equal(shown.tracked[0]?.role, 'default');
    assert.ok((shown.tracked[0]?.daysUntilExpiry ?? 0) > 3000, `tckey has ten years: ${JSON.stringify(shown.tracked)}`);
    assert.ok(shown.nextWindow !== null && new Date(shown.nextWindow).getUTCDay() === 6, `the window opens on a Saturday: ${shown.nextWindow}`);
    const text = ok(await admin.run(['lifecycle', 'show'])).stdout;
    assert.match(text, /Automatic successors are on/);
    assert.match(text, /tckey\s+default/);
  });

  it('refuses bad settings with invalid_lifecycle_settings and changes nothing', async () => {
    assertRefused(await admin.run(['lifecycle', 'set', '--renew-before', '90d', '--window', 'Caturday 02:00-05:00']), 'invalid_lifecycle_settings');
    assertRefused(await admin.run(['lifecycle', 'set', '--renew-before', '12h', '--window', 'Sat 02:00-05:00']), 'invalid_lifecycle_settings');
    const shown = await admin.json<LifecycleStatus>(['lifecycle', 'show']);
    assert.equal(shown.settings.window, 'Sat 02:00-05:00');
    assert.equal(shown.settings.renewBeforeDays, 90);
  });

  it('is for administrators: an operator may read it but not change it', async () => {
    assertRefused(await operator.run(['lifecycle', 'set', '--renew-before', '30d', '--window', 'Sun 01:00-02:00']), 'forbidden');
    assertRefused(await operator.run(['lifecycle', 'off']), 'forbidden');
    assert.equal((await operator.json<LifecycleStatus>(['lifecycle', 'show'])).settings.renewBeforeDays, 90);
  });

  it('turns off, and every change and refusal is in the audit log', async () => {
    const off = await admin.json<LifecycleSettings>(['lifecycle', 'off']);
    assert.equal(off.enabled, false);
    assert.equal(off.window, 'Sat 02:00-05:00', 'the settings are kept for the next time');
    const audit = await admin.json<AuditEvent[]>(['audit', 'list']);
    const lifecycle = audit.filter((a) => a.action.startsWith('lifecycle.')).map((a) => `${a.action} ${a.actor} ${a.result}`);
    assert.deepEqual(lifecycle, [
      'lifecycle.off admin ok',
      'lifecycle.off olga refused',
      'lifecycle.set olga refused',
      'lifecycle.set admin refused',
      'lifecycle.set admin refused',
      'lifecycle.set admin ok',
    ]);
  });
});
