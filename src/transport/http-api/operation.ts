/**
 * Describes a route once, for both Fastify (validation, serialisation, who may call it) and the
 * OpenAPI document: the permission it needs (`x-permission`, enforced by the use case), the error
 * codes it can answer with, grouped by status from the one HTTP_STATUS table.
 */
import { Type, type TSchema } from 'typebox';
import { ErrorCode } from '../../domain/errors.js';
import { Permission, ROLES, roleAllows } from '../../domain/roles.js';
import type { Actor } from '../../app/context.js';
import { HTTP_STATUS } from './errors.js';
import { ErrorResponseSchema } from './contract/index.js';

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

/** Success answers by status: contract schemas, or a description with media types for files and text. */
export type Responses = Readonly<Record<number, TSchema>>;

/**
 * One operation. `params`, `querystring`, `body` and `responses` are contract schemas
 * (./contract): their static types reach the handler through the TypeBox type provider.
 */
export interface OperationDoc<P = unknown, Q = unknown, B = unknown, R extends Responses = Responses> {
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string;
  readonly tags: readonly string[];
  readonly access: Access;
  /** Refusals of the use case beyond the ones every route of its kind has (added here). */
  readonly errors?: readonly ErrorCode[];
  readonly params?: P;
  readonly querystring?: Q;
  readonly body?: B;
  /** Success responses by status. */
  readonly responses: R;
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
export function errorCodesOf(doc: OperationDoc<unknown, unknown, unknown>): ErrorCode[] {
  const codes = new Set<ErrorCode>(doc.errors ?? []);
  if (doc.params || doc.querystring || doc.body) codes.add(ErrorCode.invalid_request);
  if (doc.body) codes.add(ErrorCode.payload_too_large);
  if (doc.access !== Access.public) codes.add(ErrorCode.unauthenticated);
  if (doc.access !== Access.public && doc.access !== Access.authenticated) codes.add(ErrorCode.forbidden);
  codes.add(ErrorCode.internal);
  return [...codes];
}

/**
 * What Fastify and the type provider see. `response` is typed with the success answers only: a
 * handler returns those, and refusals are thrown (errors.ts writes them), so the error answers
 * that `operation` adds at run time must not widen what the handler may return.
 */
export interface OperationSchema<P, Q, B, R extends Responses> {
  readonly params: P;
  readonly querystring: Q;
  readonly body: B;
  readonly response: R;
}

export function operation<P, Q, B, R extends Responses>(doc: OperationDoc<P, Q, B, R>): OperationSchema<P, Q, B, R> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of errorCodesOf(doc)) {
    const status = HTTP_STATUS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const response: Record<string, TSchema> = {};
  for (const [status, body] of Object.entries(doc.responses)) response[status] = body;
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    response[String(status)] = { $ref: `${ErrorResponseSchema.$id}#`, description: `Error codes: ${codes.join(', ')}.` };
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
  // Built key by key above; the type narrows `response` to the success answers (see OperationSchema).
  return schema as unknown as OperationSchema<P, Q, B, R>;
}

/** What a route passes to Fastify besides its URL and handler: schema, config, body limit. */
export function spec<P, Q, B, R extends Responses>(doc: OperationDoc<P, Q, B, R>): {
  readonly schema: OperationSchema<P, Q, B, R>;
  readonly config: { readonly access: Access; readonly auditAction?: string };
  readonly bodyLimit?: number;
} {
  return {
    schema: operation(doc),
    config: { access: doc.access, ...(doc.auditAction !== undefined ? { auditAction: doc.auditAction } : {}) },
    ...(doc.bodyLimit !== undefined ? { bodyLimit: doc.bodyLimit } : {}),
  };
}

/** A file answer: the bytes go out as they are (a Buffer or a stream), so no schema types them. */
export const fileAnswer = (media: Readonly<Record<string, ReturnType<typeof Type.String>>>, description: string) =>
  Type.Unsafe<unknown>({ description, content: Object.fromEntries(Object.entries(media).map(([type, schema]) => [type, { schema }])) });
