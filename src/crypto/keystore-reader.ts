/**
 * K6: reads one key entry (certificate(s) and private key) from a keystore file an administrator
 * uploads. The format is decided from the bytes, never from a file name: PEM text, JKS (magic
 * 0xFEEDFEED), JCEKS (0xCECECECE, refused with the conversion command), else PKCS#12 DER.
 *
 * Every failure is a CertfleetError whose message says what to do; a wrong password is told apart
 * from an unreadable file wherever the format has an integrity check (PKCS#12 MAC, JKS digest,
 * PEM padding). Passwords and key material never reach a message or its details.
 *
 * The work one file may cause is bounded (import-limits.ts): key-derivation rounds summed over the
 * file, certificates, encrypted parts, scrypt memory, each checked before the work starts. The
 * server runs this in a worker thread with a deadline (import-pool.ts), never on its event loop.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { CertfleetError } from '../domain/errors.js';
import { DEFAULT_IMPORT_LIMITS, DerivationBudget, type ImportLimits } from './import-limits.js';
import { JCEKS_MAGIC, JKS_MAGIC, readJks } from './jks-reader.js';
import { KeystoreFormat, type IntegrityCheck, type KeystoreContents } from './keystore-contents.js';
import {
  emptyFile,
  entryNotFound,
  entryRequired,
  fileTooLarge,
  jceksNotSupported,
  noCertificate,
  noPrivateKey,
  unknownFormat,
} from './keystore-errors.js';
import { readPem } from './pem-reader.js';
import { looksLikePem } from './pem.js';
import { NotPkcs12Error, readPkcs12 } from './pkcs12-reader.js';

export { KeystoreFormat } from './keystore-contents.js';

/** K6: larger files are refused before any parsing. */
export const MAX_KEYSTORE_FILE_BYTES = 1024 * 1024;

export interface ReadKeystoreRequest {
  readonly file: Buffer;
  /** The store password (PKCS#12, JKS) or the key passphrase (PEM). */
  readonly password: string;
  /** The key password where it differs from the store password (JKS; PEM takes it over `password`). */
  readonly keyPassword?: string;
  /** The entry to read when the file holds several key entries (alias / friendly name). */
  readonly entry?: string;
  /** What the file may ask of the server (import-limits.ts); the defaults when left out. */
  readonly limits?: ImportLimits;
}

export interface KeystoreEntryRead {
  readonly format: KeystoreFormat;
  /** The name of the entry read; null where the format has none (PEM, unnamed PKCS#12 bags). */
  readonly entryName: string | null;
  /** The names of all key entries in the file. */
  readonly entryNames: string[];
  /** DER, leaf first; more than one is a chain (refused by the import, K6). */
  readonly certificates: Buffer[];
  readonly privateKey: KeyObject;
  /** What checked the file's integrity; `none` for a PKCS#12 file without a MAC (and PEM). */
  readonly integrityCheck: IntegrityCheck;
}

function isDerCertificate(bytes: Buffer): boolean {
  try {
    return new X509Certificate(bytes).raw.length > 0;
  } catch {
    return false;
  }
}

async function readContents(req: ReadKeystoreRequest, budget: DerivationBudget): Promise<KeystoreContents> {
  const { file, password, keyPassword } = req;
  const magic = file.length >= 4 ? file.readUInt32BE(0) : 0;
  if (magic === JKS_MAGIC) return readJks(file, password, keyPassword, budget);
  if (magic === JCEKS_MAGIC) throw jceksNotSupported();
  if (looksLikePem(file)) return readPem(file, keyPassword ?? password, budget);
  try {
    return await readPkcs12(file, password, keyPassword, budget);
  } catch (e) {
    if (!(e instanceof NotPkcs12Error)) throw e;
  }
  if (isDerCertificate(file)) throw noPrivateKey('der', 1);
  throw unknownFormat();
}

/** Unnamed entries are offered as `#1`, `#2` … so that they can still be chosen. */
function displayNames(contents: KeystoreContents): string[] {
  return contents.keyEntries.map((e, i) => e.name ?? `#${i + 1}`);
}

export async function readKeystore(req: ReadKeystoreRequest): Promise<KeystoreEntryRead> {
  if (req.file.length > MAX_KEYSTORE_FILE_BYTES) throw fileTooLarge(req.file.length, MAX_KEYSTORE_FILE_BYTES);
  if (req.file.length === 0) throw emptyFile();
  try {
    return await readEntry(await readContents(req, new DerivationBudget(req.limits ?? DEFAULT_IMPORT_LIMITS)), req.entry);
  } catch (e) {
    if (e instanceof CertfleetError) throw e;
    throw unknownFormat(); // a reader's unexpected failure: the file is not what it seemed
  }
}

async function readEntry(contents: KeystoreContents, wanted: string | undefined): Promise<KeystoreEntryRead> {
  if (contents.keyEntries.length === 0) throw noPrivateKey(contents.format, contents.certificateCount);
  const names = displayNames(contents);
  let index = 0;
  if (wanted !== undefined) {
    index = names.indexOf(wanted);
    // JKS and PKCS#12 aliases are case-insensitive in Java, so administrators may type them either way
    if (index < 0) index = names.findIndex((n) => n.toLowerCase() === wanted.toLowerCase());
    if (index < 0) throw entryNotFound(wanted, names, contents.format);
  } else if (contents.keyEntries.length > 1) {
    throw entryRequired(names);
  }
  const entry = contents.keyEntries[index];
  if (!entry) throw entryNotFound(wanted ?? '', names, contents.format);

  const privateKey = await entry.openKey();
  const certificates = entry.certificatesFor(privateKey);
  if (certificates.length === 0) throw noCertificate(contents.format, entry.name);
  return {
    format: contents.format,
    entryName: entry.name,
    entryNames: contents.keyEntries.flatMap((e) => (e.name === null ? [] : [e.name])),
    certificates,
    privateKey,
    integrityCheck: contents.integrityCheck,
  };
}
