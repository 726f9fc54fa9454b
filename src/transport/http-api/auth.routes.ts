/**
 * Log-in, log-out and "who am I" (SPEC section 5, "Accounts"): bearer tokens for scripts and the
 * CLI (/auth/login, /auth/logout), a cookie session for the web console (/auth/session; see auth.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { login, logout } from '../../app/accounts.js';
import type { AppContext } from '../../app/context.js';
import { ErrorCode } from '../../domain/errors.js';
import { actorOf, assertSameOrigin, clearSessionCookie, credentialOf, csrfTokenFor, setSessionCookie } from './auth.js';
import { Access, spec } from './operation.js';
import { LoginAnswerSchema, LoginBodySchema, MeSchema, NoContent, SessionStartSchema, SessionStateSchema } from './contract/index.js';
import { presentLogin, presentMe } from './presenters.js';
import { API_PREFIX } from './paths.js';

export function registerAuthRoutes(server: FastifyInstance, ctx: AppContext): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  app.post(`${API_PREFIX}/auth/login`, {
    ...spec({
      operationId: 'login',
      summary: 'Log in with user name and password; returns a token for "Authorization: Bearer"',
      description: 'The token lasts 7 days; log out to revoke it earlier. Failed attempts are in the audit log.',
      tags: ['auth'],
      access: Access.public,
      auditAction: 'auth.login',
      errors: [ErrorCode.invalid_credentials],
      body: LoginBodySchema,
      responses: { 200: LoginAnswerSchema },
    }),
    handler: async (request) => presentLogin(await login(ctx, request.body.username, request.body.password)),
  });

  app.post(`${API_PREFIX}/auth/logout`, {
    ...spec({
      operationId: 'logout',
      summary: 'Revoke the token this call is made with',
      tags: ['auth'],
      access: Access.authenticated,
      responses: { 204: NoContent },
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
      responses: { 200: MeSchema },
    }),
    handler: async (request) => presentMe(actorOf(request)),
  });

  app.post(`${API_PREFIX}/auth/session`, {
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
      body: LoginBodySchema,
      responses: { 200: SessionStartSchema },
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
      responses: { 200: SessionStateSchema },
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
      responses: { 204: NoContent },
    }),
    handler: async (request, reply) => {
      await logout(ctx, actorOf(request));
      clearSessionCookie(request, reply);
      return reply.code(204).send();
    },
  });
}
