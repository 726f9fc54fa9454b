/**
 * Log-in, log-out and "who am I" (SPEC section 5, "Accounts"): bearer tokens for scripts and the
 * CLI (/auth/login, /auth/logout), a cookie session for the web console (/auth/session; see auth.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { login, logout } from '../../app/accounts.js';
import type { AppContext } from '../../app/context.js';
import { FailedLoginAudit, FailedLoginKind } from '../../app/failed-logins.js';
import { ErrorCode, isCertfleetError } from '../../domain/errors.js';
import type { Scheduler } from '../../domain/time.js';
import { loginGuard, type LoginLimits } from './login-limits.js';
import { actorOf, assertSameOrigin, clearSessionCookie, credentialOf, csrfTokenFor, setSessionCookie } from './auth.js';
import { Access, spec } from './operation.js';
import { LoginAnswerSchema, LoginBodySchema, MeSchema, NoContent, SessionStartSchema, SessionStateSchema } from './contract/index.js';
import { presentLogin, presentMe } from './presenters.js';
import { API_PREFIX } from './paths.js';

export interface LoginRouteOptions {
  /** Log-in limits per address and per user name (login-limits.ts); default DEFAULT_LOGIN_LIMITS. */
  readonly limits?: LoginLimits;
  /** Closes the windows of the failed-log-in audit on time; without one, at the next refusal and at close. */
  readonly scheduler?: Scheduler;
}

const LOGIN_ERRORS = [ErrorCode.invalid_credentials, ErrorCode.too_many_login_attempts, ErrorCode.password_hashing_busy];

export async function registerAuthRoutes(server: FastifyInstance, ctx: AppContext, options: LoginRouteOptions = {}): Promise<void> {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  const guard = await loginGuard(server, ctx.clock, options.limits);
  const failures = new FailedLoginAudit({
    audit: ctx.store.audit,
    clock: ctx.clock,
    ...(options.scheduler ? { scheduler: options.scheduler } : {}),
    onError: (e) => server.log.error({ err: e }, 'could not write failed log-ins to the audit log'),
  });
  server.addHook('onClose', () => failures.flush());

  /** Both log-in routes: the limits first (no hash for a refused attempt), then the password; a wrong one counts against the name. */
  const attempt = async (request: FastifyRequest, username: string, password: string) => {
    let admitted;
    try {
      admitted = await guard.admit(request);
    } catch (e) {
      // A failed audit write must not hide the refusal itself.
      await failures.record(FailedLoginKind.throttled, username, request.ip).catch((err: unknown) => request.log.error({ err }, 'could not audit a throttled log-in'));
      throw e;
    }
    try {
      return await login(ctx, username, password, { address: request.ip, failures });
    } catch (e) {
      if (isCertfleetError(e) && e.code === ErrorCode.invalid_credentials) await admitted.failed();
      throw e;
    } finally {
      admitted.end();
    }
  };

  app.post(`${API_PREFIX}/auth/login`, {
    ...spec({
      operationId: 'login',
      summary: 'Log in with user name and password; returns a token for "Authorization: Bearer"',
      description:
        'The token lasts 7 days; log out to revoke it earlier. Failed attempts are in the audit log (a burst from one address as one entry with its count). ' +
        'Attempts are limited per address and wrong passwords per user name; over a limit the answer is 429 too_many_login_attempts with Retry-After.',
      tags: ['auth'],
      access: Access.public,
      auditAction: 'auth.login',
      errors: LOGIN_ERRORS,
      body: LoginBodySchema,
      responses: { 200: LoginAnswerSchema },
    }),
    handler: async (request) => presentLogin(await attempt(request, request.body.username, request.body.password)),
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
      errors: [...LOGIN_ERRORS, ErrorCode.forbidden],
      body: LoginBodySchema,
      responses: { 200: SessionStartSchema },
    }),
    handler: async (request, reply) => {
      assertSameOrigin(request);
      const issued = await attempt(request, request.body.username, request.body.password);
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
