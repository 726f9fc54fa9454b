/**
 * K6 end to end: every fixture keystore (made by keytool and openssl, test/fixtures/) imported
 * through the real CLI against a real server, on SQLite and PostgreSQL. Accepted files give the
 * right facts; refused ones exit 1 with their code on stderr and write nothing but the audit entry.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { ACCEPTED, FIXTURE_PASSWORDS, fixturePath, REFUSED, type FixtureRead } from '../fixtures/fixtures.js';
import { assertRefused, CliSession } from '../support/cli.js';
import { found } from '../support/found.js';
import type { CertificateSummary } from '../../src/transport/http-api/contract/index.js';
import { forEachDatabase } from '../support/databases.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../support/test-server.js';

function importArgs(cli: CliSession, f: FixtureRead, alias: string, password = f.password): string[] {
  return [
    'cert', 'import', fixturePath(f.file), '--alias', alias,
    ...(password ? ['--password-file', cli.secretFile(password)] : []),
    ...(f.keyPassword ? ['--key-password-file', cli.secretFile(f.keyPassword)] : []),
    ...(f.entry ? ['--entry', f.entry] : []),
    '--json',
  ];
}

function aliasOf(f: FixtureRead): string {
  return `${f.file.replace(/\.[a-z0-9]+$/, '')}${f.entry ? `-${f.entry}` : ''}`.slice(0, 64);
}

forEachDatabase('import through the CLI (K6)', (db) => {
  let server: TestServer;
  let cli: CliSession;
  const list = () => cli.json<CertificateSummary[]>(['cert', 'list']);

  before(async () => {
    server = await startTestServer(await db.open());
    cli = new CliSession(server.url);
    await cli.login('admin', ADMIN_PASSWORD);
  });
  after(() => server?.close());

  it('imports every accepted keystore with the facts of its certificate', async () => {
    for (const f of ACCEPTED) {
      const alias = aliasOf(f);
      const r = await cli.run(importArgs(cli, f, alias));
      assert.equal(r.code, 0, `${f.file}: ${r.stderr}`);
      const s = JSON.parse(r.stdout) as CertificateSummary;
      assert.equal(s.alias, alias);
      assert.equal(s.signatureAlgorithm, f.signatureAlgorithm, f.file);
      assert.equal(s.keyAlgorithm, f.keyAlgorithm, f.file);
      assert.equal(s.keySize, f.keySize, f.file);
      assert.equal(s.curve, f.curve, f.file);
      assert.match(s.subject, new RegExp(`CN=${f.commonName.replace(/\./g, '\\.')}`), f.file);
      assert.equal(s.active, true);
      assert.equal(s.isDefault, false, 'an import goes to the bottom, not the top');
    }
    const after = await list();
    assert.equal(after.length, ACCEPTED.length + 1);
    assert.deepEqual(after.map((c) => c.position), after.map((_, i) => i + 1));
    assert.equal(after[0]?.alias, 'tckey');
  });

  it('refuses every bad keystore with its own code and writes nothing', async () => {
    for (const f of REFUSED) {
      const code = f.readError ?? f.importRefusal ?? f.keystoreRefusal?.code;
      assert.ok(code, f.file);
      const before = JSON.stringify(await list());
      const auditBefore = (await server.ctx.store.audit.list({ limit: 1 }))[0]?.id ?? 0;
      const r = await cli.run(importArgs(cli, f, `refused-${f.file.replace(/\W/g, '-')}`.slice(0, 64)));
      assertRefused(r, code);
      assert.equal(JSON.stringify(await list()), before, `${f.file} changed the keystore`);
      const audit = await server.ctx.store.audit.list({ limit: 5 });
      const entry = audit.find((e) => e.id > auditBefore && e.action === 'certificate.import');
      assert.ok(entry, `${f.file}: the refusal is in the audit log`);
      assert.equal(entry.result, 'refused');
      assert.equal(entry.code, code);
    }
  });

  it('tells a wrong password apart from an unreadable file', async () => {
    for (const file of ['keytool-rsa2048-sha256.p12', 'openssl-rsa2048-legacy.p12', 'keytool-keypass.jks', 'pem-encrypted-pkcs8.pem']) {
      const f = found(ACCEPTED.find((a) => a.file === file), `${file} among the accepted fixtures`);
      const r = await cli.run(importArgs(cli, { ...f, keyPassword: undefined } as FixtureRead, `wrong-${file.replace(/\W/g, '-')}`, FIXTURE_PASSWORDS.wrongPassword));
      assertRefused(r, 'wrong_password');
      assert.doesNotMatch(r.stderr, new RegExp(FIXTURE_PASSWORDS.wrongPassword), 'the password is never echoed');
    }
  });

  it('asks which entry to import when a JKS holds two, and names them', async () => {
    const r = await cli.run(['cert', 'import', fixturePath('keytool-two-entries.jks'), '--alias', 'two', '--password-file', cli.secretFile('storepass1')]);
    assertRefused(r, 'entry_required');
    assert.match(r.stderr, /first/);
    assert.match(r.stderr, /second/);
  });

  it('refuses an alias that is taken or malformed', async () => {
    const f = found(ACCEPTED[0], 'an accepted fixture');
    assertRefused(await cli.run(importArgs(cli, f, 'tckey')), 'alias_taken');
    assertRefused(await cli.run(importArgs(cli, f, 'bad alias!')), 'invalid_alias');
  });

  it('is a usage error (exit 2) to give no alias or an unreadable file', async () => {
    const r1 = await cli.run(['cert', 'import', fixturePath('keytool-rsa2048-sha256.p12'), '--password-stdin'], { stdin: 'x' });
    assert.equal(r1.code, 2, r1.stderr);
    const r2 = await cli.run(['cert', 'import', '/nonexistent/file.p12', '--alias', 'x', '--password-stdin'], { stdin: 'x' });
    assert.equal(r2.code, 2, r2.stderr);
    assert.match(r2.stderr, /Cannot read/);
  });
});
