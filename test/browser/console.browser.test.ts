/**
 * The web console in a real browser (Debian's Chromium through playwright-core) against a real
 * server on SQLite: an administrator's day on the Certificate Management screen and the other
 * pages, real devices (`certfleet agent` over the real TLS device channel) rotating to a new
 * default while the devices panel follows, and what a viewer and an operator may not do.
 * Each page is saved as a screenshot under docs/screenshots/ (1280×800).
 *
 * The steps build on each other and run in order, in one browser.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startDeviceChannel, type DeviceChannel } from '../../src/transport/device-channel/device-channel.js';
import { nodeScheduler } from '../../src/main/system.js';
import { SYSTEM_ACTOR } from '../../src/app/context.js';
import { createEnrollmentToken } from '../../src/app/enrollment.js';
import { createUser } from '../../src/app/accounts.js';
import { registerNode, ROTATION_LEASE } from '../../src/app/cluster.js';
import { generateCertificate } from '../../src/app/certificates.js';
import { ALLOWED_SIGNATURE_ALGORITHMS } from '../../src/domain/algorithms.js';
import { DEFAULT_COMPATIBILITY_RULES } from '../../src/domain/compatibility.js';
import { runCli } from '../support/cli.js';
import { databaseUnavailable, openTestStore } from '../support/databases.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../support/test-server.js';
import { browserSuite, goTo, launchBrowser, logIn, newConsolePage, orderedSteps, screenshot } from './browser.js';

/** test/fixtures/out, seen from dist/test/browser/. */
const FIXTURES = new URL('../../../test/fixtures/out/', import.meta.url).pathname;
const STORE_PASSWORD = 'storepass1';
const PASSWORDS = { operator: 'operator-password-1', viewer: 'viewer-password-1' } as const;

interface AgentResult {
  readonly deviceId: string;
  readonly pinnedAlias: string;
  readonly profile: string;
}

