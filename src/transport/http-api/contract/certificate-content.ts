/** K9: everything in a certificate (public data only), as `crypto/certificate-content.ts` reads it. */
import { Type, type Static } from 'typebox';
import { IsoDate, Named, Nullable } from './common.js';

const NameContentSchema = Type.Object({
  name: Type.String(),
  rdns: Type.Array(Type.Array(Type.Object({ type: Type.String(), value: Type.String() })), {
    description: 'Relative distinguished names in the order of the encoding.',
  }),
});
export type NameContent = Static<typeof NameContentSchema>;

export const CertificateContentSchema = Named('CertificateContent', Type.Object(
  {
    version: Type.Integer(),
    serialNumber: Type.String(),
    signatureAlgorithm: Type.Object({ name: Type.String(), oid: Type.String() }),
    issuer: NameContentSchema,
    subject: NameContentSchema,
    validity: Type.Object({ notBefore: IsoDate(), notAfter: IsoDate() }),
    publicKey: Type.Object({
      algorithm: Type.String(),
      oid: Type.String(),
      size: Type.Integer(),
      curve: Nullable(Type.String()),
      exponent: Nullable(Type.Integer(), 'RSA only.'),
      sha256: Type.String({ description: 'SHA-256 of the SubjectPublicKeyInfo.' }),
    }),
    extensions: Type.Array(
      Type.Object({
        oid: Type.String(),
        name: Nullable(Type.String(), 'Null for an extension certfleet does not know.'),
        critical: Type.Boolean(),
        value: Type.Unknown({ description: 'A readable value for the common extensions; hex of the DER value for the others.' }),
      }),
    ),
    fingerprints: Type.Object({ sha1: Type.String(), sha256: Type.String() }),
    pem: Type.String({ description: 'The certificate (never a key).' }),
  },
  { },
));
export type CertificateContent = Static<typeof CertificateContentSchema>;
