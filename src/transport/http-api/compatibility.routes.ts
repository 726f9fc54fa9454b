/** The firmware compatibility table (R2): which signature algorithms each OS family and version supports. */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { getCompatibilityRules, MAX_COMPATIBILITY_RULES, setCompatibilityRules } from '../../app/compatibility.js';
import { previewCompatibilityRules } from '../../app/compatibility-preview.js';
import type { AppContext } from '../../app/context.js';
import { ErrorCode } from '../../domain/errors.js';
import { Permission } from '../../domain/roles.js';
import { actorOf } from './auth.js';
import { CompatibilityPreviewSchema, CompatibilityTableSchema, setCompatibilityBodySchema } from './contract/index.js';
import { spec } from './operation.js';
import { API_PREFIX } from './paths.js';
import { presentCompatibilityPreview, presentCompatibilityRules } from './presenters.js';

const BASE = `${API_PREFIX}/compatibility`;
const TAGS = ['devices'];

export function registerCompatibilityRoutes(server: FastifyInstance, ctx: AppContext): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  app.get(BASE, {
    ...spec({
      operationId: 'getCompatibilityRules',
      summary: 'The firmware compatibility table',
      tags: TAGS,
      access: Permission.read,
      responses: { 200: CompatibilityTableSchema },
    }),
    handler: async (request) => presentCompatibilityRules(await getCompatibilityRules(ctx, actorOf(request))),
  });

  app.put(BASE, {
    ...spec({
      operationId: 'setCompatibilityRules',
      summary: 'Replace the firmware compatibility table',
      description:
        'Every device that did not declare its own algorithms is matched against the new table at once, and the rotation ' +
        'reconciler runs, so devices that now support the default get it as a pending replacement.',
      tags: TAGS,
      access: Permission.manageCertificates,
      auditAction: 'compatibility.set',
      errors: [ErrorCode.invalid_compatibility_rules],
      body: setCompatibilityBodySchema(MAX_COMPATIBILITY_RULES),
      responses: { 200: CompatibilityTableSchema },
    }),
    handler: async (request) => presentCompatibilityRules(await setCompatibilityRules(ctx, actorOf(request), [...request.body.rules])),
  });

  app.post(`${BASE}/preview`, {
    ...spec({
      operationId: 'previewCompatibilityRules',
      summary: 'What replacing the firmware compatibility table would do to the fleet, before it is saved. Changes nothing',
      description:
        'The body is the same as for PUT and is checked the same way. The answer compares the proposed table with the current ' +
        'one against the current default: devices that would newly get the default, devices that would no longer get it, and ' +
        'devices whose pinned certificate the proposed table says their firmware cannot verify. Devices that declared their own ' +
        'algorithms are not affected by the table.',
      tags: TAGS,
      // Like the default preview: nothing is written, and nothing is told that `read` cannot already see.
      access: Permission.read,
      errors: [ErrorCode.invalid_compatibility_rules],
      body: setCompatibilityBodySchema(MAX_COMPATIBILITY_RULES),
      responses: { 200: CompatibilityPreviewSchema },
    }),
    handler: async (request) => presentCompatibilityPreview(await previewCompatibilityRules(ctx, actorOf(request), request.body.rules)),
  });
}
