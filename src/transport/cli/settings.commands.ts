/** `certfleet settings show|set` (L1): the installation's settings, today the expiry warning window. */
import type { Command } from 'commander';
import { configuredClient as client } from './api-client.js';
import { printJson, table } from './cli-io.js';
import type { SettingBody, SettingsView } from '../http-api/contract/index.js';

function describeSettings(s: SettingsView): string {
  return table(['SETTING', 'VALUE', 'MEANING'], [['expiry-warning', s.expiryWarning, 'certificates in use that expire within it are flagged']]);
}

export function addSettingsCommands(program: Command): void {
  const settings = program.command('settings').description('the installation\'s settings (expiry-warning)');

  settings.command('show').description('every setting and its value')
    .option('--json', 'print JSON ({expiryWarning, expiryWarningDays})')
    .action(async (opts: { json?: boolean }) => {
      const s = await client().json<SettingsView>('GET', '/api/v1/settings');
      if (opts.json) printJson(s);
      else process.stdout.write(describeSettings(s));
    });

  settings.command('set').description('change a setting (administrators): `settings set expiry-warning 60d`')
    .argument('<name>', 'expiry-warning')
    .argument('<value>', 'expiry-warning: whole days, e.g. 60d')
    .option('--json', 'print the settings as JSON')
    .action(async (name: string, value: string, opts: { json?: boolean }) => {
      const s = await client().json<SettingsView>('PUT', `/api/v1/settings/${encodeURIComponent(name)}`, { value } satisfies SettingBody);
      if (opts.json) printJson(s);
      else process.stdout.write(describeSettings(s));
    });
}
