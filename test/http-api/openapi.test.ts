/** The OpenAPI document: valid OpenAPI 3, every route, bearer security, permission and error codes per operation. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ErrorCode } from '../../src/domain/errors.js';
import { HTTP_STATUS } from '../../src/transport/http-api/errors.js';
import { startSqliteApi, type ApiHarness } from './support.js';

interface Operation {
  readonly operationId?: string;
  readonly security?: unknown[];
  readonly responses: Record<string, { description: string; content?: Record<string, { schema?: unknown }> }>;
  readonly 'x-permission'?: string;
  readonly 'x-error-codes'?: string[];
  readonly parameters?: { name: string; in: string }[];
  readonly requestBody?: unknown;
}

interface Document {
  readonly openapi: string;
  readonly info: { title: string; version: string };
  readonly paths: Record<string, Record<string, Operation>>;
  readonly components: { securitySchemes: Record<string, { type: string; scheme: string }>; schemas: Record<string, unknown> };
  readonly security: unknown[];
}

const METHODS = new Set(['get', 'post', 'put', 'delete', 'patch', 'head', 'options']);

describe('OpenAPI document', () => {
  let h: ApiHarness;
  let doc: Document;
  before(async () => {
    h = await startSqliteApi();
    const res = await h.call('anonymous', { method: 'GET', url: '/api/v1/openapi.json' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    doc = res.json<Document>();
  });
  after(async () => {
    await h.close();
  });

  it('is OpenAPI 3 with bearer security', () => {
    assert.match(doc.openapi, /^3\.\d+\.\d+$/);
    assert.ok(doc.info.title && doc.info.version);
    assert.deepEqual(doc.components.securitySchemes['bearer'], { type: 'http', scheme: 'bearer', description: 'A log-in or API token.' });
    assert.deepEqual(doc.security, [{ bearer: [] }]);
  });

  it('describes every route', () => {
    const expected = [
      'GET /healthz', 'GET /readyz', 'GET /api/v1/openapi.json',
      'POST /api/v1/auth/login', 'POST /api/v1/auth/logout', 'GET /api/v1/auth/me',
      'POST /api/v1/auth/session', 'GET /api/v1/auth/session', 'DELETE /api/v1/auth/session',
      'GET /api/v1/certificates', 'POST /api/v1/certificates', 'POST /api/v1/certificates/import',
      'GET /api/v1/certificates/{alias}', 'DELETE /api/v1/certificates/{alias}',
      'POST /api/v1/certificates/{alias}/move-up', 'POST /api/v1/certificates/{alias}/move-down',
      'POST /api/v1/certificates/{alias}/make-default', 'POST /api/v1/certificates/{alias}/activate',
      'POST /api/v1/certificates/{alias}/deactivate', 'GET /api/v1/certificates/{alias}/content',
      'GET /api/v1/certificates/{alias}/export', 'POST /api/v1/certificates/{alias}/export-keypair',
      'GET /api/v1/certificates/{alias}/devices', 'GET /api/v1/audit',
      'GET /api/v1/users', 'POST /api/v1/users', 'DELETE /api/v1/users/{username}',
      'GET /api/v1/tokens', 'POST /api/v1/tokens', 'DELETE /api/v1/tokens/{id}',
      'POST /api/v1/enrollment-tokens', 'GET /api/v1/enrollment-tokens', 'DELETE /api/v1/enrollment-tokens/{id}',
      'GET /api/v1/devices', 'GET /api/v1/devices/{id}', 'DELETE /api/v1/devices/{id}',
      'GET /api/v1/compatibility', 'PUT /api/v1/compatibility', 'POST /api/v1/compatibility/preview',
      'POST /api/v1/sync/run', 'GET /api/v1/sync/status', 'GET /api/v1/certificates/{alias}/default-preview',
      'GET /api/v1/cluster', 'GET /api/v1/cluster/token', 'PUT /api/v1/cluster/token-location',
      'GET /api/v1/backups', 'POST /api/v1/backups', 'POST /api/v1/backups/restore',
      'GET /api/v1/settings', 'PUT /api/v1/settings/{name}', 'GET /metrics',
      'GET /api/v1/lifecycle', 'PUT /api/v1/lifecycle', 'POST /api/v1/lifecycle/off',
    ];
    const documented = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`));
    assert.deepEqual(documented.sort(), expected.sort());
  });

  it('gives each operation an id, its permission, its error codes with their statuses, and resolvable references', () => {
    const ids = new Set<string>();
    const text = JSON.stringify(doc);
    for (const ref of text.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)) {
      assert.ok(doc.components.schemas[ref[1] ?? ''], `unresolved $ref ${ref[1]}`);
    }
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const where = `${method} ${path}`;
        assert.ok(METHODS.has(method), where);
        assert.ok(op.operationId && !ids.has(op.operationId), `${where}: operationId`);
        ids.add(op.operationId);
        assert.ok(op['x-permission'], `${where}: x-permission`);
        const isPublic = op['x-permission'] === 'public';
        assert.deepEqual(op.security, isPublic ? [] : [{ bearer: [] }], `${where}: security`);
        const codes = op['x-error-codes'] ?? [];
        assert.ok(codes.includes('internal'), where);
        if (!isPublic) assert.ok(codes.includes('unauthenticated'), `${where}: 401`);
        for (const code of codes) {
          const status = String(HTTP_STATUS[code as ErrorCode]); // x-error-codes lists ErrorCodes
          const response = op.responses[status];
          assert.ok(response, `${where}: no ${status} response for ${code}`);
          assert.ok(response.description.includes(code), `${where}: ${status} does not name ${code}`);
          assert.deepEqual(response.content?.['application/json']?.schema, { $ref: '#/components/schemas/ErrorResponse' }, where);
        }
        const success = Object.keys(op.responses).filter((s) => s.startsWith('2'));
        assert.equal(success.length, 1, `${where}: one success status`);
        for (const name of path.matchAll(/\{(\w+)\}/g)) {
          assert.ok(op.parameters?.some((p) => p.in === 'path' && p.name === name[1]), `${where}: path parameter ${name[1]}`);
        }
      }
    }
  });

  it('documents the binary and text answers by media type', () => {
    const keypair = doc.paths['/api/v1/certificates/{alias}/export-keypair']?.['post'];
    assert.deepEqual(keypair?.responses['200']?.content, { 'application/x-pkcs12': { schema: { type: 'string', format: 'binary' } } });
    const content = doc.paths['/api/v1/certificates/{alias}/content']?.['get'];
    assert.deepEqual(Object.keys(content?.responses['200']?.content ?? {}).sort(), ['application/json', 'text/plain']);
    const exportCert = doc.paths['/api/v1/certificates/{alias}/export']?.['get'];
    assert.deepEqual(Object.keys(exportCert?.responses['200']?.content ?? {}).sort(), ['application/pkix-cert', 'application/x-pem-file']);
  });

  it('names the certificate summary with the fields of the SPEC', () => {
    const summary = doc.components.schemas['CertificateSummary'] as { properties: Record<string, unknown> }; // an object schema, see schemas.ts
    for (const field of ['alias', 'position', 'isDefault', 'active', 'signatureAlgorithm', 'keyAlgorithm', 'keySize', 'subject', 'issuer', 'serialNumber', 'notBefore', 'notAfter', 'sha1Fingerprint', 'sha256Fingerprint', 'deviceCount']) {
      assert.ok(summary.properties[field], field);
    }
  });
});
