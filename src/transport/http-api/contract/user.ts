/** Accounts (SPEC section 5): administrators create and delete them. */
import { Type, type Static } from 'typebox';
import { ROLES } from '../../../domain/roles.js';
import { IsoDate, Named, StringEnum } from './common.js';

export const UserSchema = Named('User', Type.Object(
  { username: Type.String(), role: StringEnum(ROLES), createdAt: IsoDate() },
  { },
));
export type User = Static<typeof UserSchema>;

export const CreateUserBodySchema = Type.Object(
  {
    username: Type.String({ maxLength: 256, description: '[a-z0-9][a-z0-9._-]{0,63}' }),
    // Not an enum here: the use case answers an unknown role with `invalid_role` and the list of roles.
    role: Type.String({ maxLength: 64, examples: [...ROLES] }),
    password: Type.String({ maxLength: 1024 }),
  },
  { additionalProperties: false },
);
export type CreateUserBody = Static<typeof CreateUserBodySchema>;

export const UsernameParamsSchema = Type.Object({ username: Type.String({ minLength: 1, maxLength: 256 }) });
export type UsernameParams = Static<typeof UsernameParamsSchema>;
