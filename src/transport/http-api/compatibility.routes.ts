/** The firmware compatibility table (R2): which signature algorithms each OS family and version supports. */
import type { FastifyInstance } from 'fastify';
import { getCompatibilityRules, MAX_COMPATIBILITY_RULES, setCompatibilityRules } from '../../app/compatibility.js';
import { previewCompatibilityRules, type CompatibilityPreview } from '../../app/compatibility-preview.js';
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

const rulesBody: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['rules'],
  properties: { rules: { ...arrayOf(COMPATIBILITY_RULE_ID, 'The new table, in match order.'), maxItems: MAX_COMPATIBILITY_RULES } },
};

const beforeAfter = (description: string): JsonSchema => ({
  type: 'object',
  description,
  additionalProperties: false,
  required: ['before', 'after'],
  properties: { before: { type: 'integer', description: 'With the current table.' }, after: { type: 'integer', description: 'With the proposed table.' } },
});

const PREVIEW_COUNTS = {
  newlySwitching: { type: 'integer', description: 'Staying now, switching with the proposed table: the default would be scheduled for them.' },
  noLongerSwitching: { type: 'integer', description: 'Switching now, staying with the proposed table: their pending replacement would be dropped.' },
  unsupportedPin: {
    type: 'integer',
    description:
      'Devices that rely on the table whose pinned certificate\'s algorithm the proposed table says they do not support ' +
      '(if the table were right, they could not verify the server).',
  },
} as const;

const preview: JsonSchema = {
  type: 'object',
  description: 'What saving the proposed table would do, relative to the current table, against the current default. Nothing is written.',
  additionalProperties: false,
  required: ['defaultAlias', 'defaultAlgorithm', 'total', 'declared', 'switching', 'staying', 'newlySwitching', 'noLongerSwitching', 'unsupportedPin', 'byProfile'],
  properties: {
    defaultAlias: { type: 'string', description: 'The default the numbers are relative to.' },
    defaultAlgorithm: { type: 'string', description: 'Its signature algorithm.' },
    total: { type: 'integer', description: 'Registered devices.' },
    declared: { type: 'integer', description: 'Devices that declared their own algorithms: the table does not apply to them.' },
    switching: beforeAfter('Devices not on the default whose firmware supports it: they get (or keep) it as a pending replacement.'),
    staying: beforeAfter('Devices not on the default whose firmware lacks its algorithm: they keep their certificate.'),
    ...PREVIEW_COUNTS,
    byProfile: {
      type: 'object',
      description: 'Per firmware profile (`unknown` for devices that reported none); only profiles where a count is not 0.',
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['newlySwitching', 'noLongerSwitching', 'unsupportedPin'],
        properties: PREVIEW_COUNTS,
      },
    },
  },
};

/** The fields of the preview that leave the server. */
function presentCompatibilityPreview(p: CompatibilityPreview): CompatibilityPreview {
  const byProfile: Record<string, CompatibilityPreview['byProfile'][string]> = {};
  for (const [profile, c] of Object.entries(p.byProfile)) {
    byProfile[profile] = { newlySwitching: c.newlySwitching, noLongerSwitching: c.noLongerSwitching, unsupportedPin: c.unsupportedPin };
  }
  return {
    defaultAlias: p.defaultAlias,
    defaultAlgorithm: p.defaultAlgorithm,
    total: p.total,
    declared: p.declared,
    switching: { before: p.switching.before, after: p.switching.after },
    staying: { before: p.staying.before, after: p.staying.after },
    newlySwitching: p.newlySwitching,
    noLongerSwitching: p.noLongerSwitching,
    unsupportedPin: p.unsupportedPin,
    byProfile,
  };
}

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
      body: rulesBody,
      responses: { 200: table },
    }),
    handler: async (request) => presentCompatibilityRules(await setCompatibilityRules(ctx, actorOf(request), [...request.body.rules])),
  });

  app.post<{ Body: { readonly rules: readonly CompatibilityRule[] } }>(`${BASE}/preview`, {
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
      body: rulesBody,
      responses: { 200: preview },
    }),
    handler: async (request) => presentCompatibilityPreview(await previewCompatibilityRules(ctx, actorOf(request), request.body.rules)),
  });
}
