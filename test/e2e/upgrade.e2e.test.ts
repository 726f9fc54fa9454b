/**
 * B3, upgrades keep every certificate: a database made by the first released schema (the build
 * 18a4962, migrations 0001–0004), committed in test/fixtures/upgrade/v0.1-schema4/ by
 * scripts/make-upgrade-fixture.sh, is upgraded in place by this build's real `certfleet serve`, on
 * SQLite and on PostgreSQL. Afterwards the keystore is the same entry by entry — fingerprint,
 * position, active flag, default, and the private key (its PKCS#8 as openssl reads it from a
 * PKCS#12 export, hashed like the script hashed the old build's export) — the migration record
 * lists every migration of this build, and each device of the fixture checks in over the real TLS
 * channel with the state file its agent wrote back then, pinning the certificate it pinned.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { sqliteDialect } from '../../src/storage/dialect.js';
import { migrationProvider } from '../../src/storage/migrations/index.js';
import type { CertificateSummary, DevicePage } from '../../src/transport/http-api/contract/index.js';
import { runTool } from '../crypto/tools.js';
import { CliSession, runCli } from '../support/cli.js';
import { forEachDatabase, TEST_PG_URL, type TestDatabase } from '../support/databases.js';
import { found } from '../support/found.js';
import { killAllServers, serveProcess } from '../support/serve-process.js';

/** test/fixtures/upgrade/v0.1-schema4/, seen from dist/test/e2e/. */
const FIXTURE_DIR = new URL('../../../test/fixtures/upgrade/v0.1-schema4/', import.meta.url).pathname;

interface ExpectedCertificate {
  readonly alias: string;
  readonly position: number;
  readonly active: boolean;
  readonly isDefault: boolean;
  readonly signatureAlgorithm: string;
  readonly sha256Fingerprint: string;
  /** SHA-256 (hex) of the private key's PKCS#8 DER, as `openssl pkey` writes it from the export. */
  readonly privateKeyPkcs8Sha256: string;
}

interface ExpectedDevice {
  readonly name: string;
  readonly id: string;
  readonly unitId: string;
  readonly profile: string;
  readonly pinnedAlias: string;
  readonly pinnedSha256: string;
}

interface FixtureDatabase {
  readonly certificates: readonly ExpectedCertificate[];
  readonly devices: readonly ExpectedDevice[];
}

/** expected.json, written by scripts/make-upgrade-fixture.sh. */
interface UpgradeFixture {
  readonly madeBy: { readonly revision: string; readonly commit: string; readonly migrations: readonly string[] };
  readonly adminUser: string;
  readonly adminPassword: string;
  readonly schemaPlaceholder: string;
  readonly sqlite: FixtureDatabase;
  readonly postgres: FixtureDatabase;
}

interface AgentOnce {
  readonly deviceId: string;
  readonly pinnedAlias: string;
  readonly pinnedSha256: string;
  readonly profile: string;
}

const EXPECTED = JSON.parse(readFileSync(join(FIXTURE_DIR, 'expected.json'), 'utf8')) as UpgradeFixture; // written by the script
const MASTER_KEY = readFileSync(join(FIXTURE_DIR, 'master.key'), 'utf8').trim();

/** Every migration this build knows, in the order they run (the names do not depend on the dialect). */
const CURRENT_MIGRATIONS = Object.keys(await migrationProvider(sqliteDialect).getMigrations()).sort();

/** Puts the fixture's database of this dialect into the fresh, empty test database. */
async function restoreFixture(db: TestDatabase): Promise<void> {
  if (db.schema === null) {
    copyFileSync(join(FIXTURE_DIR, 'sqlite', 'certfleet.db'), db.url);
    return;
  }
  const dump = readFileSync(join(FIXTURE_DIR, 'postgres', 'dump.sql'), 'utf8').replaceAll(EXPECTED.schemaPlaceholder, db.schema);
  await withPostgres((client) => client.query(dump));
}

async function withPostgres<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** The names in the database's migration record (Kysely's), in the order they ran. */
async function recordedMigrations(db: TestDatabase): Promise<string[]> {
  const query = (table: string) => `select name from ${table} order by timestamp, name`;
  const { schema } = db;
  if (schema === null) {
    const sqlite = new Database(db.url, { readonly: true });
    try {
      return sqlite.prepare<[], { name: string }>(query('kysely_migration')).all().map((r) => r.name);
    } finally {
      sqlite.close();
    }
  }
  return withPostgres(async (client) => (await client.query<{ name: string }>(query(`"${schema}".kysely_migration`))).rows.map((r) => r.name));
}

