/** Named API tokens of the calling account, for scripts and the CLI. */
import { Type, type Static } from 'typebox';
import { IsoDate, Named, Nullable } from './common.js';

export const ApiTokenSchema = Named('ApiToken', Type.Object(
  { id: Type.String(), name: Type.String(), createdAt: IsoDate(), expiresAt: IsoDate(), lastUsedAt: Nullable(IsoDate()) },
  { description: 'An API token as listed: never the token itself, which is shown once when it is made.' },
));
export type ApiToken = Static<typeof ApiTokenSchema>;

/** The one moment a token is shown: right after it was made. */
export const IssuedApiTokenSchema = Type.Object(
  { id: Type.String(), token: Type.String(), name: Type.String(), expiresAt: IsoDate() },
  { description: 'The token; store it now, it cannot be shown again.' },
);
export type IssuedApiToken = Static<typeof IssuedApiTokenSchema>;

/** The longest lifetime is the use case's number (app/accounts.ts), which the route passes in. */
export function createApiTokenBodySchema(maxDays: number) {
  return Type.Object(
    { name: Type.String({ minLength: 1, maxLength: 64 }), days: Type.Integer({ description: `1 to ${maxDays}.` }) },
    { additionalProperties: false },
  );
}
export type CreateApiTokenBody = Static<ReturnType<typeof createApiTokenBodySchema>>;

/** The id of a token, API or enrollment. */
export const TokenIdParamsSchema = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export type TokenIdParams = Static<typeof TokenIdParamsSchema>;
