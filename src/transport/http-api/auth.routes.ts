/**
 * Log-in, log-out and "who am I" (SPEC section 5, "Accounts"): bearer tokens for scripts and the
 * CLI (/auth/login, /auth/logout), a cookie session for the web console (/auth/session; see auth.ts).
 */
import type { FastifyInstance } from 'fastify';
import { login, logout } from '../../app/accounts.js';
import type { AppContext } from '../../app/context.js';
import { ErrorCode } from '../../domain/errors.js';
import { ROLES } from '../../domain/roles.js';
import { actorOf, assertSameOrigin, clearSessionCookie, credentialOf, csrfTokenFor, setSessionCookie } from './auth.js';
import { Access, spec } from './operation.js';
import { presentLogin, presentMe } from './presenters.js';
import { NO_CONTENT, PERMISSIONS } from './schemas.js';
import { API_PREFIX } from './paths.js';

interface LoginBody {
  readonly username: string;
  readonly password: string;
}

const LOGIN_BODY = {
  type: 'object',
  additionalProperties: false,
  required: ['username', 'password'],
  properties: {
    username: { type: 'string', minLength: 1, maxLength: 64 },
    password: { type: 'string', minLength: 1, maxLength: 1024 },
  },
} as const;

const USER = {
  type: 'object',
  required: ['username', 'role'],
  properties: { username: { type: 'string' }, role: { type: 'string', enum: ROLES } },
} as const;

const CSRF_TOKEN = { type: 'string', description: 'Send it as "X-CSRF-Token" on every POST, PUT, PATCH and DELETE of this session.' } as const;

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
      body: LOGIN_BODY,
      responses: {
        200: {
          type: 'object',
          description: 'Logged in.',
          required: ['token', 'expiresAt', 'user'],
          properties: { token: { type: 'string' }, expiresAt: { type: 'string', format: 'date-time' }, user: USER },
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

  app.post<{ Body: LoginBody }>(`${API_PREFIX}/auth/session`, {
    ...spec({
      operationId: 'startSession',
      summary: 'Log in to the web console: the token goes into an HttpOnly session cookie, not the answer',
      description:
        'The cookie is HttpOnly and SameSite=Strict (and Secure, named __Host-certfleet_session, over HTTPS) and lasts as long as a log-in token. ' +
        'Every POST, PUT, PATCH and DELETE made with the cookie must carry the returned csrfToken as "X-CSRF-Token", or it is refused with 403 forbidden. ' +
        'A request whose Origin is another site is refused.',
      tags: ['auth'],
      access: Access.public,
      auditAction: 'auth.login',
      errors: [ErrorCode.invalid_credentials, ErrorCode.forbidden],
      body: LOGIN_BODY,
      responses: {
        200: {
          type: 'object',
          description: 'Logged in; the session cookie is set.',
          required: ['csrfToken', 'expiresAt', 'user'],
          properties: { csrfToken: CSRF_TOKEN, expiresAt: { type: 'string', format: 'date-time' }, user: USER },
        },
      },
    }),
    handler: async (request, reply) => {
      assertSameOrigin(request);
      const issued = await login(ctx, request.body.username, request.body.password);
      setSessionCookie(request, reply, issued.token, issued.record);
      const { expiresAt, user } = presentLogin(issued);
      return { csrfToken: csrfTokenFor(issued.token), expiresAt, user };
    },
  });

  app.get(`${API_PREFIX}/auth/session`, {
    ...spec({
      operationId: 'getSession',
      summary: 'The CSRF token of the console session this call is made with (null for a bearer token)',
      description: 'Lets a reloaded console page carry on its session: the cookie is HttpOnly, so script cannot read it.',
      tags: ['auth'],
      access: Access.authenticated,
      responses: {
        200: {
          type: 'object',
          description: 'The session.',
          required: ['csrfToken'],
          properties: { csrfToken: { ...CSRF_TOKEN, type: ['string', 'null'] } },
        },
      },
    }),
    handler: async (request) => {
      const credential = credentialOf(request);
      return { csrfToken: credential?.via === 'cookie' ? csrfTokenFor(credential.token) : null };
    },
  });

  app.delete(`${API_PREFIX}/auth/session`, {
    ...spec({
      operationId: 'endSession',
      summary: 'Log out of the web console: revokes the session token and clears the cookie',
      tags: ['auth'],
      access: Access.authenticated,
      responses: { 204: NO_CONTENT },
    }),
    handler: async (request, reply) => {
      await logout(ctx, actorOf(request));
      clearSessionCookie(request, reply);
      return reply.code(204).send();
    },
  });
}
