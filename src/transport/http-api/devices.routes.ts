/** The registered devices, for administrators: list (paged, searchable, by certificate), show, delete. */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AppContext } from '../../app/context.js';
import { deleteDevice, getDevice, listDevices } from '../../app/devices.js';
import { ErrorCode } from '../../domain/errors.js';
import { Permission } from '../../domain/roles.js';
import { actorOf } from './auth.js';
import { DEVICE_PAGE_DEFAULTS, DeviceIdParamsSchema, DeviceListQuerySchema, DevicePageSchema, DeviceSummarySchema, NoContent, Ref } from './contract/index.js';
import { spec } from './operation.js';
import { API_PREFIX } from './paths.js';
import { presentDevice, presentDevicePage } from './presenters.js';

const BASE = `${API_PREFIX}/devices`;
const TAGS = ['devices'];

export function registerDeviceRoutes(server: FastifyInstance, ctx: AppContext): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  app.get(BASE, {
    ...spec({
      operationId: 'listDevices',
      summary: 'Registered devices, paged and searchable; with ?certificate=ALIAS only those that pin it or have it pending',
      tags: TAGS,
      access: Permission.read,
      errors: [ErrorCode.certificate_not_found],
      querystring: DeviceListQuerySchema,
      responses: { 200: DevicePageSchema },
    }),
    handler: async (request) => {
      const q = request.query;
      const search = q.search?.trim();
      const page = await listDevices(ctx, actorOf(request), {
        offset: q.offset ?? DEVICE_PAGE_DEFAULTS.offset,
        limit: q.limit ?? DEVICE_PAGE_DEFAULTS.limit,
        ...(q.certificate !== undefined ? { certificateAlias: q.certificate } : {}),
        ...(q.reRegistrationRequired !== undefined ? { reRegistrationRequired: q.reRegistrationRequired } : {}),
        ...(search ? { search } : {}),
      });
      return presentDevicePage(page);
    },
  });

  app.get(`${BASE}/:id`, {
    ...spec({
      operationId: 'getDevice',
      summary: 'One device',
      tags: TAGS,
      access: Permission.read,
      errors: [ErrorCode.device_not_found],
      params: DeviceIdParamsSchema,
      responses: { 200: Ref(DeviceSummarySchema, 'The device.') },
    }),
    handler: async (request) => presentDevice(await getDevice(ctx, actorOf(request), request.params.id)),
  });

  app.delete(`${BASE}/:id`, {
    ...spec({
      operationId: 'deleteDevice',
      summary: 'Forget a device: its credential stops working and it must register again',
      tags: TAGS,
      access: Permission.manageCertificates,
      auditAction: 'device.delete',
      errors: [ErrorCode.device_not_found],
      params: DeviceIdParamsSchema,
      responses: { 204: NoContent },
    }),
    handler: async (request, reply) => {
      await deleteDevice(ctx, actorOf(request), request.params.id);
      return reply.code(204).send();
    },
  });
}
