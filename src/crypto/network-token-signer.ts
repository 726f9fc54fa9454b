/**
 * Hashing and signing of the network token (SPEC H3; the pure rules are in
 * domain/network-token.ts). The cluster's signing key is Ed25519: small, fast, deterministic
 * signatures, and its public half can be handed to anyone who wants to check a token file
 * (`openssl pkeyutl -verify -rawin`). The private half is stored sealed under the master key, so
 * only nodes of the cluster can sign.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import {
  canonicalKeystore,
  tokenSigningInput,
  type KeystoreDigestEntry,
  type NetworkToken,
  type NetworkTokenBody,
} from '../domain/network-token.js';

export function keystoreDigest(entries: readonly KeystoreDigestEntry[]): string {
  return createHash('sha256').update(canonicalKeystore(entries), 'utf8').digest('hex');
}

export interface ClusterSigningKey {
  /** PKCS#8 DER of the Ed25519 private key; the caller seals it before it is stored. */
  readonly privateKeyDer: Buffer;
  /** SubjectPublicKeyInfo DER. */
  readonly publicKeyDer: Buffer;
}

/** An Ed25519 key pair is made in microseconds: no need to leave the event loop for it. */
export function generateClusterSigningKey(): ClusterSigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyDer: privateKey.export({ format: 'der', type: 'pkcs8' }),
    publicKeyDer: publicKey.export({ format: 'der', type: 'spki' }),
  };
}

function privateKeyOf(der: Buffer): KeyObject {
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
}

function publicKeyOf(der: Buffer): KeyObject {
  return createPublicKey({ key: der, format: 'der', type: 'spki' });
}

export function signNetworkToken(body: NetworkTokenBody, privateKeyDer: Buffer): NetworkToken {
  const signature = sign(null, Buffer.from(tokenSigningInput(body), 'utf8'), privateKeyOf(privateKeyDer)).toString('base64url');
  return { ...body, signature };
}

/** True when the token was signed by the holder of the key whose public half is given. */
export function verifyNetworkToken(token: NetworkToken, publicKeyDer: Buffer): boolean {
  const signature = Buffer.from(token.signature, 'base64url');
  // Ed25519 signatures are 64 bytes; anything else is not one (and verify() would throw on some).
  if (signature.length !== 64) return false;
  return verify(null, Buffer.from(tokenSigningInput(token), 'utf8'), publicKeyOf(publicKeyDer), signature);
}
