/**
 * The network token of a cluster (SPEC H3): every certificate change in a cluster makes a new one.
 * It names the cluster, carries a serial that only grows, a digest of the keystore (fingerprints,
 * order, active flags) and the time, and is signed with the cluster's key, which only the nodes
 * can unseal (it is sealed under the master key every node shares). A node joining the cluster
 * for the first time must present the current token, which proves that whoever starts it was
 * handed the cluster's present state.
 *
 * This module is the pure part: the canonical texts that are hashed and signed, parsing a token
 * file with a bound on its size, and the decision on a presented join token. Hashing and signing
 * live in crypto/network-token-signer.ts.
 */

export const NETWORK_TOKEN_FORMAT = 'certfleet-network-token/1';

/** A token file is a few hundred bytes; anything much larger is not one. */
export const MAX_NETWORK_TOKEN_BYTES = 4096;

/** What the keystore digest covers: exactly what a certificate change can change. */
export interface KeystoreDigestEntry {
  readonly position: number;
  /** Upper-case hex with colons, as keytool prints it. */
  readonly sha256Fingerprint: string;
  readonly active: boolean;
}

export interface NetworkTokenBody {
  readonly format: typeof NETWORK_TOKEN_FORMAT;
  readonly clusterId: string;
  readonly serial: number;
  /** SHA-256 (lower-case hex) of `canonicalKeystore(entries)`. */
  readonly keystoreDigest: string;
  /** ISO 8601. */
  readonly createdAt: string;
}

export interface NetworkToken extends NetworkTokenBody {
  /** Ed25519 signature over `tokenSigningInput(body)`, base64url. */
  readonly signature: string;
}

/**
 * One line per entry in priority order: `position fingerprint active|inactive`. Two keystores
 * have the same text exactly when they hold the same certificates in the same order with the
 * same flags.
 */
export function canonicalKeystore(entries: readonly KeystoreDigestEntry[]): string {
  return [...entries]
    .sort((a, b) => a.position - b.position)
    .map((e) => `${e.position} ${e.sha256Fingerprint.toUpperCase()} ${e.active ? 'active' : 'inactive'}\n`)
    .join('');
}

/** The bytes that are signed: the body's fields in a fixed order, so that no JSON quirk changes them. */
export function tokenSigningInput(body: NetworkTokenBody): string {
  return [body.format, body.clusterId, String(body.serial), body.keystoreDigest, body.createdAt].join('\n');
}

/** The token file: the body and its signature as one JSON object, with a newline at the end. */
export function formatNetworkToken(token: NetworkToken): string {
  const { format, clusterId, serial, keystoreDigest, createdAt, signature } = token;
  return `${JSON.stringify({ format, clusterId, serial, keystoreDigest, createdAt, signature }, null, 2)}\n`;
}

export type ParsedNetworkToken =
  | { readonly kind: 'token'; readonly token: NetworkToken }
  | { readonly kind: 'unreadable'; readonly reason: string };

const HEX_DIGEST = /^[0-9a-f]{64}$/;
const BASE64URL = /^[A-Za-z0-9_-]{1,200}$/;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

/** Reads a token file's text; every field is checked for shape, nothing is trusted yet. */
export function parseNetworkToken(text: string): ParsedNetworkToken {
  if (text.length > MAX_NETWORK_TOKEN_BYTES) return { kind: 'unreadable', reason: `larger than ${MAX_NETWORK_TOKEN_BYTES} bytes` };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'unreadable', reason: 'not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { kind: 'unreadable', reason: 'not a JSON object' };
  const o = value as Record<string, unknown>; // an object, checked field by field below
  if (o['format'] !== NETWORK_TOKEN_FORMAT) return { kind: 'unreadable', reason: `format is not ${NETWORK_TOKEN_FORMAT}` };
  const { clusterId, serial, keystoreDigest, createdAt, signature } = o;
  if (typeof clusterId !== 'string' || clusterId.length === 0 || clusterId.length > 64) return { kind: 'unreadable', reason: 'clusterId' };
  if (typeof serial !== 'number' || !Number.isSafeInteger(serial) || serial < 1) return { kind: 'unreadable', reason: 'serial' };
  if (typeof keystoreDigest !== 'string' || !HEX_DIGEST.test(keystoreDigest)) return { kind: 'unreadable', reason: 'keystoreDigest' };
  if (typeof createdAt !== 'string' || !ISO_INSTANT.test(createdAt)) return { kind: 'unreadable', reason: 'createdAt' };
  if (typeof signature !== 'string' || !BASE64URL.test(signature)) return { kind: 'unreadable', reason: 'signature' };
  return { kind: 'token', token: { format: NETWORK_TOKEN_FORMAT, clusterId, serial, keystoreDigest, createdAt, signature } };
}

/** The cluster as a joining node finds it in the database. */
export interface CurrentNetworkToken {
  readonly clusterId: string;
  readonly serial: number;
  /** Where the nodes write the token file, for the message that tells the administrator where to find it. */
  readonly location: string;
}

export const JoinRefusal = {
  unreadable: 'unreadable',
  otherCluster: 'other_cluster',
  forged: 'forged',
  outdated: 'outdated',
} as const;
export type JoinRefusal = (typeof JoinRefusal)[keyof typeof JoinRefusal];

export type JoinDecision =
  | { readonly kind: 'accepted'; readonly serial: number }
  | { readonly kind: 'refused'; readonly reason: JoinRefusal; readonly message: string };

/**
 * May a node that has never been part of this cluster join it with the token it was given?
 * Only the current token, signed by the cluster, for this cluster. `signatureValid` is the
 * crypto layer's verdict on `presented`.
 */
export function decideJoin(presented: ParsedNetworkToken, signatureValid: boolean, current: CurrentNetworkToken): JoinDecision {
  const where = `The current token (serial ${current.serial}) is in ${current.location} on every running node; export it with "certfleet cluster token --out FILE".`;
  if (presented.kind === 'unreadable') {
    return { kind: 'refused', reason: JoinRefusal.unreadable, message: `The join token cannot be read (${presented.reason}). ${where}` };
  }
  const t = presented.token;
  if (t.clusterId !== current.clusterId) {
    return {
      kind: 'refused',
      reason: JoinRefusal.otherCluster,
      message: `The join token belongs to cluster ${t.clusterId}, but this database holds cluster ${current.clusterId}. ${where}`,
    };
  }
  if (!signatureValid) {
    return { kind: 'refused', reason: JoinRefusal.forged, message: `The join token (serial ${t.serial}) is not signed by this cluster. ${where}` };
  }
  if (t.serial !== current.serial) {
    return {
      kind: 'refused',
      reason: JoinRefusal.outdated,
      message: `The join token has serial ${t.serial}, but the cluster's current serial is ${current.serial}: the keystore changed since it was made. ${where}`,
    };
  }
  return { kind: 'accepted', serial: t.serial };
}
