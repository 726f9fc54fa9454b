/**
 * The REST API under /api/v1 (SPEC section 5), plus /healthz and /readyz. Routes call the use
 * cases of src/app and nothing else; the use cases authorise, the routes only authenticate.
 *
 *   request ─ onRequest: authenticate (not on public routes) ─ body (size limit) ─ schema
 *           ─ handler: use case ─ presenter ─ response schema ─ security headers
 *   any error ─ errors.ts (code → status) ─ {"error":{code,message,details}}
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:https';
import fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import type { Logger } from 'pino';
import { CertfleetError, ErrorCode } from '../../domain/errors.js';
import { AuditResult } from '../../domain/vocabularies.js';
import { SERVER_TLS_OPTIONS } from '../tls-profile.js';
import { DEFAULT_HTTP_LIMITS, type HttpLimits } from './limits.js';
import type { AppContext } from '../../app/context.js';
import { registerAuditRoutes } from './audit.routes.js';
import { registerAuthentication } from './auth.js';
import { registerAuthRoutes, type LoginRouteOptions } from './auth.routes.js';
import { registerCertificateRoutes } from './certificates.routes.js';
import { registerCompatibilityRoutes } from './compatibility.routes.js';
import { registerConsole } from './console.js';
import { registerDeviceRoutes } from './devices.routes.js';
import { registerEnrollmentRoutes } from './enrollment.routes.js';
import { notFoundError, toHttpError, type HttpError } from './errors.js';
import { registerHealthRoutes } from './health.routes.js';
import { Access, spec } from './operation.js';
import { API_PREFIX, OPENAPI_PATH } from './paths.js';
import { SHARED_SCHEMAS } from './contract/index.js';
import { refuseCoercedBodies } from './strict-body.js';
import { registerBackupRoutes, type BackupRouteOptions } from './backups.routes.js';
import { registerClusterRoutes, type ClusterRouteOptions } from './cluster.routes.js';
import { DEFAULT_LEASE_TTL_MS } from '../../app/cluster.js';
import { registerSyncRoutes } from './sync.routes.js';
import { registerSettingsRoutes } from './settings.routes.js';
import { registerMetricsRoutes } from './metrics.routes.js';
import { ServerMetrics } from '../metrics/metrics.js';
import { registerLifecycleRoutes } from './lifecycle.routes.js';
import { registerTokenRoutes } from './tokens.routes.js';
import { registerUserRoutes } from './users.routes.js';

export interface HttpApiOptions {
  readonly ctx: AppContext;
  readonly logger: Logger | false;
  /** TLS for a non-loopback listen address; main decides and passes the web certificate. */
  readonly https?: { readonly key: Buffer; readonly cert: Buffer } | null;
  /** Behind a reverse proxy: take the client address from X-Forwarded-For. */
  readonly trustProxy?: boolean;
  /** What the cluster status needs of this node; a process that is no node (tests) takes the defaults. */
  readonly cluster?: ClusterRouteOptions;
  /** Where uploaded backups are kept while they are restored, and what a backup names as its server. */
  readonly backups?: BackupRouteOptions;
  /** Log-in limits and the timer of the failed-log-in audit; defaults without a timer. */
  readonly logins?: LoginRouteOptions;
  /** Timeouts and the connection cap of the HTTP server; DEFAULT_HTTP_LIMITS for what is not given. */
  readonly limits?: Partial<HttpLimits>;
  /**
   * The host names (and addresses) a request's Host header may name, besides the localhost names
   * that are always allowed. Default: none besides those, which is right for the loopback default.
   */
  readonly allowedHosts?: readonly string[];
  /** What `GET /metrics` answers; default: a registry of this context without a leader or process metrics. */
  readonly metrics?: ServerMetrics;
}

/** One year, sent on HTTPS only; no includeSubDomains: the console's host may share its domain with others. */
export const HSTS_HEADER = 'max-age=31536000';

/** Answered whatever the Host: load balancers' and monitors' checks (health.routes.ts). */
const HOST_CHECK_EXEMPT: ReadonlySet<string> = new Set(['/healthz', '/readyz']);

/** Host names every server answers to: what a browser on the server's own machine sends. */
const LOCAL_HOST_NAMES: readonly string[] = ['localhost', '127.0.0.1', '::1'];

