/** Enrollment tokens (R5): what a device needs to register. The token text is shown once, at creation. */
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../app/context.js';
import { createEnrollmentToken, listEnrollmentTokens, revokeEnrollmentToken } from '../../app/enrollment.js';
import { ErrorCode } from '../../domain/errors.js';
import { Permission } from '../../domain/roles.js';
import { actorOf } from './auth.js';
import { spec } from './operation.js';
import { API_PREFIX } from './paths.js';
import { presentEnrollmentToken, presentIssuedEnrollmentToken } from './presenters.js';
import { arrayOf, ENROLLMENT_TOKEN_ID, EnrollmentTokenSchema, NO_CONTENT } from './schemas.js';

const BASE = `${API_PREFIX}/enrollment-tokens`;
const TAGS = ['enrollment'];

interface CreateBody {
  readonly uses?: number;
  readonly expiresIn?: number;
  readonly unitId?: string;
}

/** The listed fields, with the token itself right after the id. */
const { id: idProperty, ...listedProperties } = EnrollmentTokenSchema.properties;

export function registerEnrollmentRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.post<{ Body: CreateBody | undefined }>(BASE, {
    ...spec({
      operationId: 'createEnrollmentToken',
      summary: 'Create an enrollment token; the token is shown in this answer only',
      description:
        'Devices register with it on the device channel. `uses`: how many devices may register with it (default 1). ' +
        '`expiresIn`: seconds until it expires (default 86400, one day). `unitId`: only the device with this MAC address may use it. ' +
        'Only a hash of the token is stored. The body may be left out: every field has its default.',
      tags: TAGS,
      access: Permission.manageCertificates,
      auditAction: 'enrollment.create',
      body: {
        type: 'object',
        additionalProperties: false,
        properties: {
          uses: { type: 'integer', description: '1 to 100000; default 1.' },
          expiresIn: { type: 'integer', description: 'Seconds; default 86400.' },
          unitId: { type: 'string', maxLength: 64, description: 'A MAC address, e.g. 00:11:22:33:44:55.' },
        },
      },
      responses: {
        201: {
          type: 'object',
          description: 'The new token; store it now, it cannot be shown again.',
          required: ['id', 'token', ...EnrollmentTokenSchema.required.filter((k) => k !== 'id')],
          properties: { id: idProperty, token: { type: 'string', description: '`cfe_…`' }, ...listedProperties },
        },
      },
    }),
    // No body at all (`curl -X POST`) asks for every default, as `{}` does.
    preValidation: async (request) => {
      if (request.body === undefined) request.body = {};
    },
    handler: async (request, reply) => {
      const b = request.body ?? {};
      const issued = await createEnrollmentToken(ctx, actorOf(request), {
        ...(b.uses !== undefined ? { uses: b.uses } : {}),
        ...(b.expiresIn !== undefined ? { expiresInSeconds: b.expiresIn } : {}),
        ...(b.unitId !== undefined ? { unitId: b.unitId } : {}),
      });
      return reply.code(201).send(presentIssuedEnrollmentToken(issued));
    },
  });

  app.get(BASE, {
    ...spec({
      operationId: 'listEnrollmentTokens',
      summary: 'All enrollment tokens with their state (never the tokens themselves)',
      tags: TAGS,
      access: Permission.read,
      responses: { 200: arrayOf(ENROLLMENT_TOKEN_ID, 'The enrollment tokens.') },
    }),
    handler: async (request) => (await listEnrollmentTokens(ctx, actorOf(request))).map(presentEnrollmentToken),
  });

  app.delete<{ Params: { readonly id: string } }>(`${BASE}/:id`, {
    ...spec({
      operationId: 'revokeEnrollmentToken',
      summary: 'Revoke an enrollment token: no device can register with it any more',
      description: 'Devices that registered with it already are not affected.',
      tags: TAGS,
      access: Permission.manageCertificates,
      auditAction: 'enrollment.revoke',
      errors: [ErrorCode.enrollment_token_not_found],
      params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 64 } } },
      responses: { 204: NO_CONTENT },
    }),
    handler: async (request, reply) => {
      await revokeEnrollmentToken(ctx, actorOf(request), request.params.id);
      return reply.code(204).send();
    },
  });
}
