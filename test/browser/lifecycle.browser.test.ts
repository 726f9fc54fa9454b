/**
 * The lifecycle's timeline on the Rotation page (L2), in a real browser against the API served in
 * process on a fake clock: a legacy fallback that legacy devices pin comes within renew-before of
 * its expiry; one lifecycle pass after another, the clock moved between them, its successor is
 * generated, becomes the fallback in the window, the legacy device moves to it, and the old entry is
 * deactivated and deleted. The page lists the certificates looked after and each step, newest first.
 */
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { generateCertificate } from '../../src/app/certificates.js';
import { SYSTEM_ACTOR } from '../../src/app/context.js';
import { authenticateDevice, checkInDevice } from '../../src/app/device-check-in.js';
import { runLifecyclePass, setLifecycle } from '../../src/app/lifecycle.js';
import { runRotation } from '../../src/app/rotation.js';
import { DAY_MS } from '../../src/domain/time.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { pinning, registerProfile } from '../support/device-fleet.js';
import { FakeTime } from '../support/fake-time.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../support/test-server.js';
import { browserSuite, goTo, launchBrowser, logIn, newConsolePage, orderedSteps, screenshot } from './browser.js';

browserSuite('web console: the lifecycle timeline', () => {
  let db: TestDatabase;
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let errors: string[];
  // A Tuesday morning; the window is on Saturdays.
  const time = new FakeTime('2030-01-01T09:00:00.000Z');
  const step = orderedSteps();

  before(async () => {
    db = await createTestDatabase('sqlite');
    server = await startTestServer(await db.open(), { clock: time });
    browser = await launchBrowser();
    ({ page, errors } = await newConsolePage(browser));
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await db?.drop();
  });

  step('runs a legacy fallback through its succession on the fake clock', async () => {
    const ctx = server.ctx;
    await generateCertificate(ctx, SYSTEM_ACTOR, { alias: 'legacy', signatureAlgorithm: 'SHA256withRSA', keySize: 2048, days: 200 });
    const old = await registerProfile(ctx, 'igel-linux-4.01.650');
    await registerProfile(ctx, 'igel-os-12');
    assert.equal(old.certificate.alias, 'legacy', 'the legacy device pins the fallback');
    await setLifecycle(ctx, SYSTEM_ACTOR, { renewBefore: '90d', window: 'Sat 02:00-05:00', retireAfter: '30d' });

    await time.advance(111 * DAY_MS); // within 90 days of the fallback's expiry, on a Monday
    assert.deepEqual((await runLifecyclePass(ctx)).steps, ['generate']);
    await time.advance(4 * DAY_MS + 17 * 3_600_000); // Saturday 02:00: the window
    assert.deepEqual((await runLifecyclePass(ctx)).steps, ['promote']);
    await runRotation(ctx, SYSTEM_ACTOR);
    const successor = (await ctx.store.keystore.list()).find((e) => e.alias.startsWith('legacy-'));
    assert.ok(successor, 'the successor is in the keystore');
    const id = await authenticateDevice(ctx, old.credential);
    const moved = await checkInDevice(ctx, id, pinning(successor), {});
    assert.equal(moved.certificate.alias, successor.alias, 'the legacy device confirmed its move to the successor');
    await time.advance(3_600_000);
    assert.deepEqual((await runLifecyclePass(ctx)).steps, ['deactivate']);
    await time.advance(30 * DAY_MS);
    assert.deepEqual((await runLifecyclePass(ctx)).steps, ['delete']);
  });

  step('shows the settings, the certificates looked after and the timeline on the Rotation page', async () => {
    await logIn(page, server.url, 'admin', ADMIN_PASSWORD);
    await goTo(page, 'Rotation', 'Rotation');
    const panel = page.locator('section.lifecycle');
    await panel.locator('[data-lifecycle="on"]').waitFor();
    assert.match(await panel.locator('[data-lifecycle="on"]').innerText(), /90 days.*Sat 02:00-05:00/s);
    const timeline = panel.getByRole('list', { name: 'Lifecycle timeline, newest first' });
    const steps = await timeline.locator('li').evaluateAll((items) => items.map((li) => li.getAttribute('data-step')));
    assert.deepEqual(steps, ['deleted', 'deactivated', 'promoted', 'generated'], 'newest first');
    assert.match(await timeline.locator('li[data-step="promoted"]').innerText(), /became the legacy fallback in place of legacy/);
    assert.match(await timeline.locator('li[data-step="deleted"]').innerText(), /legacy was deleted after the retire-after period/);
    const tracked = panel.getByRole('table', { name: 'Certificates looked after' });
    assert.match(await tracked.innerText(), /tckey\s+default/);
    assert.match(await tracked.innerText(), /legacy-\d{8}\s+legacy fallback/);
    await panel.scrollIntoViewIfNeeded();
    await screenshot(page, 'lifecycle-timeline');
    assert.deepEqual(errors, [], 'no errors in the browser');
  });
});
