/**
 * Backups and the devices a restore strands, in a real browser against a real `certfleet serve` on
 * SQLite (SPEC B1, B2, scheduled backups): the Backups page before any backup, after one made
 * through the API (POST /api/v1/backups, read to its end) and after scheduled ones; the devices
 * that a real restore (POST /api/v1/backups/restore) marks "re-registration required", with the
 * reason in words, and the filter that lists only them.
 *
 * The story: devices A and B register; a backup is made; a new default is made and A moves to it;
 * C registers. Restoring the backup strands A (what it pins is not in it) and C (it does not know
 * C); B goes on.
 *
 * The steps build on each other and run in order, in one browser.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { BackupList, LoginAnswer, RestoreReportView } from '../../src/transport/http-api/contract/index.js';
import { CliSession } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { killAllServers, serveProcess, type Serving } from '../support/serve-process.js';
import { browserSuite, goTo, launchBrowser, logIn, newConsolePage, orderedSteps, screenshot } from './browser.js';

const ADMIN = 'backup-console-admin-1';
const PASSPHRASE = 'correct horse battery staple';
/** age's default work factor makes each key derivation ~0.5 s; the test needs no such cost. */
const SERVER_ENV = { CERTFLEET_ADMIN_PASSWORD: ADMIN, CERTFLEET_BACKUP_SCRYPT_LOG_N: '10' };

interface Once {
  readonly deviceId: string;
  readonly pinnedAlias: string;
}

/** A size as the console writes it (1024-based, one decimal), computed here independently. */
const kilobytes = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

