/**
 * A certificate parsed once, at the edge, into the plain facts the rest of certfleet works with
 * (src/domain/certificate.ts). Names and fingerprints are spelt as keytool spells them, because
 * administrators compare them with `keytool -list -v` and `openssl x509 -fingerprint`.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { X509Certificate, type Name } from './x509.js';
import { signatureAlgorithmName } from '../domain/algorithms.js';
import type { CertificateFacts } from '../domain/certificate.js';
import { CertfleetError, ErrorCode } from '../domain/errors.js';
import { certificateSignatureOid, certificateSpki, spkiAlgorithm } from './asn1.js';
import { looksLikePem, pemBlocks } from './pem.js';

/** SubjectPublicKeyInfo algorithm OID → key algorithm name (Java names where Java has one). */
export const KEY_ALGORITHM_BY_OID: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.1': 'RSA',
  '1.2.840.113549.1.1.10': 'RSASSA-PSS',
  '1.2.840.10045.2.1': 'EC',
  '1.2.840.10040.4.1': 'DSA',
  '1.3.101.110': 'X25519',
  '1.3.101.111': 'X448',
  '1.3.101.112': 'Ed25519',
  '1.3.101.113': 'Ed448',
};

/** Named curve OID → name (NIST names where there is one) and field size in bits. */
export const CURVE_BY_OID: Readonly<Record<string, { readonly name: string; readonly bits: number }>> = {
  '1.2.840.10045.3.1.1': { name: 'P-192', bits: 192 },
  '1.3.132.0.33': { name: 'P-224', bits: 224 },
  '1.2.840.10045.3.1.7': { name: 'P-256', bits: 256 },
  '1.3.132.0.34': { name: 'P-384', bits: 384 },
  '1.3.132.0.35': { name: 'P-521', bits: 521 },
  '1.3.132.0.10': { name: 'secp256k1', bits: 256 },
  '1.3.36.3.3.2.8.1.1.7': { name: 'brainpoolP256r1', bits: 256 },
  '1.3.36.3.3.2.8.1.1.11': { name: 'brainpoolP384r1', bits: 384 },
  '1.3.36.3.3.2.8.1.1.13': { name: 'brainpoolP512r1', bits: 512 },
};

/** Key sizes of the kinds whose size is fixed by the algorithm (as Java reports them). */
const FIXED_KEY_SIZE: Readonly<Record<string, number>> = { Ed25519: 255, Ed448: 448, X25519: 255, X448: 448 };

export function keyAlgorithmName(spkiOid: string): string {
  return KEY_ALGORITHM_BY_OID[spkiOid] ?? `OID.${spkiOid}`;
}

/** Upper-case hex with colons, as keytool prints fingerprints. */
export function fingerprint(der: Buffer, hash: 'sha1' | 'sha256'): string {
  return createHash(hash).update(der).digest('hex').toUpperCase().match(/../g)?.join(':') ?? '';
}

/** Lower-case hex without leading zeros, as keytool prints serial numbers (BigInteger radix 16). */
export function serialNumberHex(rawHex: string): string {
  return rawHex.toLowerCase().replace(/^0+(?=.)/, '');
}

