/**
 * Every refusal has the one error document and the status of its code; a refused change leaves
 * the keystore as it was and is in the audit log with result `refused` and its code, whether the
 * use case refused it or the HTTP layer did before the use case ran (schema, size, token).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { AppContext } from '../../src/app/context.js';
import type { Store } from '../../src/app/store.js';
import { CertfleetError, ErrorCode } from '../../src/domain/errors.js';
import { HTTP_STATUS, toHttpError } from '../../src/transport/http-api/errors.js';
import { forEachDatabase } from '../support/databases.js';
import { laterClock } from '../support/app-context.js';
import {
  apiOn,
  assertError,
  assertRefusedChange,
  auditSince,
  FIXTURE_PASSWORDS,
  fixture,
  keystoreState,
  lastAuditId,
  startApi,
  type ApiHarness,
} from './support.js';
import type { IssuedApiToken } from '../../src/transport/http-api/contract/index.js';

describe('HTTP_STATUS', () => {
  it('uses only the statuses the SPEC names, plus 429 for the limits of issue 10, 499 for a client gone and 500 for faults', () => {
    // 499 (nginx's "client closed request") is only ever logged and audited: its client has gone
    for (const status of Object.values(HTTP_STATUS)) assert.ok([400, 401, 403, 404, 409, 413, 422, 429, 499, 500].includes(status), String(status));
  });
  it('a 429 always says when to come back (Retry-After, at least 1 s)', () => {
    const limits = Object.entries(HTTP_STATUS).filter(([, s]) => s === 429).map(([c]) => c as ErrorCode);
    assert.deepEqual(limits.sort(), [ErrorCode.import_busy, ErrorCode.key_generation_busy, ErrorCode.password_hashing_busy, ErrorCode.registration_rate_limited, ErrorCode.too_many_login_attempts]);
    for (const code of limits) {
      assert.deepEqual(toHttpError(new CertfleetError(code, 'wait', { retryAfterSeconds: 4.2 }), 'r').headers, { 'retry-after': '5' });
      assert.deepEqual(toHttpError(new CertfleetError(code, 'wait'), 'r').headers, { 'retry-after': '1' });
    }
  });
  it('answers 500 only for faults of the server (and for start-up refusals, which no request can meet)', () => {
    const faults = Object.entries(HTTP_STATUS).filter(([, s]) => s === 500).map(([c]) => c).sort();
    const startUp = [ErrorCode.master_key_mismatch, ErrorCode.join_token_required, ErrorCode.join_token_refused];
    assert.deepEqual(faults, [ErrorCode.internal, ...startUp].sort());
  });
});

/** The same store with one repository method that breaks, to see what a fault looks like. */
function breakingStore(store: Store, cause: string): Store {
  const keystore = new Proxy(store.keystore, {
    get(target, property, receiver) {
      if (property === 'list' || property === 'revision') return async () => Promise.reject(new Error(cause));
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  // The repositories are the store's own fields; the methods live on its prototype and are bound here.
  return {
    ...store,
    keystore,
    transaction: (fn) => store.transaction(fn),
    close: () => store.close(),
  };
}

forEachDatabase('REST API errors', (db) => {
  let h: ApiHarness;
  before(async () => {
    h = await startApi(await db.open());
  });
  after(async () => {
    await h.close();
  });

  it('unknown alias: 404 certificate_not_found, audited when it was a change', async () => {
    assertError(await h.call('viewer', { method: 'GET', url: '/api/v1/certificates/no-such' }), 404, 'certificate_not_found');
    assertError(await h.call('viewer', { method: 'GET', url: '/api/v1/certificates/no-such/export' }), 404, 'certificate_not_found');
    await assertRefusedChange(h, 'operator', { method: 'DELETE', url: '/api/v1/certificates/no-such' }, {
      status: 404,
      code: 'certificate_not_found',
      action: 'certificate.delete',
    });
    await assertRefusedChange(h, 'operator', { method: 'POST', url: '/api/v1/certificates/no-such/make-default' }, {
      status: 404,
      code: 'certificate_not_found',
      action: 'certificate.make-default',
    });
  });

  it('schema validation: 400 invalid_request with what is wrong, audited', async () => {
    const error = await assertRefusedChange(h, 'operator', { method: 'POST', url: '/api/v1/certificates', payload: { alias: 7 } }, {
      status: 400,
      code: 'invalid_request',
      action: 'certificate.generate',
    });
    const errors = error.details['errors'] as { in: string; path: string; message: string }[]; // validationDetails' shape
    assert.equal(errors[0]?.in, 'body');
    assert.equal(errors[0]?.path, '/alias');
    // A misspelt field is refused, not silently dropped.
    await assertRefusedChange(h, 'operator', { method: 'POST', url: '/api/v1/certificates', payload: { alias: 'x1', keysize: 2048 } }, {
      status: 400,
      code: 'invalid_request',
      action: 'certificate.generate',
    });
    assertError(await h.call('viewer', { method: 'GET', url: '/api/v1/certificates/tckey/devices?limit=501' }), 400, 'invalid_request');
    assertError(await h.call('viewer', { method: 'GET', url: '/api/v1/audit?limit=abc' }), 400, 'invalid_request');
  });

  it('bad JSON: 400 invalid_request', async () => {
    await assertRefusedChange(
      h,
      'operator',
      { method: 'POST', url: '/api/v1/certificates', payload: '{"alias":', headers: { 'content-type': 'application/json' } },
      { status: 400, code: 'invalid_request', action: 'certificate.generate' },
    );
    assertError(
      await h.call('operator', { method: 'POST', url: '/api/v1/certificates', payload: '{"__proto__":{"x":1},"alias":"p"}', headers: { 'content-type': 'application/json' } }),
      400,
      'invalid_request',
    );
  });

  it('a body that is not JSON: 400 invalid_request', async () => {
    await assertRefusedChange(
      h,
      'operator',
      { method: 'POST', url: '/api/v1/certificates', payload: 'alias=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      { status: 400, code: 'invalid_request', action: 'certificate.generate' },
    );
  });

  it('oversized body: 413 payload_too_large; a file just over 1 MiB reaches the use case: 413 file_too_large', async () => {
    await assertRefusedChange(
      h,
      'operator',
      { method: 'POST', url: '/api/v1/certificates/import', payload: { alias: 'big', file: 'A'.repeat(2 * 1024 * 1024 + 4), password: 'x' } },
      { status: 413, code: 'payload_too_large', action: 'certificate.import' },
    );
    const tooLarge = fixture('too-large.bin');
    assert.equal(tooLarge.length, 1024 * 1024 + 1);
    const error = await assertRefusedChange(
      h,
      'operator',
      { method: 'POST', url: '/api/v1/certificates/import', payload: { alias: 'big', file: tooLarge.toString('base64'), password: 'x' } },
      { status: 413, code: 'file_too_large', action: 'certificate.import' },
    );
    assert.match(error.message, /1 MiB/);
    // Routes other than the import take small bodies only.
    assertError(
      await h.call('anonymous', { method: 'POST', url: '/api/v1/auth/login', payload: { username: 'admin', password: 'p'.repeat(100_000) } }),
      413,
      'payload_too_large',
    );
  });

  it('deleting the last active certificate: 409 last_active_certificate', async () => {
    const list = await h.ctx.store.keystore.list();
    assert.deepEqual(list.filter((c) => c.active).map((c) => c.alias), ['tckey']);
    const error = await assertRefusedChange(h, 'operator', { method: 'DELETE', url: '/api/v1/certificates/tckey' }, {
      status: 409,
      code: 'last_active_certificate',
      action: 'certificate.delete',
    });
    assert.equal(error.details['alias'], 'tckey');
    await assertRefusedChange(h, 'operator', { method: 'POST', url: '/api/v1/certificates/tckey/deactivate' }, {
      status: 409,
      code: 'last_active_certificate',
      action: 'certificate.deactivate',
    });
  });

  it('import with the wrong password: 422 wrong_password', async () => {
    await assertRefusedChange(
      h,
      'operator',
      {
        method: 'POST',
        url: '/api/v1/certificates/import',
        payload: { alias: 'wrong-pw', file: fixture('openssl-ec-p256.p12').toString('base64'), password: FIXTURE_PASSWORDS.wrongPassword },
      },
      { status: 422, code: 'wrong_password', action: 'certificate.import' },
    );
    await assertRefusedChange(
      h,
      'operator',
      { method: 'POST', url: '/api/v1/certificates/import', payload: { alias: 'md5', file: fixture('md5-rsa.p12').toString('base64'), password: FIXTURE_PASSWORDS.storePassword } },
      { status: 422, code: 'algorithm_not_allowed', action: 'certificate.import' },
    );
  });

  it('generation with a bad key size: 400 invalid_key_size', async () => {
    const error = await assertRefusedChange(
      h,
      'operator',
      { method: 'POST', url: '/api/v1/certificates', payload: { alias: 'odd', signatureAlgorithm: 'SHA256withRSA', keySize: 1024 } },
      { status: 400, code: 'invalid_key_size', action: 'certificate.generate' },
    );
    assert.deepEqual(error.details['supported'], [2048, 3072, 4096]);
    await assertRefusedChange(h, 'operator', { method: 'POST', url: '/api/v1/certificates', payload: { alias: 'bad alias!' } }, {
      status: 400,
      code: 'invalid_alias',
      action: 'certificate.generate',
    });
  });

  it('a name already taken: 409', async () => {
    await assertRefusedChange(h, 'operator', { method: 'POST', url: '/api/v1/certificates', payload: { alias: 'tckey', signatureAlgorithm: 'SHA256withECDSA' } }, {
      status: 409,
      code: 'alias_taken',
      action: 'certificate.generate',
    });
    await assertRefusedChange(h, 'admin', { method: 'POST', url: '/api/v1/users', payload: { username: 'viewer', role: 'viewer', password: 'long-enough-1' } }, {
      status: 409,
      code: 'user_exists',
      action: 'user.create',
    });
  });

  it('no token, a bad token, an expired token: 401 unauthenticated, and refused changes are audited as anonymous', async () => {
    assertError(await h.call('anonymous', { method: 'GET', url: '/api/v1/certificates' }), 401, 'unauthenticated');
    assertError(
      await h.call('anonymous', { method: 'GET', url: '/api/v1/certificates', headers: { authorization: 'Basic YWRtaW46YWRtaW4=' } }),
      401,
      'unauthenticated',
    );
    assertError(
      await h.call('anonymous', { method: 'GET', url: '/api/v1/certificates', headers: { authorization: 'Bearer cft_unknown' } }),
      401,
      'unauthenticated',
    );

    const created = await h.call('operator', { method: 'POST', url: '/api/v1/tokens', payload: { name: 'short-lived', days: 1 } });
    assert.equal(created.statusCode, 201);
    const shortLived = created.json<IssuedApiToken>().token;
    const withToken = { authorization: `Bearer ${shortLived}` };
    assert.equal((await h.call('anonymous', { method: 'GET', url: '/api/v1/auth/me', headers: withToken })).statusCode, 200);

    // Two days later, on the same database.
    const later: AppContext = { ...h.ctx, clock: laterClock(h.ctx.clock, 2 * 86_400_000) };
    const app = await apiOn(later);
    try {
      const call: ApiHarness['call'] = (_caller, req) =>
        app.inject({ method: req.method, url: req.url, headers: { ...withToken, ...(req.headers ?? {}) }, ...(req.payload !== undefined ? { payload: req.payload as object } : {}) }); // JSON bodies only here
      assertError(await call('anonymous', { method: 'GET', url: '/api/v1/auth/me' }), 401, 'unauthenticated');
      await assertRefusedChange({ ctx: later, call }, 'anonymous', { method: 'POST', url: '/api/v1/certificates', payload: { alias: 'late', signatureAlgorithm: 'SHA256withECDSA' } }, {
        status: 401,
        code: 'unauthenticated',
        action: 'certificate.generate',
      });
    } finally {
      await app.close();
    }
  });

  it('a wrong password at log-in: 401 invalid_credentials, audited once', async () => {
    const since = await lastAuditId(h.ctx);
    assertError(await h.call('anonymous', { method: 'POST', url: '/api/v1/auth/login', payload: { username: 'admin', password: 'not-it-at-all' } }), 401, 'invalid_credentials');
    const events = await auditSince(h.ctx, since);
    assert.deepEqual(events.map((e) => [e.action, e.result, e.code]), [['auth.login', 'refused', 'invalid_credentials']]);
  });

  it('a role without the permission: 403 forbidden, audited with the actor', async () => {
    const error = await assertRefusedChange(h, 'viewer', { method: 'POST', url: '/api/v1/certificates/tckey/make-default' }, {
      status: 403,
      code: 'forbidden',
      action: 'certificate.make-default',
    });
    assert.equal(error.details['permission'], 'manageCertificates');
    await assertRefusedChange(h, 'operator', { method: 'POST', url: '/api/v1/certificates/tckey/export-keypair', payload: { password: 'export-password-1' } }, {
      status: 403,
      code: 'forbidden',
      action: 'certificate.export-keypair',
    });
  });

  it('unknown route: 404 not_found, even without a token; no CORS', async () => {
    assertError(await h.call('anonymous', { method: 'GET', url: '/api/v1/nothing-here' }), 404, 'not_found');
    assertError(await h.call('admin', { method: 'PUT', url: '/api/v1/certificates/tckey' }), 404, 'not_found');
    const preflight = await h.call('anonymous', {
      method: 'OPTIONS',
      url: '/api/v1/certificates',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(preflight.headers['access-control-allow-origin'], undefined);
    const cross = await h.call('viewer', { method: 'GET', url: '/api/v1/certificates', headers: { origin: 'https://evil.example' } });
    assert.equal(cross.statusCode, 200);
    assert.equal(cross.headers['access-control-allow-origin'], undefined);
  });

  it('a fault of the server: 500 internal with the request id; the cause goes to the log only', async () => {
    const lines: string[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(chunk.toString('utf8'));
          done();
        },
      }),
    );
    const cause = 'disk on fire at sector 42';
    const app = await apiOn({ ...h.ctx, store: breakingStore(h.ctx.store, cause) }, logger);
    try {
      const res = await app.inject({ method: 'GET', url: '/api/v1/certificates', headers: { authorization: `Bearer ${h.tokens.viewer}` } });
      const error = assertError(res, 500, 'internal');
      assert.ok(!res.body.includes(cause));
      const requestId = error.details['requestId'];
      assert.equal(typeof requestId, 'string');
      assert.ok(error.message.includes(String(requestId)));
      const logged = lines.map((l) => JSON.parse(l) as { reqId?: string; err?: { message?: string } }); // pino writes one JSON object per line
      assert.ok(logged.some((l) => l.reqId === requestId && l.err?.message === cause), 'the cause is logged under the request id');

      const ready = await app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(ready.statusCode, 503);
      assert.deepEqual(ready.json(), { status: 'unavailable' });
    } finally {
      await app.close();
    }
  });

  it('refusals never changed the keystore: only tckey is left', async () => {
    assert.deepEqual(JSON.parse(await keystoreState(h.ctx)).map((e: unknown[]) => e[0]), ['tckey']);
  });
});
