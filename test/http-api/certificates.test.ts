/** The keystore over HTTP: the shapes scripts rely on (SPEC section 5) and the answers of each action. */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, it } from 'node:test';
import { forEachDatabase } from '../support/databases.js';
import { found } from '../support/found.js';
import { FIXTURE_PASSWORDS, fixture, startApi, type ApiHarness } from './support.js';
import type { ApiToken, CertificateContent, CertificateSummary, DevicePage, ErrorResponse, IssuedApiToken, User } from '../../src/transport/http-api/contract/index.js';

const SUMMARY_FIELDS = [
  'alias', 'position', 'isDefault', 'active', 'signatureAlgorithm', 'keyAlgorithm', 'keySize', 'curve', 'subject', 'issuer',
  'serialNumber', 'notBefore', 'notAfter', 'sha1Fingerprint', 'sha256Fingerprint', 'deviceCount', 'pendingDeviceCount',
  'daysUntilExpiry', 'expired', 'expiryWarning', 'source', 'createdAt',
].sort();

forEachDatabase('REST API certificates', (db) => {
  let h: ApiHarness;
  before(async () => {
    h = await startApi(await db.open());
  });
  after(async () => {
    await h.close();
  });

  const list = async (): Promise<CertificateSummary[]> => {
    const res = await h.call('viewer', { method: 'GET', url: '/api/v1/certificates' });
    assert.equal(res.statusCode, 200);
    return res.json<CertificateSummary[]>();
  };

  it('lists the first-start certificate with exactly the fields of the SPEC, and security headers', async () => {
    const res = await h.call('viewer', { method: 'GET', url: '/api/v1/certificates' });
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['referrer-policy'], 'no-referrer');
    const [first, ...rest] = res.json<Record<string, unknown>[]>();
    assert.equal(rest.length, 0);
    const tckey = found(first, 'the one entry of a new keystore');
    assert.deepEqual(Object.keys(tckey).sort(), SUMMARY_FIELDS);
    assert.equal(tckey['alias'], 'tckey');
    assert.equal(tckey['position'], 1);
    assert.equal(tckey['isDefault'], true);
    assert.equal(tckey['signatureAlgorithm'], 'SHA512withRSA');
    assert.equal(tckey['keyAlgorithm'], 'RSA');
    assert.equal(tckey['keySize'], 4096);
    assert.equal(tckey['source'], 'first-start');
    assert.match(String(tckey['sha256Fingerprint']), /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.ok(Number(tckey['daysUntilExpiry']) > 3000);
    assert.deepEqual([tckey['expired'], tckey['expiryWarning']], [false, false], 'ten years left, no device: not flagged');
  });

  it('generates (201) and imports (201) at the bottom of the list', async () => {
    const gen = await h.call('operator', {
      method: 'POST',
      url: '/api/v1/certificates',
      payload: { alias: 'ec1', signatureAlgorithm: 'SHA256withECDSA', commonName: 'ec1.certfleet.test', days: 30 },
    });
    assert.equal(gen.statusCode, 201, gen.body);
    const ec1 = gen.json<CertificateSummary>();
    assert.equal(ec1.position, 2);
    assert.equal(ec1.isDefault, false);
    assert.equal(ec1.curve, 'P-256');
    assert.equal(ec1.daysUntilExpiry, 29);

    const imp = await h.call('operator', {
      method: 'POST',
      url: '/api/v1/certificates/import',
      payload: { alias: 'imported', file: fixture('keytool-rsa2048-sha256.p12').toString('base64'), password: FIXTURE_PASSWORDS.storePassword },
    });
    assert.equal(imp.statusCode, 201, imp.body);
    assert.equal(imp.json<CertificateSummary>().source, 'imported');
    assert.equal(imp.json<CertificateSummary>().position, 3);
    const get = await h.call('viewer', { method: 'GET', url: '/api/v1/certificates/imported' });
    // The import answer is the entry plus how the file's integrity was checked (issue 13).
    const { integrityCheck, ...entry } = imp.json<CertificateSummary & { integrityCheck: string }>();
    assert.equal(integrityCheck, 'mac');
    assert.deepEqual(get.json(), entry);
  });

  it('reorders and (de)activates, answering with the whole new list', async () => {
    const up = await h.call('operator', { method: 'POST', url: '/api/v1/certificates/imported/move-up' });
    assert.equal(up.statusCode, 200);
    assert.deepEqual(up.json<CertificateSummary[]>().map((c) => c.alias), ['tckey', 'imported', 'ec1']);
    const top = await h.call('operator', { method: 'POST', url: '/api/v1/certificates/ec1/make-default' });
    assert.deepEqual(top.json<CertificateSummary[]>().map((c) => [c.alias, c.position, c.isDefault]), [
      ['ec1', 1, true],
      ['tckey', 2, false],
      ['imported', 3, false],
    ]);
    const off = await h.call('operator', { method: 'POST', url: '/api/v1/certificates/imported/deactivate' });
    assert.equal(off.json<CertificateSummary[]>().find((c) => c.alias === 'imported')?.active, false);
    const down = await h.call('operator', { method: 'POST', url: '/api/v1/certificates/ec1/move-down', headers: { 'content-type': 'application/json' } });
    assert.equal(down.statusCode, 200, down.body);
    assert.deepEqual(down.json<CertificateSummary[]>().map((c) => c.alias), ['tckey', 'ec1', 'imported']);
    const on = await h.call('operator', { method: 'POST', url: '/api/v1/certificates/imported/activate' });
    assert.equal(on.json<CertificateSummary[]>().find((c) => c.alias === 'imported')?.active, true);
    assert.deepEqual(await list(), on.json());
  });

  it('shows the content as JSON and as text', async () => {
    const json = await h.call('viewer', { method: 'GET', url: '/api/v1/certificates/tckey/content' });
    assert.equal(json.statusCode, 200);
    assert.match(String(json.headers['content-type']), /^application\/json/);
    const content = json.json<CertificateContent>();
    assert.equal(content.version, 3);
    assert.equal(content.signatureAlgorithm.name, 'SHA512withRSA');
    assert.equal(content.publicKey.size, 4096);
    assert.ok(Array.isArray(content.extensions));
    assert.ok(!content.pem.includes('PRIVATE'));
    const text = await h.call('viewer', { method: 'GET', url: '/api/v1/certificates/tckey/content?format=text' });
    assert.match(String(text.headers['content-type']), /^text\/plain/);
    assert.ok(text.body.includes(content.fingerprints.sha256));
  });

  it('exports the certificate as PEM and DER with a file name', async () => {
    const tckey = (await list()).find((c) => c.alias === 'tckey');
    const pem = await h.call('viewer', { method: 'GET', url: '/api/v1/certificates/tckey/export' });
    assert.equal(pem.statusCode, 200);
    assert.match(String(pem.headers['content-type']), /^application\/x-pem-file/);
    assert.equal(pem.headers['content-disposition'], 'attachment; filename="tckey.pem"');
    assert.match(pem.body, /^-----BEGIN CERTIFICATE-----\n/);
    const der = await h.call('viewer', { method: 'GET', url: '/api/v1/certificates/tckey/export?format=der' });
    assert.match(String(der.headers['content-type']), /^application\/pkix-cert/);
    assert.equal(der.headers['content-disposition'], 'attachment; filename="tckey.cer"');
    const fromDer = new X509Certificate(der.rawPayload);
    assert.equal(fromDer.fingerprint256, tckey?.sha256Fingerprint);
    assert.equal(new X509Certificate(pem.body).fingerprint256, tckey?.sha256Fingerprint);
  });

  it('pages and searches the devices of a certificate, without their credentials; a used certificate cannot be deleted', async () => {
    const ec1 = found(await h.ctx.store.keystore.findByAlias('ec1'), 'ec1 in the store');
    for (let i = 0; i < 7; i++) {
      await h.ctx.store.devices.insert({
        id: `dev-${i}`,
        unitId: `00:E0:C5:00:00:0${i}`,
        name: i < 3 ? `lab-${i}` : `office-${i}`,
        osFamily: 'IGEL OS',
        osVersion: '12.01.100',
        profile: 'igel-12',
        declaredAlgorithms: null,
        certificateId: ec1.id,
        credentialHash: `secret-credential-hash-${i}`,
        registeredAt: new Date().toISOString(),
      });
    }
    const page = await h.call('viewer', { method: 'GET', url: '/api/v1/certificates/ec1/devices?offset=2&limit=3' });
    assert.equal(page.statusCode, 200);
    const body = page.json<DevicePage>();
    assert.equal(body.count, 7);
    assert.equal(body.devices.length, 3);
    assert.deepEqual(Object.keys(body.devices[0] ?? {}).sort(), [
      'certificateAlias', 'id', 'lastContactAt', 'name', 'osFamily', 'osVersion', 'pendingCertificateAlias', 'profile', 'reRegistrationReason',
      'reRegistrationRequired', 'registeredAt', 'supportedAlgorithms', 'unitId',
    ]);
    assert.ok(!page.body.includes('secret-credential-hash'));
    const search = await h.call('viewer', { method: 'GET', url: '/api/v1/certificates/ec1/devices?search=LAB' });
    assert.equal(search.json<DevicePage>().count, 3);
    assert.equal((await list()).find((c) => c.alias === 'ec1')?.deviceCount, 7);

    const refused = await h.call('operator', { method: 'DELETE', url: '/api/v1/certificates/ec1' });
    assert.equal(refused.statusCode, 409);
    assert.equal(refused.json<ErrorResponse>().error.details['devices'], 7);
  });

  it('deletes an unused certificate (204) and the list closes up', async () => {
    const res = await h.call('operator', { method: 'DELETE', url: '/api/v1/certificates/imported' });
    assert.equal(res.statusCode, 204);
    assert.equal(res.body, '');
    assert.deepEqual((await list()).map((c) => [c.alias, c.position]), [
      ['tckey', 1],
      ['ec1', 2],
    ]);
  });

  it('who am I, tokens and accounts', async () => {
    const me = await h.call('operator', { method: 'GET', url: '/api/v1/auth/me' });
    assert.deepEqual(me.json(), { username: 'operator', role: 'operator', permissions: ['read', 'manageCertificates', 'metrics'] });

    const made = await h.call('viewer', { method: 'POST', url: '/api/v1/tokens', payload: { name: 'ci', days: 10 } });
    assert.equal(made.statusCode, 201);
    const token = made.json<IssuedApiToken>();
    assert.deepEqual(Object.keys(token).sort(), ['expiresAt', 'id', 'name', 'token']);
    const listed = await h.call('viewer', { method: 'GET', url: '/api/v1/tokens' });
    assert.ok(!listed.body.includes(token.token), 'a token is shown once only');
    assert.ok(listed.json<ApiToken[]>().some((t) => t.id === token.id));

    const users = await h.call('admin', { method: 'GET', url: '/api/v1/users' });
    assert.deepEqual(users.json<User[]>().map((u) => u.username).sort(), ['admin', 'operator', 'viewer']);
    assert.ok(!users.body.includes('scrypt'), 'no password hash leaves the server');
    for (const u of users.json<Record<string, unknown>[]>()) assert.deepEqual(Object.keys(u).sort(), ['createdAt', 'role', 'username']);

    const logout = await h.call('anonymous', { method: 'POST', url: '/api/v1/auth/logout', headers: { authorization: `Bearer ${token.token}` } });
    assert.equal(logout.statusCode, 204);
    const after = await h.call('anonymous', { method: 'GET', url: '/api/v1/auth/me', headers: { authorization: `Bearer ${token.token}` } });
    assert.equal(after.statusCode, 401);
  });

  it('health and readiness are public', async () => {
    const health = await h.call('anonymous', { method: 'GET', url: '/healthz' });
    assert.deepEqual(health.json(), { status: 'ok' });
    const ready = await h.call('anonymous', { method: 'GET', url: '/readyz' });
    assert.deepEqual(ready.json(), { status: 'ready' });
    assert.equal(ready.headers['cache-control'], 'no-store');
  });
});
