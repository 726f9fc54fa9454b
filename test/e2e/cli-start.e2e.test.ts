/**
 * A client command starts in a fraction of a second: the CLI loads what the command needs, not the
 * server. The e2e suites run the CLI hundreds of times, and an administrator's script as often;
 * before this test `certfleet --help` loaded the server's schemas, the backup reader and the
 * migrations (0.95 s of CPU on the development machine; 0.19 s after). The test lists the modules
 * a command loads (a module resolve hook in the child) and fails when a heavy one comes back.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const BIN = fileURLToPath(new URL('../../../bin/certfleet.js', import.meta.url));

/** Prints every module URL the process resolves, one per line, on stderr. */
const HOOK = `data:text/javascript,${encodeURIComponent(`
import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(
  'export async function resolve(s, c, next) { const r = await next(s, c); process.stderr.write("module " + r.url + "\\n"); return r; }',
)}));
`)}`;

function modulesLoadedBy(args: readonly string[]): string[] {
  const run = spawnSync(process.execPath, ['--import', HOOK, BIN, ...args], { encoding: 'utf8', env: { ...process.env, CERTFLEET_CONFIG: '/nonexistent/cli.json' } });
  assert.equal(run.status, 0, run.stderr);
  return run.stderr.split('\n').filter((l) => l.startsWith('module ')).map((l) => l.slice('module '.length));
}

/** What only the server, or only one command's action, needs. */
const HEAVY = ['/node_modules/typebox/', '/node_modules/kysely/', '/node_modules/better-sqlite3/', '/node_modules/pg/', '/node_modules/fastify/', '/node_modules/age-encryption/', '/storage/migrations/', '/app/backup.js'];

describe('CLI start-up', () => {
  for (const args of [['--help'], ['backup', 'inspect', '--help'], ['cert', 'list', '--help']]) {
    it(`\`certfleet ${args.join(' ')}\` loads none of the server's modules`, () => {
      const modules = modulesLoadedBy(args);
      assert.ok(modules.some((m) => m.endsWith('/transport/cli/commands.js')), 'the hook saw the CLI load');
      const heavy = modules.filter((m) => HEAVY.some((h) => m.includes(h)));
      assert.deepEqual(heavy, []);
    });
  }
});