/** The host name of a Host header without its port, lower-case, without brackets or a trailing dot. */
export function hostNameOf(header: string): string {
  const h = header.trim().toLowerCase();
  const name = h.startsWith('[') ? h.slice(1, h.indexOf(']') > 0 ? h.indexOf(']') : undefined) : h.replace(/:\d*$/, '');
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

/** Every route but the import takes small JSON bodies. */
export const DEFAULT_BODY_LIMIT = 64 * 1024;

/**
 * Never in the log: credentials in headers, and any field that can carry a password, a token or a
 * keystore file, wherever it is nested. Request bodies are not logged at all; this is the second line.
 */
export const LOG_REDACT_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'req.headers["x-certfleet-backup-passphrase"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  ...['password', 'passphrase', 'keyPassword', 'file', 'token', 'privateKey', 'sealedKey', 'passwordHash', 'tokenHash', 'credentialHash'].flatMap(
    (f) => [f, `*.${f}`, `*.*.${f}`],
  ),
];

function loggerOptions(logger: Logger | false): { readonly logger: false } | { readonly loggerInstance: FastifyBaseLogger } {
  if (logger === false) return { logger: false };
  return { loggerInstance: logger.child({ component: 'http-api' }, { redact: { paths: [...LOG_REDACT_PATHS], censor: '[redacted]' } }) };
}

/** What the audit log names as the target of a refused change: the alias, user name or token id. */
function targetOf(request: FastifyRequest): string | null {
  const pick = (source: unknown, keys: readonly string[]): string | null => {
    if (typeof source !== 'object' || source === null) return null;
    for (const k of keys) {
      const v: unknown = (source as Record<string, unknown>)[k]; // params and body are plain JSON objects
      if (typeof v === 'string') return v.slice(0, 256);
    }
    return null;
  };
  return pick(request.params, ['alias', 'username', 'id']) ?? pick(request.body, ['alias', 'username', 'name']);
}

/**
 * A change refused before its use case ran (no valid token, body too large, schema) is audited
 * here; once the handler runs, the use case audits for itself (auditedChange), so nothing is
 * written twice.
 */
async function auditRefusalBeforeUseCase(ctx: AppContext, request: FastifyRequest, http: HttpError): Promise<void> {
  const action = request.routeOptions.config.auditAction;
  if (action === undefined || request.reachedHandler) return;
  try {
    await ctx.store.audit.append({
      at: ctx.clock.now().toISOString(),
      actor: request.actor?.username ?? 'anonymous',
      action,
      target: targetOf(request),
      result: http.unexpected ? AuditResult.failed : AuditResult.refused,
      code: http.body.error.code,
      details: http.unexpected ? { requestId: request.id } : http.body.error.details,
    });
  } catch (e) {
    request.log.error({ err: e }, 'could not write the refusal to the audit log');
  }
}

