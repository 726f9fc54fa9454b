/** The audit log, newest first (SPEC section 5: who, what, when, result). */
import type { FastifyInstance } from 'fastify';
import { listAuditEvents, MAX_AUDIT_PAGE } from '../../app/audit-log.js';
import type { AppContext } from '../../app/context.js';
import { Permission } from '../../domain/roles.js';
import { actorOf } from './auth.js';
import { spec } from './operation.js';
import { API_PREFIX } from './paths.js';
import { presentAuditEvent } from './presenters.js';
import { arrayOf, AUDIT_EVENT_ID } from './schemas.js';

export function registerAuditRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get<{ Querystring: { readonly limit: number; readonly beforeId?: number } }>(`${API_PREFIX}/audit`, {
    ...spec({
      operationId: 'listAuditEvents',
      summary: 'The audit log, newest first; page back with beforeId (the id of the last event seen)',
      tags: ['audit'],
      access: Permission.read,
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          limit: { type: 'integer', minimum: 1, maximum: MAX_AUDIT_PAGE, default: 100 },
          beforeId: { type: 'integer', minimum: 1 },
        },
      },
      responses: { 200: arrayOf(AUDIT_EVENT_ID, 'Events, newest first.') },
    }),
    handler: async (request) => {
      const { limit, beforeId } = request.query;
      const events = await listAuditEvents(ctx, actorOf(request), { limit, ...(beforeId !== undefined ? { beforeId } : {}) });
      return events.map(presentAuditEvent);
    },
  });
}