/** SHA-256 of the private key in a PKCS#12 file, re-encoded as PKCS#8 DER by openssl (as the fixture script does). */
async function pkcs8Sha256(p12: string, passwordFile: string): Promise<string> {
  const pem = await runTool('openssl', ['pkcs12', '-in', p12, '-passin', `file:${passwordFile}`, '-nocerts', '-nodes']);
  assert.equal(pem.code, 0, pem.stderr);
  const der = await runTool('openssl', ['pkey', '-outform', 'DER'], pem.stdoutBytes);
  assert.equal(der.code, 0, der.stderr);
  return createHash('sha256').update(der.stdoutBytes).digest('hex');
}

forEachDatabase('upgrade of a database made by the first released schema (B3)', (suite) => {
  const temporary: string[] = [];
  const tempDir = (prefix: string): string => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    temporary.push(dir);
    return dir;
  };
  after(() => {
    killAllServers();
    for (const dir of temporary.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const expected = EXPECTED[suite.dialect];
  const fixtureDir = join(FIXTURE_DIR, suite.dialect);

  it(`keeps every certificate, key, position and flag, and every device checks in (made by ${EXPECTED.madeBy.revision})`, async () => {
    const db = await suite.database();
    await restoreFixture(db);
    assert.deepEqual(await recordedMigrations(db), [...EXPECTED.madeBy.migrations], 'the fixture is at the old schema');

    // Upgraded in place: the same node (its id from the fixture's data directory), the same master key.
    const data = tempDir('certfleet-upgrade-');
    copyFileSync(join(fixtureDir, 'node-id'), join(data, 'node-id'));
    const upgradedAt = Date.now();
    const server = await serveProcess({ dataDir: data, db: db.url, env: { CERTFLEET_MASTER_KEY: MASTER_KEY } });
    assert.doesNotMatch(server.output(), /Created the account|created the default certificate/, 'an upgrade creates no admin and no tckey (K1)');

    const cli = new CliSession(server.url);
    await cli.login(EXPECTED.adminUser, EXPECTED.adminPassword);
    const list = await cli.json<CertificateSummary[]>(['cert', 'list']);
    assert.deepEqual(
      list.map((c) => ({ alias: c.alias, position: c.position, active: c.active, isDefault: c.isDefault, signatureAlgorithm: c.signatureAlgorithm, sha256Fingerprint: c.sha256Fingerprint })),
      expected.certificates.map(({ privateKeyPkcs8Sha256: _key, ...facts }) => facts),
      'the keystore, entry by entry and in order',
    );

    const exportPassword = cli.secretFile('upgrade-test-export-1');
    for (const certificate of expected.certificates) {
      const p12 = join(cli.dir, `${certificate.alias}.p12`);
      const exported = await cli.run(['cert', 'export-keypair', certificate.alias, '--out', p12, '--password-file', exportPassword]);
      assert.equal(exported.code, 0, exported.stderr);
      assert.equal(await pkcs8Sha256(p12, exportPassword), certificate.privateKeyPkcs8Sha256, `the private key of ${certificate.alias}`);
    }

    for (const device of expected.devices) {
      // The agent's own state as it wrote it back then; only the server address is new (--server).
      const state = tempDir(`certfleet-upgrade-${device.name}-`);
      cpSync(join(fixtureDir, 'agents', device.name), state, { recursive: true });
      const r = await runCli(['agent', '--server', server.deviceAddress, '--state', state, '--once', '--json'], { timeoutMs: 20_000 });
      assert.equal(r.code, 0, `${device.name} checks in: ${r.stdout}${r.stderr}`);
      const once = JSON.parse(r.stdout) as AgentOnce; // agent --once --json
      assert.deepEqual(
        { deviceId: once.deviceId, profile: once.profile, pinnedAlias: once.pinnedAlias, pinnedSha256: once.pinnedSha256 },
        { deviceId: device.id, profile: device.profile, pinnedAlias: device.pinnedAlias, pinnedSha256: device.pinnedSha256 },
        `${device.name} is the same device and still pins the same certificate`,
      );
    }

    const { devices } = await cli.json<DevicePage>(['device', 'list']);
    for (const device of expected.devices) {
      const shown = found(devices.find((d) => d.id === device.id), `${device.name} in device list`);
      assert.deepEqual(
        { unitId: shown.unitId, certificateAlias: shown.certificateAlias, pendingCertificateAlias: shown.pendingCertificateAlias },
        { unitId: device.unitId, certificateAlias: device.pinnedAlias, pendingCertificateAlias: null },
      );
      assert.ok(Date.parse(shown.lastContactAt ?? '') >= upgradedAt, `${device.name} was seen by the upgraded server: ${shown.lastContactAt}`);
    }
    assert.equal(devices.length, expected.devices.length, 'no device appeared or went');

    assert.equal(await server.stop(), 0);
    assert.deepEqual(await recordedMigrations(db), CURRENT_MIGRATIONS, 'the database is at this build\'s schema');
  });
});
