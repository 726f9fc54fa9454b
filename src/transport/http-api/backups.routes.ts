/**
 * Backups (SPEC B1, B2) over the API: a backup streams out as it is written; an uploaded backup is
 * kept in this node's data directory (it is encrypted) while the restore reads it twice, and
 * removed afterwards. One backup or restore runs at a time per node.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { createBackup, estimateBackupBytes, listBackupRuns, refuseConcurrentBackup, restoreBackup } from '../../app/backup.js';
import { authorize, type AppContext } from '../../app/context.js';
import { CertfleetError, ErrorCode } from '../../domain/errors.js';
import { Permission } from '../../domain/roles.js';
import { MIGRATION_NAMES } from '../../storage/migrations/index.js';
import { actorOf } from './auth.js';
import { BackupListSchema, CreateBackupBodySchema, ESTIMATE_HEADER, PASSPHRASE_HEADER, RestoreQuerySchema, RestoreReportSchema } from './contract/index.js';
import { fileAnswer, spec } from './operation.js';
import { API_PREFIX } from './paths.js';
import { presentBackupRun, presentRestoreReport } from './presenters.js';

const BASE = `${API_PREFIX}/backups`;
const TAGS = ['backups'];

export interface BackupRouteOptions {
  /** Uploaded backups wait here (encrypted) while they are restored. */
  readonly dataDir: string;
  readonly serverVersion: string;
  readonly nodeId: string | null;
  /** Largest upload a restore accepts, in bytes. */
  readonly maxRestoreBytes: number;
  /** The passphrase's scrypt work factor (2^n); the default is age's. */
  readonly scryptLogN?: number;
}

function tooLarge(max: number): CertfleetError {
  return new CertfleetError(ErrorCode.payload_too_large, `A backup upload may have at most ${max} bytes (serve --max-restore-size).`, { limit: max });
}

/** Writes the upload to `path`, refusing it past `max` bytes. */
async function spool(body: Readable, path: string, max: number): Promise<void> {
  let seen = 0;
  await pipeline(
    body,
    async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        seen += chunk.length;
        if (seen > max) throw tooLarge(max);
        yield chunk;
      }
    },
    createWriteStream(path, { mode: 0o600, flags: 'wx' }),
  );
}

