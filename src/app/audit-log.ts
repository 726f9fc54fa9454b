import { Permission } from '../domain/roles.js';
import { authorize, type Actor, type AppContext } from './context.js';
import type { AuditEvent } from './records.js';

export const MAX_AUDIT_PAGE = 500;

/** The audit log, newest first; `beforeId` pages back. Every role may read it. */
export async function listAuditEvents(
  ctx: AppContext,
  actor: Actor,
  query: { readonly limit?: number; readonly beforeId?: number },
): Promise<AuditEvent[]> {
  authorize(actor, Permission.read);
  const limit = Math.min(Math.max(query.limit ?? 100, 1), MAX_AUDIT_PAGE);
  return ctx.store.audit.list({ limit, ...(query.beforeId !== undefined ? { beforeId: query.beforeId } : {}) });
}
