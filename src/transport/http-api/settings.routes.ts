/** The installation's settings over HTTP (`certfleet settings show|set`, L1). */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AppContext } from '../../app/context.js';
import { changeSetting, showSettings, type Settings } from '../../app/settings.js';
import { formatWarningWindow } from '../../domain/expiry.js';
import { ErrorCode } from '../../domain/errors.js';
import { Permission } from '../../domain/roles.js';
import { actorOf } from './auth.js';
import { SettingBodySchema, SettingParamsSchema, SettingsSchema, type SettingsView } from './contract/index.js';
import { spec } from './operation.js';
import { API_PREFIX } from './paths.js';

const BASE = `${API_PREFIX}/settings`;
const TAGS = ['settings'];

function presentSettings(s: Settings): SettingsView {
  return { expiryWarning: formatWarningWindow(s.expiryWarningDays), expiryWarningDays: s.expiryWarningDays };
}

export function registerSettingsRoutes(server: FastifyInstance, ctx: AppContext): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  app.get(BASE, {
    ...spec({
      operationId: 'showSettings',
      summary: 'The installation\'s settings (the expiry warning window)',
      tags: TAGS,
      access: Permission.read,
      responses: { 200: SettingsSchema },
    }),
    handler: async (request) => presentSettings(await showSettings(ctx, actorOf(request))),
  });

  app.put(`${BASE}/:name`, {
    ...spec({
      operationId: 'changeSetting',
      summary: 'Change one setting; answers all of them',
      description: 'Settings: `expiry-warning` (whole days, `60d`; default 60d): certificates in use that expire within it are flagged.',
      tags: TAGS,
      access: Permission.manageSettings,
      auditAction: 'settings.set',
      errors: [ErrorCode.invalid_setting],
      params: SettingParamsSchema,
      body: SettingBodySchema,
      responses: { 200: SettingsSchema },
    }),
    handler: async (request) => presentSettings(await changeSetting(ctx, actorOf(request), request.params.name, request.body.value)),
  });
}

