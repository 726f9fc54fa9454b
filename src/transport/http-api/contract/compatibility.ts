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

const BeforeAfterSchema = (description: string) =>
  Type.Object(
    {
      before: Type.Integer({ description: 'With the current table.' }),
      after: Type.Integer({ description: 'With the proposed table.' }),
    },
    { additionalProperties: false, description },
  );

const previewCounts = {
  newlySwitching: Type.Integer({ description: 'Staying now, switching with the proposed table: the default would be scheduled for them.' }),
  noLongerSwitching: Type.Integer({ description: 'Switching now, staying with the proposed table: their pending replacement would be dropped.' }),
  unsupportedPin: Type.Integer({
    description:
      "Devices that rely on the table whose pinned certificate's algorithm the proposed table says they do not support " +
      '(if the table were right, they could not verify the server).',
  }),
};

export const ProfileChangeSchema = Type.Object(previewCounts, { additionalProperties: false });
export type ProfileChange = Static<typeof ProfileChangeSchema>;

export const CompatibilityPreviewSchema = Type.Object(
  {
    defaultAlias: Type.String({ description: 'The default the numbers are relative to.' }),
    defaultAlgorithm: Type.String({ description: 'Its signature algorithm.' }),
    total: Type.Integer({ description: 'Registered devices.' }),
    declared: Type.Integer({ description: 'Devices that declared their own algorithms: the table does not apply to them.' }),
    switching: BeforeAfterSchema('Devices not on the default whose firmware supports it: they get (or keep) it as a pending replacement.'),
    staying: BeforeAfterSchema('Devices not on the default whose firmware lacks its algorithm: they keep their certificate.'),
    ...previewCounts,
    byProfile: Type.Unsafe<Readonly<Record<string, ProfileChange>>>({
      type: 'object',
      description: 'Per firmware profile (`unknown` for devices that reported none); only profiles where a count is not 0.',
      additionalProperties: ProfileChangeSchema,
    }),
  },
  {
    additionalProperties: false,
    description: 'What saving the proposed table would do, relative to the current table, against the current default. Nothing is written.',
  },
);
export type CompatibilityPreview = Static<typeof CompatibilityPreviewSchema>;