export function registerBackupRoutes(server: FastifyInstance, ctx: AppContext, opts: BackupRouteOptions): void {
  let busy = false;
  /** Takes this node's one backup-or-restore slot; the function returned gives it back. */
  const takeSlot = (): (() => void) => {
    if (busy) throw refuseConcurrentBackup();
    busy = true;
    return () => {
      busy = false;
    };
  };

  void server.register(async (scope) => {
    // Only here: the restore reads its body as a stream (application/octet-stream).
    scope.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));
    const app = scope.withTypeProvider<TypeBoxTypeProvider>();

    app.post(BASE, {
      ...spec({
        operationId: 'createBackup',
        summary: 'A backup of the whole state, streamed as it is written: an age file encrypted under the passphrase (B1)',
        description:
          'Certificates with their private keys, devices, enrollment tokens, the compatibility table, accounts and the audit log. ' +
          '`age -d` opens it; `gunzip` then shows JSON lines. The answer names an estimate of its size in ' + ESTIMATE_HEADER + '.',
        tags: TAGS,
        access: Permission.backup,
        auditAction: 'backup.create',
        errors: [ErrorCode.backup_passphrase_invalid, ErrorCode.backup_in_progress],
        body: CreateBackupBodySchema,
        responses: { 200: fileAnswer({ 'application/octet-stream': Type.String({ format: 'binary' }) }, 'The backup file, as an attachment.') },
      }),
      handler: async (request, reply) => {
        const actor = actorOf(request);
        authorize(actor, Permission.backup); // before the first byte: afterwards only an aborted stream can say no
        const release = takeSlot();
        // The answer ends only once the backup is recorded (audit, backup list), not when its last
        // byte is written: a client that lists the backups right after the download finds it.
        const out = new PassThrough();
        const body = new PassThrough();
        out.pipe(body, { end: false });
        const drained = once(out, 'end');
        // A client that goes away stops the backup (its snapshot and the node's one slot are freed).
        let complete = false;
        body.once('close', () => {
          if (!complete) out.destroy(new Error('the client closed the connection before the backup was complete'));
        });
        try {
          reply
            .header('content-type', 'application/octet-stream')
            .header('content-disposition', `attachment; filename="certfleet-${ctx.clock.now().toISOString().replace(/[:.]/g, '-')}.cfbak"`)
            .header(ESTIMATE_HEADER, String(await estimateBackupBytes(ctx)));
        } catch (e) {
          release();
          throw e;
        }
        Promise.all([createBackup(ctx, actor, out, {
          passphrase: request.body.passphrase,
          serverVersion: opts.serverVersion,
          schemaVersion: MIGRATION_NAMES.at(-1) ?? '',
          ...(opts.scryptLogN !== undefined ? { scryptLogN: opts.scryptLogN } : {}),
          trigger: 'manual',
          nodeId: opts.nodeId,
          file: null,
        }), drained])
          .then(
            () => {
              complete = true;
              body.end();
            },
            (e: unknown) => {
              request.log.error({ err: e }, 'backup failed; the download was cut off');
              body.destroy(e instanceof Error ? e : new Error(String(e)));
            },
          )
          .finally(release);
        return reply.send(body);
      },
    });

    app.post(`${BASE}/restore`, {
      ...spec({
        operationId: 'restoreBackup',
        summary: 'Restores a backup (B2): the body is the file (application/octet-stream), the passphrase in ' + PASSPHRASE_HEADER,
        description:
          'The whole file is checked first (passphrase, format, checksum, every key); a bad file changes nothing. Then one transaction ' +
          'replaces the state, keeps the history since the backup, and marks the devices that must register again. ' +
          'With dryRun=true only the report is made. Every node serves the restored keystore without a restart.',
        tags: TAGS,
        access: Permission.backup,
        auditAction: 'backup.restore',
        errors: [
          ErrorCode.backup_wrong_passphrase,
          ErrorCode.backup_not_a_backup,
          ErrorCode.backup_corrupt,
          ErrorCode.backup_format_too_new,
          ErrorCode.backup_schema_too_new,
          ErrorCode.backup_in_progress,
          ErrorCode.payload_too_large,
        ],
        querystring: RestoreQuerySchema,
        responses: { 200: RestoreReportSchema },
      }),
      handler: async (request) => {
        const actor = actorOf(request);
        authorize(actor, Permission.backup); // before the upload is read
        const passphrase = request.headers[PASSPHRASE_HEADER];
        if (typeof passphrase !== 'string' || passphrase.length === 0 || passphrase.length > 1024) {
          throw new CertfleetError(ErrorCode.invalid_request, `Send the backup's passphrase in the ${PASSPHRASE_HEADER} header.`, { field: PASSPHRASE_HEADER });
        }
        const body = request.body as Readable | undefined; // the octet-stream parser above hands the stream on
        if (body === undefined || typeof (body as { pipe?: unknown }).pipe !== 'function') {
          throw new CertfleetError(ErrorCode.invalid_request, 'Send the backup file as the body, with Content-Type: application/octet-stream.', { field: 'body' });
        }
        const release = takeSlot();
        const path = join(opts.dataDir, `restore-${randomUUID()}.cfbak.tmp`);
        try {
          await spool(body, path, opts.maxRestoreBytes);
          const report = await restoreBackup(ctx, actor, () => createReadStream(path), {
            passphrase,
            dryRun: request.query.dryRun ?? false,
            keepCurrentCertificates: request.query.keepCurrentCertificates ?? false,
            knownMigrations: MIGRATION_NAMES,
            file: null,
            onApplying: () => request.log.info({ dryRun: request.query.dryRun ?? false }, 'restore: the backup checked out; applying it in one transaction'),
          });
          request.log.info({ dryRun: report.dryRun, reRegistrationRequired: report.reRegistrationRequired.reRegistrationRequired }, 'restore: done');
          return presentRestoreReport(report);
        } finally {
          await unlink(path).catch(() => undefined); // absent when the upload failed before the file was made
          release();
        }
      },
    });

    app.get(BASE, {
      ...spec({
        operationId: 'listBackups',
        summary: 'The backups the servers wrote, newest first (scheduled and asked for)',
        tags: TAGS,
        access: Permission.read,
        responses: { 200: BackupListSchema },
      }),
      handler: async (request) => ({ runs: (await listBackupRuns(ctx, actorOf(request), 50)).map(presentBackupRun) }),
    });
  });
}
