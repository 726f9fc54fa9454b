/**
 * K9: everything in a certificate, readable, as plain JSON and as text in the manner of
 * `keytool -printcert`. Extensions certfleet does not know are shown as hex, never dropped.
 */
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  ExtendedKeyUsageExtension,
  GeneralNames,
  KeyUsageFlags,
  KeyUsagesExtension,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  type GeneralName,
  type Name,
} from './x509.js';
import { signatureAlgorithmName } from '../domain/algorithms.js';
import { certificateExtensions, certificateSignatureOid, certificateSpki, certificateVersion, type RawExtension } from './asn1.js';
import {
  fingerprint,
  formatName,
  nameAttributes,
  parseCertificate,
  publicKeyFacts,
  serialNumberHex,
} from './certificate-facts.js';
import { toPem } from './pem.js';

export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

export interface NameContent {
  /** RFC 4514-like, as in the certificate facts. */
  readonly name: string;
  /** The relative distinguished names in the order of the encoding; each holds one or more attributes. */
  readonly rdns: readonly (readonly { readonly type: string; readonly value: string }[])[];
}

export interface ExtensionContent {
  readonly oid: string;
  /** The usual name (`basicConstraints` …), or null when certfleet does not know the extension. */
  readonly name: string | null;
  readonly critical: boolean;
  /** A readable value for the common extensions; the DER of the value as hex for the others. */
  readonly value: JsonValue;
}

export interface CertificateContent {
  readonly version: number;
  readonly serialNumber: string;
  readonly signatureAlgorithm: { readonly name: string; readonly oid: string };
  readonly issuer: NameContent;
  readonly subject: NameContent;
  readonly validity: { readonly notBefore: string; readonly notAfter: string };
  readonly publicKey: {
    readonly algorithm: string;
    readonly oid: string;
    readonly size: number;
    readonly curve: string | null;
    /** RSA only. */
    readonly exponent: number | null;
    /** SHA-256 of the SubjectPublicKeyInfo (what a public-key pin is made of). */
    readonly sha256: string;
  };
  readonly extensions: readonly ExtensionContent[];
  readonly fingerprints: { readonly sha1: string; readonly sha256: string };
  readonly pem: string;
}

export const EXTENSION_NAMES: Readonly<Record<string, string>> = {
  '2.5.29.14': 'subjectKeyIdentifier',
  '2.5.29.15': 'keyUsage',
  '2.5.29.17': 'subjectAltName',
  '2.5.29.18': 'issuerAltName',
  '2.5.29.19': 'basicConstraints',
  '2.5.29.30': 'nameConstraints',
  '2.5.29.31': 'cRLDistributionPoints',
  '2.5.29.32': 'certificatePolicies',
  '2.5.29.35': 'authorityKeyIdentifier',
  '2.5.29.37': 'extKeyUsage',
  '1.3.6.1.5.5.7.1.1': 'authorityInfoAccess',
  '1.3.6.1.4.1.11129.2.4.2': 'signedCertificateTimestampList',
  '2.16.840.1.113730.1.1': 'netscapeCertType',
  '2.16.840.1.113730.1.13': 'netscapeComment',
};

const EXTENDED_KEY_USAGE_NAMES: Readonly<Record<string, string>> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
  '2.5.29.37.0': 'anyExtendedKeyUsage',
};

const KEY_USAGE_NAMES: readonly [KeyUsageFlags, string][] = [
  [KeyUsageFlags.digitalSignature, 'digitalSignature'],
  [KeyUsageFlags.nonRepudiation, 'nonRepudiation'],
  [KeyUsageFlags.keyEncipherment, 'keyEncipherment'],
  [KeyUsageFlags.dataEncipherment, 'dataEncipherment'],
  [KeyUsageFlags.keyAgreement, 'keyAgreement'],
  [KeyUsageFlags.keyCertSign, 'keyCertSign'],
  [KeyUsageFlags.cRLSign, 'cRLSign'],
  [KeyUsageFlags.encipherOnly, 'encipherOnly'],
  [KeyUsageFlags.decipherOnly, 'decipherOnly'],
];

const GENERAL_NAME_PREFIX: Readonly<Record<string, string>> = {
  dns: 'DNS',
  dn: 'DirName',
  email: 'email',
  ip: 'IP',
  url: 'URI',
  guid: 'GUID',
  upn: 'UPN',
  id: 'RID',
};

function colonHex(hex: string): string {
  return hex.toUpperCase().match(/../g)?.join(':') ?? '';
}

function generalName(n: GeneralName): string {
  return `${GENERAL_NAME_PREFIX[n.type] ?? n.type}:${n.value}`;
}

