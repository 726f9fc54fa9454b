/** Liveness and readiness for load balancers and orchestrators (SPEC section 5, "Operations"). Public. */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AppContext } from '../../app/context.js';
import { AliveSchema, ReadySchema, UnavailableSchema, type Alive, type Ready, type Unavailable } from './contract/index.js';
import { Access, spec } from './operation.js';

/** A store that does not answer within this time is not ready. */
export const READINESS_TIMEOUT_MS = 2_000;

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

export function registerHealthRoutes(server: FastifyInstance, ctx: AppContext): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  app.get('/healthz', {
    ...spec({
      operationId: 'health',
      summary: 'The process is alive',
      tags: ['operations'],
      access: Access.public,
      responses: { 200: AliveSchema },
    }),
    handler: async () => ({ status: 'ok' }) satisfies Alive,
  });

  app.get('/readyz', {
    ...spec({
      operationId: 'ready',
      summary: 'The node can serve: its database answers',
      tags: ['operations'],
      access: Access.public,
      responses: { 200: ReadySchema, 503: UnavailableSchema },
    }),
    handler: async (request, reply) => {
      try {
        await storeAnswers(ctx);
        return { status: 'ready' } satisfies Ready;
      } catch (e) {
        request.log.warn({ err: e }, 'readiness check failed');
        return reply.code(503).send({ status: 'unavailable' } satisfies Unavailable);
      }
    },
  });
}
