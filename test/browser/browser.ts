/**
 * A real browser for the console's end-to-end tests: Debian's Chromium driven by playwright-core
 * (never a downloaded browser). One browser per test file; pages and contexts are reused.
 *
 * Without /usr/bin/chromium the suite is skipped with the reason, except with CI=true, where it
 * fails: CI installs the `chromium` package and must never pass without running these tests.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CERTFLEET_CHROMIUM ?? '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

/** dist/web/index.html, seen from dist/test/browser/. */
const CONSOLE_INDEX = fileURLToPath(new URL('../../web/index.html', import.meta.url));
/** docs/screenshots/, seen from dist/test/browser/. */
export const SCREENSHOT_DIR = fileURLToPath(new URL('../../../docs/screenshots/', import.meta.url));

/** Null when the browser suite can run; else why not. */
export function browserUnavailable(): string | null {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is missing (apt-get install chromium)`;
  if (!existsSync(CONSOLE_INDEX)) return `the console is not built (${CONSOLE_INDEX} is missing): run npm run build`;
  return null;
}

/**
 * Declares the file's browser suite: skipped with the reason when the browser or the built console
 * is missing; with CI=true a failing test instead, so that CI cannot pass without a browser.
 */
export function browserSuite(name: string, suite: () => void): void {
  const problem = browserUnavailable();
  if (problem !== null && process.env.CI === 'true') {
    describe(name, () => {
      it('needs Chromium and the built console', () => {
        throw new Error(`${problem}. CI=true: the browser tests must run, not be skipped.`);
      });
    });
    return;
  }
  if (problem !== null) {
    describe(name, { skip: `${problem}; the browser tests are skipped` }, () => {});
    return;
  }
  describe(name, suite);
}

/**
 * `it` for steps that build on each other and run in order: once one fails, the rest are skipped
 * with its name instead of timing out one by one.
 */
export function orderedSteps(): (name: string, fn: () => Promise<void>) => void {
  let broken: string | null = null;
  return (name, fn) => {
    it(name, async (t) => {
      if (broken !== null) return t.skip(`an earlier step failed: ${broken}`);
      try {
        await fn();
      } catch (e) {
        broken = name;
        throw e;
      }
    });
  };
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30_000 });
}

export const VIEWPORT = { width: 1280, height: 800 } as const;

/** A fresh context (its own cookies) with a page of the screenshot size; browser errors are collected. */
export async function newConsolePage(browser: Browser): Promise<{ readonly context: BrowserContext; readonly page: Page; readonly errors: string[] }> {
  const context = await browser.newContext({ viewport: VIEWPORT, acceptDownloads: true });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    // A 401 on the first load (no session yet) and the refusals that the tests provoke are expected.
    if (m.type() === 'error' && !/status of (400|401|403|409|422)/.test(m.text())) errors.push(m.text());
  });
  return { context, page, errors };
}

export async function logIn(page: Page, url: string, username: string, password: string): Promise<void> {
  await page.goto(url + '/');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Certificate Management', exact: true }).waitFor();
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.mouse.move(VIEWPORT.width - 1, VIEWPORT.height - 1); // no hover effect in the picture
  await page.screenshot({ path: `${SCREENSHOT_DIR}${name}.png` });
}

export async function goTo(page: Page, link: string, heading: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: link, exact: true }).click();
  await page.getByRole('heading', { name: heading, exact: true, level: 1 }).waitFor();
}
