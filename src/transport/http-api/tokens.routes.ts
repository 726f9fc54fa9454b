/** Named API tokens of the calling account, for scripts and the CLI. */
import type { FastifyInstance } from 'fastify';
import { createApiToken, listApiTokens, MAX_API_TOKEN_DAYS, revokeApiToken } from '../../app/accounts.js';
import type { AppContext } from '../../app/context.js';
import { ErrorCode } from '../../domain/errors.js';
import { Permission } from '../../domain/roles.js';
import { actorOf } from './auth.js';
import { spec } from './operation.js';
import { API_PREFIX } from './paths.js';
import { presentIssuedToken, presentToken } from './presenters.js';
import { arrayOf, NO_CONTENT, TOKEN_ID } from './schemas.js';

const BASE = `${API_PREFIX}/tokens`;
const TAGS = ['tokens'];

export function registerTokenRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get(BASE, {
    ...spec({
      operationId: 'listTokens',
      summary: 'The tokens of the calling account (never the tokens themselves)',
      tags: TAGS,
      access: Permission.read,
      responses: { 200: arrayOf(TOKEN_ID, 'The tokens, log-ins included.') },
    }),
    handler: async (request) => (await listApiTokens(ctx, actorOf(request))).map(presentToken),
  });

  app.post<{ Body: { readonly name: string; readonly days: number } }>(BASE, {
    ...spec({
      operationId: 'createToken',
      summary: 'Create a named API token for the calling account; the token is shown in this answer only',
      tags: TAGS,
      access: Permission.read,
      auditAction: 'token.create',
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'days'],
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 64 },
          days: { type: 'integer', description: `1 to ${MAX_API_TOKEN_DAYS}.` },
        },
      },
      responses: {
        201: {
          type: 'object',
          description: 'The token; store it now, it cannot be shown again.',
          required: ['id', 'token', 'name', 'expiresAt'],
          properties: {
            id: { type: 'string' },
            token: { type: 'string' },
            name: { type: 'string' },
            expiresAt: { type: 'string', format: 'date-time' },
          },
        },
      },
    }),
    handler: async (request, reply) => {
      const issued = await createApiToken(ctx, actorOf(request), request.body.name, request.body.days);
      return reply.code(201).send(presentIssuedToken(issued));
    },
  });

  app.delete<{ Params: { readonly id: string } }>(`${BASE}/:id`, {
    ...spec({
      operationId: 'revokeToken',
      summary: 'Revoke one of the calling account\'s tokens',
      tags: TAGS,
      access: Permission.read,
      auditAction: 'token.revoke',
      errors: [ErrorCode.token_not_found],
      params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 64 } } },
      responses: { 204: NO_CONTENT },
    }),
    handler: async (request, reply) => {
      await revokeApiToken(ctx, actorOf(request), request.params.id);
      return reply.code(204).send();
    },
  });
}
