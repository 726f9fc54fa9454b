/**
 * Authentication of REST calls. Every route declares its access (operation.ts); on all but the
 * public ones the caller must present a valid token, checked here before the body is even read,
 * so an anonymous caller learns nothing but 401. What the caller may do is decided by the use case
 * (`authorize`), never here.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authenticate } from '../../app/accounts.js';
import type { Actor, AppContext } from '../../app/context.js';
import { CertfleetError, ErrorCode } from '../../domain/errors.js';
import { Access } from './operation.js';

/** A credential found on a request, and how it came. */
export interface Credential {
  readonly token: string;
  /**
   * `bearer`: sent on purpose by a script or the CLI. A later issue adds `cookie` for the web
   * console (HttpOnly, Secure, SameSite=Strict); because a browser sends a cookie on its own, a
   * cookie credential on an unsafe method (POST, DELETE …) must also pass a CSRF check (double
   * submit header) in `checkCredential` below before it is accepted.
   */
  readonly via: 'bearer';
}

const BEARER = /^Bearer[ \t]+([\x21-\x7e]+)[ \t]*$/i;

function bearerCredential(request: FastifyRequest): Credential | null {
  const header = request.headers.authorization;
  if (header === undefined) return null;
  const match = BEARER.exec(header);
  if (!match?.[1]) {
    throw new CertfleetError(ErrorCode.unauthenticated, 'Send the token as "Authorization: Bearer <token>".');
  }
  return { token: match[1], via: 'bearer' };
}

/** The places a credential may come from, in order. The console's session cookie goes here. */
const CREDENTIAL_SOURCES: readonly ((request: FastifyRequest) => Credential | null)[] = [bearerCredential];

export function credentialOf(request: FastifyRequest): Credential | null {
  for (const source of CREDENTIAL_SOURCES) {
    const found = source(request);
    if (found) return found;
  }
  return null;
}

/** The seam for the CSRF check of cookie credentials; a bearer token needs none. */
function checkCredential(_request: FastifyRequest, credential: Credential): void {
  switch (credential.via) {
    case 'bearer':
      return;
  }
}

export function registerAuthentication(app: FastifyInstance, ctx: AppContext): void {
  app.decorateRequest('actor', null);
  app.decorateRequest('reachedHandler', false);
  // onRequest runs before the body is read: an anonymous caller is turned away without it.
  app.addHook('onRequest', async (request) => {
    if (request.is404) return;
    // A route that forgot to declare its access needs a token: fail closed.
    if (request.routeOptions.config.access === Access.public) return;
    const credential = credentialOf(request);
    if (credential) checkCredential(request, credential);
    request.actor = await authenticate(ctx, credential?.token);
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
