/** The audit log, newest first (SPEC section 5: who, what, when, result). */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { listAuditEvents, MAX_AUDIT_PAGE } from '../../app/audit-log.js';
import type { AppContext } from '../../app/context.js';
import { Permission } from '../../domain/roles.js';
import { actorOf } from './auth.js';
import { spec } from './operation.js';
import { API_PREFIX } from './paths.js';
import { ArrayOf, AuditEventSchema, auditQuerySchema } from './contract/index.js';
import { presentAuditEvent } from './presenters.js';

export function registerAuditRoutes(server: FastifyInstance, ctx: AppContext): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  app.get(`${API_PREFIX}/audit`, {
    ...spec({
      operationId: 'listAuditEvents',
      summary: 'The audit log, newest first; page back with beforeId (the id of the last event seen)',
      tags: ['audit'],
      access: Permission.read,
      querystring: auditQuerySchema(MAX_AUDIT_PAGE),
      responses: { 200: ArrayOf(AuditEventSchema, 'Events, newest first.') },
    }),
    handler: async (request) => {
      const { limit, beforeId } = request.query;
      const events = await listAuditEvents(ctx, actorOf(request), {
        ...(limit !== undefined ? { limit } : {}),
        ...(beforeId !== undefined ? { beforeId } : {}),
      });
      return events.map(presentAuditEvent);
    },
  });
}
