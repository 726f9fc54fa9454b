/**
 * Who may call what, for EVERY route of the API (SPEC section 5, "Accounts"): anonymous → 401,
 * viewer: read only; operator: everything but key-pair export, backup/restore and accounts;
 * admin: everything. The rows are enumerated against the OpenAPI document, so a new route without
 * a row here fails this test. Each row also checks that the permission the route documents
 * (x-permission) grants exactly the roles of its row.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createApiToken, createUser } from '../../src/app/accounts.js';
import { generateCertificate, setCertificateActive } from '../../src/app/certificates.js';
import { createEnrollmentToken } from '../../src/app/enrollment.js';
import { DEFAULT_COMPATIBILITY_RULES } from '../../src/domain/compatibility.js';
import { ROLES, roleAllows, type Permission, type Role } from '../../src/domain/roles.js';
import { PASSPHRASE_HEADER } from '../../src/transport/http-api/contract/index.js';
import { forEachDatabase } from '../support/databases.js';
import { registerProfile } from '../support/device-fleet.js';
import {
  assertError,
  CALLERS,
  FIXTURE_PASSWORDS,
  fixture,
  keystoreState,
  startApi,
  type ApiHarness,
  type Caller,
  type InjectRequest,
} from './support.js';

const ALL: readonly Role[] = ['viewer', 'operator', 'admin'];
const CHANGERS: readonly Role[] = ['operator', 'admin'];
const ADMIN: readonly Role[] = ['admin'];

interface Row {
  /** `public`: everyone, anonymous included, succeeds. Otherwise the roles that succeed; the others get 403, anonymous 401. */
  readonly allowed: 'public' | readonly Role[];
  readonly success: number;
  /** The request one caller sends; may first make what it needs (a throwaway certificate …). */
  readonly request: (h: ApiHarness, caller: Caller) => Promise<InjectRequest>;
}

let unique = 0;
const next = (prefix: string): string => `${prefix}-${++unique}`;

/** A fresh EC entry at the bottom of the list (EC keys are fast; the pool serves RSA). */
async function throwaway(h: ApiHarness): Promise<string> {
  const alias = next('tmp');
  await generateCertificate(h.ctx, await h.actor('admin'), { alias, signatureAlgorithm: 'SHA256withECDSA' });
  return alias;
}

/** Keystore files that can each be imported once per database, handed out in turn. */
const IMPORTABLE = ['openssl-ec-p256.p12', 'keytool-ec-p384.p12', 'keytool-rsa2048-sha256.p12', 'openssl-rsa2048-aes.p12'];

const get = (url: string): (() => Promise<InjectRequest>) => async () => ({ method: 'GET', url });

const BACKUP_PASSPHRASE = 'matrix backup passphrase';
let backupFile: Buffer | null = null;

/** One backup of the test's state, made through the API once and sent to every restore row. */
async function backupOf(h: ApiHarness): Promise<Buffer> {
  if (backupFile === null) {
    const res = await h.call('admin', { method: 'POST', url: '/api/v1/backups', payload: { passphrase: BACKUP_PASSPHRASE } });
    assert.equal(res.statusCode, 200, res.body.slice(0, 300));
    backupFile = res.rawPayload;
  }
  return backupFile;
}

/** A freshly registered device (by enrollment token, as the device channel does it). */
async function device(h: ApiHarness): Promise<string> {
  return (await registerProfile(h.ctx, 'igel-os-12')).deviceId;
}

