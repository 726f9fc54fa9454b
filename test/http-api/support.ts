/**
 * A REST API on a real store for in-process tests (`app.inject()`, no sockets): the first
 * administrator, one account per role made through the API, the first-start certificate `tckey`,
 * and a token per role.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Logger } from 'pino';
import { authenticate, ensureAdminAccount } from '../../src/app/accounts.js';
import { ensureDefaultCertificate } from '../../src/app/certificates.js';
import { ensureCluster } from '../../src/app/cluster.js';
import { SYSTEM_ACTOR, type Actor, type AppContext } from '../../src/app/context.js';
import type { Clock } from '../../src/domain/time.js';
import type { AuditEvent } from '../../src/app/records.js';
import type { Store } from '../../src/app/store.js';
import type { Role } from '../../src/domain/roles.js';
import { buildHttpApi } from '../../src/transport/http-api/server.js';
import { testAppContext } from '../support/app-context.js';
import { openTestStore } from '../support/databases.js';
import type { ErrorResponse, LoginAnswer } from '../../src/transport/http-api/contract/index.js';

export type Caller = Role | 'anonymous';
export const CALLERS: readonly Caller[] = ['anonymous', 'viewer', 'operator', 'admin'];

export const PASSWORDS: Readonly<Record<Role, string>> = {
  admin: 'admin-password-1',
  operator: 'operator-password-1',
  viewer: 'viewer-password-1',
};

/** test/fixtures/out, seen from dist/test/http-api/. */
const FIXTURES = new URL('../../../test/fixtures/out/', import.meta.url);

export function fixture(name: string): Buffer {
  return readFileSync(new URL(name, FIXTURES));
}

export const FIXTURE_PASSWORDS = JSON.parse(fixture('passwords.json').toString('utf8')) as {
  readonly storePassword: string;
  readonly jksKeyPassword: string;
  readonly wrongPassword: string;
}; // written by make-fixtures.sh with exactly these fields

export interface InjectRequest {
  readonly method: 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH' | 'OPTIONS' | 'HEAD';
  readonly url: string;
  readonly payload?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface ApiHarness {
  readonly app: FastifyInstance;
  readonly ctx: AppContext;
  readonly tokens: Readonly<Record<Role, string>>;
  /** Sends the request as the caller (its token unless the request brings an authorization header). */
  call(caller: Caller, req: InjectRequest): Promise<LightMyRequestResponse>;
  actor(role: Role): Promise<Actor>;
  close(): Promise<void>;
}

export interface StartOptions {
  readonly logger?: Logger | false;
  readonly clock?: Clock;
}

function headersFor(token: string | null, req: InjectRequest): Record<string, string> {
  return { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(req.headers ?? {}) };
}

/** A second API on the same store and context, e.g. with a later clock; seeds nothing. */
export async function apiOn(ctx: AppContext, logger: Logger | false = false): Promise<FastifyInstance> {
  return buildHttpApi({ ctx, logger });
}

export async function startApi(store: Store, options: StartOptions = {}): Promise<ApiHarness> {
  const ctx = testAppContext(store, options.clock ? { clock: options.clock } : {});
  await ensureAdminAccount(ctx, PASSWORDS.admin);
  await ensureDefaultCertificate(ctx, SYSTEM_ACTOR);
  // The cluster row every served database has (serve makes it at start; H1, H3).
  await ensureCluster(ctx);
  const app = await buildHttpApi({
    ctx,
    logger: options.logger ?? false,
    // Uploads of restores wait in a temporary directory; a small key derivation keeps the tests fast.
    backups: { dataDir: mkdtempSync(join(tmpdir(), 'certfleet-api-')), serverVersion: 'test', nodeId: null, maxRestoreBytes: 1024 * 1024, scryptLogN: 10 },
  });

  const loginAs = async (username: string, password: string): Promise<string> => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password } });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<LoginAnswer>().token;
  };
  const admin = await loginAs('admin', PASSWORDS.admin);
  for (const role of ['operator', 'viewer'] as const) {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/users',
      headers: { authorization: `Bearer ${admin}` },
      payload: { username: role, role, password: PASSWORDS[role] },
    });
    assert.equal(res.statusCode, 201, res.body);
  }
  const tokens = { admin, operator: await loginAs('operator', PASSWORDS.operator), viewer: await loginAs('viewer', PASSWORDS.viewer) };

  return {
    app,
    ctx,
    tokens,
    call: (caller, req) =>
      app.inject({
        method: req.method,
        url: req.url,
        headers: headersFor(caller === 'anonymous' ? null : tokens[caller], req),
        ...(req.payload !== undefined ? { payload: req.payload as string | object } : {}), // JSON bodies and raw strings only
      }),
    actor: (role) => authenticate(ctx, tokens[role]),
    close: () => app.close(),
  };
}

/**
 * `startApi` on a fresh SQLite database of its own; `close()` closes the API and the store, which
 * removes the database.
 */
export async function startSqliteApi(options: StartOptions = {}): Promise<ApiHarness> {
  const store = await openTestStore('sqlite');
  try {
    const h = await startApi(store, options);
    return {
      ...h,
      close: async () => {
        await h.close();
        await store.close();
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** The error document, exactly: `{"error":{"code","message","details"}}`, with the status of its code. */
export function assertError(res: LightMyRequestResponse, status: number, code: string): { message: string; details: Record<string, unknown> } {
  assert.equal(res.statusCode, status, `expected ${status} ${code}, got ${res.statusCode}: ${res.body}`);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = res.json<ErrorResponse>();
  assert.deepEqual(Object.keys(body), ['error']);
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'details', 'message']);
  assert.equal(body.error.code, code, body.error.message);
  assert.equal(typeof body.error.message, 'string');
  assert.ok(body.error.message.length > 0);
  assert.equal(typeof body.error.details, 'object');
  return body.error;
}

export async function lastAuditId(ctx: AppContext): Promise<number> {
  return (await ctx.store.audit.list({ limit: 1 }))[0]?.id ?? 0;
}

export async function auditSince(ctx: AppContext, id: number): Promise<AuditEvent[]> {
  return (await ctx.store.audit.list({ limit: 500 })).filter((e) => e.id > id);
}

/** What a refusal must leave unchanged: order, activity, and the entries themselves. */
export async function keystoreState(ctx: AppContext): Promise<string> {
  const list = await ctx.store.keystore.list();
  return JSON.stringify(list.map((c) => [c.alias, c.position, c.active, c.facts.sha256Fingerprint]));
}

/**
 * Sends a request that must be refused: checks status and error document, that the keystore is
 * exactly as before, and that the audit log has the refusal with its code.
 */
export async function assertRefusedChange(
  h: Pick<ApiHarness, 'ctx' | 'call'>,
  caller: Caller,
  req: InjectRequest,
  expected: { readonly status: number; readonly code: string; readonly action: string; readonly actor?: string },
): Promise<{ message: string; details: Record<string, unknown> }> {
  const before = await keystoreState(h.ctx);
  const since = await lastAuditId(h.ctx);
  const error = assertError(await h.call(caller, req), expected.status, expected.code);
  assert.equal(await keystoreState(h.ctx), before, 'a refusal must leave the keystore unchanged');
  const events = await auditSince(h.ctx, since);
  const event = events.find((e) => e.action === expected.action);
  assert.ok(event, `no audit event ${expected.action} among ${JSON.stringify(events)}`);
  assert.equal(event.result, 'refused');
  assert.equal(event.code, expected.code);
  assert.equal(event.actor, expected.actor ?? caller);
  assert.equal(events.length, 1, `exactly one audit event per refusal: ${JSON.stringify(events)}`);
  return error;
}
