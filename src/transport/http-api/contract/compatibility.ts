/** The firmware compatibility table (R2): which signature algorithms each OS family and version supports. */
import { Type, type Static } from 'typebox';
import { ALLOWED_SIGNATURE_ALGORITHMS } from '../../../domain/algorithms.js';
import { ArrayOf, Named, Nullable } from './common.js';

export const CompatibilityRuleSchema = Named('CompatibilityRule', Type.Object(
  {
    profile: Type.String({ maxLength: 64, examples: ['igel-os-12', 'igel-linux-4.01.650'] }),
    osFamily: Type.String({ maxLength: 64, examples: ['IGEL OS', 'IGEL Linux', 'Windows 7 Embedded'] }),
    maxVersion: Nullable(Type.String({ maxLength: 64 }), 'Versions up to and including this one; null: every version.'),
    algorithms: Type.Array(Type.String({ maxLength: 64 }), {
      maxItems: 64,
      description: `Signature algorithms the firmware supports, from the allow-list: ${ALLOWED_SIGNATURE_ALGORITHMS.join(', ')}.`,
    }),
  },
  {
    additionalProperties: false,
    description:
      'One row of the firmware compatibility table (R2). A device matches the first rule, in table order, whose OS family ' +
      'equals its own (ignoring case) and whose maxVersion is at or above its version.',
  },
));
export type CompatibilityRule = Static<typeof CompatibilityRuleSchema>;

export const CompatibilityTableSchema = Type.Object(
  { rules: ArrayOf(CompatibilityRuleSchema, 'The rules; the first that matches a device decides.') },
  { description: 'The table, in match order.' },
);
export type CompatibilityTable = Static<typeof CompatibilityTableSchema>;

/** The largest table is the use case's number (app/compatibility.ts), which the route passes in. */
export function setCompatibilityBodySchema(maxRules: number) {
  return Type.Object(
    { rules: ArrayOf(CompatibilityRuleSchema, 'The new table, in match order.', { maxItems: maxRules }) },
    { additionalProperties: false },
  );
}
export type SetCompatibilityBody = Static<ReturnType<typeof setCompatibilityBodySchema>>;
