/**
 * `GET /metrics` on the API listener, for a caller with the `metrics` permission (a Prometheus
 * server with an API token). `serve --metrics-listen` serves the same text without a token on a
 * listener of its own (src/main/serve.ts).
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { authorize } from '../../app/context.js';
import { Permission } from '../../domain/roles.js';
import { METRICS_PATH, type ServerMetrics } from '../metrics/metrics.js';
import { actorOf } from './auth.js';
import { fileAnswer, spec } from './operation.js';

export function registerMetricsRoutes(app: FastifyInstance, metrics: ServerMetrics): void {
  app.get(METRICS_PATH, {
    ...spec({
      operationId: 'metrics',
      summary: 'Prometheus metrics in the text exposition format',
      description: 'Cluster-wide gauges read from the database at each scrape, per-node counters, and Node\'s process metrics (README, "Expiry warnings and metrics").',
      tags: ['operations'],
      access: Permission.metrics,
      responses: { 200: fileAnswer({ 'text/plain; version=0.0.4': Type.String() }, 'The metrics.') },
    }),
    handler: async (request, reply) => {
      authorize(actorOf(request), Permission.metrics);
      const scraped = await metrics.scrape();
      return reply.header('content-type', scraped.contentType).send(scraped.body);
    },
  });
}
