/**
 * The real first start, with the real binary and real RSA-4096 key generation, on SQLite and
 * PostgreSQL: `certfleet serve` creates the admin account (printing a generated password once)
 * and `tckey` (K1); a restart keeps both; a node with another master key refuses to start (K11);
 * private keys are never in the log and never unencrypted in the database.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import pg from 'pg';
import { fixture, fixturePath } from '../fixtures/fixtures.js';
import { CliSession } from '../support/cli.js';
import { killAllServers, serveProcess, type Serving } from '../support/serve-process.js';
import type { CertificateSummary } from '../../src/transport/http-api/contract/index.js';
import { createTestDatabase, forEachDatabase, TEST_PG_URL, type TestDatabase } from '../support/databases.js';

function serve(dataDir: string, db: TestDatabase, env: NodeJS.ProcessEnv = {}): Promise<Serving> {
  return serveProcess({ dataDir, db: db.url, env });
}

/** Every byte the database holds, as one buffer to search: the SQLite files, or every PostgreSQL row as text. */
async function databaseBytes(db: TestDatabase): Promise<Buffer> {
  if (db.dialect === 'sqlite') {
    const dir = join(db.url, '..');
    return Buffer.concat(readdirSync(dir).filter((f) => f.startsWith('certfleet.db')).map((f) => readFileSync(join(dir, f))));
  }
  const schema = db.schema ?? '';
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    const tables = await client.query<{ table_name: string }>('select table_name from information_schema.tables where table_schema = $1', [schema]);
    const parts: Buffer[] = [];
    for (const { table_name } of tables.rows) {
      const rows = await client.query<{ row: string }>(`select t::text as row from "${schema}"."${table_name}" t`);
      parts.push(...rows.rows.map((r) => Buffer.from(r.row, 'utf8')));
      const blobs = await client.query<Record<string, unknown>>(`select * from "${schema}"."${table_name}"`);
      for (const r of blobs.rows) for (const v of Object.values(r)) if (Buffer.isBuffer(v)) parts.push(v);
    }
    return Buffer.concat(parts);
  } finally {
    await client.end();
  }
}

forEachDatabase('first start of the real server', (suite) => {
  const databases: TestDatabase[] = [];
  after(async () => {
    killAllServers();
    for (const d of databases) await d.drop();
  });

  it('creates admin and tckey, keeps them on restart, and keeps keys out of logs and plain storage', async () => {
    const db = await createTestDatabase(suite.dialect);
    databases.push(db);
    const data = mkdtempSync(join(tmpdir(), 'certfleet-data-'));
    const first = await serve(data, db);
    const password = /with the password: (\S+)/.exec(first.output())?.[1];
    assert.ok(password, `a generated password is printed once:\n${first.output()}`);
    assert.equal(statSync(join(data, 'master.key')).mode & 0o777, 0o600);

    const cli = new CliSession(first.url);
    await cli.login('admin', password);
    const [tckey, ...others] = await cli.json<CertificateSummary[]>(['cert', 'list']);
    assert.equal(others.length, 0);
    assert.deepEqual([tckey?.alias, tckey?.signatureAlgorithm, tckey?.keyAlgorithm, tckey?.keySize, tckey?.isDefault, tckey?.active], ['tckey', 'SHA512withRSA', 'RSA', 4096, true, true]);

    // A known private key goes in, and out again as PKCS#12, to search for it afterwards.
    const importPassword = 'not-needed-for-plain-pem';
    const exportPassword = `export-${randomBytes(6).toString('hex')}`;
    const imported = await cli.run(['cert', 'import', fixturePath('pem-plain.pem'), '--alias', 'plain', '--password-stdin'], { stdin: importPassword });
    assert.equal(imported.code, 0, imported.stderr);
    const exported = await cli.run(['cert', 'export-keypair', 'plain', '--out', join(cli.dir, 'plain.p12'), '--password-stdin'], { stdin: exportPassword });
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal(await first.stop(), 0);

    const keyPem = fixture('pem-plain.pem').toString('utf8');
    const keyDer = createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'der' });
    const log = first.output();
    for (const secret of ['PRIVATE KEY', exportPassword, keyDer.toString('base64').slice(0, 40)]) {
      assert.ok(!log.includes(secret), `the log must not contain ${secret.slice(0, 12)}…`);
    }
    const stored = await databaseBytes(db);
    assert.ok(stored.length > 0);
    for (const needle of [keyDer, Buffer.from(keyDer.toString('hex')), Buffer.from('PRIVATE KEY'), Buffer.from(keyDer.toString('base64').slice(0, 40))]) {
      assert.equal(stored.indexOf(needle), -1, 'no private key is stored unencrypted');
    }

    // K1: a restart never overwrites the keystore, and the admin is not created again.
    const second = await serve(data, db);
    assert.doesNotMatch(second.output(), /with the password/);
    const cliAgain = new CliSession(second.url);
    await cliAgain.login('admin', password);
    const again = await cliAgain.json<CertificateSummary[]>(['cert', 'list']);
    assert.deepEqual(again.map((c) => c.alias), ['tckey', 'plain']);
    assert.equal(again[0]?.sha256Fingerprint, tckey?.sha256Fingerprint);
    assert.equal(await second.stop(), 0);

    // K11: another master key cannot open these keys, so the node refuses to start.
    const wrong = await serve(data, db, { CERTFLEET_MASTER_KEY: randomBytes(32).toString('base64') }).then(
      async (s) => {
        await s.stop();
        return null;
      },
      (e: { exitCode?: number; output?: string }) => e,
    );
    assert.ok(wrong, 'a node with the wrong master key must not start');
    assert.notEqual(wrong.exitCode, 0);
    assert.match(wrong.output ?? '', /master_key_mismatch: The master key \(CERTFLEET_MASTER_KEY\) is not the one this database was created with/);
  });
});
