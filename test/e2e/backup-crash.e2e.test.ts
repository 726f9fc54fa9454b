/**
 * A restore is one transaction (B2): `kill -9` of the server while it applies a backup of 100,000
 * devices leaves the old state intact, and the restarted server serves it and restores the same
 * backup without trouble. On PostgreSQL a second node learns of the restore without a restart.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { CliSession } from '../support/cli.js';
import { forEachDatabase } from '../support/databases.js';
import { rawSql } from '../support/device-fleet.js';
import { killAllServers, serveProcess } from '../support/serve-process.js';
import { toInt } from '../../src/storage/columns.js';

const ADMIN = 'backup-admin-password';
const PASSPHRASE = 'correct horse battery staple';
/** Every node of a cluster has the same master key. */
const env = { CERTFLEET_ADMIN_PASSWORD: ADMIN, CERTFLEET_BACKUP_SCRYPT_LOG_N: '10', CERTFLEET_MASTER_KEY: Buffer.alloc(32, 9).toString('base64') };
const DEVICES = 100_000;

after(() => killAllServers());

forEachDatabase('restore under kill -9', (db) => {
  it('kill -9 while a restore applies leaves the old state intact and usable', { timeout: 240_000 }, async () => {
    const database = await db.database();
    const work = mkdtempSync(join(tmpdir(), 'certfleet-crash-'));
    try {
      const dataDir = join(work, 'a');
      const a = await serveProcess({ dataDir, db: database.url, env });
      const cli = new CliSession(a.url);
      await cli.login('admin', ADMIN);
      const tckey = String((await rawSql(database, `select id from certificates where alias = 'tckey'`))[0]?.id);
      const series = db.dialect === 'sqlite'
        ? `(with recursive s(n) as (select 1 union all select n + 1 from s where n < ${DEVICES}) select n from s) as s`
        : `generate_series(1, ${DEVICES}) as s(n)`;
      await rawSql(database, `insert into devices (id, unit_id, name, os_family, os_version, profile, declared_algorithms, certificate_id,
          credential_hash, registered_at, last_contact_at, supported_mask)
        select 'dev-' || n, 'unit-' || n, 'tc-' || n, 'IGEL OS', '12.01.100', 'igel-os-12', null, '${tckey}', 'hash-' || n,
          '2026-01-01T00:00:00.000Z', null, 31 from ${series}`);
      const file = join(work, 'backup.cfbak');
      const passphraseFile = cli.secretFile(PASSPHRASE);
      const made = await cli.run(['backup', 'create', '--out', file, '--passphrase-file', passphraseFile], { timeoutMs: 120_000 });
      assert.equal(made.code, 0, made.stderr);
      // The state moves on after the backup: what a completed restore would undo.
      assert.equal((await cli.run(['cert', 'generate', '--alias', 'after', '--sig-alg', 'SHA256withRSA', '--key-size', '2048'])).code, 0);
      await rawSql(database, `delete from devices where id = 'dev-1'`);
      const state = async () => ({
        certificates: (await rawSql(database, 'select alias, position, active, sha256_fingerprint from certificates order by position')).map((r) => ({
          alias: String(r.alias),
          position: toInt(r.position as number),
          active: toInt(r.active as number),
          sha256: String(r.sha256_fingerprint),
        })),
        devices: toInt((await rawSql(database, 'select count(*) as n from devices'))[0]?.n as number),
        flagged: toInt((await rawSql(database, 'select count(*) as n from devices where re_registration_reason is not null'))[0]?.n as number),
      });
      const before = await state();
      assert.equal(before.devices, DEVICES - 1);

      const from = a.watch.mark();
      const restore = cli.start(['backup', 'restore', file, '--passphrase-file', passphraseFile], { timeoutMs: 120_000 });
      await a.watch.waitFor(/restore: the backup checked out; applying it/, 'the restore begins its transaction', 120_000, from);
      a.child.kill('SIGKILL');
      await a.exited;
      assert.doesNotMatch(a.output().slice(from), /restore: done/, 'the server died before the restore committed');
      const cut = await restore.done;
      assert.equal(cut.code, 1, 'the CLI reports the broken restore');

      assert.deepEqual(await state(), before, 'the old state, exactly');
      const again = await serveProcess({ dataDir, db: database.url, env });
      const cli2 = new CliSession(again.url);
      await cli2.login('admin', ADMIN);
      assert.deepEqual((await cli2.json<{ alias: string }[]>(['cert', 'list'])).map((c) => c.alias), ['tckey', 'after']);

      // PostgreSQL: a second node serves what the restore made, without a restart.
      const tokenFile = join(work, 'token');
      const b = db.dialect === 'postgres'
        ? await (async () => {
            assert.equal((await cli2.run(['cluster', 'token', '--out', tokenFile])).code, 0);
            return serveProcess({ dataDir: join(work, 'b'), db: database.url, env, args: ['--join-token', tokenFile] });
          })()
        : null;
      const fromB = b?.watch.mark() ?? 0;
      const done = await cli2.run(['backup', 'restore', file, '--passphrase-file', passphraseFile, '--json'], { timeoutMs: 120_000 });
      assert.equal(done.code, 0, done.stderr);
      const after = await state();
      assert.deepEqual(after.certificates.map((c) => c.alias), ['tckey']);
      assert.equal(after.devices, DEVICES, 'the backup\'s devices, the one deleted since among them');
      if (b) {
        const revision = toInt((await rawSql(database, 'select revision from keystore_state'))[0]?.revision as number);
        await b.watch.waitFor(new RegExp(`"revision":${revision}[,}].*serving keystore revision`), 'node B serves the restored keystore', 30_000, fromB);
        await b.stop();
      }
      await again.stop();
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
