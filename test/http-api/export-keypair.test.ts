/** K8: the key pair as PKCS#12 under the caller's password, read by openssl, for administrators only, audited. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, it } from 'node:test';
import { forEachDatabase } from '../support/databases.js';
import { auditSince, lastAuditId, startApi, type ApiHarness } from './support.js';
import type { ErrorResponse } from '../../src/transport/http-api/contract/index.js';

const run = promisify(execFile);
const EXPORT_PASSWORD = 'Export-Pass-2024!';

forEachDatabase('REST API export-keypair', (db) => {
  let h: ApiHarness;
  let dir: string;
  before(async () => {
    h = await startApi(await db.open());
    dir = await mkdtemp(join(tmpdir(), 'certfleet-export-'));
  });
  after(async () => {
    await h.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers a PKCS#12 file that openssl opens with the password, and records the export', async () => {
    const since = await lastAuditId(h.ctx);
    const res = await h.call('admin', { method: 'POST', url: '/api/v1/certificates/tckey/export-keypair', payload: { password: EXPORT_PASSWORD } });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['content-type'], 'application/x-pkcs12');
    assert.equal(res.headers['content-disposition'], 'attachment; filename="tckey.p12"');
    assert.equal(res.headers['cache-control'], 'no-store');

    const p12 = join(dir, 'tckey.p12');
    const passFile = join(dir, 'pass');
    await writeFile(p12, res.rawPayload);
    // The password goes to openssl in a file, never on its command line.
    await writeFile(passFile, EXPORT_PASSWORD, { mode: 0o600 });
    const certs = await run('openssl', ['pkcs12', '-in', p12, '-passin', `file:${passFile}`, '-nokeys', '-clcerts']);
    const fingerprint = await new Promise<string>((resolve, reject) => {
      const child = execFile('openssl', ['x509', '-noout', '-fingerprint', '-sha256'], (err, stdout) => (err ? reject(err) : resolve(stdout)));
      child.stdin?.end(certs.stdout);
    });
    const tckey = await h.ctx.store.keystore.findByAlias('tckey');
    assert.equal(fingerprint.trim().split('=')[1], tckey?.facts.sha256Fingerprint);
    const keys = await run('openssl', ['pkcs12', '-in', p12, '-passin', `file:${passFile}`, '-nocerts', '-nodes']);
    assert.match(keys.stdout, /-----BEGIN PRIVATE KEY-----/);

    await writeFile(passFile, 'not-the-password', { mode: 0o600 });
    await assert.rejects(run('openssl', ['pkcs12', '-in', p12, '-passin', `file:${passFile}`, '-nokeys']), /Mac verify error|invalid password/i);

    const events = await auditSince(h.ctx, since);
    assert.deepEqual(
      events.map((e) => [e.action, e.actor, e.target, e.result]),
      [['certificate.export-keypair', 'admin', 'tckey', 'ok']],
    );
    assert.ok(!JSON.stringify(events).includes(EXPORT_PASSWORD));
  });

  it('refuses a short password (400 password_too_short) and records the refusal', async () => {
    const since = await lastAuditId(h.ctx);
    const res = await h.call('admin', { method: 'POST', url: '/api/v1/certificates/tckey/export-keypair', payload: { password: 'short' } });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json<ErrorResponse>().error.code, 'password_too_short');
    const events = await auditSince(h.ctx, since);
    assert.deepEqual(events.map((e) => [e.action, e.result, e.code]), [['certificate.export-keypair', 'refused', 'password_too_short']]);
  });
});
