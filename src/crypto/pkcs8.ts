/**
 * PKCS#8 private keys, plain and encrypted (EncryptedPrivateKeyInfo), into Node KeyObjects. One
 * path for the PKCS#12 shrouded key bag and the PEM `ENCRYPTED PRIVATE KEY`: the decryption runs
 * in pbe.ts, after its cost is booked on the file's budget. A scheme pbe.ts does not implement
 * (PBES1, camellia, PBMAC1 …) is refused, never handed to OpenSSL: OpenSSL would run any
 * iteration count it is given.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { bytesOf, child, parseDer } from './asn1.js';
import type { DerivationBudget } from './import-limits.js';
import { DecryptionError, pbeDecrypt } from './pbe.js';

/** A KeyObject from PKCS#8 DER; throws when the bytes are no private key. */
export function privateKeyFromPkcs8(der: Buffer): KeyObject {
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
}

/**
 * Decrypts an EncryptedPrivateKeyInfo. Throws DecryptionError for a wrong password (also when the
 * padding happened to be right but the result is no key), UnsupportedEncryptionError,
 * IterationLimitError, or the budget's CertfleetError.
 */
export async function decryptPrivateKeyInfo(epki: Buffer, password: string, budget: DerivationBudget): Promise<KeyObject> {
  const node = parseDer(epki);
  let key: KeyObject | undefined;
  const isKey = (plain: Buffer): boolean => {
    try {
      key = privateKeyFromPkcs8(plain);
      return true;
    } catch {
      return false;
    }
  };
  await pbeDecrypt(child(node, 0), bytesOf(child(node, 1)), password, budget, isKey);
  if (!key) throw new DecryptionError('decrypted data is no private key'); // pbeDecrypt returns only bytes isKey took
  return key;
}