browserSuite('web console', () => {
  let server: TestServer;
  let channel: DeviceChannel;
  let browser: Browser;
  let admin: { context: BrowserContext; page: Page; errors: string[] };
  let page: Page;
  const work = mkdtempSync(join(tmpdir(), 'certfleet-browser-'));
  let tokenFile = '';
  const agents: { readonly state: string; readonly profile: string }[] = [];

  /** One full agent cycle (register if needed, check in, apply a replacement), as a device would. */
  const agentOnce = async (agent: { readonly state: string; readonly profile: string }): Promise<AgentResult> => {
    const r = await runCli([
      'agent',
      '--server', `127.0.0.1:${channel.address.port}`,
      '--state', agent.state,
      '--token-file', tokenFile,
      '--profile', agent.profile,
      '--once',
      '--json',
    ]);
    assert.equal(r.code, 0, `agent ${agent.profile}: ${r.stderr}`);
    return JSON.parse(r.stdout) as AgentResult; // agent --once --json prints one object
  };

  const step = orderedSteps();

  const dialog = () => page.getByRole('dialog');
  const button = (name: string) => page.getByRole('button', { name, exact: true });
  /** A button of the Certificate Management toolbar (a dialog may have one of the same name). */
  const tool = (name: string) => page.getByRole('group', { name: 'Certificate actions' }).getByRole('button', { name, exact: true });
  const select = (alias: string) => page.getByRole('radio', { name: `Select ${alias}`, exact: true }).check();
  const panel = (count: number) => page.getByRole('heading', { name: `Devices which use the selected certificate (${count})`, exact: true });
  const reason = async (name: string): Promise<string | null> => {
    const b = tool(name);
    assert.equal(await b.isDisabled(), true, `${name} is disabled`);
    const describedBy = await b.getAttribute('aria-describedby');
    assert.ok(describedBy, `${name} has a description`);
    assert.equal(await page.locator(`#${describedBy}`).textContent(), await b.getAttribute('title'));
    return b.getAttribute('title');
  };

  before(async () => {
    server = await startTestServer(await openTestStore('sqlite'));
    channel = await startDeviceChannel({ scheduler: nodeScheduler, ctx: server.ctx, host: '127.0.0.1', port: 0, log: pino({ level: 'silent' }), pollIntervalMs: 200 });
    browser = await launchBrowser();
    admin = await newConsolePage(browser);
    page = admin.page;
  });
  after(async () => {
    await browser?.close();
    await channel?.close();
    await server?.close();
    await server?.ctx.store.close();
    rmSync(work, { recursive: true, force: true });
  });

  step('logs in with the labelled fields; a wrong password reads as a sentence, not JSON', async () => {
    await page.goto(server.url + '/');
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill('wrong-password');
    await button('Log in').click();
    const alert = page.getByRole('alert');
    await alert.getByText('The user name or password is wrong.').waitFor();
    assert.match((await alert.textContent()) ?? '', /invalid_credentials/);
    assert.doesNotMatch((await alert.textContent()) ?? '', /[{}"]/);
    await page.getByLabel('Password').fill('');
    await screenshot(page, 'login');
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await button('Log in').click();
    await page.getByRole('heading', { name: 'Certificate Management', exact: true }).waitFor();
    const cookies = await admin.context.cookies();
    const session = cookies.find((c) => c.name === 'certfleet_session');
    assert.ok(session, 'a session cookie');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
  });

  step('lists the keystore in priority order, the default marked, with the reasons for what is not allowed', async () => {
    const row = page.locator('tr[data-alias="tckey"]');
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /Default.*Active.*SHA512withRSA.*RSA 4096.*days left/);
    await panel(0).waitFor();
    // The reasons are the server's own refusals (whyRefused of src/domain/keystore.ts).
    assert.equal(await reason('Move up'), '"tckey" is already at the top of the list and is the default.');
    assert.match((await reason('Deactivate')) ?? '', /^"tckey" is the only active certificate and cannot be deactivated\./);
    assert.match((await reason('Delete')) ?? '', /^"tckey" is the only active certificate and cannot be deleted\./);
    assert.equal(await reason('Make default'), 'This certificate is the default already.');
  });

  step('refuses a change sent with the session cookie but without the CSRF token', async () => {
    const answer = await page.evaluate(async () => {
      const res = await fetch('/api/v1/certificates', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"alias":"csrf"}' });
      return { status: res.status, body: (await res.json()) as { error: { code: string; message: string } } };
    });
    assert.equal(answer.status, 403);
    assert.equal(answer.body.error.code, 'forbidden');
    assert.match(answer.body.error.message, /CSRF token/);
  });

  step('generates a certificate through the dialog', async () => {
    await tool('Generate').click();
    await dialog().getByLabel('Alias').fill('ec-p256');
    await dialog().getByLabel('Common name (CN)').fill('ec.certfleet.test');
    await dialog().getByLabel('Signature algorithm').selectOption('SHA256withECDSA');
    await dialog().getByLabel('Validity (days)').fill('20');
    assert.equal(await dialog().getByLabel('Key size').isDisabled(), true, 'ECDSA takes its curve from the algorithm');
    await dialog().getByRole('button', { name: 'Generate' }).click();
    await page.getByRole('status').getByText('Generated "ec-p256" (SHA256withECDSA, EC 256)').waitFor();
    assert.equal(await dialog().count(), 0);
    const row = page.locator('tr[data-alias="ec-p256"]');
    assert.match((await row.textContent()) ?? '', /^2ec-p256Active.*SHA256withECDSAEC 256 \(P-256\)/);
    assert.equal(await page.getByRole('radio', { name: 'Select ec-p256' }).isChecked(), true);
    // 20 days left, but no device uses it: L1 flags only certificates in use (expiry.browser.test.ts).
    assert.match((await row.locator('td.expiry').textContent()) ?? '', /\((19|20) days left\)/);
    assert.equal(await row.locator('td.expiry.warn').count(), 0, 'not flagged: no device uses it');
    assert.equal(await reason('Move down'), '"ec-p256" is already at the bottom of the list.');
  });

  step('imports a keytool PKCS#12 through the file dialog; a wrong password is said plainly', async () => {
    await tool('Import').click();
    await dialog().getByLabel('Keystore file').setInputFiles(join(FIXTURES, 'keytool-rsa2048-sha256.p12'));
    assert.equal(await dialog().getByLabel('Alias').inputValue(), 'keytool-rsa2048-sha256', 'the alias comes from the file name');
    await dialog().getByLabel('Alias').fill('keytool-rsa2048');
    await dialog().getByLabel('Keystore password', { exact: true }).fill('not-the-password');
    await dialog().getByRole('button', { name: 'Import' }).click();
    const alert = dialog().getByRole('alert');
    await alert.waitFor();
    assert.match((await alert.textContent()) ?? '', /password.*wrong_password/s);
    await screenshot(page, 'import-dialog');
    await dialog().getByLabel('Keystore password', { exact: true }).fill(STORE_PASSWORD);
    await dialog().getByRole('button', { name: 'Import' }).click();
    await page.getByRole('status').getByText('Imported "keytool-rsa2048" (SHA256withRSA').waitFor();
    assert.match((await page.locator('tr[data-alias="keytool-rsa2048"]').textContent()) ?? '', /^3keytool-rsa2048Active.*SHA256withRSARSA 2048/);
  });

  step('asks for the entry when the keystore holds several, offering their names', async () => {
    await tool('Import').click();
    await dialog().getByLabel('Keystore file').setInputFiles(join(FIXTURES, 'keytool-two-entries.jks'));
    await dialog().getByLabel('Keystore password', { exact: true }).fill(STORE_PASSWORD);
    await dialog().getByLabel('Alias').fill('jks-second');
    await dialog().getByRole('button', { name: 'Import' }).click();
    await dialog().getByRole('alert').getByText(/holds 2 key entries/).waitFor();
    const entry = dialog().getByLabel('Entry');
    assert.deepEqual((await entry.locator('option').allTextContents()).sort(), ['first', 'second']);
    await entry.selectOption('second');
    await dialog().getByRole('button', { name: 'Import' }).click();
    await page.getByRole('status').getByText('Imported "jks-second" (SHA256withECDSA').waitFor();
  });

  step('creates an enrollment token, shown once with a Copy button', async () => {
    await admin.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    await goTo(page, 'Enrollment tokens', 'Enrollment tokens');
    await page.getByLabel('Uses', { exact: true }).fill('3');
    await page.getByLabel('Expires in').fill('2');
    await page.getByRole('combobox', { name: /^Unit/ }).selectOption('hours');
    await button('Create token').click();
    const token = await page.getByRole('textbox', { name: 'Enrollment token', exact: true }).inputValue();
    assert.match(token, /^cfe_[A-Za-z0-9_-]{20,}$/);
    await button('Copy').click();
    await page.getByText('Copied to the clipboard.').waitFor();
    assert.equal(await page.evaluate('navigator.clipboard.readText()'), token);
    await page.locator('tbody tr', { hasText: '3 of 3' }).waitFor();
    await screenshot(page, 'enrollment-tokens');
    tokenFile = join(work, 'enrollment-token');
    writeFileSync(tokenFile, token, { mode: 0o600 });
    await button('Done').click();
    assert.equal(await page.getByRole('textbox', { name: 'Enrollment token', exact: true }).count(), 0, 'the token is not shown again');
    // A second token, bound to one unit, revoked at once.
    await page.getByLabel('Uses', { exact: true }).fill('1');
    await page.getByLabel('Unit ID').fill('00:11:22:33:44:55');
    await button('Create token').click();
    await button('Done').click();
    const bound = page.locator('tbody tr', { hasText: '00:11:22:33:44:55' });
    await bound.getByRole('button', { name: /^Revoke token/ }).click();
    await dialog().getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('status').getByText(/Revoked the token/).waitFor();
    await bound.getByText('Revoked').waitFor();
  });

  step('shows the devices that registered with the agent in the panel of their certificate', async () => {
    for (const profile of ['igel-os-12', 'igel-os-12', 'igel-linux-4.01.650']) agents.push({ state: join(work, `agent-${agents.length}`), profile });
    const registered = await Promise.all(agents.map(agentOnce));
    // R1: the default for the modern firmware; for IGEL Linux 4.01.650 (no SHA512withRSA, no ECDSA) the first active one it supports.
    assert.deepEqual(registered.map((r) => r.pinnedAlias), ['tckey', 'tckey', 'keytool-rsa2048']);
    await goTo(page, 'Certificate Management', 'Certificate Management');
    await select('tckey');
    await panel(2).waitFor();
    assert.equal(await page.getByRole('table', { name: 'Devices which use tckey' }).getByRole('row').count(), 3);
    await select('keytool-rsa2048');
    await panel(1).waitFor();
    await page.getByRole('cell', { name: 'igel-linux-4.01.650' }).waitFor();
    await select('tckey');
    await page.getByLabel('Search devices').fill('no-such-device');
    await page.getByText('No device using "tckey" matches "no-such-device".').waitFor();
    await page.getByLabel('Search devices').fill('');
    await page.getByRole('table', { name: 'Devices which use tckey' }).waitFor();
  });

  step('previews a new default — who switches, who stays, per profile — before making it', async () => {
    // ECDSA: the legacy firmware would stay; cancel after the preview.
    await select('ec-p256');
    await tool('Make default').click();
    await dialog().getByRole('heading', { name: 'Switching: 2 devices' }).waitFor();
    await dialog().getByRole('heading', { name: 'Staying: 1 device' }).waitFor();
    await dialog().getByText('Their firmware lacks SHA256withECDSA').waitFor();
    assert.deepEqual(await dialog().getByRole('table', { name: 'Staying, per profile' }).getByRole('cell').allTextContents(), ['igel-linux-4.01.650', '1']);
    await screenshot(page, 'make-default-preview');
    await dialog().getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await page.locator('tr[data-alias="tckey"] .badge.default').count(), 1, 'nothing changed');

    await select('keytool-rsa2048');
    await tool('Make default').click();
    await dialog().getByRole('heading', { name: 'Switching: 2 devices' }).waitFor();
    await dialog().getByRole('heading', { name: 'Staying: 0 devices' }).waitFor();
    await dialog().getByText('Already using it: 1 device.').waitFor();
    assert.deepEqual(await dialog().getByRole('table', { name: 'Switching, per profile' }).getByRole('cell').allTextContents(), ['igel-os-12', '2']);
    await dialog().getByRole('button', { name: 'Make default' }).click();
    await page.getByRole('status').getByText('"keytool-rsa2048" is the default now.').waitFor();
    assert.match((await page.locator('tbody tr').first().textContent()) ?? '', /^1keytool-rsa2048Default/);
  });

  step('follows the rotation live, and the devices panel count changes as the devices switch', async () => {
    await goTo(page, 'Rotation', 'Rotation');
    await button('Run now').click();
    await page.getByRole('status').getByText(/Rotation ran: 3 devices checked, 2 given the default/).waitFor();
    await page.locator('[data-stat="pending"]', { hasText: '2' }).waitFor();
    await page.getByText('Devices are switching — updated every 2 seconds.').waitFor();
    await screenshot(page, 'rotation');

    await goTo(page, 'Certificate Management', 'Certificate Management');
    await select('tckey');
    await panel(2).waitFor();
    await page.getByRole('cell', { name: 'pins it; moving to keytool-rsa2048' }).first().waitFor();
    const checkedIn = await Promise.all(agents.map(agentOnce));
    assert.deepEqual(checkedIn.map((r) => r.pinnedAlias), ['keytool-rsa2048', 'keytool-rsa2048', 'keytool-rsa2048']);
    // The list and the panel refresh on their own (every 2 s while devices are switching).
    await panel(0).waitFor();
    await select('keytool-rsa2048');
    await panel(3).waitFor();
    await screenshot(page, 'certificates');

    await goTo(page, 'Rotation', 'Rotation');
    await page.locator('[data-stat="onDefault"]', { hasText: '3' }).waitFor();
    await page.getByText('No device is switching now.').waitFor();
  });

  step('says before the click why a certificate in use cannot be deleted, in the server\'s words', async () => {
    await goTo(page, 'Certificate Management', 'Certificate Management');
    await select('keytool-rsa2048');
    assert.match((await reason('Delete')) ?? '', /^"keytool-rsa2048" is used by 3 devices .* cannot be deleted/);
    // A certificate that no device uses goes.
    await select('jks-second');
    await tool('Delete').click();
    await dialog().getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('status').getByText('Deleted "jks-second".').waitFor();
    assert.equal(await page.locator('tr[data-alias="jks-second"]').count(), 0);
  });

  step('moves, deactivates and activates, and exports the certificate, its content and its key pair', async () => {
    await select('ec-p256');
    await tool('Move up').click();
    await page.getByRole('status').getByText('Moved "ec-p256" up.').waitFor();
    await tool('Deactivate').click();
    await page.getByRole('status').getByText('Deactivated "ec-p256"').waitFor();
    assert.match((await page.locator('tr[data-alias="ec-p256"]').textContent()) ?? '', /Inactive/);
    assert.match((await reason('Make default')) ?? '', /^"ec-p256" is inactive and cannot become the default, because the default is always active\./);
    await tool('Activate').click();
    await page.getByRole('status').getByText('Activated "ec-p256"').waitFor();

    await tool('Export certificate').click();
    await dialog().getByLabel('DER (.cer, binary)').check();
    const [der] = await Promise.all([page.waitForEvent('download'), dialog().getByRole('button', { name: 'Download' }).click()]);
    assert.equal(der.suggestedFilename(), 'ec-p256.cer');
    assert.equal(readFileSync(await der.path())[0], 0x30, 'DER starts with a SEQUENCE');

    await tool('Show content').click();
    await dialog().getByText('SHA256withECDSA').first().waitFor();
    await dialog().getByRole('cell', { name: /subjectAltName/ }).waitFor();
    await dialog().getByText('-----BEGIN CERTIFICATE-----', { exact: false }).waitFor();
    await screenshot(page, 'certificate-content');
    await dialog().getByRole('button', { name: 'Show as text' }).click();
    assert.match((await dialog().getByLabel('The certificate as text').textContent()) ?? '', /SHA256withECDSA/);
    await page.keyboard.press('Escape');
    assert.equal(await dialog().count(), 0, 'Escape closes the dialog');

    await tool('Export key pair').click();
    await dialog().getByLabel('Password', { exact: true }).fill('short');
    await dialog().getByLabel('Repeat the password').fill('short');
    await dialog().getByRole('button', { name: 'Export' }).click();
    await dialog().getByRole('alert').getByText('at least 8 characters').waitFor();
    await dialog().getByLabel('Password', { exact: true }).fill('export-pass-1');
    await dialog().getByLabel('Repeat the password').fill('export-pass-1');
    const [p12] = await Promise.all([page.waitForEvent('download'), dialog().getByRole('button', { name: 'Export' }).click()]);
    assert.equal(p12.suggestedFilename(), 'ec-p256.p12');
  });

  step('lists, searches and deletes devices', async () => {
    await goTo(page, 'Devices', 'Devices');
    await page.getByText('3 registered').waitFor();
    await screenshot(page, 'devices');
    await page.getByLabel('Search devices').fill('no-such-device');
    await page.getByText('No device matches "no-such-device".').waitFor();
    await page.getByLabel('Search devices').fill('');
    await page.getByText('3 registered').waitFor();
    const first = page.getByRole('button', { name: /^Delete device / }).first();
    await first.click();
    await dialog().getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('status').getByText(/Deleted the device/).waitFor();
    await page.getByText('2 registered').waitFor();
  });

  step('shows the audit log', async () => {
    await goTo(page, 'Audit log', 'Audit log');
    await page.getByRole('cell', { name: 'certificate.export-keypair' }).first().waitFor();
    // The import refused for its wrong password, earlier, with its code.
    await page.getByText('wrong_password').first().waitFor();
    await screenshot(page, 'audit-log');
  });

  step('creates accounts (administrators only)', async () => {
    await goTo(page, 'Accounts', 'Accounts');
    const accounts = [
      ['operator', 'operator', PASSWORDS.operator],
      ['viewer', 'viewer', PASSWORDS.viewer],
      ['auditor', 'viewer', 'auditor-password-1'],
    ] as const;
    for (const [username, role, password] of accounts) {
      await page.getByLabel('User name').fill(username);
      await page.getByLabel('Role').selectOption(role);
      await page.getByLabel('Password').fill(password);
      await button('Create account').click();
      await page.getByRole('status').getByText(`Created the account "${username}"`).waitFor();
    }
    assert.equal(await page.getByRole('button', { name: 'Delete account admin' }).count(), 0, 'no deleting oneself');
    await page.getByRole('button', { name: 'Delete account auditor' }).click();
    await dialog().getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('status').getByText('Deleted the account "auditor"').waitFor();
    // The list is read again after the status line: wait for the row to go, then check it is gone.
    await page.getByRole('cell', { name: 'auditor', exact: true }).waitFor({ state: 'detached' });
    assert.equal(await page.getByRole('cell', { name: 'auditor', exact: true }).count(), 0);
    await page.getByLabel('User name').fill('x');
    await page.getByLabel('Password').fill('short');
    await button('Create account').click();
    await page.getByRole('alert').getByText('at least 8 characters').waitFor();
    await screenshot(page, 'accounts');
  });

  step('logs out: the session ends on the server too', async () => {
    await button('Log out').click();
    await page.getByText('You have logged out.').waitFor();
    const answer = await page.evaluate(async () => (await fetch('/api/v1/auth/me')).status);
    assert.equal(answer, 401);
    assert.deepEqual(admin.errors, []);
  });

  step('shows a viewer no change buttons', async () => {
    const { context, page: p, errors } = await newConsolePage(browser);
    try {
      await logIn(p, server.url, 'viewer', PASSWORDS.viewer);
      await p.locator('tr[data-alias="tckey"]').waitFor();
      const toolbar = p.getByRole('group', { name: 'Certificate actions' });
      assert.deepEqual(await toolbar.getByRole('button').allTextContents(), ['Export certificate', 'Show content']);
      assert.equal(await p.getByRole('link', { name: 'Accounts' }).count(), 0);
      await goTo(p, 'Devices', 'Devices');
      await p.getByText('2 registered').waitFor();
      assert.equal(await p.getByRole('button', { name: /^Delete/ }).count(), 0);
      await goTo(p, 'Enrollment tokens', 'Enrollment tokens');
      await p.getByRole('table').waitFor();
      assert.equal(await p.getByRole('button', { name: /Create token|Revoke/ }).count(), 0);
      await goTo(p, 'Rotation', 'Rotation');
      await p.locator('[data-stat="total"]').waitFor();
      assert.equal(await p.getByRole('button', { name: 'Run now' }).count(), 0);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  step('shows an operator the key-pair export disabled, with the reason', async () => {
    const { context, page: p, errors } = await newConsolePage(browser);
    try {
      await logIn(p, server.url, 'operator', PASSWORDS.operator);
      await p.getByRole('radio', { name: 'Select ec-p256' }).check();
      const exportKeyPair = p.getByRole('button', { name: 'Export key pair' });
      assert.equal(await exportKeyPair.isDisabled(), true);
      assert.equal(await exportKeyPair.getAttribute('title'), 'Only administrators may export key pairs.');
      assert.equal(await p.getByRole('button', { name: 'Generate' }).isEnabled(), true);
      assert.equal(await p.getByRole('link', { name: 'Accounts' }).count(), 0);
      await screenshot(p, 'operator-certificates');
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  // The firmware compatibility table and API tokens, on a server of their own so that the edit moves a known fleet.
  describe('firmware compatibility and API tokens', () => {
    let own: TestServer;
    let ownChannel: DeviceChannel;
    let ownToken = '';
    /** Profile of each device the agents registered, by what it pins. */
    const fleet: AgentResult[] = [];
    const PEOPLE = { operator: 'operator-password-2', viewer: 'viewer-password-2' } as const;

    before(async () => {
      own = await startTestServer(await openTestStore('sqlite'));
      ownChannel = await startDeviceChannel({ scheduler: nodeScheduler, ctx: own.ctx, host: '127.0.0.1', port: 0, log: pino({ level: 'silent' }), pollIntervalMs: 200 });
      // An RSA entry with SHA-256 for the legacy firmware (which cannot verify tckey's SHA512withRSA).
      await generateCertificate(own.ctx, SYSTEM_ACTOR, { alias: 'rsa-sha256', signatureAlgorithm: 'SHA256withRSA', keySize: 2048 });
      await createUser(own.ctx, SYSTEM_ACTOR, { username: 'operator', role: 'operator', password: PEOPLE.operator });
      await createUser(own.ctx, SYSTEM_ACTOR, { username: 'viewer', role: 'viewer', password: PEOPLE.viewer });
      const file = join(work, 'own-token');
      writeFileSync(file, (await createEnrollmentToken(own.ctx, SYSTEM_ACTOR, { uses: 10 })).token, { mode: 0o600 });
      ownToken = file;
      const profiles = ['igel-os-12', 'igel-os-12', 'igel-linux-4.01.650', 'windows-7-embedded-3.08.100'];
      const results = await Promise.all(
        profiles.map(async (profile, i) => {
          const r = await runCli(['agent', '--server', `127.0.0.1:${ownChannel.address.port}`, '--state', join(work, `own-agent-${i}`), '--token-file', ownToken, '--profile', profile, '--once', '--json']);
          assert.equal(r.code, 0, `agent ${profile}: ${r.stderr}`);
          return JSON.parse(r.stdout) as AgentResult; // agent --once --json prints one object
        }),
      );
      fleet.push(...results);
    });
    after(async () => {
      await ownChannel?.close();
      await own?.close();
      await own?.ctx.store.close();
    });

    const devicesOf = (profile: string) => fleet.filter((d) => d.profile === profile).length;

    it('lets an operator edit the table, showing before saving how many devices the edit moves or strands', async () => {
      assert.deepEqual(fleet.map((d) => d.pinnedAlias), ['tckey', 'tckey', 'rsa-sha256', 'rsa-sha256'], 'R1: the legacy firmware pins the SHA-256 entry');
      const { context, page: p, errors } = await newConsolePage(browser);
      try {
        await logIn(p, own.url, 'operator', PEOPLE.operator);
        await goTo(p, 'Firmware compatibility', 'Firmware compatibility');
        const saved = p.getByRole('table', { name: 'Firmware compatibility table, in match order' });
        await saved.waitFor();
        assert.equal(await saved.getByRole('row').count(), 1 + DEFAULT_COMPATIBILITY_RULES.length);
        assert.match((await saved.getByRole('row').nth(1).textContent()) ?? '', /^1igel-linux-4\.01\.650IGEL Linux4\.01\.650SHA1withRSASHA224withRSASHA256withRSASHA384withRSA$/);
        await p.getByRole('button', { name: 'Edit the table' }).click();

        const preview = (stat: string) => p.locator(`[data-stat="${stat}"] dd`);
        const waitFor = async (stat: string, text: string) => p.locator(`[data-stat="${stat}"] dd`, { hasText: new RegExp(`^${text}$`) }).waitFor();
        await waitFor('newlySwitching', '0');
        assert.equal(await p.getByRole('button', { name: 'Save the table' }).isDisabled(), true, 'nothing to save yet');
        // The checkboxes are the allow-list, in its order.
        const row1 = p.locator('tr[data-row="1"]');
        assert.deepEqual(await row1.getByRole('checkbox').evaluateAll((boxes) => boxes.map((b) => b.parentElement?.textContent ?? '')), [...ALLOWED_SIGNATURE_ALGORITHMS]);

        // The legacy IGEL Linux row gains SHA512withRSA: its device would now get the default (tckey).
        await p.getByRole('checkbox', { name: 'SHA512withRSA, row 1' }).check();
        // The old Windows 7 Embedded row goes: that device falls through to the newer row, which supports everything.
        assert.equal(await p.getByLabel('Profile, row 2').inputValue(), 'windows-7-embedded-3.08.100');
        await p.getByRole('button', { name: 'Remove row 2' }).click();
        // A stricter IGEL OS 12 row, moved above the catch-all: the devices on tckey would pin what it says they cannot verify.
        await p.getByRole('button', { name: 'Add a row' }).click();
        const last = DEFAULT_COMPATIBILITY_RULES.length; // one removed, one added
        await p.getByLabel(`Profile, row ${last}`).fill('igel-os-12-strict');
        await p.getByLabel(`OS family, row ${last}`).fill('IGEL OS');
        await p.getByLabel(`Up to version, row ${last}`).fill('12.99.999');
        await p.getByRole('checkbox', { name: `SHA256withRSA, row ${last}` }).check();
        for (let row = last; row > 3; row--) await p.getByRole('button', { name: `Move row ${row} up` }).click();
        assert.equal(await p.getByLabel('Profile, row 3').inputValue(), 'igel-os-12-strict');
        assert.equal(await p.getByLabel('Profile, row 4').inputValue(), 'igel-os-12');

        const legacy = devicesOf('igel-linux-4.01.650') + devicesOf('windows-7-embedded-3.08.100');
        await waitFor('unsupportedPin', String(devicesOf('igel-os-12')));
        assert.equal(await preview('newlySwitching').textContent(), String(legacy));
        assert.equal(await preview('noLongerSwitching').textContent(), '0');
        assert.equal(await preview('switching').textContent(), `0 → ${legacy}`);
        assert.equal(await preview('staying').textContent(), `${legacy} → 0`);
        const perProfile = p.getByRole('table', { name: 'Changes per profile' });
        assert.deepEqual(await perProfile.getByRole('cell').allTextContents(), [
          'igel-linux-4.01.650', '1', '0', '0',
          'igel-os-12', '0', '0', '2',
          'windows-7-embedded-3.08.100', '1', '0', '0',
        ]);
        await p.getByRole('alert').getByText('If this table were right, 2 devices could not verify the certificate they pin.').waitFor();
        // The edited rows and the whole preview in one picture.
        await p.evaluate('window.scrollTo(0, document.body.scrollHeight)');
        await screenshot(p, 'compatibility');

        // That row was wrong: removed again, nothing is stranded, and the table is saved.
        await p.getByRole('button', { name: 'Remove row 3' }).click();
        await waitFor('unsupportedPin', '0');
        assert.equal(await preview('newlySwitching').textContent(), String(legacy));
        await p.getByRole('button', { name: 'Save the table' }).click();
        await p.getByRole('status').getByText(`Saved the compatibility table (${DEFAULT_COMPATIBILITY_RULES.length - 1} rows)`).waitFor();
        assert.match((await saved.getByRole('row').nth(1).textContent()) ?? '', /SHA384withRSASHA512withRSA$/);

        // The rotation does what the preview said.
        await goTo(p, 'Rotation', 'Rotation');
        await p.getByRole('button', { name: 'Run now' }).click();
        await p.getByRole('status').getByText(`Rotation ran: 4 devices checked, ${legacy} given the default`).waitFor();
        await p.locator('[data-stat="staying"]', { hasText: '0' }).waitFor();
        assert.deepEqual(errors, []);
      } finally {
        await context.close();
      }
    });

    it('shows a viewer the table without any way to change it', async () => {
      const { context, page: p, errors } = await newConsolePage(browser);
      try {
        await logIn(p, own.url, 'viewer', PEOPLE.viewer);
        await goTo(p, 'Firmware compatibility', 'Firmware compatibility');
        const table = p.getByRole('table', { name: 'Firmware compatibility table, in match order' });
        await table.waitFor();
        assert.equal(await table.getByRole('row').count(), DEFAULT_COMPATIBILITY_RULES.length, 'the saved table: one row fewer, plus the header');
        assert.equal(await p.getByRole('button').filter({ hasNotText: 'Log out' }).count(), 0);
        assert.equal(await p.getByRole('checkbox').count(), 0);
        assert.equal(await p.getByRole('textbox').count(), 0);
        assert.deepEqual(errors, []);
      } finally {
        await context.close();
      }
    });

    it('creates an API token shown once, which works against the API until it is revoked', async () => {
      const { context, page: p, errors } = await newConsolePage(browser);
      const me = (token: string) => fetch(`${own.url}/api/v1/auth/me`, { headers: { authorization: `Bearer ${token}` } });
      try {
        await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: own.url });
        await logIn(p, own.url, 'operator', PEOPLE.operator);
        await goTo(p, 'API tokens', 'API tokens');
        await p.getByRole('cell', { name: 'login (log-in)' }).first().waitFor(); // this console's session, and earlier ones
        await p.getByLabel('Name').fill('nightly-report');
        assert.equal(await p.getByLabel('Lifetime (days)').getAttribute('max'), '365');
        await p.getByLabel('Lifetime (days)').fill('7');
        await p.getByRole('button', { name: 'Create token' }).click();
        const token = await p.getByRole('textbox', { name: 'API token', exact: true }).inputValue();
        assert.match(token, /^cft_[A-Za-z0-9_-]{40,}$/);
        await p.getByRole('button', { name: 'Copy' }).click();
        await p.getByText('Copied to the clipboard.').waitFor();
        assert.equal(await p.evaluate('navigator.clipboard.readText()'), token);
        const row = p.locator('tbody tr', { hasText: 'nightly-report' });
        await row.waitFor();
        assert.match((await row.textContent()) ?? '', /never/);
        await screenshot(p, 'api-tokens');

        // It works, with the operator's rights, and its use is listed.
        const answer = await me(token);
        assert.equal(answer.status, 200);
        assert.deepEqual(await answer.json(), { username: 'operator', role: 'operator', permissions: ['read', 'manageCertificates', 'metrics'] });
        await p.getByRole('button', { name: 'Done' }).click();
        assert.equal(await p.getByRole('textbox', { name: 'API token', exact: true }).count(), 0, 'the token is not shown again');
        await goTo(p, 'Devices', 'Devices');
        await goTo(p, 'API tokens', 'API tokens');
        assert.doesNotMatch((await row.locator('td').nth(3).textContent()) ?? '', /never/);

        await row.getByRole('button', { name: 'Revoke token nightly-report' }).click();
        await p.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
        await p.getByRole('status').getByText('Revoked the token "nightly-report".').waitFor();
        assert.equal(await row.count(), 0);
        const refused = await me(token);
        assert.equal(refused.status, 401);
        assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'unauthenticated'); // the API's error shape
        assert.deepEqual(errors, []);
      } finally {
        await context.close();
      }
    });
  });

  // The main flow once more on PostgreSQL, the database of a cluster: the console talks to the same API either way.
  const postgres = databaseUnavailable('postgres');
  describe('on PostgreSQL', postgres !== null && process.env.CI !== 'true' ? { skip: `${postgres}; set CERTFLEET_TEST_PG to run it` } : {}, () => {
    let pgServer: TestServer;
    let pgChannel: DeviceChannel;
    let pg: { context: BrowserContext; page: Page; errors: string[] };
    before(async () => {
      pgServer = await startTestServer(await openTestStore('postgres'));
      pgChannel = await startDeviceChannel({ scheduler: nodeScheduler, ctx: pgServer.ctx, host: '127.0.0.1', port: 0, log: pino({ level: 'silent' }), pollIntervalMs: 200 });
      pg = await newConsolePage(browser);
    });
    after(async () => {
      await pg?.context.close();
      await pgChannel?.close();
      await pgServer?.close();
      await pgServer?.ctx.store.close();
    });

    it('logs in, imports, makes the import the default after its preview, and follows a device as it rotates', async () => {
      const p = pg.page;
      const d = p.getByRole('dialog');
      const toolbar = p.getByRole('group', { name: 'Certificate actions' });
      await logIn(p, pgServer.url, 'admin', ADMIN_PASSWORD);
      const { token } = await createEnrollmentToken(pgServer.ctx, SYSTEM_ACTOR, { uses: 1 });
      const file = join(work, 'pg-token');
      writeFileSync(file, token, { mode: 0o600 });
      const device = { state: join(work, 'pg-agent'), profile: 'igel-os-11' };
      const run = () =>
        runCli(['agent', '--server', `127.0.0.1:${pgChannel.address.port}`, '--state', device.state, '--token-file', file, '--profile', device.profile, '--once', '--json']);
      assert.equal((await run()).code, 0);
      await p.getByRole('heading', { name: 'Devices which use the selected certificate (1)', exact: true }).waitFor();

      await toolbar.getByRole('button', { name: 'Import', exact: true }).click();
      await d.getByLabel('Keystore file').setInputFiles(join(FIXTURES, 'keytool-rsa2048-sha256.p12'));
      await d.getByLabel('Keystore password', { exact: true }).fill(STORE_PASSWORD);
      await d.getByRole('button', { name: 'Import' }).click();
      await p.getByRole('status').getByText('Imported "keytool-rsa2048-sha256"').waitFor();
      await toolbar.getByRole('button', { name: 'Make default', exact: true }).click();
      await d.getByRole('heading', { name: 'Switching: 1 device' }).waitFor();
      assert.deepEqual(await d.getByRole('table', { name: 'Switching, per profile' }).getByRole('cell').allTextContents(), ['igel-os-11', '1']);
      await d.getByRole('button', { name: 'Make default' }).click();
      await p.getByRole('status').getByText('is the default now').waitFor();

      await goTo(p, 'Rotation', 'Rotation');
      await p.getByRole('button', { name: 'Run now' }).click();
      await p.locator('[data-stat="pending"]', { hasText: '1' }).waitFor();
      assert.equal(JSON.parse((await run()).stdout).pinnedAlias, 'keytool-rsa2048-sha256');
      await p.locator('[data-stat="onDefault"]', { hasText: '1' }).waitFor();
      await goTo(p, 'Certificate Management', 'Certificate Management');
      await p.getByRole('heading', { name: 'Devices which use the selected certificate (1)', exact: true }).waitFor();
      await p.getByRole('cell', { name: 'igel-os-11' }).waitFor();
      assert.deepEqual(pg.errors, []);
    });

    it('shows the cluster live: the leader marked, a node whose heartbeat stopped marked stale, the network token', async () => {
      const p = pg.page;
      const ctx = pgServer.ctx;
      const node = (id: string, name: string) => ({ id, name, apiAddress: `${name}:8080`, deviceAddress: `${name}:30001`, version: '0.1.0', servedRevision: 1 });
      // Node A is the leader; node B's last heartbeat is a minute old (past the 15 s lease time).
      await registerNode(ctx, node('aaaaaaaa-0000-4000-8000-000000000001', 'node-a'));
      await registerNode({ ...ctx, clock: { now: () => new Date(Date.now() - 60_000) } }, node('bbbbbbbb-0000-4000-8000-000000000002', 'node-b'));
      const now = new Date();
      const epoch = await ctx.store.leases.acquire(ROTATION_LEASE, 'aaaaaaaa-0000-4000-8000-000000000001', now.toISOString(), new Date(now.getTime() + 60_000).toISOString());
      assert.equal(typeof epoch, 'number');
      await goTo(p, 'Cluster', 'Cluster');
      const nodes = p.getByRole('table', { name: 'Nodes' });
      const a = nodes.locator('[data-node="aaaaaaaa-0000-4000-8000-000000000001"]');
      const b = nodes.locator('[data-node="bbbbbbbb-0000-4000-8000-000000000002"]');
      await a.getByText('leader').waitFor();
      assert.equal(await a.getByText('alive').count(), 1);
      assert.equal(await b.getByText('stale').count(), 1);
      assert.equal(await b.getByText('leader').count(), 0);
      await p.locator('[data-stat="alive"]', { hasText: '1 of 2' }).waitFor();
      const serial = (await ctx.store.cluster.get())?.token.serial;
      await p.locator('[data-stat="token"]', { hasText: `serial ${serial}` }).waitFor();
      await screenshot(p, 'cluster');
      assert.deepEqual(pg.errors, []);
    });
  });
});
