/** The audit log (SPEC section 5: who, what, when, result). */
import { Type, type Static } from 'typebox';
import { AUDIT_RESULTS } from '../../../domain/vocabularies.js';
import { IsoDate, JsonObject, Named, Nullable, StringEnum } from './common.js';


export const AuditEventSchema = Named('AuditEvent', Type.Object(
  {
    id: Type.Integer(),
    at: IsoDate(),
    actor: Type.String({ description: 'User name, `system`, or `anonymous`.' }),
    action: Type.String({ examples: ['certificate.import'] }),
    target: Nullable(Type.String()),
    result: StringEnum(AUDIT_RESULTS),
    code: Nullable(Type.String(), 'The error code of a refusal.'),
    details: JsonObject(),
  },
  { },
));
export type AuditEvent = Static<typeof AuditEventSchema>;

/**
 * A page of the log, newest first. The largest page is the use case's number (app/audit-log.ts),
 * which this folder cannot import: the route passes it in.
 */
export function auditQuerySchema(maxPage: number) {
  return Type.Object(
    {
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: maxPage, default: 100 })),
      beforeId: Type.Optional(Type.Integer({ minimum: 1 })),
    },
    { additionalProperties: false },
  );
}
export type AuditQuery = Static<ReturnType<typeof auditQuerySchema>>;
