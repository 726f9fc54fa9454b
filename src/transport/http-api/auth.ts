/**
 * Authentication of REST calls. Every route declares its access (operation.ts); on all but the
 * public ones the caller must present a valid token, checked here before the body is even read,
 * so an anonymous caller learns nothing but 401. What the caller may do is decided by the use case
 * (`authorize`), never here.
 *
 * A token comes one of two ways:
 *
 *   Authorization: Bearer <token>   scripts and the CLI; sent on purpose, so no CSRF check
 *   Cookie: certfleet_session=…     the web console (HttpOnly, SameSite=Strict, Secure on HTTPS);
 *                                   a browser sends it on its own, so every unsafe method must
 *                                   also carry X-CSRF-Token = HMAC-SHA256(session token,
 *                                   "certfleet csrf v1") — bound to the session, never stored,
 *                                   and readable only by same-origin script (GET /auth/session)
 *
 * Both are the same log-in tokens (app/accounts.ts): a cookie session is revoked, expires and is
 * audited exactly like a bearer log-in.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { authenticate } from '../../app/accounts.js';
import type { Actor, AppContext } from '../../app/context.js';
import { CertfleetError, ErrorCode } from '../../domain/errors.js';
import { Access } from './operation.js';

/** A credential found on a request, and how it came. */
export interface Credential {
  readonly token: string;
  /**
   * `bearer`: sent on purpose by a script or the CLI. `cookie`: the console's session cookie;
   * because a browser sends a cookie on its own, a cookie credential on an unsafe method (POST,
   * DELETE …) must also pass the CSRF check in `checkCredential` before it is accepted.
   */
  readonly via: 'bearer' | 'cookie';
}

/** Over HTTPS the `__Host-` prefix makes the browser refuse the cookie unless Secure, Path=/ and host-only. */
export const SESSION_COOKIE = 'certfleet_session';
export const SECURE_SESSION_COOKIE = `__Host-${SESSION_COOKIE}`;
export const CSRF_HEADER = 'x-csrf-token';

const BEARER = /^Bearer[ \t]+([\x21-\x7e]+)[ \t]*$/i;
/** A cookie value as certfleet sets it: visible ASCII without separators (tokens are base64url). */
const COOKIE_VALUE = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]{1,512}$/;
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

function bearerCredential(request: FastifyRequest): Credential | null {
  const header = request.headers.authorization;
  if (header === undefined) return null;
  const match = BEARER.exec(header);
  if (!match?.[1]) {
    throw new CertfleetError(ErrorCode.unauthenticated, 'Send the token as "Authorization: Bearer <token>".');
  }
  return { token: match[1], via: 'bearer' };
}

export function sessionCookieName(request: FastifyRequest): string {
  return request.protocol === 'https' ? SECURE_SESSION_COOKIE : SESSION_COOKIE;
}

function readCookie(header: string, name: string): string | null {
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    return COOKIE_VALUE.test(value) ? value : null;
  }
  return null;
}

function cookieCredential(request: FastifyRequest): Credential | null {
  const header = request.headers.cookie;
  if (header === undefined) return null;
  const token = readCookie(header, sessionCookieName(request));
  return token === null ? null : { token, via: 'cookie' };
}

/** The places a credential may come from, in order: an explicit bearer token wins over a cookie. */
const CREDENTIAL_SOURCES: readonly ((request: FastifyRequest) => Credential | null)[] = [bearerCredential, cookieCredential];

export function credentialOf(request: FastifyRequest): Credential | null {
  for (const source of CREDENTIAL_SOURCES) {
    const found = source(request);
    if (found) return found;
  }
  return null;
}

/** The CSRF token of a cookie session: derived from the session token, so it needs no storage and dies with the session. */
export function csrfTokenFor(sessionToken: string): string {
  return createHmac('sha256', sessionToken).update('certfleet csrf v1').digest('base64url');
}

function sameSecret(sent: string, expected: string): boolean {
  const a = Buffer.from(sent, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A bearer token needs no CSRF token; a cookie on an unsafe method needs the one bound to its session. */
function checkCredential(request: FastifyRequest, credential: Credential): void {
  switch (credential.via) {
    case 'bearer':
      return;
    case 'cookie': {
      if (SAFE_METHODS.has(request.method)) return;
      const sent = request.headers[CSRF_HEADER];
      if (typeof sent === 'string' && sameSecret(sent, csrfTokenFor(credential.token))) return;
      throw new CertfleetError(
        ErrorCode.forbidden,
        'This change came with the console\'s session cookie but without its CSRF token (header X-CSRF-Token), so it may ' +
          'have been sent by another web site. Reload the console and try again; scripts send "Authorization: Bearer <token>" instead.',
        { reason: 'csrf_token_missing_or_wrong', header: 'X-CSRF-Token' },
      );
    }
  }
}

function cookieAttributes(request: FastifyRequest): string {
  return `Path=/; HttpOnly; SameSite=Strict${request.protocol === 'https' ? '; Secure' : ''}`;
}

/** Set-Cookie for a new console session; it lives as long as the log-in token. */
export function setSessionCookie(
  request: FastifyRequest,
  reply: FastifyReply,
  token: string,
  lifetime: { readonly createdAt: string; readonly expiresAt: string },
): void {
  const maxAge = Math.max(0, Math.round((Date.parse(lifetime.expiresAt) - Date.parse(lifetime.createdAt)) / 1000));
  reply.header('set-cookie', `${sessionCookieName(request)}=${token}; Max-Age=${maxAge}; ${cookieAttributes(request)}`);
}

export function clearSessionCookie(request: FastifyRequest, reply: FastifyReply): void {
  reply.header('set-cookie', `${sessionCookieName(request)}=; Max-Age=0; ${cookieAttributes(request)}`);
}

/**
 * Defence in depth for the one unsafe route a cookie cannot protect, the log-in itself: a browser
 * names the page that sent a request in Origin; one from another site is refused. (Its JSON body
 * already keeps HTML forms out.)
 */
export function assertSameOrigin(request: FastifyRequest): void {
  const origin = request.headers.origin;
  if (origin === undefined || origin === `${request.protocol}://${request.host}`) return;
  throw new CertfleetError(ErrorCode.forbidden, 'A console log-in must come from the console\'s own address.', { reason: 'cross_origin' });
}

export function registerAuthentication(app: FastifyInstance, ctx: AppContext): void {
  app.decorateRequest('actor', null);
  app.decorateRequest('reachedHandler', false);
  // onRequest runs before the body is read: an anonymous caller is turned away without it.
  app.addHook('onRequest', async (request, reply) => {
    if (request.is404) return;
    // A route that forgot to declare its access needs a token: fail closed.
    if (request.routeOptions.config.access === Access.public) return;
    const credential = credentialOf(request);
    if (credential) checkCredential(request, credential);
    try {
      request.actor = await authenticate(ctx, credential?.token);
    } catch (e) {
      // An expired or revoked session: the browser may forget its cookie.
      if (credential?.via === 'cookie') clearSessionCookie(request, reply);
      throw e;
    }
  });
  app.addHook('preHandler', async (request) => {
    request.reachedHandler = true;
  });
}

/** The caller of a non-public route; the hook has made sure there is one. */
export function actorOf(request: FastifyRequest): Actor {
  if (!request.actor) {
    throw new CertfleetError(ErrorCode.unauthenticated, 'Log in first, or send an API token as "Authorization: Bearer …".');
  }
  return request.actor;
}