function readableValue(ext: RawExtension): JsonValue {
  switch (ext.oid) {
    case '2.5.29.19': {
      const bc = new BasicConstraintsExtension(ext.der);
      return { ca: bc.ca, pathLength: bc.pathLength ?? null };
    }
    case '2.5.29.15': {
      const usages = new KeyUsagesExtension(ext.der).usages;
      return KEY_USAGE_NAMES.filter(([flag]) => (usages & flag) !== 0).map(([, name]) => name);
    }
    case '2.5.29.37':
      // Array.from: the parsed list is an Array subclass of the ASN.1 schema, not plain JSON
      return Array.from(new ExtendedKeyUsageExtension(ext.der).usages, (u) => {
        const oid = String(u);
        return EXTENDED_KEY_USAGE_NAMES[oid] ?? oid;
      });
    case '2.5.29.17':
      return Array.from(new SubjectAlternativeNameExtension(ext.der).names.items, generalName);
    case '2.5.29.14':
      return colonHex(new SubjectKeyIdentifierExtension(ext.der).keyId);
    case '2.5.29.35': {
      const aki = new AuthorityKeyIdentifierExtension(ext.der);
      return {
        keyIdentifier: aki.keyId ? colonHex(aki.keyId) : null,
        authorityCertIssuer: aki.certId ? toGeneralNameList(aki.certId.name) : null,
        authorityCertSerialNumber: aki.certId ? serialNumberHex(aki.certId.serialNumber) : null,
      };
    }
    default:
      return ext.value.toString('hex');
  }
}

function toGeneralNameList(names: NonNullable<AuthorityKeyIdentifierExtension['certId']>['name']): string[] {
  // parsed from DER, certId.name is the ASN.1 GeneralNames; wrap it to get the readable form
  return Array.from((names instanceof GeneralNames ? names : new GeneralNames(names)).items, generalName);
}

function extensionContent(ext: RawExtension): ExtensionContent {
  let value: JsonValue;
  try {
    value = readableValue(ext);
  } catch {
    value = ext.value.toString('hex'); // a malformed known extension: show the bytes rather than fail
  }
  return { oid: ext.oid, name: EXTENSION_NAMES[ext.oid] ?? null, critical: ext.critical, value };
}

function nameContent(name: Name): NameContent {
  return { name: formatName(name), rdns: nameAttributes(name) };
}

export function certificateContent(der: Buffer): CertificateContent {
  const cert = parseCertificate(der);
  const signatureOid = certificateSignatureOid(der);
  const spki = certificateSpki(der);
  const key = publicKeyFacts(spki);
  return {
    version: certificateVersion(der),
    serialNumber: serialNumberHex(cert.serialNumber),
    signatureAlgorithm: { name: signatureAlgorithmName(signatureOid), oid: signatureOid },
    issuer: nameContent(cert.issuerName),
    subject: nameContent(cert.subjectName),
    validity: { notBefore: cert.notBefore.toISOString(), notAfter: cert.notAfter.toISOString() },
    publicKey: {
      algorithm: key.keyAlgorithm,
      oid: key.keyAlgorithmOid,
      size: key.keySize,
      curve: key.curve,
      exponent: key.publicExponent,
      sha256: fingerprint(spki, 'sha256'),
    },
    extensions: certificateExtensions(der).map(extensionContent),
    fingerprints: { sha1: fingerprint(der, 'sha1'), sha256: fingerprint(der, 'sha256') },
    pem: toPem(der, 'CERTIFICATE'),
  };
}

function formatValue(value: JsonValue, indent: string): string[] {
  if (Array.isArray(value)) return value.map((v) => `${indent}${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  if (value !== null && typeof value === 'object') {
    return Object.entries(value)
      .filter(([, v]) => v !== null)
      .flatMap(([k, v]) =>
        Array.isArray(v) || (v !== null && typeof v === 'object')
          ? [`${indent}${k}:`, ...formatValue(v, `${indent}  `)]
          : [`${indent}${k}: ${String(v)}`],
      );
  }
  return [`${indent}${String(value)}`];
}

function keyDescription(k: CertificateContent['publicKey']): string {
  if (k.algorithm === 'EC') return `${k.size}-bit EC (${k.curve ?? 'unknown curve'}) key`;
  if (k.size > 0) return `${k.size}-bit ${k.algorithm} key`;
  return `${k.algorithm} key`;
}

/** A text rendering in the manner of `keytool -printcert -v`. */
export function formatCertificateContent(c: CertificateContent): string {
  const lines = [
    `Owner: ${c.subject.name}`,
    `Issuer: ${c.issuer.name}`,
    `Serial number: ${c.serialNumber}`,
    `Valid from: ${c.validity.notBefore} until: ${c.validity.notAfter}`,
    'Certificate fingerprints:',
    `\t SHA1: ${c.fingerprints.sha1}`,
    `\t SHA256: ${c.fingerprints.sha256}`,
    `Signature algorithm name: ${c.signatureAlgorithm.name} (${c.signatureAlgorithm.oid})`,
    `Subject Public Key Algorithm: ${keyDescription(c.publicKey)}` +
      (c.publicKey.exponent !== null ? `, exponent ${c.publicKey.exponent}` : ''),
    `Subject Public Key SHA256: ${c.publicKey.sha256}`,
    `Version: ${c.version}`,
  ];
  if (c.extensions.length > 0) {
    lines.push('', 'Extensions:');
    c.extensions.forEach((e, i) => {
      lines.push('', `#${i + 1}: ObjectId: ${e.oid} Criticality=${e.critical}`, `${e.name ?? 'Unknown extension'}: [`);
      lines.push(...formatValue(e.value, '  '), ']');
    });
  }
  lines.push('', c.pem.trimEnd());
  return `${lines.join('\n')}\n`;
}
