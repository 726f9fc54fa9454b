/** Log-in, log-out and "who am I" (SPEC section 5, "Accounts"). */
import type { FastifyInstance } from 'fastify';
import { login, logout } from '../../app/accounts.js';
import type { AppContext } from '../../app/context.js';
import { ErrorCode } from '../../domain/errors.js';
import { ROLES } from '../../domain/roles.js';
import { actorOf } from './auth.js';
import { Access, spec } from './operation.js';
import { presentLogin, presentMe } from './presenters.js';
import { NO_CONTENT, PERMISSIONS } from './schemas.js';
import { API_PREFIX } from './paths.js';

interface LoginBody {
  readonly username: string;
  readonly password: string;
}

export function registerAuthRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.post<{ Body: LoginBody }>(`${API_PREFIX}/auth/login`, {
    ...spec({
      operationId: 'login',
      summary: 'Log in with user name and password; returns a token for "Authorization: Bearer"',
      description: 'The token lasts 7 days; log out to revoke it earlier. Failed attempts are in the audit log.',
      tags: ['auth'],
      access: Access.public,
      auditAction: 'auth.login',
      errors: [ErrorCode.invalid_credentials],
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['username', 'password'],
        properties: {
          username: { type: 'string', minLength: 1, maxLength: 64 },
          password: { type: 'string', minLength: 1, maxLength: 1024 },
        },
      },
      responses: {
        200: {
          type: 'object',
          description: 'Logged in.',
          required: ['token', 'expiresAt', 'user'],
          properties: {
            token: { type: 'string' },
            expiresAt: { type: 'string', format: 'date-time' },
            user: {
              type: 'object',
              required: ['username', 'role'],
              properties: { username: { type: 'string' }, role: { type: 'string', enum: ROLES } },
            },
          },
        },
      },
    }),
    handler: async (request) => presentLogin(await login(ctx, request.body.username, request.body.password)),
  });

  app.post(`${API_PREFIX}/auth/logout`, {
    ...spec({
      operationId: 'logout',
      summary: 'Revoke the token this call is made with',
      tags: ['auth'],
      access: Access.authenticated,
      responses: { 204: NO_CONTENT },
    }),
    handler: async (request, reply) => {
      await logout(ctx, actorOf(request));
      return reply.code(204).send();
    },
  });

  app.get(`${API_PREFIX}/auth/me`, {
    ...spec({
      operationId: 'me',
      summary: 'The calling account, its role and what that role may do',
      tags: ['auth'],
      access: Access.authenticated,
      responses: {
        200: {
          type: 'object',
          description: 'The caller.',
          required: ['username', 'role', 'permissions'],
          properties: {
            username: { type: 'string' },
            role: { type: 'string', enum: ROLES },
            permissions: { type: 'array', items: { type: 'string', enum: PERMISSIONS } },
          },
        },
      },
    }),
    handler: async (request) => presentMe(actorOf(request)),
  });
}
