/** Liveness and readiness for load balancers and orchestrators (SPEC section 5, "Operations"). Public. */
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../app/context.js';
import { Access, spec } from './operation.js';

/** A store that does not answer within this time is not ready. */
export const READINESS_TIMEOUT_MS = 2_000;

const status = (value: string, description: string) =>
  ({ type: 'object', description, required: ['status'], properties: { status: { type: 'string', enum: [value] } } }) as const;

async function storeAnswers(ctx: AppContext): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the store did not answer within ${READINESS_TIMEOUT_MS} ms`)), READINESS_TIMEOUT_MS);
  });
  try {
    // One small read on the one row every node shares.
    await Promise.race([ctx.store.keystore.revision(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function registerHealthRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get('/healthz', {
    ...spec({
      operationId: 'health',
      summary: 'The process is alive',
      tags: ['operations'],
      access: Access.public,
      responses: { 200: status('ok', 'Alive.') },
    }),
    handler: async () => ({ status: 'ok' }),
  });

  app.get('/readyz', {
    ...spec({
      operationId: 'ready',
      summary: 'The node can serve: its database answers',
      tags: ['operations'],
      access: Access.public,
      responses: { 200: status('ready', 'Ready.'), 503: status('unavailable', 'The database does not answer; see the log.') },
    }),
    handler: async (request, reply) => {
      try {
        await storeAnswers(ctx);
        return { status: 'ready' };
      } catch (e) {
        request.log.warn({ err: e }, 'readiness check failed');
        return reply.code(503).send({ status: 'unavailable' });
      }
    },
  });
}
