/** The keystore over HTTP (SPEC K1–K10): list, show, generate, import, delete, reorder, export, devices. */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  deleteCertificate,
  devicesOfCertificate,
  exportCertificate,
  exportKeyPair,
  generateCertificate,
  getCertificate,
  importCertificate,
  listCertificates,
  Reorder,
  reorderCertificate,
  setCertificateActive,
  showCertificateContent,
  type GenerateRequest,
  type ImportRequest,
} from '../../app/certificates.js';
import type { Actor, AppContext } from '../../app/context.js';
import type { StoredCertificate } from '../../app/records.js';
import { GENERATION_ALGORITHMS, RSA_GENERATION_KEY_SIZES } from '../../domain/algorithms.js';
import { MAX_KEYSTORE_FILE_BYTES } from '../../domain/certificate.js';
import { ErrorCode } from '../../domain/errors.js';
import { Permission } from '../../domain/roles.js';
import { formatCertificateContent, toPem } from '../../crypto/index.js';
import { actorOf } from './auth.js';
import {
  AliasParamsSchema,
  ArrayOf,
  CertificateContentSchema,
  CertificateSummarySchema,
  ImportedCertificateSchema,
  ContentQuerySchema,
  DEVICE_PAGE_DEFAULTS,
  DevicePageQuerySchema,
  DevicePageSchema,
  ExportKeyPairBodySchema,
  ExportQuerySchema,
  GenerateCertificateBodySchema,
  ImportCertificateBodySchema,
  NoContent,
  Ref,
} from './contract/index.js';
import { fileAnswer as file, spec } from './operation.js';
import { API_PREFIX } from './paths.js';
import { presentCertificate, presentCertificateContent, presentCertificates, presentDevicePage, type ExpiryView } from './presenters.js';
import { readSettings } from '../../app/settings.js';

/** Every refusal of an import (K6 and its limits), as the OpenAPI document lists them. */
export const IMPORT_ERRORS = [
  ErrorCode.invalid_alias,
  ErrorCode.file_too_large,
  ErrorCode.file_unreadable,
  ErrorCode.wrong_password,
  ErrorCode.entry_required,
  ErrorCode.entry_not_found,
  ErrorCode.no_private_key,
  ErrorCode.chain_not_supported,
  ErrorCode.algorithm_not_allowed,
  ErrorCode.certificate_expired,
  ErrorCode.certificate_not_yet_valid,
  ErrorCode.key_too_short,
  ErrorCode.key_type_not_supported,
  ErrorCode.key_mismatch,
  ErrorCode.duplicate_certificate,
  ErrorCode.alias_taken,
  ErrorCode.encryption_not_supported,
  ErrorCode.key_derivation_too_costly,
  ErrorCode.too_many_certificates,
  ErrorCode.too_many_encrypted_parts,
  ErrorCode.import_timed_out,
  ErrorCode.import_busy,
] as const satisfies readonly ErrorCode[];

/**
 * The import body carries the keystore file in base64 (4/3 of its size) plus a little JSON. This
 * lets a file somewhat over the 1 MiB limit of K6 reach the use case, which refuses it with its own
 * message (`file_too_large`); anything larger is cut off by Fastify (`payload_too_large`).
 */
export const IMPORT_BODY_LIMIT = 2 * 1024 * 1024;

const BASE = `${API_PREFIX}/certificates`;
const TAGS = ['certificates'];

const summary = Ref(CertificateSummarySchema, 'The entry.');
const wholeList = ArrayOf(CertificateSummarySchema, 'The whole keystore in priority order, after the change.');


