/** `certfleet compat list|set`: the firmware compatibility table (R2). */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { configuredClient as client } from './api-client.js';
import { UsageError } from './cli-errors.js';
import { printJson, say, table } from './cli-io.js';
import type { CompatibilityTable } from '../http-api/contract/index.js';

function printTable(t: CompatibilityTable): void {
  say(table(['PROFILE', 'OS FAMILY', 'UP TO VERSION', 'ALGORITHMS'], t.rules.map((r) => [
    r.profile, r.osFamily, r.maxVersion ?? 'any', r.algorithms.join(', '),
  ])));
}

/** The file must hold `{"rules": [...]}`; the server checks the rules themselves. */
async function readTableFile(file: string): Promise<{ readonly rules: readonly unknown[] }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const reason = e instanceof Error && 'code' in e && typeof e.code === 'string' ? e.code : String(e);
    throw new UsageError(`Cannot read ${file}: ${reason}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file} is not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  const rules = typeof parsed === 'object' && parsed !== null ? (parsed as { rules?: unknown }).rules : undefined; // probed, not trusted
  if (!Array.isArray(rules)) {
    throw new UsageError(`${file} must hold {"rules": [...]}, as \`certfleet compat list --json\` prints it.`);
  }
  return { rules };
}

export function addCompatCommands(program: Command): void {
  const compat = program.command('compat').description('the firmware compatibility table: which algorithms each OS version supports');

  compat.command('list').description('the table, in match order')
    .option('--json', 'print JSON: {"rules": [...]}')
    .action(async (opts: { json?: boolean }) => {
      const t = await client().json<CompatibilityTable>('GET', '/api/v1/compatibility');
      if (opts.json) printJson(t);
      else printTable(t);
    });

  compat.command('set').argument('<file>', 'JSON file {"rules": [{"profile", "osFamily", "maxVersion", "algorithms"}, ...]}')
    .description('replace the table; devices are matched against it at once')
    .option('--json', 'print the new table as JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      const body = await readTableFile(file);
      const t = await client().json<CompatibilityTable>('PUT', '/api/v1/compatibility', body);
      if (opts.json) printJson(t);
      else printTable(t);
    });
}
