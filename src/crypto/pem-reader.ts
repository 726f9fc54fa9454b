/**
 * PEM keystores: one private key (PKCS#8, encrypted PKCS#8, or a traditional OpenSSL key, possibly
 * `Proc-Type: 4,ENCRYPTED`) and its certificate, optionally followed by the rest of a chain. The
 * whole file is the entry, so every certificate in it counts as the entry's chain (K6).
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { CertfleetError } from '../domain/errors.js';
import { privateKeyMatchesCertificate } from './key-match.js';
import { IntegrityCheck, KeystoreFormat, type KeystoreContents } from './keystore-contents.js';
import type { DerivationBudget } from './import-limits.js';
import { damaged, iterationLimit, noCertificate, severalPemKeys, unknownFormat, unsupportedEncryption, wrongPemPassphrase } from './keystore-errors.js';
import { DecryptionError, IterationLimitError, UnsupportedEncryptionError } from './pbe.js';
import { pemBlocks, type PemBlock } from './pem.js';
import { decryptPrivateKeyInfo, privateKeyFromPkcs8 } from './pkcs8.js';

const CERTIFICATE_LABELS = new Set(['CERTIFICATE', 'X509 CERTIFICATE']);
const KEY_LABELS = new Set(['PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY', 'DSA PRIVATE KEY']);

function nodeErrorCode(e: unknown): string {
  return e instanceof Error && 'code' in e ? String(e.code) : '';
}

/**
 * Ciphers of traditional `Proc-Type: 4,ENCRYPTED` keys that are read (what `openssl rsa|ec -aes256 …`
 * writes). Their key derivation is one MD5 round, but a cipher off this list is refused all the
 * same rather than handed to OpenSSL.
 */
const TRADITIONAL_CIPHERS = new Set(['AES-128-CBC', 'AES-192-CBC', 'AES-256-CBC', 'DES-EDE3-CBC', 'DES-CBC']);

async function openKey(block: PemBlock, passphrase: string, budget: DerivationBudget): Promise<KeyObject> {
  if (block.label === 'PRIVATE KEY') {
    try {
      return privateKeyFromPkcs8(block.der);
    } catch {
      throw damaged('pem');
    }
  }
  if (block.label === 'ENCRYPTED PRIVATE KEY') {
    try {
      return await decryptPrivateKeyInfo(block.der, passphrase, budget);
    } catch (e) {
      if (e instanceof CertfleetError) throw e;
      if (e instanceof DecryptionError) throw wrongPemPassphrase(passphrase !== '');
      if (e instanceof UnsupportedEncryptionError) throw unsupportedEncryption('pem', e.message);
      if (e instanceof IterationLimitError) throw iterationLimit('pem', e.iterations);
      throw damaged('pem');
    }
  }
  // traditional (PKCS#1, SEC1, DSA) keys; OpenSSL decrypts Proc-Type 4,ENCRYPTED (one MD5 round, cheap)
  const encrypted = (block.headers['Proc-Type'] ?? '').includes('ENCRYPTED');
  if (encrypted) {
    const cipher = (block.headers['DEK-Info'] ?? '').split(',')[0]?.trim().toUpperCase() ?? '';
    if (!TRADITIONAL_CIPHERS.has(cipher)) throw unsupportedEncryption('pem', `traditional key encryption ${cipher || '(none named)'}`);
    budget.countParts(1);
  }
  try {
    return createPrivateKey({ key: block.text, format: 'pem', ...(encrypted ? { passphrase } : {}) });
  } catch (e) {
    if (encrypted && /BAD_DECRYPT|PASSPHRASE|DECODE|ASN1/i.test(nodeErrorCode(e))) throw wrongPemPassphrase(passphrase !== '');
    throw damaged('pem');
  }
}

export function readPem(file: Buffer, passphrase: string, budget: DerivationBudget): KeystoreContents {
  const text = file.toString('utf8');
  // every block is a certificate or a key, or is ignored: more than allowed is refused before the
  // blocks are searched for (a file of nothing but BEGIN lines would cost the search dearly)
  const begins = text.split('-----BEGIN ').length - 1;
  budget.checkCertificates(begins - 1);
  const blocks = pemBlocks(text);
  const certificates = blocks.filter((b) => CERTIFICATE_LABELS.has(b.label)).map((b) => b.der);
  const keys = blocks.filter((b) => KEY_LABELS.has(b.label));
  budget.checkCertificates(certificates.length);
  if (certificates.length === 0 && keys.length === 0) throw unknownFormat();
  if (keys.length > 1) throw severalPemKeys(keys.length);
  const key = keys[0];
  if (key && certificates.length === 0) throw noCertificate('pem', null);
  return {
    format: KeystoreFormat.pem,
    integrityCheck: IntegrityCheck.none,
    keyEntries: key
      ? [
          {
            name: null,
            openKey: () => openKey(key, passphrase, budget),
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
