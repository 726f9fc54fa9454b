/** Enrollment tokens (R5): what a device needs to register. The token text is shown once, at creation. */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AppContext } from '../../app/context.js';
import { createEnrollmentToken, listEnrollmentTokens, revokeEnrollmentToken } from '../../app/enrollment.js';
import { ErrorCode } from '../../domain/errors.js';
import { Permission } from '../../domain/roles.js';
import { actorOf } from './auth.js';
import { spec } from './operation.js';
import { API_PREFIX } from './paths.js';
import {
  ArrayOf,
  CreateEnrollmentTokenBodySchema,
  EnrollmentTokenSchema,
  IssuedEnrollmentTokenSchema,
  NoContent,
  TokenIdParamsSchema,
} from './contract/index.js';
import { presentEnrollmentToken, presentIssuedEnrollmentToken } from './presenters.js';

const BASE = `${API_PREFIX}/enrollment-tokens`;
const TAGS = ['enrollment'];

export function registerEnrollmentRoutes(server: FastifyInstance, ctx: AppContext): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  app.post(BASE, {
    ...spec({
      operationId: 'createEnrollmentToken',
      summary: 'Create an enrollment token; the token is shown in this answer only',
      description:
        'Devices register with it on the device channel. `uses`: how many devices may register with it (default 1). ' +
        '`expiresIn`: seconds until it expires (default 86400, one day). `unitId`: only the device with this MAC address may use it. ' +
        '`pinCurrent`: the answer carries the fingerprints the device must accept at its first contact (L3); give them to the device with the token. ' +
        'Only a hash of the token is stored. The body may be left out: every field has its default.',
      tags: TAGS,
      access: Permission.manageCertificates,
      auditAction: 'enrollment.create',
      body: CreateEnrollmentTokenBodySchema,
      responses: { 201: IssuedEnrollmentTokenSchema },
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
        ...(b.pinCurrent !== undefined ? { pinCurrent: b.pinCurrent } : {}),
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
      responses: { 200: ArrayOf(EnrollmentTokenSchema, 'The enrollment tokens.') },
    }),
    handler: async (request) => (await listEnrollmentTokens(ctx, actorOf(request))).map(presentEnrollmentToken),
  });

  app.delete(`${BASE}/:id`, {
    ...spec({
      operationId: 'revokeEnrollmentToken',
      summary: 'Revoke an enrollment token: no device can register with it any more',
      description: 'Devices that registered with it already are not affected.',
      tags: TAGS,
      access: Permission.manageCertificates,
      auditAction: 'enrollment.revoke',
      errors: [ErrorCode.enrollment_token_not_found],
      params: TokenIdParamsSchema,
      responses: { 204: NoContent },
    }),
    handler: async (request, reply) => {
      await revokeEnrollmentToken(ctx, actorOf(request), request.params.id);
      return reply.code(204).send();
    },
  });
}
