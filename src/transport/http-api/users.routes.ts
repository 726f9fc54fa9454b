/** Accounts (SPEC section 5): administrators create and delete them. */
import type { FastifyInstance } from 'fastify';
import { createUser, deleteUser, listUsers, MIN_PASSWORD_LENGTH } from '../../app/accounts.js';
import type { AppContext } from '../../app/context.js';
import { ErrorCode } from '../../domain/errors.js';
import { Permission, ROLES } from '../../domain/roles.js';
import { actorOf } from './auth.js';
import { spec } from './operation.js';
import { API_PREFIX } from './paths.js';
import { presentUser } from './presenters.js';
import { arrayOf, NO_CONTENT, ref, USER_ID } from './schemas.js';

const BASE = `${API_PREFIX}/users`;
const TAGS = ['users'];

interface CreateUserBody {
  readonly username: string;
  readonly role: string;
  readonly password: string;
}

export function registerUserRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get(BASE, {
    ...spec({
      operationId: 'listUsers',
      summary: 'All accounts',
      tags: TAGS,
      access: Permission.manageAccounts,
      responses: { 200: arrayOf(USER_ID, 'The accounts.') },
    }),
    handler: async (request) => (await listUsers(ctx, actorOf(request))).map(presentUser),
  });

  app.post<{ Body: CreateUserBody }>(BASE, {
    ...spec({
      operationId: 'createUser',
      summary: 'Create an account',
      description: `Roles: ${ROLES.join(', ')}. The password has at least ${MIN_PASSWORD_LENGTH} characters.`,
      tags: TAGS,
      access: Permission.manageAccounts,
      auditAction: 'user.create',
      errors: [ErrorCode.invalid_role, ErrorCode.password_too_short, ErrorCode.user_exists],
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['username', 'role', 'password'],
        properties: {
          username: { type: 'string', maxLength: 256, description: '[a-z0-9][a-z0-9._-]{0,63}' },
          // Not an enum here: the use case answers an unknown role with `invalid_role` and the list of roles.
          role: { type: 'string', maxLength: 64, examples: ROLES },
          password: { type: 'string', maxLength: 1024 },
        },
      },
      responses: { 201: ref(USER_ID, 'The new account.') },
    }),
    handler: async (request, reply) => {
      const { username, role, password } = request.body;
      return reply.code(201).send(presentUser(await createUser(ctx, actorOf(request), { username, role, password })));
    },
  });

  app.delete<{ Params: { readonly username: string } }>(`${BASE}/:username`, {
    ...spec({
      operationId: 'deleteUser',
      summary: 'Delete an account and its tokens',
      tags: TAGS,
      access: Permission.manageAccounts,
      auditAction: 'user.delete',
      errors: [ErrorCode.user_not_found, ErrorCode.last_admin, ErrorCode.cannot_delete_self],
      params: { type: 'object', required: ['username'], properties: { username: { type: 'string', minLength: 1, maxLength: 256 } } },
      responses: { 204: NO_CONTENT },
    }),
    handler: async (request, reply) => {
      await deleteUser(ctx, actorOf(request), request.params.username);
      return reply.code(204).send();
    },
  });
}
