/**
 * Whether a private key belongs to a certificate, and what kind of key it is. The public key is
 * derived from the private key and compared with the certificate's SubjectPublicKeyInfo (as DER,
 * then as key material, so that a compressed EC point still matches): no signature trial, so it
 * works for every key kind Node knows.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { certificateSpki } from './asn1.js';

/** Node's asymmetricKeyType → the names certfleet uses (those of the certificate facts). */
const KEY_ALGORITHM_BY_NODE_TYPE: Readonly<Record<string, string>> = {
  rsa: 'RSA',
  'rsa-pss': 'RSASSA-PSS',
  ec: 'EC',
  dsa: 'DSA',
  dh: 'DH',
  ed25519: 'Ed25519',
  ed448: 'Ed448',
  x25519: 'X25519',
  x448: 'X448',
};

export function keyAlgorithmOf(key: KeyObject): string {
  const type = key.asymmetricKeyType;
  if (type === undefined) return 'secret';
  return KEY_ALGORITHM_BY_NODE_TYPE[type] ?? type;
}

export function publicSpkiOf(privateKey: KeyObject): Buffer {
  return createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
}

export function privateKeyMatchesCertificate(certDer: Buffer, privateKey: KeyObject): boolean {
  if (privateKey.type !== 'private') return false;
  try {
    const certSpki = certificateSpki(certDer);
    const derived = createPublicKey(privateKey);
    if (derived.export({ type: 'spki', format: 'der' }).equals(certSpki)) return true;
    return derived.equals(createPublicKey({ key: certSpki, format: 'der', type: 'spki' }));
  } catch {
    return false; // a key Node cannot derive a public key from, or a certificate we cannot read
  }
}
