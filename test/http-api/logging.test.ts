/**
 * K11: private keys and passwords never reach the log. The logger's output is captured at the
 * most verbose level during an import, a refused import and a key-pair export, and searched for
 * every secret involved: passwords, tokens, the keystore file, the private key, the exported file.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { after, before, it } from 'node:test';
import pino from 'pino';
import { forEachDatabase } from '../support/databases.js';
import { FIXTURE_PASSWORDS, fixture, PASSWORDS, startApi, type ApiHarness } from './support.js';

const run = promisify(execFile);
const EXPORT_PASSWORD = 'Log-Test-Export-Pw-77';

/** The base64 body of each PEM block in the text, without line breaks. */
function pemBodies(text: string): string[] {
  return [...text.matchAll(/-----BEGIN [A-Z ]+-----\n([\s\S]*?)-----END/g)].map((m) => (m[1] ?? '').replace(/\s/g, ''));
}

forEachDatabase('REST API logging', (db) => {
  const lines: string[] = [];
  let h: ApiHarness;
  let dir: string;
  before(async () => {
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    h = await startApi(await db.open(), { logger: pino({ level: 'trace' }, stream) });
    dir = await mkdtemp(join(tmpdir(), 'certfleet-log-'));
  });
  after(async () => {
    await h.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('never logs a password, a token, a keystore file or a private key', async () => {
    const file = fixture('openssl-ec-p256.p12');
    const fileBase64 = file.toString('base64');
    // The private key inside the fixture, as openssl reads it (the password in a file, not on argv).
    const passFile = join(dir, 'pass');
    await writeFile(passFile, FIXTURE_PASSWORDS.storePassword, { mode: 0o600 });
    await writeFile(join(dir, 'in.p12'), file);
    const key = await run('openssl', ['pkcs12', '-in', join(dir, 'in.p12'), '-passin', `file:${passFile}`, '-nocerts', '-nodes']);
    const [keyBase64] = pemBodies(key.stdout);
    assert.ok(keyBase64 && keyBase64.length > 100);

    const wrong = await h.call('operator', {
      method: 'POST',
      url: '/api/v1/certificates/import',
      payload: { alias: 'logged', file: fileBase64, password: FIXTURE_PASSWORDS.wrongPassword },
    });
    assert.equal(wrong.statusCode, 422);
    const imported = await h.call('operator', {
      method: 'POST',
      url: '/api/v1/certificates/import',
      payload: { alias: 'logged', file: fileBase64, password: FIXTURE_PASSWORDS.storePassword },
    });
    assert.equal(imported.statusCode, 201, imported.body);
    const exported = await h.call('admin', { method: 'POST', url: '/api/v1/certificates/logged/export-keypair', payload: { password: EXPORT_PASSWORD } });
    assert.equal(exported.statusCode, 200);
    const refusedExport = await h.call('operator', { method: 'POST', url: '/api/v1/certificates/logged/export-keypair', payload: { password: EXPORT_PASSWORD } });
    assert.equal(refusedExport.statusCode, 403);
    const badLogin = await h.call('anonymous', { method: 'POST', url: '/api/v1/auth/login', payload: { username: 'admin', password: 'Wrong-Login-Pw-99' } });
    assert.equal(badLogin.statusCode, 401);

    const log = lines.join('');
    assert.ok(lines.length >= 10, 'the requests were logged');
    assert.match(log, /"url":"\/api\/v1\/certificates\/import"/);
    assert.match(log, /"code":"wrong_password"/);
    const secrets: Readonly<Record<string, string>> = {
      'the keystore password': FIXTURE_PASSWORDS.storePassword,
      'the wrong keystore password': FIXTURE_PASSWORDS.wrongPassword,
      'the export password': EXPORT_PASSWORD,
      'a login password': 'Wrong-Login-Pw-99',
      'the admin password': PASSWORDS.admin,
      'the admin token': h.tokens.admin,
      'the operator token': h.tokens.operator,
      'the keystore file': fileBase64.slice(0, 64),
      'the private key': keyBase64.slice(0, 64),
      'the exported file': exported.rawPayload.toString('base64').slice(0, 64),
      'the exported file (raw)': exported.rawPayload.subarray(0, 48).toString('latin1'),
    };
    for (const [what, secret] of Object.entries(secrets)) assert.ok(!log.includes(secret), `${what} is in the log`);
    assert.ok(!log.includes('PRIVATE KEY'));
  });

  it('redacts credentials and secret fields wherever a log call puts them', async () => {
    const before = lines.length;
    h.app.log.info(
      {
        req: { headers: { authorization: 'Bearer cft_secret_header', cookie: 'session=secret-cookie' } },
        body: { password: 'secret-pw-1', keyPassword: 'secret-pw-2', file: 'c2VjcmV0LWZpbGU=', token: 'cft_secret_token' },
        nested: { deeper: { password: 'secret-pw-3', privateKey: 'secret-key' } },
      },
      'a careless log call',
    );
    const text = lines.slice(before).join('');
    assert.match(text, /a careless log call/);
    for (const secret of ['cft_secret_header', 'secret-cookie', 'secret-pw-1', 'secret-pw-2', 'c2VjcmV0LWZpbGU=', 'cft_secret_token', 'secret-pw-3', 'secret-key']) {
      assert.ok(!text.includes(secret), `${secret} is in the log`);
    }
  });
});
