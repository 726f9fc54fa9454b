/**
 * Backup and restore end to end (B1, B2) on SQLite and PostgreSQL: the real server, the real CLI,
 * real agents over TLS, and Debian's `age` opening a backup the product made.
 *
 * The story of each run: devices A, B, C register; a backup is made; then the default changes and
 * A and B move to it (C is offline), and D registers. Restoring the backup must strand exactly
 * A and B (what they pin is not in it) and D (it does not know D): C checks in, the others are told
 * to register again, and one does so with a new token. With --keep-current-certificates only D is
 * listed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, describe, it } from 'node:test';
import { CliSession, type CliResult } from '../support/cli.js';
import { createTestDatabase, forEachDatabase, type TestDatabase } from '../support/databases.js';
import { killAllServers, serveProcess, type Serving } from '../support/serve-process.js';
import { BACKUP_FORMAT_VERSION } from '../../src/domain/backup.js';
import type { DevicePage, RestoreReportView } from '../../src/transport/http-api/contract/index.js';

const ADMIN = 'backup-admin-password';
const PASSPHRASE = 'correct horse battery staple';
/** age's default work factor makes each key derivation ~0.5 s; the tests need no such cost. */
const SERVER_ENV = { CERTFLEET_ADMIN_PASSWORD: ADMIN, CERTFLEET_BACKUP_SCRYPT_LOG_N: '10' };

interface Once {
  readonly deviceId: string;
  readonly pinnedAlias: string;
}

after(() => killAllServers());

async function startNode(db: TestDatabase, dataDir: string): Promise<{ server: Serving; cli: CliSession }> {
  const server = await serveProcess({ dataDir, db: db.url, env: SERVER_ENV });
  const cli = new CliSession(server.url);
  await cli.login('admin', ADMIN);
  return { server, cli };
}

/** The fleet of the story, up to the moment just before the restore. */
async function story(cli: CliSession, server: Serving, dir: string) {
  const agent = (name: string, extra: readonly string[] = []): Promise<CliResult> =>
    cli.run(['agent', '--server', server.deviceAddress, '--state', join(dir, name), '--once', '--json', ...extra], { timeoutMs: 30_000 });
  const once = async (name: string, extra: readonly string[] = []): Promise<Once> => {
    const r = await agent(name, extra);
    assert.equal(r.code, 0, `agent ${name}: ${r.stderr}`);
    return JSON.parse(r.stdout) as Once; // agent --once --json
  };
  const token = await cli.json<{ token: string }>(['enroll', 'create', '--uses', '10']);
  const tokenFile = cli.secretFile(token.token);
  const passphraseFile = cli.secretFile(PASSPHRASE);
  const a = await once('a', ['--token-file', tokenFile]);
  const b = await once('b', ['--token-file', tokenFile]);
  const c = await once('c', ['--token-file', tokenFile]);
  const file = join(dir, 'backup.cfbak');
  const made = await cli.run(['backup', 'create', '--out', file, '--passphrase-file', passphraseFile]);
  assert.equal(made.code, 0, made.stderr);
  // After the backup: a new default that A and B move to; C is offline; D registers.
  for (const args of [['cert', 'generate', '--alias', 'next', '--sig-alg', 'SHA256withRSA', '--key-size', '2048'], ['cert', 'default', 'next']]) {
    const r = await cli.run(args);
    assert.equal(r.code, 0, r.stderr);
  }
  assert.equal((await cli.run(['sync', 'run'])).code, 0);
  await once('a');
  await once('b');
  assert.equal((await once('a')).pinnedAlias, 'next');
  assert.equal((await once('b')).pinnedAlias, 'next');
  const d = await once('d', ['--token-file', tokenFile]);
  return { agent, once, a, b, c, d, file, tokenFile, passphraseFile };
}

