/**
 * The web console's session: an HttpOnly SameSite=Strict cookie (Secure and `__Host-` over HTTPS)
 * holding a log-in token, a CSRF token bound to it that every unsafe cookie request must carry,
 * bearer tokens unchanged; and the console's static files with their CSP.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fastify, { type LightMyRequestResponse } from 'fastify';
import { CONSOLE_CSP, registerConsole } from '../../src/transport/http-api/console.js';
import { buildHttpApi } from '../../src/transport/http-api/server.js';
import { assertError, auditSince, keystoreState, lastAuditId, PASSWORDS, startSqliteApi, type ApiHarness } from './support.js';
import type { Me, SessionStart } from '../../src/transport/http-api/contract/index.js';

interface Session {
  readonly cookie: string;
  readonly csrf: string;
  readonly setCookie: string;
}

function setCookieOf(res: LightMyRequestResponse): string {
  const header = res.headers['set-cookie'];
  const value = Array.isArray(header) ? header.join('\n') : header;
  assert.equal(typeof value, 'string', 'a Set-Cookie header');
  return value as string; // checked just above
}

describe('console session cookie and CSRF', () => {
  let h: ApiHarness;
  const start = async (username: 'admin' | 'operator' | 'viewer', headers: Record<string, string> = {}): Promise<Session> => {
    const res = await h.app.inject({ method: 'POST', url: '/api/v1/auth/session', headers, payload: { username, password: PASSWORDS[username] } });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json<SessionStart>();
    const setCookie = setCookieOf(res);
    const cookie = /^(certfleet_session=[^;]+)/.exec(setCookie)?.[1];
    assert.ok(cookie, setCookie);
    return { cookie, csrf: body.csrfToken, setCookie };
  };
  const withCookie = (s: Session, method: 'GET' | 'POST' | 'DELETE', url: string, extra: Record<string, string> = {}, payload?: object) =>
    h.app.inject({ method, url, headers: { cookie: s.cookie, ...extra }, ...(payload ? { payload } : {}) });

  before(async () => {
    h = await startSqliteApi();
  });
  after(async () => {
    await h.close();
  });

  it('logs in with a cookie that script cannot read and the browser sends to no other site', async () => {
    const res = await h.app.inject({ method: 'POST', url: '/api/v1/auth/session', payload: { username: 'admin', password: PASSWORDS.admin } });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json<Record<string, unknown>>();
    assert.deepEqual(Object.keys(body).sort(), ['csrfToken', 'expiresAt', 'user']);
    assert.deepEqual(body['user'], { username: 'admin', role: 'admin' });
    assert.equal(JSON.stringify(body).includes('cft_'), false, 'the token is in the cookie only');
    const setCookie = setCookieOf(res);
    assert.match(setCookie, /^certfleet_session=cft_[A-Za-z0-9_-]+; Max-Age=604800; Path=\/; HttpOnly; SameSite=Strict$/);
    assert.doesNotMatch(setCookie, /Secure/, 'plain HTTP on loopback: a Secure cookie would not be sent back');
  });

  it('authenticates reads with the cookie alone', async () => {
    const s = await start('operator');
    const me = await withCookie(s, 'GET', '/api/v1/auth/me');
    assert.equal(me.statusCode, 200, me.body);
    assert.equal(me.json<Me>().role, 'operator');
    const session = await withCookie(s, 'GET', '/api/v1/auth/session');
    assert.deepEqual(session.json(), { csrfToken: s.csrf });
  });

  it('refuses a change made with the cookie but without the CSRF token, and audits the refusal', async () => {
    const s = await start('admin');
    const before = await keystoreState(h.ctx);
    const since = await lastAuditId(h.ctx);
    const missing = await withCookie(s, 'POST', '/api/v1/certificates', {}, { alias: 'csrf-a', signatureAlgorithm: 'SHA256withECDSA' });
    const error = assertError(missing, 403, 'forbidden');
    assert.match(error.message, /CSRF token \(header X-CSRF-Token\)/);
    assert.equal(error.details['reason'], 'csrf_token_missing_or_wrong');
    const wrong = await withCookie(s, 'POST', '/api/v1/certificates', { 'x-csrf-token': s.csrf.slice(1) + 'A' }, { alias: 'csrf-a' });
    assertError(wrong, 403, 'forbidden');
    assert.equal(await keystoreState(h.ctx), before);
    const audited = (await auditSince(h.ctx, since)).filter((e) => e.action === 'certificate.generate');
    assert.deepEqual(audited.map((e) => [e.result, e.code]), [['refused', 'forbidden'], ['refused', 'forbidden']]);
  });

  it('accepts a change that carries the CSRF token of its own session, not of another', async () => {
    const a = await start('admin');
    const b = await start('admin');
    const crossed = await withCookie(a, 'POST', '/api/v1/certificates', { 'x-csrf-token': b.csrf }, { alias: 'csrf-b', signatureAlgorithm: 'SHA256withECDSA' });
    assertError(crossed, 403, 'forbidden');
    const ok = await withCookie(a, 'POST', '/api/v1/certificates', { 'x-csrf-token': a.csrf }, { alias: 'csrf-b', signatureAlgorithm: 'SHA256withECDSA' });
    assert.equal(ok.statusCode, 201, ok.body);
  });

  it('keeps bearer tokens exactly as they were: no CSRF token, and a bearer token wins over a cookie', async () => {
    const res = await h.call('admin', { method: 'POST', url: '/api/v1/certificates', payload: { alias: 'bearer-c', signatureAlgorithm: 'SHA256withECDSA' } });
    assert.equal(res.statusCode, 201, res.body);
    const viewer = await start('viewer');
    // The bearer token (admin) is used, not the viewer's cookie; and it needs no CSRF token.
    const both = await h.call('admin', { method: 'POST', url: '/api/v1/certificates/bearer-c/deactivate', headers: { cookie: viewer.cookie } });
    assert.equal(both.statusCode, 200, both.body);
    const session = await h.call('admin', { method: 'GET', url: '/api/v1/auth/session' });
    assert.deepEqual(session.json(), { csrfToken: null });
  });

  it('logs out: the token is revoked and the cookie cleared; a dead cookie is cleared too', async () => {
    const s = await start('admin');
    assertError(await withCookie(s, 'DELETE', '/api/v1/auth/session'), 403, 'forbidden');
    const out = await withCookie(s, 'DELETE', '/api/v1/auth/session', { 'x-csrf-token': s.csrf });
    assert.equal(out.statusCode, 204, out.body);
    assert.match(setCookieOf(out), /^certfleet_session=; Max-Age=0; Path=\/; HttpOnly; SameSite=Strict$/);
    const after = await withCookie(s, 'GET', '/api/v1/auth/me');
    assertError(after, 401, 'unauthenticated');
    assert.match(setCookieOf(after), /^certfleet_session=; Max-Age=0;/);
  });

  it('refuses a wrong password without a cookie, and a log-in sent from another site', async () => {
    const wrong = await h.app.inject({ method: 'POST', url: '/api/v1/auth/session', payload: { username: 'admin', password: 'not-the-password' } });
    assertError(wrong, 401, 'invalid_credentials');
    assert.equal(wrong.headers['set-cookie'], undefined);
    const cross = await h.app.inject({
      method: 'POST',
      url: '/api/v1/auth/session',
      headers: { origin: 'https://attacker.example' },
      payload: { username: 'admin', password: PASSWORDS.admin },
    });
    assertError(cross, 403, 'forbidden');
    assert.equal(cross.headers['set-cookie'], undefined);
    await start('admin', { origin: 'http://localhost:80' });
  });

  it('over HTTPS names the cookie __Host-certfleet_session and marks it Secure', async () => {
    const app = await buildHttpApi({ ctx: h.ctx, logger: false, trustProxy: true });
    try {
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/auth/session',
        headers: { 'x-forwarded-proto': 'https' },
        payload: { username: 'admin', password: PASSWORDS.admin },
      });
      assert.equal(res.statusCode, 200, res.body);
      const setCookie = setCookieOf(res);
      assert.match(setCookie, /^__Host-certfleet_session=cft_[^;]+; Max-Age=604800; Path=\/; HttpOnly; SameSite=Strict; Secure$/);
      const cookie = setCookie.split(';')[0] ?? '';
      const me = await app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { cookie, 'x-forwarded-proto': 'https' } });
      assert.equal(me.statusCode, 200, me.body);
      // The plain-HTTP name is not read over HTTPS (a cookie set by an insecure page cannot shadow it).
      const plain = await app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { cookie: cookie.replace('__Host-', ''), 'x-forwarded-proto': 'https' } });
      assertError(plain, 401, 'unauthenticated');
    } finally {
      await app.close();
    }
  });
});

describe('console static files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'certfleet-console-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('serves index.html at / and hashed assets, each with the console CSP; nothing of it in the OpenAPI document', async () => {
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><script type="module" src="/assets/app-1.js"></script>');
    writeFileSync(join(dir, 'assets', 'app-1.js'), 'console.log(1)');
    writeFileSync(join(dir, 'assets', 'app-1.js.map'), '{}');
    const app = fastify();
    registerConsole(app, dir);
    await app.ready();
    try {
      const index = await app.inject({ method: 'GET', url: '/' });
      assert.equal(index.statusCode, 200);
      assert.match(String(index.headers['content-type']), /^text\/html/);
      assert.equal(index.headers['content-security-policy'], CONSOLE_CSP);
      assert.match(CONSOLE_CSP, /default-src 'self'/);
      assert.doesNotMatch(CONSOLE_CSP, /unsafe-inline|unsafe-eval/);
      assert.match(CONSOLE_CSP, /require-trusted-types-for 'script'; trusted-types 'none'/);
      assert.equal(index.headers['cache-control'], 'no-cache');
      const again = await app.inject({ method: 'GET', url: '/', headers: { 'if-none-match': String(index.headers['etag']) } });
      assert.equal(again.statusCode, 304);
      const js = await app.inject({ method: 'GET', url: '/assets/app-1.js' });
      assert.equal(js.statusCode, 200);
      assert.match(String(js.headers['content-type']), /^text\/javascript/);
      assert.match(String(js.headers['cache-control']), /immutable/);
      assert.equal((await app.inject({ method: 'GET', url: '/assets/app-1.js.map' })).statusCode, 404);
    } finally {
      await app.close();
    }
  });

  it('says how to build the console when it has not been built', async () => {
    const app = fastify();
    registerConsole(app, join(dir, 'nothing-here'));
    await app.ready();
    try {
      const res = await app.inject({ method: 'GET', url: '/' });
      assert.equal(res.statusCode, 503);
      assert.match(res.body, /npm run build/);
    } finally {
      await app.close();
    }
  });

  it('is served by the API server without a token and is not part of the API document', async () => {
    const h = await startSqliteApi();
    try {
      const res = await h.call('anonymous', { method: 'GET', url: '/' });
      assert.ok(res.statusCode === 200 || res.statusCode === 503, `${res.statusCode}`);
      assert.equal(res.headers['content-security-policy'], CONSOLE_CSP);
      const doc = (await h.call('anonymous', { method: 'GET', url: '/api/v1/openapi.json' })).json<{ paths: Record<string, unknown> }>();
      assert.equal(Object.keys(doc.paths).some((p) => p === '/' || p.startsWith('/assets')), false);
    } finally {
      await h.close();
    }
  });
});
