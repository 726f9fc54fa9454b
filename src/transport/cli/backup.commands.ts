/**
 * `certfleet backup create|inspect|restore|list` (SPEC B1, B2). create, restore and list go
 * through the server's API; inspect reads the file here and needs no server. Passphrases come
 * from stdin or a file, never the command line. A download is written to FILE.partial and renamed
 * when complete, so FILE is never a half-written backup.
 */
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { BACKUP_TABLES } from '../../domain/backup.js';
import { configuredClient as client } from './api-client.js';
import { UsageError } from './cli-errors.js';
import { printJson, readPassphrase, say, table, tell } from './cli-io.js';
import { ESTIMATE_HEADER, PASSPHRASE_HEADER } from '../http-api/contract/backup-headers.js';
import type { BackupList, CreateBackupBody, RestoreReportView } from '../http-api/contract/index.js';

interface PassphraseOptions {
  passphraseStdin?: boolean;
  passphraseFile?: string;
}

const MB = 1024 * 1024;

/** A progress bar on a terminal; elsewhere (logs, CI) one line at the end instead. */
function progress(label: string, total: number): { tick(n: number): void; stop(): void } {
  if (!process.stderr.isTTY) return { tick: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% | {done}/{all} MB | {duration_formatted}`, stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let done = 0;
  bar.start(total, 0, { done: '0.0', all: (total / MB).toFixed(1) });
  return {
    // An estimate can be short: the bar waits at its end until the real end.
    tick: (n) => {
      done += n;
      bar.setTotal(Math.max(total, done));
      bar.update(done, { done: (done / MB).toFixed(1), all: (Math.max(total, done) / MB).toFixed(1) });
    },
    stop: () => bar.stop(),
  };
}

function counting(onBytes: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      onBytes(chunk.length);
      cb(null, chunk);
    },
  });
}

function describeCounts(counts: Readonly<Record<string, number>>): string {
  // The tables of the backup's format version: its header counts exactly those.
  return BACKUP_TABLES.filter((t) => counts[t] !== undefined).map((t) => `${t} ${counts[t]}`).join(', ');
}

function certificateRows(list: readonly { alias: string; position: number; isDefault: boolean; active: boolean; sha256Fingerprint: string }[]): string[][] {
  return list.map((c) => [String(c.position), c.alias, c.isDefault ? 'default' : '', c.active ? 'active' : 'inactive', c.sha256Fingerprint]);
}

const CERT_HEADERS = ['#', 'ALIAS', '', 'STATE', 'SHA-256'];

function describeReport(r: RestoreReportView): string {
  const lines: string[] = [];
  lines.push(
    r.dryRun
      ? `Dry run: nothing was changed. The backup of ${r.backup.createdAt} (certfleet ${r.backup.serverVersion}, schema ${r.backup.schemaVersion}) would restore:`
      : `Restored the backup of ${r.backup.createdAt} (certfleet ${r.backup.serverVersion}, schema ${r.backup.schemaVersion}). Every node serves it now.`,
  );
  lines.push(`Rows: ${describeCounts(r.backup.counts)}`);
  lines.push('', 'Keystore after the restore:', table(CERT_HEADERS, certificateRows(r.certificates.restored)).trimEnd());
  if (r.certificates.onlyInBackup.length > 0) lines.push(`Only in the backup: ${r.certificates.onlyInBackup.map((c) => c.alias).join(', ')}`);
  if (r.certificates.onlyCurrent.length > 0) lines.push(`In use now, not in the backup: ${r.certificates.onlyCurrent.map((c) => c.alias).join(', ')}`);
  const rr = r.reRegistrationRequired;
  lines.push('');
  if (rr.count === 0) lines.push('No device has to register again.');
  else {
    lines.push(`${rr.count} device(s) ${r.dryRun ? 'would have' : 'have'} to register again with an enrollment token:`);
    lines.push(table(['NAME', 'UNIT ID', 'DEVICE', 'REASON'], rr.devices.map((d) => [d.name, d.unitId, d.id, d.reason])).trimEnd());
    if (rr.count > rr.devices.length) lines.push(`… and ${rr.count - rr.devices.length} more: certfleet device list --re-registration-required`);
  }
  return lines.join('\n') + '\n';
}

export function addBackupCommands(program: Command): void {
  const backup = program.command('backup').description('encrypted backups of the whole state, and restores that say which devices they strand');

  backup.command('create').description('write a backup of the whole state (admin): keystore with keys, devices, tokens, accounts, lifecycle, audit log')
    .requiredOption('--out <file>', 'where to write it (mode 0600)')
    .option('--passphrase-stdin', 'read the passphrase (12+ characters) from stdin')
    .option('--passphrase-file <file>', 'read the passphrase from a file')
    .action(async (opts: PassphraseOptions & { out: string }) => {
      const passphrase = await readPassphrase(opts, 'backup passphrase');
      const res: IncomingMessage = await client().stream('POST', '/api/v1/backups', { json: { passphrase } satisfies CreateBackupBody });
      const partial = `${opts.out}.partial`;
      const bar = progress('backup', Number(res.headers[ESTIMATE_HEADER] ?? 0) || 1);
      let bytes = 0;
      try {
        // A backup that failed half-way ends the stream early: an error here, not a short file.
        await pipeline(res, counting((n) => { bytes += n; bar.tick(n); }), createWriteStream(partial, { mode: 0o600 }));
        if (!res.complete) throw new Error('the server ended the backup before its end (see its log)');
        await rename(partial, opts.out);
      } catch (e) {
        await rm(partial, { force: true });
        throw new UsageError(`The backup failed: ${(e as Error).message}. Nothing was written to ${opts.out}.`);
      } finally {
        bar.stop();
      }
      tell(`Wrote the backup to ${opts.out} (${(bytes / MB).toFixed(1)} MB). Check it with \`certfleet backup inspect ${opts.out}\`.\n`);
    });

  backup.command('inspect').description('everything about a backup without restoring it; reads it all and checks its checksum and keys')
    .argument('<file>', 'the backup')
    .option('--passphrase-stdin', 'read the passphrase from stdin')
    .option('--passphrase-file <file>', 'read the passphrase from a file')
    .option('--json', 'print JSON ({formatVersion, createdAt, serverVersion, schemaVersion, counts, certificates})')
    .action(async (file: string, opts: PassphraseOptions & { json?: boolean }) => {
      const passphrase = await readPassphrase(opts, 'backup passphrase');
      const size = statSync(file).size;
      // Loaded here, not with the CLI: the backup reader and the migrations are most of a start-up's
      // modules, and only this command reads a backup without a server.
      const [{ inspectBackup }, { MIGRATION_NAMES }] = await Promise.all([import('../../app/backup.js'), import('../../storage/migrations/index.js')]);
      const bar = progress('inspect', size);
      let inspected;
      try {
        inspected = await inspectBackup(() => createReadStream(file).pipe(counting((n) => bar.tick(n))), passphrase, MIGRATION_NAMES);
      } finally {
        bar.stop();
      }
      const h = inspected.header;
      if (opts.json) {
        printJson({ formatVersion: h.formatVersion, createdAt: h.createdAt, serverVersion: h.serverVersion, schemaVersion: h.schemaVersion, counts: h.counts, certificates: h.certificates });
        return;
      }
      say(
        `certfleet backup, format ${h.formatVersion}, made ${h.createdAt} by certfleet ${h.serverVersion} (schema ${h.schemaVersion})\n` +
          `Checked: read to its end, checksum sha256:${inspected.end.sha256} matches, every private key belongs to its certificate.\n` +
          `Rows: ${describeCounts(h.counts)}\n\n` +
          table(CERT_HEADERS, certificateRows(h.certificates)),
      );
    });

  backup.command('restore').description('restore a backup (admin); reports first which devices would have to register again')
    .argument('<file>', 'the backup')
    .option('--passphrase-stdin', 'read the passphrase from stdin')
    .option('--passphrase-file <file>', 'read the passphrase from a file')
    .option('--dry-run', 'only report what the restore would do')
    .option('--keep-current-certificates', 'keep the certificates in use now (below the restored ones, active): devices the backup knows keep talking')
    .option('--json', 'print the report as JSON ({certificates, reRegistrationRequired, …})')
    .action(async (file: string, opts: PassphraseOptions & { dryRun?: boolean; keepCurrentCertificates?: boolean; json?: boolean }) => {
      const passphrase = await readPassphrase(opts, 'backup passphrase');
      let length: number;
      try {
        length = statSync(file).size;
      } catch (e) {
        throw new UsageError(`Cannot read the backup ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      const query = new URLSearchParams({ dryRun: String(opts.dryRun ?? false), keepCurrentCertificates: String(opts.keepCurrentCertificates ?? false) });
      const bar = progress('upload', length);
      let res: IncomingMessage;
      try {
        res = await client().stream('POST', `/api/v1/backups/restore?${query}`, {
          headers: { [PASSPHRASE_HEADER]: passphrase },
          upload: { body: createReadStream(file).pipe(counting((n) => bar.tick(n))), length },
        });
      } finally {
        bar.stop();
      }
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer); // a response yields Buffers
      const report = JSON.parse(Buffer.concat(chunks).toString('utf8')) as RestoreReportView; // the API's documented answer
      if (opts.json) printJson(report);
      else say(describeReport(report));
    });

  backup.command('list').description('the backups the servers wrote (scheduled and asked for), newest first')
    .option('--json', 'print JSON ({runs: [...]})')
    .action(async (opts: { json?: boolean }) => {
      const list = await client().json<BackupList>('GET', '/api/v1/backups');
      if (opts.json) {
        printJson(list);
        return;
      }
      if (list.runs.length === 0) {
        say('No backup has been written yet. Schedule them with `certfleet serve --backup-dir DIR --backup-passphrase-file F`.\n');
        return;
      }
      say(
        table(
          ['FINISHED', 'TRIGGER', 'RESULT', 'SIZE', 'FILE / ERROR'],
          list.runs.map((r) => [
            r.finishedAt,
            r.trigger,
            r.result,
            r.sizeBytes === null ? '' : `${(r.sizeBytes / MB).toFixed(1)} MB`,
            r.result === 'ok' ? (r.file ?? '(downloaded)') : (r.error ?? ''),
          ]),
        ),
      );
    });
}
