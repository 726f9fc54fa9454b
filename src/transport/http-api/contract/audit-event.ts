/** The audit log (SPEC section 5: who, what, when, result). */
import { Type, type Static } from 'typebox';
import { IsoDate, JsonObject, Named, Nullable, StringEnum } from './common.js';

/**
 * The outcome of an audited action. The store's vocabulary (`AuditResult` in app/ports.ts) cannot
 * be imported here (the console type-checks this folder without Node types); the presenter assigns
 * the one to the other, so the compiler keeps them equal.
 */
export const AUDIT_RESULTS = ['ok', 'refused', 'failed'] as const;

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
