/**
 * JKS (Sun's proprietary keystore, magic 0xFEEDFEED) reading with jks-js. Before jks-js sees the
 * file, its structure is walked to check that it is complete (a truncated file must not pass for a
 * wrong password) and its keyed SHA-1 integrity check is verified (a wrong store password is told
 * apart from a wrong key password, which only shows when the chosen entry's key is recovered).
 */
import { createHash, createPrivateKey, type KeyObject } from 'node:crypto';
import jks, { type KeyEntry, type TrustedKeyEntry } from 'jks-js';
import type { DerivationBudget } from './import-limits.js';
import { IntegrityCheck, KeystoreFormat, type KeystoreContents, type KeystoreKeyEntry } from './keystore-contents.js';
import { damaged, keyKindNotReadable, wrongKeyPassword, wrongStorePassword } from './keystore-errors.js';

export const JKS_MAGIC = 0xfeedfeed;
export const JCEKS_MAGIC = 0xcececece;
const DIGEST_LENGTH = 20;
/** Limits for the walk, far above anything real, so that a hostile count cannot loop for long. */
const MAX_ENTRIES = 10_000;

/** The body's length (everything before the trailing SHA-1), its certificates and key entries. */
export interface JksLayout {
  readonly bodyLength: number;
  readonly certificates: number;
  readonly keyEntries: number;
}

/** Length of the keystore body (everything before the trailing SHA-1); throws if truncated or malformed. */
export function jksBodyLength(b: Buffer): number {
  return jksLayout(b).bodyLength;
}

/** Walks the structure without parsing a certificate; throws if truncated or malformed. */
export function jksLayout(b: Buffer): JksLayout {
  let certificates = 0;
  let keyEntries = 0;
  let o = 0;
  const skip = (n: number): void => {
    if (n < 0 || o + n > b.length) throw new Error('truncated');
    o += n;
  };
  const u32 = (): number => {
    skip(4);
    return b.readUInt32BE(o - 4);
  };
  const utf = (): void => {
    skip(2);
    skip(b.readUInt16BE(o - 2));
  };
  if (u32() !== JKS_MAGIC) throw new Error('not JKS');
  const version = u32();
  if (version !== 1 && version !== 2) throw new Error(`JKS version ${version}`);
  const count = u32();
  if (count > MAX_ENTRIES) throw new Error('too many entries');
  for (let i = 0; i < count; i++) {
    const tag = u32();
    utf(); // alias
    skip(8); // creation date
    if (tag === 1) {
      skip(u32()); // protected private key
      keyEntries++;
      const chain = u32();
      certificates += chain;
      if (chain > MAX_ENTRIES) throw new Error('chain too long');
      for (let j = 0; j < chain; j++) {
        if (version === 2) utf(); // certificate type
        skip(u32());
      }
    } else if (tag === 2) {
      certificates++;
      if (version === 2) utf();
      skip(u32());
    } else {
      throw new Error(`JKS entry tag ${tag}`);
    }
  }
  return { bodyLength: o, certificates, keyEntries };
}

/** Java's check: SHA-1 over the password (UTF-16BE), the words "Mighty Aphrodite" and the body. */
function integrityHolds(file: Buffer, bodyLength: number, password: string): boolean {
  const digest = createHash('sha1')
    .update(Buffer.from(password, 'utf16le').swap16())
    .update('Mighty Aphrodite', 'utf8')
    .update(file.subarray(0, bodyLength))
    .digest();
  return digest.equals(file.subarray(bodyLength, bodyLength + DIGEST_LENGTH));
}

function isKeyEntry(e: KeyEntry | TrustedKeyEntry): e is KeyEntry {
  return 'protectedPrivateKey' in e;
}

export function readJks(file: Buffer, password: string, keyPassword: string | undefined, budget: DerivationBudget): KeystoreContents {
  let layout: JksLayout;
  try {
    layout = jksLayout(file);
  } catch {
    throw damaged('jks');
  }
  const { bodyLength } = layout;
  // before jks-js parses every certificate of the file (the key protection itself costs one SHA-1 per 20 bytes)
  budget.checkCertificates(layout.certificates);
  budget.countParts(layout.keyEntries);
  if (bodyLength + DIGEST_LENGTH !== file.length) throw damaged('jks');
  if (!integrityHolds(file, bodyLength, password)) throw wrongStorePassword('jks', true);

  let entries: (KeyEntry | TrustedKeyEntry)[];
  try {
    entries = jks.parseJks(file, password);
  } catch {
    throw damaged('jks');
  }
  const keyEntries = entries.filter(isKeyEntry).map(
    (e): KeystoreKeyEntry => ({
      name: e.alias,
      openKey: async (): Promise<KeyObject> => {
        let pem: string;
        try {
          // jks-js's toPem would use one password for store and keys; decrypt takes the key password
          pem = jks.decrypt(e.protectedPrivateKey, keyPassword ?? password);
        } catch (err) {
          if (err instanceof Error && err.message === 'Cannot recover key') {
            throw wrongKeyPassword('jks', e.alias, keyPassword !== undefined);
          }
          throw keyKindNotReadable('jks', e.alias); // recovered, but jks-js cannot encode this key kind
        }
        try {
          return createPrivateKey(pem);
        } catch {
          throw keyKindNotReadable('jks', e.alias);
        }
      },
      certificatesFor: () => e.chain.map((c) => Buffer.from(c.value)),
    }),
  );
  const certificateCount = entries.reduce((n, e) => n + (isKeyEntry(e) ? e.chain.length : 1), 0);
  return { format: KeystoreFormat.jks, keyEntries, certificateCount, integrityCheck: IntegrityCheck.keystoreDigest };
}