const MATRIX: Readonly<Record<string, Row>> = {
  'GET /healthz': { allowed: 'public', success: 200, request: get('/healthz') },
  'GET /readyz': { allowed: 'public', success: 200, request: get('/readyz') },
  'GET /api/v1/openapi.json': { allowed: 'public', success: 200, request: get('/api/v1/openapi.json') },
  'POST /api/v1/auth/login': {
    allowed: 'public',
    success: 200,
    request: async () => ({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'viewer', password: 'viewer-password-1' } }),
  },
  'POST /api/v1/auth/logout': {
    allowed: ALL,
    success: 204,
    // A token of its own, so that logging out does not end the caller's session for the other rows.
    request: async (h, caller) => {
      if (caller === 'anonymous') return { method: 'POST', url: '/api/v1/auth/logout' };
      const own = await createApiToken(h.ctx, await h.actor(caller), 'logout', 1);
      return { method: 'POST', url: '/api/v1/auth/logout', headers: { authorization: `Bearer ${own.token}` } };
    },
  },
  'GET /api/v1/auth/me': { allowed: ALL, success: 200, request: get('/api/v1/auth/me') },
  'POST /api/v1/auth/session': {
    allowed: 'public',
    success: 200,
    request: async () => ({ method: 'POST', url: '/api/v1/auth/session', payload: { username: 'viewer', password: 'viewer-password-1' } }),
  },
  'GET /api/v1/auth/session': { allowed: ALL, success: 200, request: get('/api/v1/auth/session') },
  'DELETE /api/v1/auth/session': {
    allowed: ALL,
    success: 204,
    // Like logout: a token of its own (a bearer token needs no CSRF token).
    request: async (h, caller) => {
      if (caller === 'anonymous') return { method: 'DELETE', url: '/api/v1/auth/session' };
      const own = await createApiToken(h.ctx, await h.actor(caller), 'session', 1);
      return { method: 'DELETE', url: '/api/v1/auth/session', headers: { authorization: `Bearer ${own.token}` } };
    },
  },
  'GET /api/v1/certificates': { allowed: ALL, success: 200, request: get('/api/v1/certificates') },
  'POST /api/v1/certificates': {
    allowed: CHANGERS,
    success: 201,
    request: async () => ({ method: 'POST', url: '/api/v1/certificates', payload: { alias: next('gen'), signatureAlgorithm: 'SHA256withECDSA' } }),
  },
  'POST /api/v1/certificates/import': {
    allowed: CHANGERS,
    success: 201,
    request: async (_h, caller) => {
      // Only callers that will succeed use up a file; the others would be refused before reading it.
      const file = caller === 'operator' || caller === 'admin' ? IMPORTABLE.shift() : IMPORTABLE[0];
      assert.ok(file, 'out of importable fixtures');
      return {
        method: 'POST',
        url: '/api/v1/certificates/import',
        payload: { alias: next('imp'), file: fixture(file).toString('base64'), password: FIXTURE_PASSWORDS.storePassword },
      };
    },
  },
  'GET /api/v1/certificates/{alias}': { allowed: ALL, success: 200, request: get('/api/v1/certificates/tckey') },
  'DELETE /api/v1/certificates/{alias}': {
    allowed: CHANGERS,
    success: 204,
    request: async (h) => ({ method: 'DELETE', url: `/api/v1/certificates/${await throwaway(h)}` }),
  },
  'POST /api/v1/certificates/{alias}/move-up': {
    allowed: CHANGERS,
    success: 200,
    request: async (h) => ({ method: 'POST', url: `/api/v1/certificates/${await throwaway(h)}/move-up` }),
  },
  'POST /api/v1/certificates/{alias}/move-down': {
    allowed: CHANGERS,
    success: 200,
    request: async (h) => {
      const alias = await throwaway(h);
      await throwaway(h); // so that it is not at the bottom
      return { method: 'POST', url: `/api/v1/certificates/${alias}/move-down` };
    },
  },
  'POST /api/v1/certificates/{alias}/make-default': {
    allowed: CHANGERS,
    success: 200,
    request: async (h) => ({ method: 'POST', url: `/api/v1/certificates/${await throwaway(h)}/make-default` }),
  },
  'POST /api/v1/certificates/{alias}/activate': {
    allowed: CHANGERS,
    success: 200,
    request: async (h) => {
      const alias = await throwaway(h);
      await setCertificateActive(h.ctx, await h.actor('admin'), alias, false);
      return { method: 'POST', url: `/api/v1/certificates/${alias}/activate` };
    },
  },
  'POST /api/v1/certificates/{alias}/deactivate': {
    allowed: CHANGERS,
    success: 200,
    request: async (h) => ({ method: 'POST', url: `/api/v1/certificates/${await throwaway(h)}/deactivate` }),
  },
  'GET /api/v1/certificates/{alias}/content': { allowed: ALL, success: 200, request: get('/api/v1/certificates/tckey/content') },
  'GET /api/v1/certificates/{alias}/export': { allowed: ALL, success: 200, request: get('/api/v1/certificates/tckey/export?format=der') },
  'POST /api/v1/certificates/{alias}/export-keypair': {
    allowed: ADMIN,
    success: 200,
    request: async () => ({ method: 'POST', url: '/api/v1/certificates/tckey/export-keypair', payload: { password: 'export-password-1' } }),
  },
  'GET /api/v1/certificates/{alias}/devices': { allowed: ALL, success: 200, request: get('/api/v1/certificates/tckey/devices?limit=10') },
  'GET /api/v1/audit': { allowed: ALL, success: 200, request: get('/api/v1/audit?limit=5') },
  'GET /api/v1/users': { allowed: ADMIN, success: 200, request: get('/api/v1/users') },
  'POST /api/v1/users': {
    allowed: ADMIN,
    success: 201,
    request: async () => ({ method: 'POST', url: '/api/v1/users', payload: { username: next('user'), role: 'viewer', password: 'some-password-1' } }),
  },
  'DELETE /api/v1/users/{username}': {
    allowed: ADMIN,
    success: 204,
    request: async (h) => {
      const username = next('gone');
      await createUser(h.ctx, await h.actor('admin'), { username, role: 'viewer', password: 'some-password-1' });
      return { method: 'DELETE', url: `/api/v1/users/${username}` };
    },
  },
  'GET /api/v1/tokens': { allowed: ALL, success: 200, request: get('/api/v1/tokens') },
  'POST /api/v1/tokens': {
    allowed: ALL,
    success: 201,
    request: async () => ({ method: 'POST', url: '/api/v1/tokens', payload: { name: next('script'), days: 30 } }),
  },
  'DELETE /api/v1/tokens/{id}': {
    allowed: ALL,
    success: 204,
    request: async (h, caller) => {
      const owner: Role = caller === 'anonymous' ? 'admin' : caller;
      const issued = await createApiToken(h.ctx, await h.actor(owner), 'to-revoke', 1);
      return { method: 'DELETE', url: `/api/v1/tokens/${issued.record.id}` };
    },
  },
  'POST /api/v1/enrollment-tokens': {
    allowed: CHANGERS,
    success: 201,
    request: async () => ({ method: 'POST', url: '/api/v1/enrollment-tokens', payload: { uses: 2, expiresIn: 600 } }),
  },
  'GET /api/v1/enrollment-tokens': { allowed: ALL, success: 200, request: get('/api/v1/enrollment-tokens') },
  'DELETE /api/v1/enrollment-tokens/{id}': {
    allowed: CHANGERS,
    success: 204,
    request: async (h) => {
      const issued = await createEnrollmentToken(h.ctx, await h.actor('admin'), {});
      return { method: 'DELETE', url: `/api/v1/enrollment-tokens/${issued.record.id}` };
    },
  },
  'GET /api/v1/devices': { allowed: ALL, success: 200, request: get('/api/v1/devices?certificate=tckey&limit=5') },
  'GET /api/v1/devices/{id}': { allowed: ALL, success: 200, request: async (h) => ({ method: 'GET', url: `/api/v1/devices/${await device(h)}` }) },
  'DELETE /api/v1/devices/{id}': {
    allowed: CHANGERS,
    success: 204,
    request: async (h) => ({ method: 'DELETE', url: `/api/v1/devices/${await device(h)}` }),
  },
  'GET /api/v1/compatibility': { allowed: ALL, success: 200, request: get('/api/v1/compatibility') },
  'PUT /api/v1/compatibility': {
    allowed: CHANGERS,
    success: 200,
    request: async () => ({ method: 'PUT', url: '/api/v1/compatibility', payload: { rules: DEFAULT_COMPATIBILITY_RULES } }),
  },
  'POST /api/v1/compatibility/preview': {
    allowed: ALL,
    success: 200,
    request: async () => ({ method: 'POST', url: '/api/v1/compatibility/preview', payload: { rules: DEFAULT_COMPATIBILITY_RULES } }),
  },
  'POST /api/v1/sync/run': { allowed: CHANGERS, success: 200, request: async () => ({ method: 'POST', url: '/api/v1/sync/run' }) },
  'GET /api/v1/sync/status': { allowed: ALL, success: 200, request: get('/api/v1/sync/status') },
  'GET /api/v1/cluster': { allowed: ALL, success: 200, request: get('/api/v1/cluster') },
  'GET /api/v1/cluster/token': { allowed: CHANGERS, success: 200, request: get('/api/v1/cluster/token') },
  'PUT /api/v1/cluster/token-location': {
    allowed: CHANGERS,
    success: 204,
    request: async () => ({ method: 'PUT', url: '/api/v1/cluster/token-location', payload: { location: null } }),
  },
  'GET /api/v1/lifecycle': { allowed: ALL, success: 200, request: get('/api/v1/lifecycle') },
  'PUT /api/v1/lifecycle': {
    allowed: ADMIN,
    success: 200,
    request: async () => ({ method: 'PUT', url: '/api/v1/lifecycle', payload: { renewBefore: '90d', window: 'Sat 02:00-05:00', retireAfter: '30d' } }),
  },
  'POST /api/v1/lifecycle/off': { allowed: ADMIN, success: 200, request: async () => ({ method: 'POST', url: '/api/v1/lifecycle/off' }) },
  'GET /api/v1/backups': { allowed: ALL, success: 200, request: get('/api/v1/backups') },
  'GET /api/v1/settings': { allowed: ALL, success: 200, request: get('/api/v1/settings') },
  'PUT /api/v1/settings/{name}': {
    allowed: ADMIN,
    success: 200,
    request: async () => ({ method: 'PUT', url: '/api/v1/settings/expiry-warning', payload: { value: '60d' } }),
  },
  'GET /metrics': { allowed: ALL, success: 200, request: get('/metrics') },
  'POST /api/v1/backups': {
    allowed: ADMIN,
    success: 200,
    request: async () => ({ method: 'POST', url: '/api/v1/backups', payload: { passphrase: BACKUP_PASSPHRASE } }),
  },
  'POST /api/v1/backups/restore': {
    allowed: ADMIN,
    success: 200,
    // A dry run: it checks the whole file and reports, and changes nothing.
    request: async (h) => ({
      method: 'POST',
      url: '/api/v1/backups/restore?dryRun=true',
      payload: await backupOf(h),
      headers: { 'content-type': 'application/octet-stream', [PASSPHRASE_HEADER]: BACKUP_PASSPHRASE },
    }),
  },
  'GET /api/v1/certificates/{alias}/default-preview': {
    allowed: ALL,
    success: 200,
    request: get('/api/v1/certificates/tckey/default-preview'),
  },
};

