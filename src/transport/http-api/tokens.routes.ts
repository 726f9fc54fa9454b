/** Named API tokens of the calling account, for scripts and the CLI. */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { createApiToken, listApiTokens, MAX_API_TOKEN_DAYS, revokeApiToken } from '../../app/accounts.js';
import type { AppContext } from '../../app/context.js';
import { ErrorCode } from '../../domain/errors.js';
import { Permission } from '../../domain/roles.js';
import { actorOf } from './auth.js';
import { spec } from './operation.js';
import { API_PREFIX } from './paths.js';
import { ApiTokenSchema, ArrayOf, createApiTokenBodySchema, IssuedApiTokenSchema, NoContent, TokenIdParamsSchema } from './contract/index.js';
import { presentIssuedToken, presentToken } from './presenters.js';

const BASE = `${API_PREFIX}/tokens`;
const TAGS = ['tokens'];

export function registerTokenRoutes(server: FastifyInstance, ctx: AppContext): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  app.get(BASE, {
    ...spec({
      operationId: 'listTokens',
      summary: 'The tokens of the calling account (never the tokens themselves)',
      tags: TAGS,
      access: Permission.read,
      responses: { 200: ArrayOf(ApiTokenSchema, 'The tokens, log-ins included.') },
    }),
    handler: async (request) => (await listApiTokens(ctx, actorOf(request))).map(presentToken),
  });

  app.post(BASE, {
    ...spec({
      operationId: 'createToken',
      summary: 'Create a named API token for the calling account; the token is shown in this answer only',
      tags: TAGS,
      access: Permission.read,
      auditAction: 'token.create',
      body: createApiTokenBodySchema(MAX_API_TOKEN_DAYS),
      responses: { 201: IssuedApiTokenSchema },
    }),
    handler: async (request, reply) => {
      const issued = await createApiToken(ctx, actorOf(request), request.body.name, request.body.days);
      return reply.code(201).send(presentIssuedToken(issued));
    },
  });

  app.delete(`${BASE}/:id`, {
    ...spec({
      operationId: 'revokeToken',
      summary: 'Revoke one of the calling account\'s tokens',
      tags: TAGS,
      access: Permission.read,
      auditAction: 'token.revoke',
      errors: [ErrorCode.token_not_found],
      params: TokenIdParamsSchema,
      responses: { 204: NoContent },
    }),
    handler: async (request, reply) => {
      await revokeApiToken(ctx, actorOf(request), request.params.id);
      return reply.code(204).send();
    },
  });
}