browserSuite('web console: backups, and the devices a restore strands', () => {
  const work = mkdtempSync(join(tmpdir(), 'certfleet-browser-backups-'));
  let db: TestDatabase;
  let server: Serving;
  let cli: CliSession;
  let bearer = '';
  let browser: Browser;
  let admin: { context: BrowserContext; page: Page; errors: string[] };
  let page: Page;
  let backup: Buffer = Buffer.alloc(0);
  const devices: Record<'a' | 'b' | 'c', Once | null> = { a: null, b: null, c: null };

  const agent = async (name: string, extra: readonly string[] = []): Promise<Once> => {
    const r = await cli.run(['agent', '--server', server.deviceAddress, '--state', join(work, `agent-${name}`), '--once', '--json', ...extra], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, `agent ${name}: ${r.stderr}`);
    return JSON.parse(r.stdout) as Once; // agent --once --json prints one object
  };
  const apiJson = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(`${server.url}/api/v1${path}`, { ...init, headers: { authorization: `Bearer ${bearer}`, ...init.headers } });
    assert.equal(res.status, 200, `${init.method ?? 'GET'} ${path}: ${await res.clone().text()}`);
    return (await res.json()) as T; // the API's contract type
  };
  const row = (id: string) => page.locator(`tr[data-device="${id}"]`);
  const idOf = (name: 'a' | 'b' | 'c'): string => {
    const d = devices[name];
    assert.notEqual(d, null, `device ${name} registered in an earlier step`);
    return d?.deviceId ?? '';
  };

  const step = orderedSteps();

  before(async () => {
    db = await createTestDatabase('sqlite');
    server = await serveProcess({ dataDir: join(work, 'data'), db: db.url, env: SERVER_ENV });
    cli = new CliSession(server.url);
    await cli.login('admin', ADMIN);
    const login = await fetch(`${server.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: ADMIN }),
    });
    assert.equal(login.status, 200);
    bearer = ((await login.json()) as LoginAnswer).token; // the API's contract type
    browser = await launchBrowser();
    admin = await newConsolePage(browser);
    page = admin.page;
    await logIn(page, server.url, 'admin', ADMIN);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    killAllServers();
    await db?.drop();
    rmSync(work, { recursive: true, force: true });
  });

  step('says, before the first backup, how to schedule backups and how to make one', async () => {
    await goTo(page, 'Backups', 'Backups');
    await page.getByText('No backup has been written yet.').waitFor();
    await page.getByText('certfleet serve --backup-dir DIR --backup-passphrase-file F', { exact: true }).waitFor();
    await page.getByText('certfleet backup create --out FILE --passphrase-file F', { exact: true }).waitFor();
    assert.equal(await page.getByRole('table').count(), 0, 'no list of runs');
  });

  step('shows a backup made through the API: when, ok, its size, manual, its rows', async () => {
    const token = await cli.json<{ token: string }>(['enroll', 'create', '--uses', '10']);
    const tokenFile = cli.secretFile(token.token);
    devices.a = await agent('a', ['--token-file', tokenFile]);
    devices.b = await agent('b', ['--token-file', tokenFile]);

    const res = await fetch(`${server.url}/api/v1/backups`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
      body: JSON.stringify({ passphrase: PASSPHRASE }),
    });
    assert.equal(res.status, 200);
    backup = Buffer.from(await res.arrayBuffer()); // the whole stream, to its end
    assert.equal(backup.subarray(0, 22).toString(), 'age-encryption.org/v1\n');
    const { runs } = await apiJson<BackupList>('/backups');
    assert.equal(runs.length, 1);
    assert.equal(runs[0]?.sizeBytes, backup.length, 'the run records the size of the file that was streamed');

    // The page asks again when it is opened.
    await goTo(page, 'Devices', 'Devices');
    await goTo(page, 'Backups', 'Backups');
    const last = page.getByRole('heading', { level: 2, name: /^Last backup: / });
    await last.waitFor();
    assert.match((await last.textContent()) ?? '', new RegExp(`^Last backup: \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d, ok, ${kilobytes(backup.length)}, manual$`));
    const cells = await page.getByRole('table', { name: 'Backups, newest first' }).locator('tbody tr').first().getByRole('cell').allTextContents();
    assert.equal(cells.length, 6);
    assert.deepEqual(cells.slice(1, 5), ['manual', 'ok', kilobytes(backup.length), '(downloaded by the caller)']);
    assert.match(cells[5] ?? '', /^1 certificate, 1 account, \d+ API tokens, 1 enrollment token, \d+ compatibility rules, 2 devices, \d+ rotation runs?, \d+ audit entries, 1 lifecycle setting, \d+ successions?, \d+ lifecycle events?$/);
    assert.equal(await page.getByText('No backup has been written yet.').count(), 0);
  });

  step('marks the devices a real restore strands, with the reason in words, and lists only them on request', async () => {
    // After the backup: a new default that A moves to; C registers.
    for (const args of [['cert', 'generate', '--alias', 'next', '--sig-alg', 'SHA256withRSA', '--key-size', '2048'], ['cert', 'default', 'next'], ['sync', 'run']]) {
      const r = await cli.run(args);
      assert.equal(r.code, 0, r.stderr);
    }
    await agent('a'); // gets its pending replacement
    assert.equal((await agent('a')).pinnedAlias, 'next');
    const token = await cli.json<{ token: string }>(['enroll', 'create']);
    devices.c = await agent('c', ['--token-file', cli.secretFile(token.token)]);

    const report = await apiJson<RestoreReportView>('/backups/restore', {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'x-certfleet-backup-passphrase': PASSPHRASE },
      body: backup,
    });
    assert.equal(report.dryRun, false);
    assert.deepEqual(
      new Map(report.reRegistrationRequired.devices.map((d) => [d.id, d.reason])),
      new Map([
        [idOf('a'), 'pinned_certificate_not_restored'],
        [idOf('c'), 'registered_after_backup'],
      ]),
    );

    await goTo(page, 'Devices', 'Devices');
    await page.getByText('3 registered').waitFor();
    await page.getByRole('note').getByText(/^2 devices must register again after a restore of a backup/).waitFor();
    assert.equal(await row(idOf('a')).getByText('Re-registration required', { exact: true }).count(), 1);
    assert.equal(await row(idOf('a')).getByText('its certificate is not in the restored keystore', { exact: true }).count(), 1);
    assert.equal(await row(idOf('c')).getByText('Re-registration required', { exact: true }).count(), 1);
    assert.equal(await row(idOf('c')).getByText('registered after the restored backup', { exact: true }).count(), 1);
    assert.equal(await row(idOf('b')).getByText('Re-registration required').count(), 0, 'B is in the backup and pins a restored certificate');
    await screenshot(page, 'devices-re-registration');

    await page.getByLabel('Only devices that must register again').check();
    await page.getByText('2 must register again').waitFor();
    assert.equal(await page.locator('tbody tr').count(), 2);
    assert.equal(await row(idOf('b')).count(), 0);
    await row(idOf('a')).waitFor();
    await row(idOf('c')).waitFor();
    await page.getByLabel('Search devices').fill('no-such-device');
    await page.getByText('No device that must register again matches "no-such-device".').waitFor();
    await page.getByLabel('Search devices').fill('');
    await page.getByLabel('Only devices that must register again').uncheck();
    await page.getByText('3 registered').waitFor();
    await row(idOf('b')).waitFor();

    // The same badge in a certificate's devices panel (the restored state says all three pin tckey).
    await goTo(page, 'Certificate Management', 'Certificate Management');
    const panel = page.getByRole('table', { name: 'Devices which use tckey' });
    await panel.waitFor();
    assert.equal(await panel.getByText('Re-registration required', { exact: true }).count(), 2);
  });

  step('shows scheduled backups as the last one once serve writes them', async () => {
    await page.goto('about:blank'); // no page polls the server while it is down
    await server.stop();
    server = await serveProcess({
      dataDir: join(work, 'data'),
      db: db.url,
      env: SERVER_ENV,
      args: ['--backup-dir', join(work, 'scheduled'), '--backup-every', '1s', '--backup-keep', '2', '--backup-passphrase-file', cli.secretFile(PASSPHRASE)],
    });
    // The rotation leader writes it; after a restart the lease may take its time to change hands.
    await server.watch.waitFor(/wrote a scheduled backup/, 'a scheduled backup is written', 30_000);
    // Another port; cookies do not depend on the port, and the session is a token in the database: it outlives the restart.
    await page.goto(`${server.url}/#/backups`);
    await page.getByRole('heading', { name: 'Backups', exact: true, level: 1 }).waitFor();
    const last = page.getByRole('heading', { level: 2, name: /^Last backup: / });
    await last.waitFor();
    assert.match((await last.textContent()) ?? '', /, ok, \d+\.\d KB, scheduled$/);
    const runs = page.getByRole('table', { name: 'Backups, newest first' }).locator('tbody tr');
    assert.match((await runs.first().textContent()) ?? '', /scheduled.*ok.*KB.*scheduled[/\\]certfleet-.*\.cfbak/);
    assert.match((await runs.last().textContent()) ?? '', /manual.*ok.*\(downloaded by the caller\)/);
    await screenshot(page, 'backups');
    assert.deepEqual(admin.errors, []);
  });
});
