/** The cluster (SPEC H1, H3): who is in it, who leads, and the network token. */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { clusterStatus, currentNetworkToken, setTokenLocation } from '../../app/cluster.js';
import type { AppContext } from '../../app/context.js';
import { ErrorCode } from '../../domain/errors.js';
import { Permission } from '../../domain/roles.js';
import { actorOf } from './auth.js';
import { ClusterStatusSchema, NetworkTokenSchema, NoContent, TokenLocationBodySchema } from './contract/index.js';
import { spec } from './operation.js';
import { API_PREFIX } from './paths.js';
import { presentClusterStatus, presentNetworkToken } from './presenters.js';

const BASE = `${API_PREFIX}/cluster`;
const TAGS = ['cluster'];

/** What the status needs to know of the node that answers. */
export interface ClusterRouteOptions {
  readonly leaseTtlMs: number;
  /** This node's data directory, where the token file is unless a location is set. */
  readonly dataDir: string;
}

export function registerClusterRoutes(server: FastifyInstance, ctx: AppContext, opts: ClusterRouteOptions): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  app.get(BASE, {
    ...spec({
      operationId: 'clusterStatus',
      summary: 'The nodes of the cluster, the rotation leader, and the current network token',
      tags: TAGS,
      access: Permission.read,
      errors: [ErrorCode.not_found],
      responses: { 200: ClusterStatusSchema },
    }),
    handler: async (request) => presentClusterStatus(await clusterStatus(ctx, actorOf(request), opts)),
  });

  app.get(`${BASE}/token`, {
    ...spec({
      operationId: 'networkToken',
      summary: 'The current network token, as the nodes write it: what a new node needs to join (--join-token)',
      tags: TAGS,
      // It admits a new node (with the master key and the database), so it is for operators.
      access: Permission.manageCertificates,
      errors: [ErrorCode.not_found],
      responses: { 200: NetworkTokenSchema },
    }),
    handler: async (request) => presentNetworkToken(await currentNetworkToken(ctx, actorOf(request))),
  });

  app.put(`${BASE}/token-location`, {
    ...spec({
      operationId: 'setTokenLocation',
      summary: 'Where every node writes the network token file from now on (null: each node\'s data directory)',
      tags: TAGS,
      access: Permission.manageCertificates,
      auditAction: 'cluster.token-location',
      errors: [ErrorCode.invalid_request],
      body: TokenLocationBodySchema,
      responses: { 204: NoContent },
    }),
    handler: async (request, reply) => {
      await setTokenLocation(ctx, actorOf(request), request.body.location);
      return reply.code(204).send();
    },
  });
}
