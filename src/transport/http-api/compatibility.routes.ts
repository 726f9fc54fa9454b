/** The firmware compatibility table (R2): which signature algorithms each OS family and version supports. */
import type { FastifyInstance } from 'fastify';
import { getCompatibilityRules, MAX_COMPATIBILITY_RULES, setCompatibilityRules } from '../../app/compatibility.js';
import type { AppContext } from '../../app/context.js';
import type { CompatibilityRule } from '../../domain/compatibility.js';
import { ErrorCode } from '../../domain/errors.js';
import { Permission } from '../../domain/roles.js';
import { actorOf } from './auth.js';
import { spec, type JsonSchema } from './operation.js';
import { API_PREFIX } from './paths.js';
import { presentCompatibilityRules } from './presenters.js';
import { arrayOf, COMPATIBILITY_RULE_ID } from './schemas.js';

const BASE = `${API_PREFIX}/compatibility`;
const TAGS = ['devices'];

const table: JsonSchema = {
  type: 'object',
  description: 'The table, in match order.',
  required: ['rules'],
  properties: { rules: arrayOf(COMPATIBILITY_RULE_ID, 'The rules; the first that matches a device decides.') },
};

export function registerCompatibilityRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get(BASE, {
    ...spec({
      operationId: 'getCompatibilityRules',
      summary: 'The firmware compatibility table',
      tags: TAGS,
      access: Permission.read,
      responses: { 200: table },
    }),
    handler: async (request) => presentCompatibilityRules(await getCompatibilityRules(ctx, actorOf(request))),
  });

  app.put<{ Body: { readonly rules: readonly CompatibilityRule[] } }>(BASE, {
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
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['rules'],
        properties: { rules: { ...arrayOf(COMPATIBILITY_RULE_ID, 'The new table, in match order.'), maxItems: MAX_COMPATIBILITY_RULES } },
      },
      responses: { 200: table },
    }),
    handler: async (request) => presentCompatibilityRules(await setCompatibilityRules(ctx, actorOf(request), [...request.body.rules])),
  });
}
