/**
 * Rotation (R3) on demand: run the reconciler now, see how far the fleet is, and preview what
 * making a certificate the default would do before doing it.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AppContext } from '../../app/context.js';
import { previewDefault, requestRotation, rotationStatus } from '../../app/rotation.js';
import { ErrorCode } from '../../domain/errors.js';
import { Permission } from '../../domain/roles.js';
import { actorOf } from './auth.js';
import { AliasParamsSchema, DefaultPreviewSchema, Ref, RotationReportSchema, RotationStatusSchema } from './contract/index.js';
import { spec } from './operation.js';
import { API_PREFIX } from './paths.js';
import { presentDefaultPreview, presentRotationReport, presentRotationStatus } from './presenters.js';

const BASE = `${API_PREFIX}/sync`;
const TAGS = ['rotation'];

export function registerSyncRoutes(server: FastifyInstance, ctx: AppContext): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  app.post(`${BASE}/run`, {
    ...spec({
      operationId: 'runRotation',
      summary: 'Run the rotation reconciler now and wait for its report',
      description:
        'Each device that supports the default and does not pin it gets it as a pending replacement; devices whose firmware ' +
        'lacks the default\'s algorithm keep their certificate. The reconciler also runs on its own, every sync interval ' +
        'and at once after the default changes.',
      tags: TAGS,
      access: Permission.manageCertificates,
      auditAction: 'rotation.run',
      responses: { 200: Ref(RotationReportSchema, 'The report of this run.') },
    }),
    handler: async (request) => presentRotationReport(await requestRotation(ctx, actorOf(request))),
  });

  app.get(`${BASE}/status`, {
    ...spec({
      operationId: 'rotationStatus',
      summary: 'How far the fleet is on its way to the default, and the last run\'s report',
      tags: TAGS,
      access: Permission.read,
      responses: { 200: RotationStatusSchema },
    }),
    handler: async (request) => presentRotationStatus(await rotationStatus(ctx, actorOf(request))),
  });

  app.get(`${API_PREFIX}/certificates/:alias/default-preview`, {
    ...spec({
      operationId: 'previewDefault',
      summary: 'What making this entry the default would do: who would switch and who would stay, per profile. Changes nothing',
      tags: ['certificates', ...TAGS],
      access: Permission.read,
      // The same rules as making it the default: an inactive entry cannot be one (K2).
      errors: [ErrorCode.certificate_not_found, ErrorCode.default_must_be_active],
      params: AliasParamsSchema,
      responses: { 200: DefaultPreviewSchema },
    }),
    handler: async (request) => presentDefaultPreview(await previewDefault(ctx, actorOf(request), request.params.alias)),
  });
}
