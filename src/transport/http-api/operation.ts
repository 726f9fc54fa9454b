/**
 * Describes a route once, for both Fastify (validation, serialisation, who may call it) and the
 * OpenAPI document: the permission it needs (`x-permission`, enforced by the use case), the error
 * codes it can answer with, grouped by status from the one HTTP_STATUS table.
 */
import type { FastifySchema } from 'fastify';
import { ErrorCode } from '../../domain/errors.js';
import { Permission, ROLES, roleAllows } from '../../domain/roles.js';
import type { Actor } from '../../app/context.js';
import { HTTP_STATUS } from './errors.js';
import { ERROR_RESPONSE_ID } from './schemas.js';

/** Who may call a route: anyone, any logged-in account, or the holders of a permission. */
export const Access = { public: 'public', authenticated: 'authenticated', ...Permission } as const;
export type Access = (typeof Access)[keyof typeof Access];

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Documented here and checked for authentication by the hook; the permission itself is enforced by the use case. */
    access?: Access;
    /**
     * The audit action of a change. Refusals the use case never saw (schema validation, body too
     * large, no valid token) are audited under it by the error handler, so every refused change is
     * in the audit log.
     */
    auditAction?: string;
  }
  interface FastifyRequest {
    /** Who is calling, once the authentication hook has run; null on public routes. */
    actor: Actor | null;
    /** Set when validation passed and the handler runs: from then on the use case audits. */
    reachedHandler: boolean;
  }
}

export type JsonSchema = Readonly<Record<string, unknown>>;

export interface OperationDoc {
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string;
  readonly tags: readonly string[];
  readonly access: Access;
  /** Refusals of the use case beyond the ones every route of its kind has (added here). */
  readonly errors?: readonly ErrorCode[];
  readonly params?: JsonSchema;
  readonly querystring?: JsonSchema;
  readonly body?: JsonSchema;
  /** Success responses by status. */
  readonly responses: Readonly<Record<number, JsonSchema>>;
  /** For changes: the use case's audit action (see FastifyContextConfig.auditAction). */
  readonly auditAction?: string;
  /** Bytes; only the import route accepts more than the server-wide limit. */
  readonly bodyLimit?: number;
}

function rolesWith(access: Access): string {
  if (access === Access.public) return 'anyone, without a token';
  if (access === Access.authenticated) return 'any account';
  return ROLES.filter((r) => roleAllows(r, access)).join(', ');
}

/** The error codes a route can answer with, including the ones that come from its shape. */
export function errorCodesOf(doc: OperationDoc): ErrorCode[] {
  const codes = new Set<ErrorCode>(doc.errors ?? []);
  if (doc.params || doc.querystring || doc.body) codes.add(ErrorCode.invalid_request);
  if (doc.body) codes.add(ErrorCode.payload_too_large);
  if (doc.access !== Access.public) codes.add(ErrorCode.unauthenticated);
  if (doc.access !== Access.public && doc.access !== Access.authenticated) codes.add(ErrorCode.forbidden);
  codes.add(ErrorCode.internal);
  return [...codes];
}

export function operation(doc: OperationDoc): FastifySchema {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of errorCodesOf(doc)) {
    const status = HTTP_STATUS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const response: Record<string, JsonSchema> = {};
  for (const [status, body] of Object.entries(doc.responses)) response[status] = body;
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    response[String(status)] = { $ref: `${ERROR_RESPONSE_ID}#`, description: `Error codes: ${codes.join(', ')}.` };
  }
  const permissionLine =
    doc.access === Access.public || doc.access === Access.authenticated
      ? `Access: ${rolesWith(doc.access)}.`
      : `Permission: \`${doc.access}\` (roles: ${rolesWith(doc.access)}).`;
  const schema: Record<string, unknown> = {
    operationId: doc.operationId,
    summary: doc.summary,
    description: [doc.description, permissionLine].filter(Boolean).join('\n\n'),
    tags: doc.tags,
    'x-permission': doc.access,
    'x-error-codes': errorCodesOf(doc),
    security: doc.access === Access.public ? [] : [{ bearer: [] }],
    response,
  };
  if (doc.params) schema['params'] = doc.params;
  if (doc.querystring) schema['querystring'] = doc.querystring;
  if (doc.body) schema['body'] = doc.body;
  return schema;
}

/** What a route passes to Fastify besides its URL and handler: schema, config, body limit. */
export function spec(doc: OperationDoc): {
  readonly schema: FastifySchema;
  readonly config: { readonly access: Access; readonly auditAction?: string };
  readonly bodyLimit?: number;
} {
  return {
    schema: operation(doc),
    config: { access: doc.access, ...(doc.auditAction !== undefined ? { auditAction: doc.auditAction } : {}) },
    ...(doc.bodyLimit !== undefined ? { bodyLimit: doc.bodyLimit } : {}),
  };
}
