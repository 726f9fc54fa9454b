import {
  isAllowedSignatureAlgorithm,
  isMd5Based,
  KeyAlgorithm,
  MIN_RSA_KEY_SIZE,
} from './algorithms.js';
import { DAY_MS } from './time.js';
import { CertfleetError, ErrorCode } from './errors.js';

/** K6: a keystore file larger than this is refused before it is read. */
export const MAX_KEYSTORE_FILE_BYTES = 1024 * 1024;

/**
 * What certfleet knows about a certificate once it has been parsed (once, at the edge, by
 * `crypto/`). The rest of the code never touches DER to answer a question.
 */
export interface CertificateFacts {
  readonly subject: string;
  readonly issuer: string;
  /** Lower-case hex without separators, as keytool prints it. */
  readonly serialNumber: string;
  /** ISO 8601. */
  readonly notBefore: string;
  readonly notAfter: string;
  /** Java name (`SHA512withRSA`), or `OID.x.y.z` when unknown. */
  readonly signatureAlgorithm: string;
  readonly signatureAlgorithmOid: string;
  /** `RSA`, `EC`, or the name of a kind certfleet refuses (`DSA`, `Ed25519` …). */
  readonly keyAlgorithm: string;
  /** Bits: the modulus for RSA, the field size for EC. */
  readonly keySize: number;
  /** Named curve for EC keys (`P-256`, `P-384`, `P-521`). */
  readonly curve: string | null;
  /** Upper-case hex with colons, as keytool prints it. */
  readonly sha1Fingerprint: string;
  readonly sha256Fingerprint: string;
}

/** What an import found in the keystore file, after `crypto/` has read it. */
export interface ImportCandidate {
  readonly facts: CertificateFacts;
  /** How many certificates the chosen entry holds (more than one is a chain, K6). */
  readonly chainLength: number;
  /** Kind of the private key found beside the certificate (`RSA`, `EC`, `DSA`, `Ed25519` …). */
  readonly privateKeyAlgorithm: string;
  /** Whether that private key belongs to the certificate's public key. */
  readonly keyMatchesCertificate: boolean;
}

/**
 * K6: the checks an imported entry must pass, in the order an administrator would want to hear
 * about them. Returns the first refusal, or null when the entry may be imported. Duplicate and
 * alias checks need the keystore and live in the keystore rules.
 */
export function importRefusal(c: ImportCandidate, now: Date): CertfleetError | null {
  const f = c.facts;
  if (c.chainLength > 1) {
    return new CertfleetError(
      ErrorCode.chain_not_supported,
      `The entry holds a certificate chain of ${c.chainLength} certificates; chains are not supported ` +
        'because devices pin exactly one certificate. Export the server certificate and its key alone ' +
        '(for example `openssl pkcs12 -export -in server.crt -inkey server.key` without -certfile) and import that.',
      { chainLength: c.chainLength },
    );
  }
  if (isMd5Based(f.signatureAlgorithm)) {
    return new CertfleetError(
      ErrorCode.algorithm_not_allowed,
      `The certificate is signed with ${f.signatureAlgorithm}; MD5-based signatures are broken and cannot be imported. ` +
        'Generate a new certificate (`certfleet cert generate`) or import one signed with SHA-256 or stronger.',
      { signatureAlgorithm: f.signatureAlgorithm },
    );
  }
  if (!isAllowedSignatureAlgorithm(f.signatureAlgorithm)) {
    return new CertfleetError(
      ErrorCode.algorithm_not_allowed,
      `The certificate is signed with ${f.signatureAlgorithm}, which is not on the allow-list ` +
        '(SHA1withRSA, SHA224withRSA, SHA256withRSA, SHA384withRSA, SHA512withRSA, SHA256withECDSA, ' +
        'SHA384withECDSA, SHA512withECDSA). Import a certificate signed with one of those.',
      { signatureAlgorithm: f.signatureAlgorithm },
    );
  }
  const keyKind = f.keyAlgorithm;
  if (keyKind !== KeyAlgorithm.RSA && keyKind !== KeyAlgorithm.EC) {
    return new CertfleetError(
      ErrorCode.key_type_not_supported,
      `The certificate has a ${keyKind} key; only RSA (2048 bits or more) and EC keys are supported. ` +
        'Import a certificate with an RSA or EC key.',
      { keyAlgorithm: keyKind },
    );
  }
  if (c.privateKeyAlgorithm !== keyKind || !c.keyMatchesCertificate) {
    return new CertfleetError(
      ErrorCode.key_mismatch,
      'The private key in the file does not belong to the certificate. Check that you exported the key ' +
        'together with its own certificate.',
      { certificateKeyAlgorithm: keyKind, privateKeyAlgorithm: c.privateKeyAlgorithm },
    );
  }
  if (keyKind === KeyAlgorithm.RSA && f.keySize < MIN_RSA_KEY_SIZE) {
    return new CertfleetError(
      ErrorCode.key_too_short,
      `The certificate has an RSA key of ${f.keySize} bits; at least ${MIN_RSA_KEY_SIZE} bits are required. ` +
        'Generate a new key pair of 2048 bits or more.',
      { keySize: f.keySize, minimum: MIN_RSA_KEY_SIZE },
    );
  }
  const t = now.getTime();
  if (Date.parse(f.notAfter) <= t) {
    return new CertfleetError(
      ErrorCode.certificate_expired,
      `The certificate expired on ${f.notAfter}. Renew it with its issuer, or generate a new one.`,
      { notAfter: f.notAfter },
    );
  }
  if (Date.parse(f.notBefore) > t) {
    return new CertfleetError(
      ErrorCode.certificate_not_yet_valid,
      `The certificate is not valid before ${f.notBefore}. Check the clock of the machine that made it, ` +
        'or import it once it is valid.',
      { notBefore: f.notBefore },
    );
  }
  return null;
}

/** Whole days from `now` until `notAfter`, rounded down; negative once expired. */
export function daysUntilExpiry(notAfter: string, now: Date): number {
  return Math.floor((Date.parse(notAfter) - now.getTime()) / DAY_MS);
}
