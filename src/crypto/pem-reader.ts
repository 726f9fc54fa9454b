/**
 * PEM keystores: one private key (PKCS#8, encrypted PKCS#8, or a traditional OpenSSL key, possibly
 * `Proc-Type: 4,ENCRYPTED`) and its certificate, optionally followed by the rest of a chain. The
 * whole file is the entry, so every certificate in it counts as the entry's chain (K6).
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { privateKeyMatchesCertificate } from './key-match.js';
import { KeystoreFormat, type KeystoreContents } from './keystore-contents.js';
import { damaged, iterationLimit, noCertificate, severalPemKeys, unknownFormat, unsupportedEncryption, wrongPemPassphrase } from './keystore-errors.js';
import { DecryptionError, IterationLimitError, UnsupportedEncryptionError } from './pbe.js';
import { pemBlocks, type PemBlock } from './pem.js';
import { decryptPrivateKeyInfo, privateKeyFromPkcs8 } from './pkcs8.js';

const CERTIFICATE_LABELS = new Set(['CERTIFICATE', 'X509 CERTIFICATE']);
const KEY_LABELS = new Set(['PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY', 'DSA PRIVATE KEY']);

function nodeErrorCode(e: unknown): string {
  return e instanceof Error && 'code' in e ? String(e.code) : '';
}

async function openKey(block: PemBlock, passphrase: string): Promise<KeyObject> {
  if (block.label === 'PRIVATE KEY') {
    try {
      return privateKeyFromPkcs8(block.der);
    } catch {
      throw damaged('pem');
    }
  }
  if (block.label === 'ENCRYPTED PRIVATE KEY') {
    try {
      return await decryptPrivateKeyInfo(block.der, passphrase);
    } catch (e) {
      if (e instanceof DecryptionError) throw wrongPemPassphrase(passphrase !== '');
      if (e instanceof UnsupportedEncryptionError) throw unsupportedEncryption('pem', e.message);
      if (e instanceof IterationLimitError) throw iterationLimit('pem', e.iterations);
      throw damaged('pem');
    }
  }
  // traditional (PKCS#1, SEC1, DSA) keys; OpenSSL decrypts Proc-Type 4,ENCRYPTED (one MD5 round, cheap)
  const encrypted = (block.headers['Proc-Type'] ?? '').includes('ENCRYPTED');
  try {
    return createPrivateKey({ key: block.text, format: 'pem', ...(encrypted ? { passphrase } : {}) });
  } catch (e) {
    if (encrypted && /BAD_DECRYPT|PASSPHRASE|DECODE|ASN1/i.test(nodeErrorCode(e))) throw wrongPemPassphrase(passphrase !== '');
    throw damaged('pem');
  }
}

export function readPem(file: Buffer, passphrase: string): KeystoreContents {
  const blocks = pemBlocks(file.toString('utf8'));
  const certificates = blocks.filter((b) => CERTIFICATE_LABELS.has(b.label)).map((b) => b.der);
  const keys = blocks.filter((b) => KEY_LABELS.has(b.label));
  if (certificates.length === 0 && keys.length === 0) throw unknownFormat();
  if (keys.length > 1) throw severalPemKeys(keys.length);
  const key = keys[0];
  if (key && certificates.length === 0) throw noCertificate('pem', null);
  return {
    format: KeystoreFormat.pem,
    keyEntries: key
      ? [
          {
            name: null,
            openKey: () => openKey(key, passphrase),
            // the certificate of the key first, the others in file order
            certificatesFor: (privateKey) => {
              const i = certificates.findIndex((c) => privateKeyMatchesCertificate(c, privateKey));
              return i <= 0 ? certificates : [certificates[i] as Buffer, ...certificates.filter((_, j) => j !== i)]; // i is a valid index
            },
          },
        ]
      : [],
    certificateCount: certificates.length,
  };
}
