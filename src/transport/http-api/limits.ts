/** The HTTP server's limits, apart from server.ts so that the CLI shows their defaults without loading Fastify. */

/**
 * What one client can hold of the HTTP server. headersTimeout is an absolute deadline from the
 * connection's first byte to the end of the headers (a slowloris client that trickles headers is
 * cut off with 408 at it, however steady its trickle); requestTimeout the same for the whole
 * request, body included (a backup restore of many GB needs more: --http-request-timeout).
 */
export interface HttpLimits {
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** How long an idle keep-alive connection is kept open after an answer. */
  readonly keepAliveTimeoutMs: number;
  /** Open connections at most; the next one is closed on accept. */
  readonly maxConnections: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 300_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 1_000,
};
