/**
 * PKCS#8 private keys, plain and encrypted (EncryptedPrivateKeyInfo), into Node KeyObjects. One
 * path for the PKCS#12 shrouded key bag and the PEM `ENCRYPTED PRIVATE KEY`: the decryption runs
 * in pbe.ts (native PBKDF2 off the event loop); schemes it does not implement (PBES1, scrypt) go
 * to OpenSSL through Node.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { bytesOf, child, parseDer } from './asn1.js';
import { DecryptionError, isSupportedPbe, pbeDecrypt, UnsupportedEncryptionError } from './pbe.js';

/** A KeyObject from PKCS#8 DER; throws when the bytes are no private key. */
export function privateKeyFromPkcs8(der: Buffer): KeyObject {
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
}

/**
 * Decrypts an EncryptedPrivateKeyInfo. Throws DecryptionError for a wrong password (also when the
 * padding happened to be right but the result is no key), UnsupportedEncryptionError, or
 * IterationLimitError.
 */
export async function decryptPrivateKeyInfo(epki: Buffer, password: string): Promise<KeyObject> {
  const node = parseDer(epki);
  const algorithm = child(node, 0);
  if (!isSupportedPbe(algorithm)) return decryptWithOpenSsl(epki, password);
  const plain = await pbeDecrypt(algorithm, bytesOf(child(node, 1)), password);
  try {
    return privateKeyFromPkcs8(plain);
  } catch {
    throw new DecryptionError('decrypted data is no private key');
  }
}

function decryptWithOpenSsl(epki: Buffer, password: string): KeyObject {
  try {
    return createPrivateKey({ key: epki, format: 'der', type: 'pkcs8', passphrase: password });
  } catch (e) {
    const code = e instanceof Error && 'code' in e ? String(e.code) : '';
    if (/BAD_DECRYPT|PASSPHRASE|ASN1|DECODE/i.test(code)) throw new DecryptionError('bad decrypt');
    throw new UnsupportedEncryptionError(code || 'unknown scheme');
  }
}
