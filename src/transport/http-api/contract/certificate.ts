/** The keystore over HTTP (SPEC K1–K10): an entry as listed, and what the certificate routes take. */
import { Type, type Static } from 'typebox';
import { GENERATION_ALGORITHMS } from '../../../domain/algorithms.js';
import { ALIAS_PATTERN } from '../../../domain/keystore.js';
import { CERTIFICATE_SOURCES } from '../../../domain/vocabularies.js';
import { IsoDate, Named, Nullable, StringEnum } from './common.js';


export const CertificateSummarySchema = Named('CertificateSummary', Type.Object(
  {
    alias: Type.String({ pattern: ALIAS_PATTERN.source }),
    position: Type.Integer({ minimum: 1, description: '1 is the top of the list, the default.' }),
    isDefault: Type.Boolean(),
    active: Type.Boolean(),
    signatureAlgorithm: Type.String({ description: 'Java name, e.g. SHA512withRSA.' }),
    // Typed as text, as the stored facts hold it; import and generation admit no other kind (K5, K6).
    keyAlgorithm: Type.String({ enum: ['RSA', 'EC'] }),
    keySize: Type.Integer(),
    curve: Nullable(Type.String(), 'Named curve of an EC key (P-256, P-384 …), null for RSA.'),
    subject: Type.String(),
    issuer: Type.String(),
    serialNumber: Type.String(),
    notBefore: IsoDate(),
    notAfter: IsoDate(),
    sha1Fingerprint: Type.String({ description: 'Upper-case hex with colons, as keytool prints it.' }),
    sha256Fingerprint: Type.String({ description: 'Upper-case hex with colons, as keytool prints it.' }),
    deviceCount: Type.Integer({ description: 'Devices that pin this certificate.' }),
    pendingDeviceCount: Type.Integer({ description: 'Devices that are about to pin it (pending replacement).' }),
    daysUntilExpiry: Type.Integer({ description: 'Whole days left; negative once expired.' }),
    expired: Type.Boolean({ description: 'The certificate is past its notAfter.' }),
    expiryWarning: Type.Boolean({
      description: 'L1: devices pin it (or are about to) and it expires within the warning window (`settings`), or has expired. With `expired`, an error: those devices are cut off.',
    }),
    source: StringEnum(CERTIFICATE_SOURCES),
    createdAt: IsoDate(),
  },
  { description: 'A keystore entry without its key material (SPEC section 5, `cert list --json`).' },
));
export type CertificateSummary = Static<typeof CertificateSummarySchema>;

export const ImportedCertificateSchema = Type.Object(
  {
    ...CertificateSummarySchema.properties,
    integrityCheck: Type.String({
      enum: ['mac', 'keystore_digest', 'none'],
      description:
        'What checked the file before it was read: the PKCS#12 MAC, the JKS keystore digest, or nothing ' +
        '(a PKCS#12 file written without a MAC, e.g. `openssl pkcs12 -nomac` or Java with keystore.pkcs12.macAlgorithm=NONE, and PEM).',
    }),
  },
  { description: 'The imported entry, and whether the file had an integrity check (K6).' },
);
export type ImportedCertificate = Static<typeof ImportedCertificateSchema>;

export const AliasParamsSchema = Type.Object({
  alias: Type.String({ minLength: 1, maxLength: 256, description: 'The alias of a keystore entry.' }),
});
export type AliasParams = Static<typeof AliasParamsSchema>;

const aliasField = () => Type.String({ maxLength: 256, description: '[A-Za-z0-9._-]{1,64}' });

/** K5. Every field but the alias has a default (see the route's description). */
export const GenerateCertificateBodySchema = Type.Object(
  {
    alias: aliasField(),
    commonName: Type.Optional(Type.String({ maxLength: 256 })),
    signatureAlgorithm: Type.Optional(Type.String({ maxLength: 64, examples: Object.keys(GENERATION_ALGORITHMS) })),
    keySize: Type.Optional(Type.Integer()),
    days: Type.Optional(Type.Integer()),
  },
  { additionalProperties: false },
);
export type GenerateCertificateBody = Static<typeof GenerateCertificateBodySchema>;

/** K6: the keystore file travels in base64 inside the JSON body. */
export const ImportCertificateBodySchema = Type.Object(
  {
    alias: aliasField(),
    file: Type.String({
      contentEncoding: 'base64',
      pattern: '^[A-Za-z0-9+/=\\r\\n]*$',
      description: 'The keystore file, base64. An empty file is read, and refused as unreadable.',
    }),
    password: Type.String({ maxLength: 1024, description: 'The store password; "" for a file without one (PEM with a plain key, a Windows export without a password).' }),
    keyPassword: Type.Optional(Type.String({ maxLength: 1024 })),
    entry: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { additionalProperties: false },
);
export type ImportCertificateBody = Static<typeof ImportCertificateBodySchema>;

/** K8: the password the PKCS#12 file is sealed with. */
export const ExportKeyPairBodySchema = Type.Object(
  { password: Type.String({ maxLength: 1024, description: 'At least 8 characters.' }) },
  { additionalProperties: false },
);
export type ExportKeyPairBody = Static<typeof ExportKeyPairBodySchema>;

export const ContentQuerySchema = Type.Object(
  { format: Type.Optional(Type.Unsafe<'json' | 'text'>({ type: 'string', enum: ['json', 'text'], default: 'json' })) },
  { additionalProperties: false },
);
export type ContentQuery = Static<typeof ContentQuerySchema>;

export const ExportQuerySchema = Type.Object(
  { format: Type.Optional(Type.Unsafe<'pem' | 'der'>({ type: 'string', enum: ['pem', 'der'], default: 'pem' })) },
  { additionalProperties: false },
);
export type ExportQuery = Static<typeof ExportQuerySchema>;
