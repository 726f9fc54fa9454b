/** Automatic successors (L2): turn them on with their settings, off, and see what they did. */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AppContext } from '../../app/context.js';
import { disableLifecycle, lifecycleStatus, setLifecycle } from '../../app/lifecycle.js';
import { ErrorCode } from '../../domain/errors.js';
import { Permission } from '../../domain/roles.js';
import { actorOf } from './auth.js';
import { LifecycleSetBodySchema, LifecycleSettingsSchema, LifecycleStatusSchema } from './contract/index.js';
import { spec } from './operation.js';
import { API_PREFIX } from './paths.js';
import { presentLifecycleSettings, presentLifecycleStatus } from './presenters.js';

const BASE = `${API_PREFIX}/lifecycle`;
const TAGS = ['lifecycle'];

export function registerLifecycleRoutes(server: FastifyInstance, ctx: AppContext): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  app.get(BASE, {
    ...spec({
      operationId: 'lifecycleStatus',
      summary: 'The automatic successors: settings, the certificates looked after with their days left, and the timeline of steps',
      tags: TAGS,
      access: Permission.read,
      responses: { 200: LifecycleStatusSchema },
    }),
    handler: async (request) => presentLifecycleStatus(await lifecycleStatus(ctx, actorOf(request))),
  });

  app.put(BASE, {
    ...spec({
      operationId: 'setLifecycle',
      summary: 'Turn the automatic successors on (or change their settings)',
      description:
        'When the default, or a legacy fallback that devices pin, comes within renewBefore of its expiry, the rotation leader ' +
        'generates a successor with the same parameters, makes it the default (or the fallback) in the next window, lets the ' +
        'reconciler move the fleet, deactivates the old entry once no device uses it and deletes it retireAfter later.',
      tags: TAGS,
      access: Permission.manageLifecycle,
      auditAction: 'lifecycle.set',
      errors: [ErrorCode.invalid_lifecycle_settings],
      body: LifecycleSetBodySchema,
      responses: { 200: LifecycleSettingsSchema },
    }),
    handler: async (request) => presentLifecycleSettings(await setLifecycle(ctx, actorOf(request), request.body)),
  });

  app.post(`${BASE}/off`, {
    ...spec({
      operationId: 'disableLifecycle',
      summary: 'Turn the automatic successors off; successions under way stay where they are until it is on again',
      tags: TAGS,
      access: Permission.manageLifecycle,
      auditAction: 'lifecycle.off',
      responses: { 200: LifecycleSettingsSchema },
    }),
    handler: async (request) => presentLifecycleSettings(await disableLifecycle(ctx, actorOf(request))),
  });
}
