/**
 * `certfleet lifecycle set|off|show` (L2): automatic successors for the default and the legacy
 * fallbacks that devices pin, made the default (or fallback) in a maintenance window.
 */
import type { Command } from 'commander';
import { configuredClient as client } from './api-client.js';
import { printJson, table } from './cli-io.js';
import type { LifecycleSetBody, LifecycleSettings, LifecycleStatus } from '../http-api/contract/index.js';

function describeSettings(s: LifecycleSettings): string {
  if (!s.enabled) return 'Automatic successors are off (turn them on with `certfleet lifecycle set --renew-before 90d --window "Sat 02:00-05:00"`).\n';
  return (
    `Automatic successors are on: a successor is made ${s.renewBeforeDays} days before a certificate expires, made the default ` +
    `(or fallback) in the window "${s.window}" (UTC), and the old entry is deleted ${s.retireAfterDays} days after it was deactivated.\n`
  );
}

export function addLifecycleCommands(program: Command): void {
  const lifecycle = program.command('lifecycle').description('automatic successors for certificates before they expire (administrators)');

  lifecycle.command('set').description('turn automatic successors on, or change their settings')
    .requiredOption('--renew-before <days>', 'make a successor this long before expiry, in days (90d)')
    .requiredOption('--window <window>', 'when successors become the default, in UTC ("Sat 02:00-05:00", "Mon-Fri 22:00-02:00")')
    .option('--retire-after <days>', 'delete an unused old entry this long after it was deactivated (default 30d)')
    .option('--json', 'print JSON')
    .action(async (opts: { renewBefore: string; window: string; retireAfter?: string; json?: boolean }) => {
      const body: LifecycleSetBody = { renewBefore: opts.renewBefore, window: opts.window, ...(opts.retireAfter !== undefined ? { retireAfter: opts.retireAfter } : {}) };
      const s = await client().json<LifecycleSettings>('PUT', '/api/v1/lifecycle', body);
      if (opts.json) printJson(s);
      else process.stdout.write(describeSettings(s));
    });

  lifecycle.command('off').description('turn automatic successors off (successions under way wait until it is on again)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const s = await client().json<LifecycleSettings>('POST', '/api/v1/lifecycle/off');
      if (opts.json) printJson(s);
      else process.stdout.write(describeSettings(s));
    });

  lifecycle.command('show').description('the settings, the certificates looked after, and what the lifecycle did')
    .option('--json', 'print JSON (settings, nextWindow, tracked, successions, events)')
    .action(async (opts: { json?: boolean }) => {
      const s = await client().json<LifecycleStatus>('GET', '/api/v1/lifecycle');
      if (opts.json) {
        printJson(s);
        return;
      }
      process.stdout.write(describeSettings(s.settings) + (s.nextWindow ? `The window opens next at ${s.nextWindow}.\n` : ''));
      process.stdout.write(table(['CERTIFICATE', 'ROLE', 'EXPIRES', 'DAYS LEFT', 'SUCCESSOR FROM'], s.tracked.map((t) => [t.alias, t.role, t.notAfter, String(t.daysUntilExpiry), t.renewFrom])));
      if (s.events.length > 0) {
        process.stdout.write('\nTimeline (newest first):\n');
        process.stdout.write(table(['TIME', 'STEP', 'CERTIFICATE', 'DETAILS'], s.events.map((e) => [e.at, e.step, e.alias, describeDetails(e.details)])));
      }
    });
}

function describeDetails(d: Readonly<Record<string, unknown>>): string {
  const parts: string[] = [];
  if (typeof d.role === 'string') parts.push(d.role);
  if (typeof d.replaces === 'string') parts.push(`replaces ${d.replaces}`);
  if (typeof d.replacedBy === 'string') parts.push(`replaced by ${d.replacedBy}`);
  if (typeof d.reason === 'string') parts.push(d.reason);
  return parts.join('; ');
}
