/** Enrollment tokens (R5): what a device needs to register. The token text is shown once, at creation. */
import { Type, type Static } from 'typebox';
import { ENROLLMENT_TOKEN_STATES } from '../../../domain/vocabularies.js';
import { IsoDate, Named, Nullable, StringEnum } from './common.js';

const listedFields = {
  usesAllowed: Type.Integer({ description: 'How many devices may register with it.' }),
  usesLeft: Type.Integer(),
  expiresAt: IsoDate(),
  unitId: Nullable(Type.String(), 'The only unit id (MAC address) that may register with it, if bound.'),
  createdBy: Type.String(),
  createdAt: IsoDate(),
  revokedAt: Nullable(IsoDate()),
  state: StringEnum(ENROLLMENT_TOKEN_STATES),
};

export const EnrollmentTokenSchema = Named('EnrollmentToken', Type.Object(
  { id: Type.String(), ...listedFields },
  { description: 'An enrollment token as listed: never the token itself, which is shown once when it is made (R5).' },
));
export type EnrollmentToken = Static<typeof EnrollmentTokenSchema>;

/** The listed fields, with the token itself right after the id. */
export const IssuedEnrollmentTokenSchema = Type.Object(
  {
    id: Type.String(),
    token: Type.String({ description: '`cfe_…`' }),
    ...listedFields,
    expectedFingerprints: Type.Array(Type.String(), {
      description:
        'With `pinCurrent`: the SHA-256 fingerprints (upper-case hex with colons) of the active keystore entries, in priority order; ' +
        'hand them to the device with the token, and it accepts at its first contact only a server that presents one of them (L3). Empty otherwise.',
    }),
  },
  { description: 'The new token; store it now, it cannot be shown again.' },
);
export type IssuedEnrollmentToken = Static<typeof IssuedEnrollmentTokenSchema>;

/** Every field has its default; the body may be left out altogether. */
export const CreateEnrollmentTokenBodySchema = Type.Object(
  {
    uses: Type.Optional(Type.Integer({ description: '1 to 100000; default 1.' })),
    expiresIn: Type.Optional(Type.Integer({ description: 'Seconds; default 86400.' })),
    unitId: Type.Optional(Type.String({ maxLength: 64, description: 'A MAC address, e.g. 00:11:22:33:44:55.' })),
    pinCurrent: Type.Optional(Type.Boolean({ description: 'Answer with the fingerprints the device must accept at its first contact (L3).' })),
  },
  { additionalProperties: false },
);
export type CreateEnrollmentTokenBody = Static<typeof CreateEnrollmentTokenBodySchema>;