/** K3 and K4 share one shape: act on the entry, answer with the whole new list. */
const LIST_CHANGES = [
  {
    path: 'move-up',
    operationId: 'moveCertificateUp',
    summary: 'Swap the entry with the one above it; at the top it becomes the default',
    auditAction: 'certificate.move-up',
    errors: [ErrorCode.certificate_not_found, ErrorCode.already_at_top, ErrorCode.default_must_be_active],
    run: (ctx: AppContext, actor: Actor, alias: string) => reorderCertificate(ctx, actor, alias, Reorder.up),
  },
  {
    path: 'move-down',
    operationId: 'moveCertificateDown',
    summary: 'Swap the entry with the one below it',
    auditAction: 'certificate.move-down',
    errors: [ErrorCode.certificate_not_found, ErrorCode.already_at_bottom, ErrorCode.default_must_be_active],
    run: (ctx: AppContext, actor: Actor, alias: string) => reorderCertificate(ctx, actor, alias, Reorder.down),
  },
  {
    path: 'make-default',
    operationId: 'makeCertificateDefault',
    summary: 'Move the entry to the top: it becomes the default on every node, and rotation starts at once',
    auditAction: 'certificate.make-default',
    errors: [ErrorCode.certificate_not_found, ErrorCode.default_must_be_active],
    run: (ctx: AppContext, actor: Actor, alias: string) => reorderCertificate(ctx, actor, alias, Reorder.makeDefault),
  },
  {
    path: 'activate',
    operationId: 'activateCertificate',
    summary: 'Let the entry be chosen for new registrations again',
    auditAction: 'certificate.activate',
    errors: [ErrorCode.certificate_not_found],
    run: (ctx: AppContext, actor: Actor, alias: string) => setCertificateActive(ctx, actor, alias, true),
  },
  {
    path: 'deactivate',
    operationId: 'deactivateCertificate',
    summary: 'Never choose the entry for a new registration; devices that use it keep it',
    auditAction: 'certificate.deactivate',
    errors: [ErrorCode.certificate_not_found, ErrorCode.last_active_certificate, ErrorCode.cannot_deactivate_default],
    run: (ctx: AppContext, actor: Actor, alias: string) => setCertificateActive(ctx, actor, alias, false),
  },
] as const;

function withFilename(reply: FastifyReply, contentType: string, filename: string): FastifyReply {
  // Aliases are [A-Za-z0-9._-]; the replacement only guards the header against anything else.
  const safe = filename.replace(/[^A-Za-z0-9._-]/g, '_');
  return reply.header('content-type', contentType).header('content-disposition', `attachment; filename="${safe}"`);
}

