/**
 * Issue 13 in the console: a keystore without a password (the Windows export of the issue: its MAC
 * and bags keyed with a zero-length password; and an openssl file without a MAC) imported through
 * the Import dialog's "This file has no password" box. The stored certificate's fingerprint is the
 * one openssl prints for the file (out/interop/cases.json, scripts/make-interop-matrix.sh).
 */
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { fixturePath, interopCases, type InteropCase } from '../fixtures/fixtures.js';
import { openTestStore } from '../support/databases.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../support/test-server.js';
import { browserSuite, launchBrowser, logIn, newConsolePage, orderedSteps } from './browser.js';

function matrixCase(id: string): InteropCase {
  const c = interopCases().find((x) => x.id === id);
  if (!c) throw new Error(`${id} is not in the interop matrix`);
  return c;
}

browserSuite('console import of password-less keystores (issue 13)', () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let errors: string[];
  const step = orderedSteps();
  const dialog = () => page.getByRole('dialog');
  const tool = (name: string) => page.getByRole('group', { name: 'Certificate actions' }).getByRole('button', { name, exact: true });

  before(async () => {
    server = await startTestServer(await openTestStore('sqlite'));
    browser = await launchBrowser();
    ({ page, errors } = await newConsolePage(browser));
    await logIn(page, server.url, 'admin', ADMIN_PASSWORD);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await server?.ctx.store.close();
  });

  const importWithoutPassword = async (c: InteropCase): Promise<string> => {
    await tool('Import').click();
    await dialog().getByLabel('Keystore file').setInputFiles(fixturePath(`interop/${c.file}`));
    await dialog().getByLabel('Alias').fill(c.id);
    await dialog().getByLabel(/This file has no password/).check();
    assert.equal(await dialog().getByLabel('Keystore password', { exact: true }).isDisabled(), true, 'the password field is off while the box is ticked');
    await dialog().getByRole('button', { name: 'Import' }).click();
    const status = page.getByRole('status').getByText(`Imported "${c.id}"`);
    await status.waitFor();
    const stored = await server.ctx.store.keystore.findByAlias(c.id);
    assert.equal(stored?.facts.sha256Fingerprint, c.fingerprint, `${c.id}: the fingerprint openssl prints for the file`);
    return (await status.textContent()) ?? '';
  };

  step('imports the Windows export without a password (zero-length password, BER, CSP attributes)', async () => {
    const c = matrixCase('windows-no-password');
    const text = await importWithoutPassword(c);
    assert.doesNotMatch(text, /no integrity check/, 'its MAC was checked');
  });

  step('imports a password-less openssl file without a MAC, and says it had no integrity check', async () => {
    const c = matrixCase('openssl-nopbe-nomac-empty');
    assert.equal(c.integrityCheck, 'none');
    assert.match(await importWithoutPassword(c), /no integrity check/);
    assert.deepEqual(errors, [], 'no browser errors');
  });
});
