/** Log-in, log-out, "who am I" and the console's cookie session (SPEC section 5, "Accounts"). */
import { Type, type Static } from 'typebox';
import { Permission, ROLES } from '../../../domain/roles.js';
import { IsoDate, Nullable, StringEnum } from './common.js';

export const LoginBodySchema = Type.Object(
  { username: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 1024 }) },
  { additionalProperties: false },
);
export type LoginBody = Static<typeof LoginBodySchema>;

const LoggedInUserSchema = Type.Object({ username: Type.String(), role: StringEnum(ROLES) });

export const LoginAnswerSchema = Type.Object(
  { token: Type.String(), expiresAt: IsoDate(), user: LoggedInUserSchema },
  { description: 'Logged in.' },
);
export type LoginAnswer = Static<typeof LoginAnswerSchema>;

export const MeSchema = Type.Object(
  { username: Type.String(), role: StringEnum(ROLES), permissions: Type.Array(StringEnum(Object.values(Permission))) },
  { description: 'The caller.' },
);
export type Me = Static<typeof MeSchema>;

const csrfToken = 'Send it as "X-CSRF-Token" on every POST, PUT, PATCH and DELETE of this session.';

export const SessionStartSchema = Type.Object(
  { csrfToken: Type.String({ description: csrfToken }), expiresAt: IsoDate(), user: LoggedInUserSchema },
  { description: 'Logged in; the session cookie is set.' },
);
export type SessionStart = Static<typeof SessionStartSchema>;

export const SessionStateSchema = Type.Object({ csrfToken: Nullable(Type.String(), csrfToken) }, { description: 'The session.' });
export type SessionState = Static<typeof SessionStateSchema>;
