/**
 * What a format reader (PKCS#12, JKS, PEM) hands to the keystore reader: the key entries, each able
 * to open its private key on demand (only the chosen entry is ever decrypted, so a JKS entry with
 * another key password does not stand in the way) and to name its certificates, leaf first.
 */
import type { KeyObject } from 'node:crypto';

export const KeystoreFormat = { pkcs12: 'pkcs12', jks: 'jks', pem: 'pem' } as const;
export type KeystoreFormat = (typeof KeystoreFormat)[keyof typeof KeystoreFormat];

/**
 * What told the file's password or its damage apart before it was read: the PKCS#12 MAC, the JKS
 * keystore digest, or nothing (a PKCS#12 file written without a MAC, e.g. `openssl pkcs12 -nomac`
 * or Java's `keystore.pkcs12.macAlgorithm=NONE`; PEM, which has none).
 */
export const IntegrityCheck = { mac: 'mac', keystoreDigest: 'keystore_digest', none: 'none' } as const;
export type IntegrityCheck = (typeof IntegrityCheck)[keyof typeof IntegrityCheck];

export interface KeystoreKeyEntry {
  /** The alias (JKS), the friendly name (PKCS#12), or null where the format has none. */
  readonly name: string | null;
  /** Decrypts the private key; throws CertfleetError (wrong_password …). */
  readonly openKey: () => Promise<KeyObject>;
  /** The entry's certificates, leaf first, once its key is known (PKCS#12 may pair them by key). */
  readonly certificatesFor: (key: KeyObject) => Buffer[];
}

export interface KeystoreContents {
  readonly format: KeystoreFormat;
  readonly keyEntries: readonly KeystoreKeyEntry[];
  /** Every certificate in the file, key entries' and trusted ones alike. */
  readonly certificateCount: number;
  readonly integrityCheck: IntegrityCheck;
}
