/** Accounts (SPEC section 5): administrators create and delete them. */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { createUser, deleteUser, listUsers, MIN_PASSWORD_LENGTH } from '../../app/accounts.js';
import type { AppContext } from '../../app/context.js';
import { ErrorCode } from '../../domain/errors.js';
import { Permission, ROLES } from '../../domain/roles.js';
import { actorOf } from './auth.js';
import { spec } from './operation.js';
import { API_PREFIX } from './paths.js';
import { ArrayOf, CreateUserBodySchema, NoContent, Ref, UsernameParamsSchema, UserSchema } from './contract/index.js';
import { presentUser } from './presenters.js';

const BASE = `${API_PREFIX}/users`;
const TAGS = ['users'];

export function registerUserRoutes(server: FastifyInstance, ctx: AppContext): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  app.get(BASE, {
    ...spec({
      operationId: 'listUsers',
      summary: 'All accounts',
      tags: TAGS,
      access: Permission.manageAccounts,
      responses: { 200: ArrayOf(UserSchema, 'The accounts.') },
    }),
    handler: async (request) => (await listUsers(ctx, actorOf(request))).map(presentUser),
  });

  app.post(BASE, {
    ...spec({
      operationId: 'createUser',
      summary: 'Create an account',
      description: `Roles: ${ROLES.join(', ')}. The password has at least ${MIN_PASSWORD_LENGTH} characters.`,
      tags: TAGS,
      access: Permission.manageAccounts,
      auditAction: 'user.create',
      errors: [ErrorCode.invalid_username, ErrorCode.invalid_role, ErrorCode.password_too_short, ErrorCode.user_exists],
      body: CreateUserBodySchema,
      responses: { 201: Ref(UserSchema, 'The new account.') },
    }),
    handler: async (request, reply) => {
      const { username, role, password } = request.body;
      return reply.code(201).send(presentUser(await createUser(ctx, actorOf(request), { username, role, password })));
    },
  });

  app.delete(`${BASE}/:username`, {
    ...spec({
      operationId: 'deleteUser',
      summary: 'Delete an account and its tokens',
      tags: TAGS,
      access: Permission.manageAccounts,
      auditAction: 'user.delete',
      errors: [ErrorCode.user_not_found, ErrorCode.last_admin, ErrorCode.cannot_delete_self],
      params: UsernameParamsSchema,
      responses: { 204: NoContent },
    }),
    handler: async (request, reply) => {
      await deleteUser(ctx, actorOf(request), request.params.username);
      return reply.code(204).send();
    },
  });
}
