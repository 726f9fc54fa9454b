/**
 * Signature algorithms in Java names (as keytool prints them), the object identifiers they come
 * from, and the allow-list of K6. The name is decided from the certificate's signature OID, never
 * from a library's guess (Node's X509Certificate cannot tell MD5 apart).
 */
export const SignatureAlgorithm = {
  MD2withRSA: 'MD2withRSA',
  MD5withRSA: 'MD5withRSA',
  SHA1withRSA: 'SHA1withRSA',
  SHA224withRSA: 'SHA224withRSA',
  SHA256withRSA: 'SHA256withRSA',
  SHA384withRSA: 'SHA384withRSA',
  SHA512withRSA: 'SHA512withRSA',
  RSASSA_PSS: 'RSASSA-PSS',
  SHA1withECDSA: 'SHA1withECDSA',
  SHA224withECDSA: 'SHA224withECDSA',
  SHA256withECDSA: 'SHA256withECDSA',
  SHA384withECDSA: 'SHA384withECDSA',
  SHA512withECDSA: 'SHA512withECDSA',
  SHA1withDSA: 'SHA1withDSA',
  SHA224withDSA: 'SHA224withDSA',
  SHA256withDSA: 'SHA256withDSA',
  Ed25519: 'Ed25519',
  Ed448: 'Ed448',
} as const;
export type SignatureAlgorithm = (typeof SignatureAlgorithm)[keyof typeof SignatureAlgorithm];

/** Signature algorithm OID → Java name. Unknown OIDs are reported as `OID.<dotted>`. */
export const SIGNATURE_ALGORITHM_BY_OID: Readonly<Record<string, SignatureAlgorithm>> = {
  '1.2.840.113549.1.1.2': 'MD2withRSA',
  '1.2.840.113549.1.1.4': 'MD5withRSA',
  '1.2.840.113549.1.1.5': 'SHA1withRSA',
  '1.2.840.113549.1.1.14': 'SHA224withRSA',
  '1.2.840.113549.1.1.11': 'SHA256withRSA',
  '1.2.840.113549.1.1.12': 'SHA384withRSA',
  '1.2.840.113549.1.1.13': 'SHA512withRSA',
  '1.2.840.113549.1.1.10': 'RSASSA-PSS',
  '1.2.840.10045.4.1': 'SHA1withECDSA',
  '1.2.840.10045.4.3.1': 'SHA224withECDSA',
  '1.2.840.10045.4.3.2': 'SHA256withECDSA',
  '1.2.840.10045.4.3.3': 'SHA384withECDSA',
  '1.2.840.10045.4.3.4': 'SHA512withECDSA',
  '1.2.840.10040.4.3': 'SHA1withDSA',
  '2.16.840.1.101.3.4.3.1': 'SHA224withDSA',
  '2.16.840.1.101.3.4.3.2': 'SHA256withDSA',
  '1.3.101.112': 'Ed25519',
  '1.3.101.113': 'Ed448',
};

export function signatureAlgorithmName(oid: string): string {
  return SIGNATURE_ALGORITHM_BY_OID[oid] ?? `OID.${oid}`;
}

/** K6: the only signature algorithms a keystore entry may have. */
export const ALLOWED_SIGNATURE_ALGORITHMS: readonly string[] = [
  'SHA1withRSA',
  'SHA224withRSA',
  'SHA256withRSA',
  'SHA384withRSA',
  'SHA512withRSA',
  'SHA256withECDSA',
  'SHA384withECDSA',
  'SHA512withECDSA',
];

export function isAllowedSignatureAlgorithm(name: string): boolean {
  return ALLOWED_SIGNATURE_ALGORITHMS.includes(name);
}

export function isMd5Based(name: string): boolean {
  return name === 'MD5withRSA' || name === 'MD2withRSA';
}

/** Key kinds a keystore entry may hold. */
export const KeyAlgorithm = { RSA: 'RSA', EC: 'EC' } as const;
export type KeyAlgorithm = (typeof KeyAlgorithm)[keyof typeof KeyAlgorithm];

export const MIN_RSA_KEY_SIZE = 2048;

/** K5: what `generate` can make, and on which key. */
export const GENERATION_ALGORITHMS = {
  SHA256withRSA: { keyAlgorithm: 'RSA', hash: 'SHA-256' },
  SHA384withRSA: { keyAlgorithm: 'RSA', hash: 'SHA-384' },
  SHA512withRSA: { keyAlgorithm: 'RSA', hash: 'SHA-512' },
  SHA256withECDSA: { keyAlgorithm: 'EC', hash: 'SHA-256', curve: 'P-256' },
  SHA384withECDSA: { keyAlgorithm: 'EC', hash: 'SHA-384', curve: 'P-384' },
} as const satisfies Readonly<
  Record<string, { keyAlgorithm: KeyAlgorithm; hash: string; curve?: 'P-256' | 'P-384' }>
>;
export type GenerationAlgorithm = keyof typeof GENERATION_ALGORITHMS;
export const RSA_GENERATION_KEY_SIZES: readonly number[] = [2048, 3072, 4096];

export function isGenerationAlgorithm(name: string): name is GenerationAlgorithm {
  return Object.hasOwn(GENERATION_ALGORITHMS, name);
}
