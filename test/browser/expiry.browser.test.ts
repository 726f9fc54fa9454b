/**
 * L1 in a real browser: the banner above every page of the console names each certificate in use
 * that expires within the warning window (amber) or has expired (red, an error), with the devices
 * it carries, and the certificate list marks the same rows. The server runs on a FakeTime, so the
 * certificates are made today and the console is opened weeks later. Screenshot:
 * docs/screenshots/expiry-banner.png.
 */
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { generateCertificate, reorderCertificate } from '../../src/app/certificates.js';
import { SYSTEM_ACTOR } from '../../src/app/context.js';
import { openTestStore } from '../support/databases.js';
import { registerProfile } from '../support/device-fleet.js';
import { FakeTime } from '../support/fake-time.js';
import { DAY_MS as DAY } from '../../src/domain/time.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../support/test-server.js';
import { browserSuite, goTo, launchBrowser, logIn, newConsolePage, orderedSteps, screenshot } from './browser.js';


browserSuite('web console: certificates in use that expire', () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let errors: string[];
  const step = orderedSteps();

  before(async () => {
    // Midnight UTC today, so that the days left are whole and the picture is the same every run.
    const time = new FakeTime(new Date(new Date().toISOString().slice(0, 10)));
    server = await startTestServer(await openTestStore('sqlite'), { clock: time });
    // `edge` (45 days, ECDSA) becomes the default and carries three modern devices; legacy firmware
    // supports neither it nor tckey (SHA512withRSA) and lands on `legacy-rsa` (20 days).
    await generateCertificate(server.ctx, SYSTEM_ACTOR, { alias: 'edge', signatureAlgorithm: 'SHA256withECDSA', days: 45 });
    await generateCertificate(server.ctx, SYSTEM_ACTOR, { alias: 'legacy-rsa', signatureAlgorithm: 'SHA256withRSA', keySize: 2048, days: 20 });
    await generateCertificate(server.ctx, SYSTEM_ACTOR, { alias: 'spare', signatureAlgorithm: 'SHA256withECDSA', days: 10 });
    await reorderCertificate(server.ctx, SYSTEM_ACTOR, 'edge', 'default');
    for (let i = 0; i < 3; i++) await registerProfile(server.ctx, 'igel-os-12');
    for (let i = 0; i < 2; i++) await registerProfile(server.ctx, 'igel-linux-4.01.650');
    await time.advance(25 * DAY); // edge: 20 days left; legacy-rsa: expired 5 days ago; spare: expired, unused
    browser = await launchBrowser();
    const admin = await newConsolePage(browser);
    page = admin.page;
    errors = admin.errors;
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await server?.ctx.store.close();
  });

  step('names the expired certificate in use in red and the expiring one in amber, with the devices each carries', async () => {
    await logIn(page, server.url, 'admin', ADMIN_PASSWORD);
    const expired = page.locator('.expiry-banner[data-level="expired"]');
    const expiring = page.locator('.expiry-banner[data-level="warning"]');
    await expired.waitFor();
    assert.equal(await expired.getAttribute('role'), 'alert', 'the error is announced');
    assert.deepEqual(await expired.locator('li').allTextContents(), ['legacy-rsa: expired 5 days ago, carries 2 devices']);
    assert.match((await expired.textContent()) ?? '', /Expired certificate in use\..*cannot reach the server/);
    const until = new Date(Date.parse(new Date().toISOString().slice(0, 10)) + 45 * DAY).toISOString().slice(0, 10);
    assert.deepEqual(await expiring.locator('li').allTextContents(), [`edge: 20 days left (until ${until}), carries 3 devices`]);
    assert.equal(await page.locator('.expiry-banner li[data-alias="spare"]').count(), 0, 'an expired certificate nobody uses is not in the banner');
    // The list marks the same rows, and only them.
    assert.equal(await page.locator('tr[data-alias="legacy-rsa"] td.expiry.expired').count(), 1);
    assert.equal(await page.locator('tr[data-alias="edge"] td.expiry.warn').count(), 1);
    assert.equal(await page.locator('tr[data-alias="spare"] td.expiry.expired, tr[data-alias="spare"] td.expiry.warn').count(), 0);
    assert.equal(await page.locator('tr[data-alias="tckey"] td.expiry.warn').count(), 0);
    await screenshot(page, 'expiry-banner');
  });

  step('shows the banner at the top of every page', async () => {
    await goTo(page, 'Devices', 'Devices');
    await page.locator('.expiry-banner[data-level="expired"] li[data-alias="legacy-rsa"]').waitFor();
    await goTo(page, 'Audit log', 'Audit log');
    await page.locator('.expiry-banner[data-level="warning"] li[data-alias="edge"]').waitFor();
    assert.deepEqual(errors, [], 'no browser errors');
  });
});