export function registerCertificateRoutes(server: FastifyInstance, ctx: AppContext): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  const expiryView = async (): Promise<ExpiryView> => ({ now: ctx.clock.now(), windowDays: (await readSettings(ctx.store.meta)).expiryWarningDays });
  const present = async (c: StoredCertificate) => presentCertificate(c, await expiryView());
  const presentAll = async (list: readonly StoredCertificate[]) => presentCertificates(list, await expiryView());

  app.get(BASE, {
    ...spec({
      operationId: 'listCertificates',
      summary: 'The keystore in priority order (position 1, the default, first)',
      tags: TAGS,
      access: Permission.read,
      responses: { 200: ArrayOf(CertificateSummarySchema, 'The keystore in priority order.') },
    }),
    handler: async (request) => presentAll(await listCertificates(ctx, actorOf(request))),
  });

  app.post(BASE, {
    ...spec({
      operationId: 'generateCertificate',
      summary: 'Generate a key pair and a self-signed certificate; the entry is added at the bottom, active',
      description:
        `Signature algorithms: ${Object.keys(GENERATION_ALGORITHMS).join(', ')} (default SHA512withRSA). ` +
        `RSA key sizes: ${RSA_GENERATION_KEY_SIZES.join(', ')} (default 4096); ECDSA uses P-256 or P-384 by algorithm. ` +
        'Common name defaults to the host name; validity to 3650 days.',
      tags: TAGS,
      access: Permission.manageCertificates,
      auditAction: 'certificate.generate',
      errors: [
        ErrorCode.invalid_alias,
        ErrorCode.unsupported_generation_algorithm,
        ErrorCode.invalid_key_size,
        ErrorCode.invalid_validity,
        ErrorCode.alias_taken,
        ErrorCode.key_generation_busy,
      ],
      body: GenerateCertificateBodySchema,
      responses: { 201: summary },
    }),
    handler: async (request, reply) => {
      const b = request.body;
      const req: GenerateRequest = {
        alias: b.alias,
        ...(b.commonName !== undefined ? { commonName: b.commonName } : {}),
        ...(b.signatureAlgorithm !== undefined ? { signatureAlgorithm: b.signatureAlgorithm } : {}),
        ...(b.keySize !== undefined ? { keySize: b.keySize } : {}),
        ...(b.days !== undefined ? { days: b.days } : {}),
      };
      return reply.code(201).send(await present(await generateCertificate(ctx, actorOf(request), req)));
    },
  });

  app.post(`${BASE}/import`, {
    ...spec({
      operationId: 'importCertificate',
      summary: 'Import a key entry from a PKCS#12, JKS or PEM keystore file',
      description:
        `\`file\` is the keystore file in base64 (at most ${MAX_KEYSTORE_FILE_BYTES} bytes once decoded). ` +
        'Name the entry when the file holds several; give keyPassword when a JKS key password differs from the store password. ' +
        'A file without a password takes `"password": ""`, tried as PKCS#12 readers try it (two zero bytes, then no bytes, as Windows writes it). ' +
        'The answer says what checked the file\'s integrity (`integrityCheck`: `mac`, `keystore_digest`, or `none`). ' +
        'Nothing is written unless every check of K6 passes.',
      tags: TAGS,
      access: Permission.manageCertificates,
      auditAction: 'certificate.import',
      bodyLimit: IMPORT_BODY_LIMIT,
      errors: [...IMPORT_ERRORS],
      body: ImportCertificateBodySchema,
      responses: { 201: ImportedCertificateSchema },
    }),
    handler: async (request, reply) => {
      const b = request.body;
      // the client going away (the connection closed before the answer) stops the read in its worker
      const gone = new AbortController();
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) gone.abort();
      });
      const req: ImportRequest = {
        alias: b.alias,
        file: Buffer.from(b.file, 'base64'),
        password: b.password,
        ...(b.keyPassword !== undefined ? { keyPassword: b.keyPassword } : {}),
        ...(b.entry !== undefined ? { entry: b.entry } : {}),
        signal: gone.signal,
      };
      const imported = await importCertificate(ctx, actorOf(request), req);
      return reply.code(201).send({ ...(await present(imported.stored)), integrityCheck: imported.integrityCheck });
    },
  });

  app.get(`${BASE}/:alias`, {
    ...spec({
      operationId: 'getCertificate',
      summary: 'One keystore entry',
      tags: TAGS,
      access: Permission.read,
      errors: [ErrorCode.certificate_not_found],
      params: AliasParamsSchema,
      responses: { 200: summary },
    }),
    handler: async (request) => present(await getCertificate(ctx, actorOf(request), request.params.alias)),
  });

  app.delete(`${BASE}/:alias`, {
    ...spec({
      operationId: 'deleteCertificate',
      summary: 'Delete an entry that no device uses',
      description: 'Refused while any device pins it or has it as a pending replacement, and for the last active entry.',
      tags: TAGS,
      access: Permission.manageCertificates,
      auditAction: 'certificate.delete',
      errors: [
        ErrorCode.certificate_not_found,
        ErrorCode.certificate_in_use,
        ErrorCode.last_active_certificate,
        ErrorCode.default_must_be_active,
      ],
      params: AliasParamsSchema,
      responses: { 204: NoContent },
    }),
    handler: async (request, reply) => {
      await deleteCertificate(ctx, actorOf(request), request.params.alias);
      return reply.code(204).send();
    },
  });

  for (const change of LIST_CHANGES) {
    app.post(`${BASE}/:alias/${change.path}`, {
      ...spec({
        operationId: change.operationId,
        summary: change.summary,
        tags: TAGS,
        access: Permission.manageCertificates,
        auditAction: change.auditAction,
        errors: change.errors,
        params: AliasParamsSchema,
        responses: { 200: wholeList },
      }),
      handler: async (request) => presentAll(await change.run(ctx, actorOf(request), request.params.alias)),
    });
  }

  app.get(`${BASE}/:alias/content`, {
    ...spec({
      operationId: 'showCertificateContent',
      summary: 'Everything in the certificate, readable (K9): as JSON, or as text with ?format=text',
      tags: TAGS,
      access: Permission.read,
      errors: [ErrorCode.certificate_not_found],
      params: AliasParamsSchema,
      querystring: ContentQuerySchema,
      responses: {
        200: Type.Unsafe<unknown>({
          description: 'The certificate content.',
          content: {
            'application/json': { schema: Ref(CertificateContentSchema, 'The certificate content.') },
            'text/plain': { schema: Type.String() },
          },
        }),
      },
    }),
    handler: async (request, reply) => {
      const content = await showCertificateContent(ctx, actorOf(request), request.params.alias);
      if (request.query.format === 'text') {
        return reply.header('content-type', 'text/plain; charset=utf-8').send(formatCertificateContent(content));
      }
      return reply.header('content-type', 'application/json; charset=utf-8').send(presentCertificateContent(content));
    },
  });

  app.get(`${BASE}/:alias/export`, {
    ...spec({
      operationId: 'exportCertificate',
      summary: 'The certificate alone, as PEM (default) or DER',
      tags: TAGS,
      access: Permission.read,
      errors: [ErrorCode.certificate_not_found],
      params: AliasParamsSchema,
      querystring: ExportQuerySchema,
      responses: {
        200: file(
          { 'application/x-pem-file': Type.String(), 'application/pkix-cert': Type.String({ format: 'binary' }) },
          'The certificate, as an attachment named after the alias.',
        ),
      },
    }),
    handler: async (request, reply) => {
      const der = await exportCertificate(ctx, actorOf(request), request.params.alias);
      const alias = request.params.alias;
      if (request.query.format === 'der') return withFilename(reply, 'application/pkix-cert', `${alias}.cer`).send(der);
      return withFilename(reply, 'application/x-pem-file', `${alias}.pem`).send(toPem(der, 'CERTIFICATE'));
    },
  });

  app.post(`${BASE}/:alias/export-keypair`, {
    ...spec({
      operationId: 'exportKeyPair',
      summary: 'The certificate and its private key as a PKCS#12 file under the password given (K8)',
      description: 'openssl and Java keytool read the file. Every export is in the audit log.',
      tags: TAGS,
      access: Permission.exportKeyPair,
      auditAction: 'certificate.export-keypair',
      errors: [ErrorCode.certificate_not_found, ErrorCode.password_too_short],
      params: AliasParamsSchema,
      body: ExportKeyPairBodySchema,
      responses: { 200: file({ 'application/x-pkcs12': Type.String({ format: 'binary' }) }, 'The PKCS#12 file, as an attachment named after the alias.') },
    }),
    handler: async (request, reply) => {
      const p12 = await exportKeyPair(ctx, actorOf(request), request.params.alias, request.body.password);
      return withFilename(reply, 'application/x-pkcs12', `${request.params.alias}.p12`).send(p12);
    },
  });

  app.get(`${BASE}/:alias/devices`, {
    ...spec({
      operationId: 'devicesOfCertificate',
      summary: 'The devices that pin the entry or have it as a pending replacement (K10), paged and searchable',
      tags: TAGS,
      access: Permission.read,
      errors: [ErrorCode.certificate_not_found],
      params: AliasParamsSchema,
      querystring: DevicePageQuerySchema,
      responses: { 200: DevicePageSchema },
    }),
    handler: async (request) => {
      const q = request.query;
      const search = q.search?.trim();
      const page = await devicesOfCertificate(ctx, actorOf(request), request.params.alias, {
        offset: q.offset ?? DEVICE_PAGE_DEFAULTS.offset,
        limit: q.limit ?? DEVICE_PAGE_DEFAULTS.limit,
        ...(search ? { search } : {}),
      });
      return presentDevicePage(page);
    },
  });
}