export async function buildHttpApi(opts: HttpApiOptions): Promise<FastifyInstance> {
  const { ctx } = opts;
  const limits: HttpLimits = { ...DEFAULT_HTTP_LIMITS, ...opts.limits };
  // Node checks the header and request deadlines on a timer; at its default (30 s) a deadline of
  // 10 s would be enforced anywhere up to 40 s late.
  const serverOptions = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 4))),
  };
  const common = {
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // An idle socket (no byte either way) is closed after this long, whatever state it is in.
    connectionTimeout: limits.requestTimeoutMs,
    bodyLimit: DEFAULT_BODY_LIMIT,
    // Unique across the nodes of a cluster, so a request id in an error names one log line.
    genReqId: () => randomUUID(),
    trustProxy: opts.trustProxy ?? false,
    // Unknown fields are refused, not silently dropped: a misspelt `keysize` must not fall back to the default.
    ajv: { customOptions: { removeAdditional: false } },
    ...loggerOptions(opts.logger),
  } satisfies FastifyServerOptions;
  // The HTTPS server has another raw type, but nothing here or in the callers (listen, inject,
  // routes) depends on it; one instance type keeps the signature simple.
  const app: FastifyInstance = opts.https
    ? (fastify<Server>({ ...common, https: { ...serverOptions, ...SERVER_TLS_OPTIONS, key: opts.https.key, cert: opts.https.cert } }) as unknown as FastifyInstance)
    : fastify({ ...common, http: serverOptions });
  app.server.maxConnections = limits.maxConnections;
  const allowedHosts = new Set([...LOCAL_HOST_NAMES, ...(opts.allowedHosts ?? []).map(hostNameOf)]);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'certfleet REST API',
        version: '1.0.0',
        description:
          'Manages the prioritised keystore of TLS server certificates that a fleet of thin clients pins. ' +
          'Log in with POST /api/v1/auth/login and send the token as "Authorization: Bearer <token>". ' +
          'Each operation names the permission it needs (x-permission) and the error codes it answers with (x-error-codes). ' +
          'Errors are {"error":{"code","message","details"}}.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A log-in or API token.' } } },
      security: [{ bearer: [] }],
    },
    refResolver: { buildLocalReference: (json: Readonly<Record<string, unknown>>, _baseUri: unknown, _fragment: string, i: number) => (typeof json['$id'] === 'string' ? json['$id'] : `def-${i}`) },
  });
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);

  // An empty body with Content-Type: application/json is no body, so `curl -X POST -H …` on an
  // action without a body works; anything else goes to Fastify's JSON parser (prototype poisoning refused).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.length === 0) {
      done(null, undefined);
      return;
    }
    parseJson(request, text, done);
  });

  // DNS rebinding: a page of another site whose name now resolves to this server's address sends
  // that name as Host. Checked before anything else, so such a request learns nothing. A browser
  // always sends Host; a request without one (HTTP/1.0: HAProxy's httpchk) is no page's. The
  // health answers hold nothing a page could use, and monitors reach them by any name.
  app.addHook('onRequest', async (request) => {
    const host = request.headers.host;
    if (host === undefined || HOST_CHECK_EXEMPT.has(request.url)) return;
    if (!allowedHosts.has(hostNameOf(host))) {
      throw new CertfleetError(
        ErrorCode.host_not_allowed,
        `This server does not answer to the host name "${hostNameOf(host).slice(0, 253)}". Use its own address, ` +
          'or start it with --allowed-host NAME for each name it is reached by.',
        { host: hostNameOf(host).slice(0, 253) },
      );
    }
  });

  registerAuthentication(app, ctx);
  refuseCoercedBodies(app);

  app.setErrorHandler(async (error, request, reply) => {
    const http = toHttpError(error, request.id);
    if (http.unexpected) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: http.body.error.code, status: http.status }, 'request refused');
    await auditRefusalBeforeUseCase(ctx, request, http);
    return reply.code(http.status).headers(http.headers ?? {}).send(http.body);
  });

  app.setNotFoundHandler(async (request, reply) => {
    const http = notFoundError(request.method, request.url);
    return reply.code(http.status).send(http.body);
  });

  // No CORS: the console is served from the same origin, and no other origin may call the API.
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    // The console's static files (a later issue) may set their own caching and CSP; API answers are never cached.
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', "default-src 'none'; frame-ancestors 'none'");
    if (opts.https) reply.header('strict-transport-security', HSTS_HEADER);
    return payload;
  });

  registerHealthRoutes(app, ctx);
  await registerAuthRoutes(app, ctx, opts.logins);
  registerCertificateRoutes(app, ctx);
  registerAuditRoutes(app, ctx);
  registerUserRoutes(app, ctx);
  registerTokenRoutes(app, ctx);
  registerEnrollmentRoutes(app, ctx);
  registerDeviceRoutes(app, ctx);
  registerCompatibilityRoutes(app, ctx);
  registerSyncRoutes(app, ctx);
  registerSettingsRoutes(app, ctx);
  registerMetricsRoutes(app, opts.metrics ?? new ServerMetrics({ ctx, isLeader: () => false, processMetrics: false }));
  registerLifecycleRoutes(app, ctx);
  registerClusterRoutes(app, ctx, opts.cluster ?? { leaseTtlMs: DEFAULT_LEASE_TTL_MS, dataDir: 'DATA' });
  if (opts.backups) registerBackupRoutes(app, ctx, opts.backups);
  // The web console's static files at / (built into dist/web by `npm run build`).
  registerConsole(app);

  app.get(OPENAPI_PATH, {
    ...spec({
      operationId: 'openapi',
      summary: 'This OpenAPI 3 document',
      tags: ['operations'],
      access: Access.public,
      responses: { 200: { type: 'object', description: 'The OpenAPI document.', additionalProperties: true } },
    }),
    handler: async () => app.swagger(),
  });

  await app.ready();
  return app;
}

export { API_PREFIX, OPENAPI_PATH, DEFAULT_HTTP_LIMITS, type HttpLimits };