interface OpenApiOperation {
  readonly 'x-permission'?: string;
}

async function documentedOperations(h: ApiHarness): Promise<Map<string, OpenApiOperation>> {
  const res = await h.call('anonymous', { method: 'GET', url: '/api/v1/openapi.json' });
  assert.equal(res.statusCode, 200);
  const doc = res.json<{ paths: Record<string, Record<string, OpenApiOperation>> }>();
  const ops = new Map<string, OpenApiOperation>();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) ops.set(`${method.toUpperCase()} ${path}`, op);
  }
  return ops;
}

function rolesGranted(permission: string | undefined): 'public' | readonly Role[] {
  if (permission === 'public') return 'public';
  if (permission === 'authenticated') return ROLES;
  return ROLES.filter((r) => roleAllows(r, permission as Permission)); // x-permission is a Permission on every other route
}

forEachDatabase('REST API authorization matrix', (db) => {
  let h: ApiHarness;
  before(async () => {
    h = await startApi(await db.open());
    backupFile = null;
  });
  after(async () => {
    await h.close();
  });

  it('has one row for every route of the OpenAPI document, and no other', async () => {
    const documented = [...(await documentedOperations(h)).keys()].sort();
    assert.deepEqual(Object.keys(MATRIX).sort(), documented);
  });

  it('documents in x-permission exactly the roles of each row', async () => {
    for (const [key, op] of await documentedOperations(h)) {
      const row = MATRIX[key];
      assert.ok(row, key);
      const granted = rolesGranted(op['x-permission']);
      const expected = row.allowed === 'public' ? 'public' : [...row.allowed].sort();
      assert.deepEqual(granted === 'public' ? granted : [...granted].sort(), expected, key);
    }
  });

  for (const [key, row] of Object.entries(MATRIX)) {
    it(key, async () => {
      for (const caller of CALLERS) {
        const req = await row.request(h, caller);
        const before = await keystoreState(h.ctx);
        const res = await h.call(caller, req);
        const label = `${key} as ${caller}: ${res.statusCode} ${res.body.slice(0, 300)}`;
        if (row.allowed === 'public' || (caller !== 'anonymous' && row.allowed.includes(caller))) {
          assert.equal(res.statusCode, row.success, label);
        } else if (caller === 'anonymous') {
          assertError(res, 401, 'unauthenticated');
          assert.equal(await keystoreState(h.ctx), before, label);
        } else {
          assertError(res, 403, 'forbidden');
          assert.equal(await keystoreState(h.ctx), before, label);
        }
      }
    });
  }
});
