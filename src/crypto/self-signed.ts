/**
 * K1/K5: a self-signed server certificate for a freshly generated key pair, made with
 * @peculiar/x509 on Node's WebCrypto (the KeyObjects are imported as CryptoKeys, never exported
 * anywhere else).
 */
import { randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';
import { GENERATION_ALGORITHMS, type GenerationAlgorithm } from '../domain/algorithms.js';
import { CertfleetError, ErrorCode } from '../domain/errors.js';
import { DAY_MS } from '../domain/time.js';
import { toDer } from './asn1.js';
import type { GeneratedKeyPair } from './key-generation.js';
import { keyAlgorithmOf } from './key-match.js';
import {
  BasicConstraintsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  Name,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  X509CertificateGenerator,
  type Extension,
} from './x509.js';

export interface SelfSignedRequest {
  readonly keys: GeneratedKeyPair;
  readonly commonName: string;
  readonly algorithm: GenerationAlgorithm;
  /** Validity in days from `now`. */
  readonly days: number;
  readonly now: Date;
  /** Hex; a random positive 16-byte serial number when absent. */
  readonly serialNumber?: string;
}

/** Devices and the administrator's machine may run a little behind the server's clock. */
export const CLOCK_SKEW_MS = 60_000;

const HOST_NAME = /^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

export function looksLikeHostName(name: string): boolean {
  return HOST_NAME.test(name) && !/^[0-9.]+$/.test(name);
}

/**
 * A random positive serial of exactly 16 bytes, 126 of them random (RFC 5280: positive, at most 20
 * octets; CA/Browser Forum: at least 64 random bits). The top bits 01 keep it positive and its
 * printed form 32 hex digits long.
 */
export function randomSerialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x3f) | 0x40;
  return bytes.toString('hex');
}

type ImportAlgorithm = webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams;

async function toCryptoKeys(keys: GeneratedKeyPair, algorithm: GenerationAlgorithm): Promise<webcrypto.CryptoKeyPair> {
  const spec = GENERATION_ALGORITHMS[algorithm];
  const kind = keyAlgorithmOf(keys.privateKey);
  const curve = keys.privateKey.asymmetricKeyDetails?.namedCurve;
  const wantedCurve = 'curve' in spec ? spec.curve : undefined;
  const nodeCurve = wantedCurve === 'P-256' ? 'prime256v1' : wantedCurve === 'P-384' ? 'secp384r1' : undefined;
  if (kind !== spec.keyAlgorithm || (nodeCurve !== undefined && curve !== nodeCurve)) {
    throw new CertfleetError(
      ErrorCode.unsupported_generation_algorithm,
      `${algorithm} needs ${wantedCurve ? `an EC ${wantedCurve}` : 'an RSA'} key, not the ${kind} key given.`,
      { algorithm, keyAlgorithm: kind },
    );
  }
  const params: ImportAlgorithm =
    spec.keyAlgorithm === 'RSA'
      ? { name: 'RSASSA-PKCS1-v1_5', hash: spec.hash }
      : { name: 'ECDSA', namedCurve: wantedCurve ?? 'P-256' };
  const pkcs8 = keys.privateKey.export({ type: 'pkcs8', format: 'der' });
  const spki = keys.publicKey.export({ type: 'spki', format: 'der' });
  const [privateKey, publicKey] = await Promise.all([
    webcrypto.subtle.importKey('pkcs8', pkcs8, params, false, ['sign']),
    webcrypto.subtle.importKey('spki', spki, params, true, ['verify']),
  ]);
  return { privateKey, publicKey };
}

/**
 * The subject `CN=<commonName>` as DER, built here rather than from a string or JSON name, whose
 * parsers give quotes, commas and backslashes meanings; UTF8String as RFC 5280 asks of new names.
 */
export function commonNameDer(commonName: string): Buffer {
  const { create, Class, Type, oidToDer } = forge.asn1;
  const atv = create(Class.UNIVERSAL, Type.SEQUENCE, true, [
    create(Class.UNIVERSAL, Type.OID, false, oidToDer('2.5.4.3').getBytes()),
    create(Class.UNIVERSAL, Type.UTF8, false, forge.util.encodeUtf8(commonName)),
  ]);
  return toDer(create(Class.UNIVERSAL, Type.SEQUENCE, true, [create(Class.UNIVERSAL, Type.SET, true, [atv])]));
}

function subjectAltName(commonName: string): Extension | null {
  if (isIP(commonName)) return new SubjectAlternativeNameExtension([{ type: 'ip', value: commonName }]);
  if (looksLikeHostName(commonName)) return new SubjectAlternativeNameExtension([{ type: 'dns', value: commonName.replace(/\.$/, '') }]);
  return null;
}

/** Returns the certificate's DER. */
export async function createSelfSignedCertificate(req: SelfSignedRequest): Promise<Buffer> {
  if (!Number.isFinite(req.days) || req.days <= 0) {
    throw new CertfleetError(ErrorCode.invalid_validity, `A validity of ${req.days} days is not possible; give a positive number of days.`, {
      days: req.days,
    });
  }
  if (req.commonName.length === 0 || req.commonName.length > 64) {
    throw new CertfleetError(ErrorCode.invalid_request, 'The common name must have 1 to 64 characters (RFC 5280 ub-common-name).', {
      length: req.commonName.length,
    });
  }
  const spec = GENERATION_ALGORITHMS[req.algorithm];
  const keys = await toCryptoKeys(req.keys, req.algorithm);
  const usages =
    spec.keyAlgorithm === 'RSA' ? KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment : KeyUsageFlags.digitalSignature;
  const san = subjectAltName(req.commonName);
  const extensions: Extension[] = [
    new BasicConstraintsExtension(false, undefined, true),
    new KeyUsagesExtension(usages, true),
    new ExtendedKeyUsageExtension([ExtendedKeyUsage.serverAuth], false),
    ...(san ? [san] : []),
    await SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto),
  ];
  const cert = await X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: req.serialNumber ?? randomSerialNumber(),
      name: new Name(commonNameDer(req.commonName)),
      notBefore: new Date(req.now.getTime() - CLOCK_SKEW_MS),
      notAfter: new Date(req.now.getTime() + req.days * DAY_MS),
      keys,
      signingAlgorithm: { name: spec.keyAlgorithm === 'RSA' ? 'RSASSA-PKCS1-v1_5' : 'ECDSA', hash: spec.hash },
      extensions,
    },
    webcrypto,
  );
  return Buffer.from(cert.rawData);
}