forEachDatabase('backup and restore, end to end', (db) => {
  it('a restore strands exactly the devices it lists; one registers again with a new token; age opens the backup', async () => {
    const database = await db.database();
    const dir = mkdtempSync(join(tmpdir(), 'certfleet-backup-e2e-'));
    try {
      const { server, cli } = await startNode(database, join(dir, 'data'));
      const s = await story(cli, server, dir);

      // inspect: everything, without a server's help.
      const inspected = await cli.json<{ formatVersion: number; counts: Record<string, number>; certificates: { alias: string; isDefault: boolean }[] }>(
        ['backup', 'inspect', s.file, '--passphrase-file', s.passphraseFile],
      );
      assert.equal(inspected.formatVersion, BACKUP_FORMAT_VERSION);
      assert.equal(inspected.counts.devices, 3);
      assert.equal(inspected.counts.lifecycle_settings, 1, 'the lifecycle settings are counted');
      assert.deepEqual(inspected.certificates.map((c) => [c.alias, c.isDefault]), [['tckey', true]]);

      const dry = await cli.json<RestoreReportView>(['backup', 'restore', s.file, '--passphrase-file', s.passphraseFile, '--dry-run']);
      assert.deepEqual((await cli.json<{ alias: string }[]>(['cert', 'list'])).map((c) => c.alias), ['next', 'tckey'], 'a dry run changes nothing');
      const report = await cli.json<RestoreReportView>(['backup', 'restore', s.file, '--passphrase-file', s.passphraseFile]);
      const listed = (r: RestoreReportView) => new Map(r.reRegistrationRequired.devices.map((d) => [d.id, d.reason]));
      const expected = new Map([
        [s.a.deviceId, 'pinned_certificate_not_restored'],
        [s.b.deviceId, 'pinned_certificate_not_restored'],
        [s.d.deviceId, 'registered_after_backup'],
      ]);
      assert.deepEqual(listed(dry), expected);
      assert.deepEqual(listed(report), expected);
      assert.deepEqual(report.certificates.onlyCurrent.map((c) => c.alias), ['next']);
      assert.deepEqual((await cli.json<{ alias: string }[]>(['cert', 'list'])).map((c) => c.alias), ['tckey']);

      // Exactly the listed devices fail; C goes on.
      assert.equal((await s.once('c')).pinnedAlias, 'tckey');
      for (const name of ['a', 'b', 'd']) {
        const r = await s.agent(name);
        assert.equal(r.code, 1, `agent ${name} must fail: ${r.stdout}`);
        assert.match(r.stderr, /re_registration_required: This device must register again/);
      }
      const flagged = await cli.json<DevicePage>(['device', 'list', '--re-registration-required']);
      assert.deepEqual(new Set(flagged.devices.map((d) => d.id)), new Set(expected.keys()));
      assert.ok(flagged.devices.every((d) => d.reRegistrationRequired), 'every listed device says so');

      // A is given a new token: it registers again, and is no longer listed.
      const token = await cli.json<{ token: string }>(['enroll', 'create']);
      const again = await s.once('a', ['--token-file', cli.secretFile(token.token)]);
      assert.notEqual(again.deviceId, s.a.deviceId);
      assert.equal(again.pinnedAlias, 'tckey');
      const left = await cli.json<DevicePage>(['device', 'list', '--re-registration-required']);
      assert.deepEqual(new Set(left.devices.map((d) => d.id)), new Set([s.b.deviceId, s.d.deviceId]));

      // Debian's age opens the file the product wrote (it reads the passphrase from a terminal: `script` gives it one).
      if (db.dialect === 'sqlite') {
        const plain = join(dir, 'plain.gz');
        const r = spawnSync('script', ['-qec', `age -d -o ${plain} ${s.file}`, '/dev/null'], { input: `${PASSPHRASE}\n`, timeout: 30_000 });
        assert.equal(r.status, 0, String(r.stderr));
        const first = JSON.parse(gunzipSync(readFileSync(plain)).toString('utf8').split('\n')[0] ?? '') as { format: string; counts: { devices: number } };
        assert.deepEqual([first.format, first.counts.devices], ['certfleet-backup', 3]);
      }
      await server.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--keep-current-certificates: every device the backup knows goes on talking; only the one it does not know is listed', async () => {
    const database = await db.database();
    const dir = mkdtempSync(join(tmpdir(), 'certfleet-backup-e2e-'));
    try {
      const { server, cli } = await startNode(database, join(dir, 'data'));
      const s = await story(cli, server, dir);
      const report = await cli.json<RestoreReportView>(['backup', 'restore', s.file, '--passphrase-file', s.passphraseFile, '--keep-current-certificates']);
      assert.deepEqual(report.reRegistrationRequired.devices.map((d) => [d.id, d.reason]), [[s.d.deviceId, 'registered_after_backup']]);
      assert.deepEqual((await cli.json<{ alias: string }[]>(['cert', 'list'])).map((c) => c.alias), ['tckey', 'next']);
      // A and B check in pinning the kept certificate, and the rotation then moves them to the
      // restored default like any device: no registration needed.
      for (const name of ['a', 'b', 'c']) assert.equal((await s.once(name)).pinnedAlias, 'tckey', `agent ${name}`);
      const r = await s.agent('d');
      assert.equal(r.code, 1);
      assert.match(r.stderr, /re_registration_required/);
      await server.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('backup on one SQLite node', () => {
  it('serve --backup-dir: the leader writes scheduled backups, keeps the newest, and backup list shows them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'certfleet-backup-e2e-'));
    const database = await createTestDatabase('sqlite');
    try {
      const passphraseFile = join(dir, 'passphrase');
      writeFileSync(passphraseFile, `${PASSPHRASE}\n`, { mode: 0o600 });
      const backups = join(dir, 'backups');
      const server = await serveProcess({
        dataDir: join(dir, 'data'),
        db: database.url,
        env: SERVER_ENV,
        args: ['--backup-dir', backups, '--backup-every', '1s', '--backup-keep', '2', '--backup-passphrase-file', passphraseFile],
      });
      assert.match(server.output(), /Scheduled backups: every 1 s into .* \(newest 2 kept\), written by the rotation leader/);
      for (let n = 0, from = 0; n < 3; n++) {
        const m = await server.watch.waitFor(/wrote a scheduled backup/, `scheduled backup ${n + 1}`, 30_000, from);
        from += m.index + m[0].length;
      }
      await server.watch.waitFor(/removed an old scheduled backup/, 'the oldest is removed', 30_000);
      await server.stop();
      const files = readdirSync(backups).sort();
      assert.equal(files.length, 2);
      assert.ok(files.every((f) => /^certfleet-.*\.cfbak$/.test(f)), files.join(', '));
      const again = await serveProcess({ dataDir: join(dir, 'data'), db: database.url, env: SERVER_ENV });
      const cli2 = new CliSession(again.url);
      await cli2.login('admin', ADMIN);
      const list = await cli2.json<{ runs: { trigger: string; result: string; file: string | null }[] }>(['backup', 'list']);
      assert.ok(list.runs.length >= 3, `${list.runs.length} runs`);
      assert.deepEqual([list.runs[0]?.trigger, list.runs[0]?.result], ['scheduled', 'ok']);
      await again.stop();
    } finally {
      await database.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });


  it('a wrong passphrase and random bytes: their own codes, exit 1, nothing changed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'certfleet-backup-e2e-'));
    const database = await createTestDatabase('sqlite');
    try {
      const { server, cli } = await startNode(database, join(dir, 'data'));
      const file = join(dir, 'b.cfbak');
      assert.equal((await cli.run(['backup', 'create', '--out', file, '--passphrase-file', cli.secretFile(PASSPHRASE)])).code, 0);
      const wrong = await cli.run(['backup', 'restore', file, '--passphrase-file', cli.secretFile('another passphrase entirely')]);
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /error: backup_wrong_passphrase: /);
      const randomFile = join(dir, 'random.bin');
      writeFileSync(randomFile, randomBytes(4096));
      const random = await cli.run(['backup', 'restore', randomFile, '--passphrase-file', cli.secretFile(PASSPHRASE)]);
      assert.match(random.stderr, /error: backup_not_a_backup: /);
      const short = await cli.run(['backup', 'create', '--out', join(dir, 'x'), '--passphrase-stdin'], { stdin: 'short\n' });
      assert.notEqual(short.code, 0);
      const audit = await cli.run(['audit', 'list']);
      assert.match(audit.stdout, /backup\.restore\s+refused/);
      await server.stop();
    } finally {
      await database.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
