/**
 * Rotation (R3) on demand: run the reconciler now, see how far the fleet is, and preview what
 * making a certificate the default would do before doing it.
 */
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../app/context.js';
import { previewDefault, requestRotation, rotationStatus } from '../../app/rotation.js';
import { ErrorCode } from '../../domain/errors.js';
import { Permission } from '../../domain/roles.js';
import { actorOf } from './auth.js';
import { spec, type JsonSchema } from './operation.js';
import { API_PREFIX } from './paths.js';
import { presentDefaultPreview, presentRotationReport, presentRotationStatus } from './presenters.js';
import { ref, ROTATION_REPORT_ID } from './schemas.js';

const BASE = `${API_PREFIX}/sync`;
const TAGS = ['rotation'];

const countsByProfile: JsonSchema = {
  type: 'object',
  description: 'Devices per firmware profile (`unknown` for devices that reported none).',
  additionalProperties: { type: 'integer' },
};

export function registerSyncRoutes(app: FastifyInstance, ctx: AppContext): void {
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
      responses: { 200: ref(ROTATION_REPORT_ID, 'The report of this run.') },
    }),
    handler: async (request) => presentRotationReport(await requestRotation(ctx, actorOf(request))),
  });

  app.get(`${BASE}/status`, {
    ...spec({
      operationId: 'rotationStatus',
      summary: 'How far the fleet is on its way to the default, and the last run\'s report',
      tags: TAGS,
      access: Permission.read,
      responses: {
        200: {
          type: 'object',
          required: ['lastRun', 'defaultAlias', 'total', 'onDefault', 'pending', 'staying'],
          properties: {
            lastRun: { description: 'Null until the reconciler has run once.', anyOf: [{ $ref: `${ROTATION_REPORT_ID}#` }, { type: 'null' }] },
            defaultAlias: { type: 'string' },
            total: { type: 'integer', description: 'Registered devices.' },
            onDefault: { type: 'integer', description: 'Devices that pin the default.' },
            pending: { type: 'integer', description: 'Devices with a pending replacement they have not confirmed yet.' },
            staying: { type: 'integer', description: 'Devices that cannot use the default and keep their certificate.' },
          },
        },
      },
    }),
    handler: async (request) => presentRotationStatus(await rotationStatus(ctx, actorOf(request))),
  });

  app.get<{ Params: { readonly alias: string } }>(`${API_PREFIX}/certificates/:alias/default-preview`, {
    ...spec({
      operationId: 'previewDefault',
      summary: 'What making this entry the default would do: who would switch and who would stay, per profile. Changes nothing',
      tags: ['certificates', ...TAGS],
      access: Permission.read,
      // The same rules as making it the default: an inactive entry cannot be one (K2).
      errors: [ErrorCode.certificate_not_found, ErrorCode.default_must_be_active],
      params: {
        type: 'object',
        required: ['alias'],
        properties: { alias: { type: 'string', minLength: 1, maxLength: 256, description: 'The alias of a keystore entry.' } },
      },
      responses: {
        200: {
          type: 'object',
          required: ['alias', 'switching', 'staying', 'alreadyCurrent'],
          properties: {
            alias: { type: 'string' },
            switching: {
              type: 'object',
              description: 'Devices that support its algorithm and would get it as a pending replacement.',
              required: ['total', 'byProfile'],
              properties: { total: { type: 'integer' }, byProfile: countsByProfile },
            },
            staying: {
              type: 'object',
              description: 'Devices whose firmware lacks its algorithm: they would keep their certificate.',
              required: ['total', 'byProfile', 'lacking'],
              properties: {
                total: { type: 'integer' },
                byProfile: countsByProfile,
                lacking: { type: 'string', description: 'The signature algorithm they lack.' },
              },
            },
            alreadyCurrent: { type: 'integer', description: 'Devices that pin it already.' },
          },
        },
      },
    }),
    handler: async (request) => presentDefaultPreview(await previewDefault(ctx, actorOf(request), request.params.alias)),
  });
}
