/** The registered devices, for administrators: list (paged, searchable, by certificate), show, delete. */
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../app/context.js';
import { deleteDevice, getDevice, listDevices } from '../../app/devices.js';
import { ErrorCode } from '../../domain/errors.js';
import { Permission } from '../../domain/roles.js';
import { actorOf } from './auth.js';
import { spec, type JsonSchema } from './operation.js';
import { API_PREFIX } from './paths.js';
import { presentDevice, presentDevicePage } from './presenters.js';
import { DEVICE_PAGE, DEVICE_PAGE_QUERY_PROPERTIES, DEVICE_SUMMARY_ID, NO_CONTENT, ref } from './schemas.js';

const BASE = `${API_PREFIX}/devices`;
const TAGS = ['devices'];

const idParams: JsonSchema = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 64, description: 'The device id.' } },
};

interface ListQuery {
  readonly certificate?: string;
  readonly search?: string;
  readonly offset: number;
  readonly limit: number;
}

export function registerDeviceRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get<{ Querystring: ListQuery }>(BASE, {
    ...spec({
      operationId: 'listDevices',
      summary: 'Registered devices, paged and searchable; with ?certificate=ALIAS only those that pin it or have it pending',
      tags: TAGS,
      access: Permission.read,
      errors: [ErrorCode.certificate_not_found],
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          certificate: { type: 'string', minLength: 1, maxLength: 256, description: 'The alias of a keystore entry.' },
          ...DEVICE_PAGE_QUERY_PROPERTIES,
        },
      },
      responses: { 200: DEVICE_PAGE },
    }),
    handler: async (request) => {
      const q = request.query;
      const search = q.search?.trim();
      const page = await listDevices(ctx, actorOf(request), {
        offset: q.offset,
        limit: q.limit,
        ...(q.certificate !== undefined ? { certificateAlias: q.certificate } : {}),
        ...(search ? { search } : {}),
      });
      return presentDevicePage(page);
    },
  });

  app.get<{ Params: { readonly id: string } }>(`${BASE}/:id`, {
    ...spec({
      operationId: 'getDevice',
      summary: 'One device',
      tags: TAGS,
      access: Permission.read,
      errors: [ErrorCode.device_not_found],
      params: idParams,
      responses: { 200: ref(DEVICE_SUMMARY_ID, 'The device.') },
    }),
    handler: async (request) => presentDevice(await getDevice(ctx, actorOf(request), request.params.id)),
  });

  app.delete<{ Params: { readonly id: string } }>(`${BASE}/:id`, {
    ...spec({
      operationId: 'deleteDevice',
      summary: 'Forget a device: its credential stops working and it must register again',
      tags: TAGS,
      access: Permission.manageCertificates,
      auditAction: 'device.delete',
      errors: [ErrorCode.device_not_found],
      params: idParams,
      responses: { 204: NO_CONTENT },
    }),
    handler: async (request, reply) => {
      await deleteDevice(ctx, actorOf(request), request.params.id);
      return reply.code(204).send();
    },
  });
}
