/** `certfleet enroll create|list|revoke`: the tokens devices register with (R5). */
import type { Command } from 'commander';
import { configuredClient as client } from './api-client.js';
import { durationSeconds, printJson, say, table, wholeNumber } from './cli-io.js';
import type { CreateEnrollmentTokenBody, EnrollmentToken, IssuedEnrollmentToken } from '../http-api/contract/index.js';

const enc = encodeURIComponent;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function addEnrollCommands(program: Command): void {
  const enroll = program.command('enroll').description('enrollment tokens that devices register with');

  enroll.command('create').description('create an enrollment token; it is printed once, now')
    .option('--uses <n>', 'how many devices may register with it (default 1)', wholeNumber('--uses'))
    .option('--expires <duration>', 'how long it is valid: 3600s, 90m, 24h, 7d (default 24h)', durationSeconds('--expires'))
    .option('--unit-id <mac>', 'only the device with this unit id (MAC address) may use it')
    .option('--pin-current', 'hand the token out with the fingerprints of the active certificates: the device accepts only a server that presents one of them at its first contact')
    .option('--json', 'print JSON (with `token`, and `expectedFingerprints`): also a token file for `certfleet agent --token-file`')
    .action(async (opts: { uses?: number; expires?: number; unitId?: string; pinCurrent?: boolean; json?: boolean }) => {
      const created = await client().json<IssuedEnrollmentToken>('POST', '/api/v1/enrollment-tokens', {
        ...(opts.uses !== undefined ? { uses: opts.uses } : {}),
        ...(opts.expires !== undefined ? { expiresIn: opts.expires } : {}),
        ...(opts.unitId !== undefined ? { unitId: opts.unitId } : {}),
        ...(opts.pinCurrent ? { pinCurrent: true } : {}),
      } satisfies CreateEnrollmentTokenBody);
      if (opts.json) {
        printJson(created);
        return;
      }
      say(
        `Created enrollment token ${created.id}: ${plural(created.usesAllowed, 'use')}, valid until ${created.expiresAt}, ` +
          `${created.unitId ? `only for unit ${created.unitId}` : 'for any unit'}.\n` +
          'The token is shown only now and cannot be shown again; store it where your devices get it:\n\n' +
          `${created.token}\n` +
          (created.expectedFingerprints.length > 0
            ? '\nAt its first contact the device must accept only a server that presents one of these certificates (SHA-256):\n\n' +
              created.expectedFingerprints.map((f) => `${f}\n`).join('') +
              '\nGive them to it with --expect-fingerprint, or hand it the output of `--json` as its --token-file.\n'
            : ''),
      );
    });

  enroll.command('list').description('enrollment tokens and their state (never the tokens themselves)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const list = await client().json<EnrollmentToken[]>('GET', '/api/v1/enrollment-tokens');
      if (opts.json) printJson(list);
      else say(table(['ID', 'STATE', 'USES LEFT', 'EXPIRES', 'UNIT ID', 'CREATED BY'], list.map((t) => [
        t.id, t.state, `${t.usesLeft}/${t.usesAllowed}`, t.expiresAt, t.unitId ?? 'any', t.createdBy,
      ])));
    });

  enroll.command('revoke').argument('<id>').description('revoke an enrollment token; registered devices keep working')
    .action(async (id: string) => {
      await client().call('DELETE', `/api/v1/enrollment-tokens/${enc(id)}`);
      say(`Revoked enrollment token ${id}.\n`);
    });
}
