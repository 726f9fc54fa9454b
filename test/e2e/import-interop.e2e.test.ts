/**
 * Issue 13 end to end: every file of the import interoperability matrix (openssl 3 with its
 * options, Java 17 keytool with its properties, the structure Windows writes, made by
 * scripts/make-interop-matrix.sh) imported through the real CLI into a real `certfleet serve`
 * process, on SQLite and PostgreSQL. An imported certificate's SHA-256 fingerprint must equal what
 * `openssl x509 -fingerprint -sha256` printed for the file's certificate; a refused file exits 1
 * with its code and changes nothing. One server per database runs all the cases, a few at a time.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { fixturePath, interopCases, type InteropCase } from '../fixtures/fixtures.js';
import { assertRefused, CliSession, type CliResult } from '../support/cli.js';
import { forEachDatabase } from '../support/databases.js';
import { killAllServers, serveProcess, type Serving } from '../support/serve-process.js';
import type { CertificateSummary, ImportedCertificate } from '../../src/transport/http-api/contract/index.js';

const ADMIN = 'interop-admin-password';
const STORE_PASSWORD = 'storepass1'; // make-interop-matrix.sh's PASS
const CASES = interopCases();
const PARALLEL = 4;

after(() => killAllServers());

function passwordArgs(cli: CliSession, c: InteropCase): string[] {
  if (c.password === 'none') return ['--no-password'];
  return ['--password-file', cli.secretFile(c.password === 'password' ? STORE_PASSWORD : '')];
}

/** Runs `work` over the items, at most `n` at once (each is a CLI process). */
async function eachLimited<T>(items: readonly T[], n: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await work(items[next++] as T); // next < length: present
    }),
  );
}

forEachDatabase('the import interoperability matrix through the CLI (issue 13)', (db) => {
  let dir: string;
  let server: Serving;
  let cli: CliSession;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'certfleet-interop-'));
    server = await serveProcess({ dataDir: dir, db: (await db.database()).url, env: { CERTFLEET_ADMIN_PASSWORD: ADMIN } });
    cli = new CliSession(server.url);
    await cli.login('admin', ADMIN);
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('covers openssl, keytool and the Windows structure, password-less files and refusals', () => {
    const tools = new Set(CASES.map((c) => c.tool));
    for (const tool of ['openssl 3', 'keytool (Java 17)', 'Windows (structure)']) assert.ok(tools.has(tool), `the matrix has ${tool} files`);
    for (const mode of ['password', 'none', 'empty-file']) assert.ok(CASES.some((c) => c.password === mode), `a case gives the password as ${mode}`);
    assert.ok(CASES.some((c) => c.expect !== 'imported'), 'the matrix has refused cases');
  });

  it('imports every case (or refuses it by its rule) with the fingerprint openssl prints', async () => {
    const before = await cli.json<CertificateSummary[]>(['cert', 'list']);
    const imported: string[] = [];
    await eachLimited(CASES, PARALLEL, async (c) => {
      // the files without an integrity check are imported in text form: the note must be there
      const json = c.integrityCheck !== 'none';
      const r: CliResult = await cli.run([
        'cert', 'import', fixturePath(`interop/${c.file}`), '--alias', c.id, ...passwordArgs(cli, c), ...(json ? ['--json'] : []),
      ]);
      if (c.expect !== 'imported') {
        assertRefused(r, c.expect);
        if (c.id === 'keytool-jceks') assert.match(r.stderr, /keytool -importkeystore .*-srcstoretype JCEKS/, 'the refusal gives the conversion command');
        return;
      }
      assert.equal(r.code, 0, `${c.id} (${c.tool} ${c.options}): ${r.stderr}`);
      let fingerprint: string | undefined;
      if (json) {
        const s = JSON.parse(r.stdout) as ImportedCertificate; // --json prints the API's answer
        assert.equal(s.integrityCheck, c.integrityCheck, `${c.id}: the integrity check reported`);
        fingerprint = s.sha256Fingerprint;
      } else {
        assert.match(r.stdout, /no integrity check/, `${c.id}: the answer says the file had no integrity check`);
        fingerprint = /SHA-256 ([0-9A-F:]+)/.exec(r.stdout)?.[1];
      }
      assert.equal(fingerprint, c.fingerprint, `${c.id}: the fingerprint openssl prints for the file's certificate`);
      imported.push(c.id);
    });
    const list = await cli.json<CertificateSummary[]>(['cert', 'list']);
    assert.deepEqual(
      list.map((e) => e.alias).sort(),
      [...before.map((e) => e.alias), ...CASES.filter((c) => c.expect === 'imported').map((c) => c.id)].sort(),
      'every accepted case is in the keystore and no refused one',
    );
    for (const c of CASES.filter((x) => x.expect === 'imported')) {
      assert.equal(list.find((e) => e.alias === c.id)?.sha256Fingerprint, c.fingerprint, `${c.id}: the stored fingerprint`);
    }
    assert.equal(imported.length, CASES.filter((c) => c.expect === 'imported').length);
  });

  it('a password-less file given a password is a wrong password; --no-password and a password together are a usage error', async () => {
    const c = CASES.find((x) => x.id === 'windows-no-password');
    assert.ok(c, 'the matrix has the Windows file without a password');
    const wrong = await cli.run(['cert', 'import', fixturePath(`interop/${c.file}`), '--alias', 'wrong-pw', '--password-file', cli.secretFile(STORE_PASSWORD)]);
    assertRefused(wrong, 'wrong_password');
    const both = await cli.run(['cert', 'import', fixturePath(`interop/${c.file}`), '--alias', 'both', '--no-password', '--password-stdin'], { stdin: 'x\n' });
    assert.equal(both.code, 2, both.stderr);
    assert.match(both.stderr, /either --no-password or a password/);
  });
});
