/**
 * `certfleet sync run|status`: the rotation reconciler (R3) on demand, and the preview that
 * `cert default ALIAS --dry-run` prints.
 */
import type { Command } from 'commander';
import { configuredClient as client } from './api-client.js';
import { printJson, say, table, tell } from './cli-io.js';
import type { DefaultPreview, RotationReport, RotationStatus } from '../http-api/contract/index.js';

function devices(n: number): string {
  return `${n} device${n === 1 ? '' : 's'}`;
}

function describeReport(r: RotationReport): string {
  const ms = Date.parse(r.finishedAt) - Date.parse(r.startedAt);
  return (
    `Rotation to "${r.defaultAlias}" (${r.startedAt}, ${ms} ms): checked ${devices(r.checked)}.\n` +
    table(['', 'DEVICES'], [
      ['scheduled now (pending replacement)', String(r.scheduled)],
      ['awaiting confirmation from before', String(r.awaitingConfirmation)],
      ['already on the default', String(r.alreadyCurrent)],
      ['incompatible (keep their certificate)', String(r.incompatible)],
    ])
  );
}

function byProfile(counts: Readonly<Record<string, number>>): string {
  const rows = Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)).map(([p, n]) => [`    ${p}`, String(n)]);
  return rows.length === 0 ? '' : table(['    PROFILE', 'DEVICES'], rows);
}

export function printDefaultPreview(p: DefaultPreview): void {
  say(
    `Making "${p.alias}" the default would:\n` +
      `  switch ${devices(p.switching.total)} to it (each gets it as a pending replacement, then confirms):\n` +
      byProfile(p.switching.byProfile) +
      `  keep ${devices(p.staying.total)} on their current certificate (their firmware lacks ${p.staying.lacking}):\n` +
      byProfile(p.staying.byProfile) +
      `  leave ${devices(p.alreadyCurrent)} that pin it already.\n` +
      'Nothing was changed (--dry-run).\n',
  );
}

export function addSyncCommands(program: Command): void {
  const sync = program.command('sync').description('rotation of the fleet to the default certificate');

  sync.command('run').description('compare every device with the default now, and schedule the replacements')
    .option('--json', 'print JSON (checked, scheduled, incompatible, alreadyCurrent …)')
    .action(async (opts: { json?: boolean }) => {
      if (!opts.json) tell('Comparing every device with the default …\n');
      const report = await client().json<RotationReport>('POST', '/api/v1/sync/run');
      if (opts.json) printJson(report);
      else say(describeReport(report));
    });

  sync.command('status').description('how far the fleet is on its way to the default')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const s = await client().json<RotationStatus>('GET', '/api/v1/sync/status');
      if (opts.json) {
        printJson(s);
        return;
      }
      say(
        `Default "${s.defaultAlias}": ${devices(s.total)} registered; ${s.onDefault} on the default, ${s.pending} pending replacement, ` +
          `${s.staying} staying on their certificate (their firmware lacks the default's algorithm).\n` +
          (s.lastRun ? `Last run:\n${describeReport(s.lastRun)}` : 'The reconciler has not run yet.\n'),
      );
    });
}
