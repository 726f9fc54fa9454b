/**
 * The refusals of keystore reading, worded for the administrator: what happened, what to do.
 * They name formats, entries and algorithms, never a password or any key material.
 */
import { CertfleetError, ErrorCode } from '../domain/errors.js';
import { MAX_ITERATIONS } from './pbe.js';

const FORMAT_NAME = { pkcs12: 'PKCS#12', jks: 'JKS', pem: 'PEM', der: 'DER certificate' } as const;
type Format = keyof typeof FORMAT_NAME;

export function emptyFile(): CertfleetError {
  return new CertfleetError(ErrorCode.file_unreadable, 'The file is empty. Choose the keystore file itself (.p12, .pfx, .jks or .pem).', {
    reason: 'empty',
  });
}

export function fileTooLarge(size: number, max: number): CertfleetError {
  return new CertfleetError(
    ErrorCode.file_too_large,
    `The file has ${size} bytes; keystore files larger than ${max} bytes (1 MiB) are refused. A keystore holding ` +
      'a server certificate and its key has a few kilobytes: check that you chose the right file.',
    { size, maximum: max },
  );
}

export function unknownFormat(): CertfleetError {
  return new CertfleetError(
    ErrorCode.file_unreadable,
    'The file is not a keystore certfleet can read: PKCS#12 (.p12/.pfx), JKS, or PEM holding a certificate and its ' +
      'private key. Check that you chose the right file (`openssl pkcs12 -in FILE -info -noout` or ' +
      '`keytool -list -keystore FILE` tell what it is).',
    { reason: 'unknown_format' },
  );
}

export function damaged(format: Format): CertfleetError {
  return new CertfleetError(
    ErrorCode.file_unreadable,
    `The file looks like ${FORMAT_NAME[format]} but is damaged or truncated. Copy or export it again from its source.`,
    { format, reason: 'damaged' },
  );
}

export function jceksNotSupported(): CertfleetError {
  return new CertfleetError(
    ErrorCode.file_unreadable,
    'This is a JCEKS keystore, which certfleet does not read. Convert it to PKCS#12 and import that: ' +
      '`keytool -importkeystore -srckeystore FILE -srcstoretype JCEKS -destkeystore converted.p12 -deststoretype PKCS12`.',
    { format: 'jceks', reason: 'format_not_supported' },
  );
}

export function unsupportedEncryption(format: Format, algorithm: string): CertfleetError {
  return new CertfleetError(
    ErrorCode.encryption_not_supported,
    `The ${FORMAT_NAME[format]} file is protected with an algorithm certfleet does not read (${algorithm}). ` +
      'Re-export it with AES-256 (for example `openssl pkcs12 -in FILE -nodes | openssl pkcs12 -export -out new.p12`) and import that.',
    { format, reason: 'encryption_not_supported', algorithm },
  );
}

export function iterationLimit(format: Format, iterations: number): CertfleetError {
  return new CertfleetError(
    ErrorCode.key_derivation_too_costly,
    `The ${FORMAT_NAME[format]} file asks for ${Number.isFinite(iterations) ? iterations : 'an enormous number of'} ` +
      `key-derivation iterations; more than ${MAX_ITERATIONS} are refused (as Java refuses them). Export it again with the usual settings.`,
    { format, reason: 'iteration_limit', limit: 'iterations', maximum: MAX_ITERATIONS },
  );
}

export function wrongStorePassword(format: Format, hasIntegrityCheck: boolean): CertfleetError {
  const why = hasIntegrityCheck
    ? `the ${FORMAT_NAME[format]} integrity check failed`
    : 'the contents could not be decrypted (the file has no integrity check, so a damaged file would look the same)';
  return new CertfleetError(
    ErrorCode.wrong_password,
    `The password is wrong: ${why}. Give the password the keystore was protected with.`,
    { format, password: 'store' },
  );
}

export function wrongKeyPassword(format: Format, entry: string | null, keyPasswordGiven: boolean): CertfleetError {
  const which = entry === null ? 'the private key' : `the private key of entry "${entry}"`;
  const advice = keyPasswordGiven
    ? 'Check the key password.'
    : 'The key has a password of its own, different from the store password: give it as the key password.';
  return new CertfleetError(
    ErrorCode.wrong_password,
    `The store password is right, but ${which} cannot be decrypted with ${keyPasswordGiven ? 'the key password given' : 'it'}. ${advice}`,
    { format, password: 'key', ...(entry !== null ? { entry } : {}) },
  );
}

export function wrongPemPassphrase(given: boolean): CertfleetError {
  return new CertfleetError(
    ErrorCode.wrong_password,
    given
      ? 'The private key in the PEM file is encrypted and the passphrase is wrong. Give the passphrase the key was encrypted with.'
      : 'The private key in the PEM file is encrypted: give its passphrase as the password.',
    { format: 'pem', password: 'key' },
  );
}

export function noPrivateKey(format: Format, certificates: number): CertfleetError {
  return new CertfleetError(
    ErrorCode.no_private_key,
    `The file holds ${certificates} certificate${certificates === 1 ? '' : 's'} but no private key. certfleet needs the ` +
      'server certificate together with its private key: import the keystore the key was generated in, or a PKCS#12 ' +
      'file made with `openssl pkcs12 -export -in cert.pem -inkey key.pem -out server.p12`.',
    { format, certificates },
  );
}

export function noCertificate(format: Format, entry: string | null): CertfleetError {
  return new CertfleetError(
    ErrorCode.file_unreadable,
    `${entry === null ? 'The private key' : `The key entry "${entry}"`} comes without its certificate. Put the certificate ` +
      `in the same file${format === 'pem' ? ' (PEM: the CERTIFICATE block next to the key)' : ''} and import again.`,
    { format, reason: 'no_certificate', ...(entry !== null ? { entry } : {}) },
  );
}

export function severalPemKeys(count: number): CertfleetError {
  return new CertfleetError(
    ErrorCode.file_unreadable,
    `The PEM file holds ${count} private keys. Keep only the server certificate and its own key in the file.`,
    { format: 'pem', reason: 'several_keys', privateKeys: count },
  );
}

export function keyKindNotReadable(format: Format, entry: string | null): CertfleetError {
  return new CertfleetError(
    ErrorCode.key_type_not_supported,
    `The private key${entry === null ? '' : ` of entry "${entry}"`} is of a kind certfleet cannot read from ${FORMAT_NAME[format]}; ` +
      'only RSA (2048 bits or more) and EC keys can be imported.',
    { format, ...(entry !== null ? { entry } : {}) },
  );
}

export function entryRequired(names: readonly string[]): CertfleetError {
  return new CertfleetError(
    ErrorCode.entry_required,
    `The keystore holds ${names.length} key entries (${names.join(', ')}). Name the one to import.`,
    { entries: [...names] },
  );
}

export function entryNotFound(entry: string, names: readonly string[], format: Format): CertfleetError {
  const known = format === 'pem' ? 'PEM files have no entry names: leave the entry out.' : `Its key entries are: ${names.join(', ')}.`;
  return new CertfleetError(ErrorCode.entry_not_found, `The keystore has no key entry "${entry}". ${known}`, { entry, entries: [...names] });
}
