/**
 * The TLS configuration of both listeners, the device port (30001) and the console/API over
 * HTTPS, stated here instead of taken from whatever Node and OpenSSL default to.
 *
 *   versions   TLS 1.2 and 1.3
 *   key exch.  ECDHE only (X25519, P-256, P-384); no static RSA, no finite-field DHE
 *   ciphers    AEAD only: AES-GCM and ChaCha20-Poly1305; no CBC, no SHA-1 MAC, no 3DES/RC4
 *   order      the server's (strongest first), so a client that lists a weak suite first gets a strong one
 *
 * What the legacy firmware profiles need (src/agent/profiles.ts: IGEL Linux 4.01.650 and Windows 7
 * Embedded 3.08.100 stop at TLS 1.2): TLS 1.2 with ECDHE-RSA or ECDHE-ECDSA and AES-GCM, over
 * P-256 or P-384 (Windows 7's Schannel has no X25519, and gained ECDHE-RSA with AES-GCM with its
 * 2014 cipher-suite update, KB2992611). Both are in the list below; a device without them could not
 * connect at all, and would have to be updated rather than the list widened.
 */
import type { SecureContextOptions } from 'node:tls';

/** OpenSSL names; TLS 1.3 suites first (Node hands those to OpenSSL's ciphersuites). */
export const TLS_CIPHERS: readonly string[] = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
];

/** Key-exchange groups, in preference order. */
export const TLS_GROUPS: readonly string[] = ['X25519', 'P-256', 'P-384'];

export const TLS_MIN_VERSION = 'TLSv1.2';

/** The options every server-side secure context of certfleet starts from. */
export const SERVER_TLS_OPTIONS = {
  minVersion: TLS_MIN_VERSION,
  ciphers: TLS_CIPHERS.join(':'),
  ecdhCurve: TLS_GROUPS.join(':'),
  honorCipherOrder: true,
} as const satisfies SecureContextOptions;
