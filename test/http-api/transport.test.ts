/** What the API looks like on a real socket: HTTPS when main passes a web certificate, HEAD guarded like GET. */
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { fixture, startSqliteApi, type ApiHarness } from './support.js';
import { buildHttpApi } from '../../src/transport/http-api/server.js';

/** The first PEM block with this label in the text. */
function pemBlock(text: string, label: RegExp): string {
  const m = new RegExp(`-----BEGIN (${label.source})-----[\\s\\S]*?-----END \\1-----\\n?`).exec(text);
  assert.ok(m, `no ${label.source} block`);
  return m[0];
}

describe('REST API transport', () => {
  let h: ApiHarness;
  before(async () => {
    h = await startSqliteApi();
  });
  after(async () => {
    await h.close();
  });

  it('serves HTTPS with the web certificate it is given', async () => {
    const pem = fixture('pem-plain.pem').toString('utf8');
    const cert = pemBlock(pem, /CERTIFICATE/);
    const key = pemBlock(pem, /(?:RSA )?PRIVATE KEY/);
    const app = await buildHttpApi({ ctx: h.ctx, logger: false, https: { key: Buffer.from(key), cert: Buffer.from(cert) } });
    try {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const address = app.server.address();
      assert.ok(address && typeof address === 'object');
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: address.port, path: '/healthz', ca: cert, checkServerIdentity: () => undefined }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString('utf8')));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(answer.status, 200);
      assert.deepEqual(JSON.parse(answer.body), { status: 'ok' });
    } finally {
      await app.close();
    }
  });

  it('guards HEAD like GET', async () => {
    assert.equal((await h.call('anonymous', { method: 'HEAD', url: '/api/v1/certificates/tckey/export' })).statusCode, 401);
    assert.equal((await h.call('viewer', { method: 'HEAD', url: '/api/v1/certificates/tckey/export' })).statusCode, 200);
  });
});