/** RFC 4514 escaping of one attribute value. */
function escapeValue(value: string): string {
  if (value.startsWith('#') && /^#([0-9a-fA-F]{2})+$/.test(value)) return value; // BER-encoded value
  return value
    .replace(/[\\"+,;<>=]/g, (c) => `\\${c}`)
    .replace(/^([ #])/, '\\$1')
    .replace(/ $/, '\\ ')
    .replace(/\0/g, '\\00');
}

/** The attributes of a Name in the order of the encoding (the most significant RDN first). */
export function nameAttributes(name: Name): { readonly type: string; readonly value: string }[][] {
  return name.toJSON().map((rdn) => Object.entries(rdn).flatMap(([type, values]) => values.map((value) => ({ type, value }))));
}

/**
 * RFC 4514-like string, `CN=host, O=org`: the last RDN of the encoding first (as keytool, Java's
 * X500Principal and RFC 4514 order them), attributes separated by ", " as keytool prints them.
 */
export function formatName(name: Name): string {
  return nameAttributes(name)
    .reverse()
    .map((rdn) => rdn.map((a) => `${a.type}=${escapeValue(a.value)}`).join('+'))
    .join(', ');
}

export interface PublicKeyFacts {
  readonly keyAlgorithm: string;
  readonly keyAlgorithmOid: string;
  readonly keySize: number;
  readonly curve: string | null;
  readonly curveOid: string | null;
  /** RSA only. */
  readonly publicExponent: number | null;
}

/** Algorithm, size and curve of a SubjectPublicKeyInfo, decided from its OIDs. */
export function publicKeyFacts(spki: Buffer): PublicKeyFacts {
  const { oid, parameterOid } = spkiAlgorithm(spki);
  const keyAlgorithm = keyAlgorithmName(oid);
  let keySize = FIXED_KEY_SIZE[keyAlgorithm] ?? 0;
  let curve: string | null = null;
  let publicExponent: number | null = null;
  if (keyAlgorithm === 'EC' && parameterOid) {
    const known = CURVE_BY_OID[parameterOid];
    curve = known?.name ?? `OID.${parameterOid}`;
    keySize = known?.bits ?? 0;
  }
  if (keyAlgorithm === 'RSA' || keyAlgorithm === 'RSASSA-PSS' || keyAlgorithm === 'DSA') {
    try {
      const details = createPublicKey({ key: spki, format: 'der', type: 'spki' }).asymmetricKeyDetails;
      keySize = details?.modulusLength ?? 0;
      publicExponent = details?.publicExponent !== undefined ? Number(details.publicExponent) : null;
    } catch {
      keySize = 0; // an ill-formed key: size unknown, and the import refuses it for that reason or another
    }
  }
  return { keyAlgorithm, keyAlgorithmOid: oid, keySize, curve, curveOid: parameterOid, publicExponent };
}

export function parseCertificate(der: Buffer): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch {
    throw unreadableCertificate();
  }
}

function unreadableCertificate(): CertfleetError {
  return new CertfleetError(
    ErrorCode.file_unreadable,
    'The certificate cannot be read: it is not an X.509 certificate in PEM or DER form. ' +
      'Check the file (`openssl x509 -in FILE -noout -text` must be able to show it).',
  );
}

export function certificateFacts(der: Buffer): CertificateFacts {
  const cert = parseCertificate(der);
  try {
    const signatureAlgorithmOid = certificateSignatureOid(der);
    const key = publicKeyFacts(certificateSpki(der));
    return {
      subject: formatName(cert.subjectName),
      issuer: formatName(cert.issuerName),
      serialNumber: serialNumberHex(cert.serialNumber),
      notBefore: cert.notBefore.toISOString(),
      notAfter: cert.notAfter.toISOString(),
      signatureAlgorithm: signatureAlgorithmName(signatureAlgorithmOid),
      signatureAlgorithmOid,
      keyAlgorithm: key.keyAlgorithm,
      keySize: key.keySize,
      curve: key.curve,
      sha1Fingerprint: fingerprint(der, 'sha1'),
      sha256Fingerprint: fingerprint(der, 'sha256'),
    };
  } catch (e) {
    if (e instanceof CertfleetError) throw e;
    throw unreadableCertificate();
  }
}

/**
 * A certificate as an administrator may hand it over: PEM text (the first CERTIFICATE block) or
 * DER. Returns the DER; throws `file_unreadable` when it is neither.
 */
export function normalizeCertificateInput(input: Buffer | string): Buffer {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  let der = bytes;
  if (looksLikePem(bytes)) {
    const block = pemBlocks(bytes.toString('utf8')).find((b) => b.label === 'CERTIFICATE' || b.label === 'X509 CERTIFICATE');
    if (!block) throw unreadableCertificate();
    der = block.der;
  }
  parseCertificate(der);
  return der;
}
