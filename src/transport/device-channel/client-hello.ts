/**
 * Reads the server name (SNI, RFC 6066) from the first bytes of a TLS connection, before the TLS
 * stack sees them. The device channel picks the certificate from it and then hands the bytes, untouched, to
 * a TLS socket that has exactly that one certificate.
 *
 * Why not Node's SNICallback: it copies the chosen certificate into the connection next to the
 * server's own one, and when their key types differ (an EC default, an RSA entry pinned) OpenSSL
 * may present the default's. It also is not called on resumed sessions, and TLS 1.2 resumption
 * loses the name, so the pin of a connection could not be known there.
 *
 *   record:    type(1)=22 version(2) length(2) fragment…        (a ClientHello may span records)
 *   handshake: type(1)=1 length(3) version(2) random(32) session_id<1> cipher_suites<2>
 *              compression_methods<1> extensions<2>
 *   extension: type(2) length(2) data;  server_name(0): list<2> { name_type(1)=0 host_name<2> }
 *              session_ticket(35) non-empty: a TLS 1.2 ticket; pre_shared_key(41): a TLS 1.3 ticket
 *
 * Whether the client offers a session to resume tells the channel where the handshake will run: a
 * full one (an RSA signature) on a handshake thread, a resumption on the event loop. A ticket the
 * server cannot decrypt (an older process's) falls back to a full handshake where it is.
 */
export type ClientHelloPeek =
  /** More bytes are needed. */
  | { readonly kind: 'incomplete' }
  /** A ClientHello; `serverName` null when it has no SNI; `offersSession`: it carries a ticket. */
  | { readonly kind: 'hello'; readonly serverName: string | null; readonly offersSession: boolean }
  /** Not a TLS ClientHello (or an SSLv2 one, which has no extensions): let TLS refuse it. */
  | { readonly kind: 'other' };

/** The largest ClientHello read before giving up (real ones are well below 4 KiB). */
export const MAX_CLIENT_HELLO_BYTES = 32 * 1024;

const RECORD_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXTENSION_SERVER_NAME = 0;
const EXTENSION_SESSION_TICKET = 35;
const EXTENSION_PRE_SHARED_KEY = 41;

/** The handshake bytes of the leading handshake records, or null when a record is not one. */
function handshakeBytes(data: Buffer): { bytes: Buffer; complete: boolean } | null {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 5 <= data.length) {
    if (data[offset] !== RECORD_HANDSHAKE || data[offset + 1] !== 3) return null;
    const length = data.readUInt16BE(offset + 3);
    if (offset + 5 + length > data.length) break;
    parts.push(data.subarray(offset + 5, offset + 5 + length));
    offset += 5 + length;
    const joined = Buffer.concat(parts);
    if (joined.length >= 4 && joined.length >= 4 + joined.readUIntBE(1, 3)) return { bytes: joined, complete: true };
  }
  if (offset === 0 && data.length >= 1 && data[0] !== RECORD_HANDSHAKE) return null;
  return { bytes: Buffer.concat(parts), complete: false };
}

export function peekClientHello(data: Buffer): ClientHelloPeek {
  const hs = handshakeBytes(data);
  if (hs === null) return { kind: 'other' };
  if (!hs.complete) return data.length >= MAX_CLIENT_HELLO_BYTES ? { kind: 'other' } : { kind: 'incomplete' };
  const b = hs.bytes;
  if (b[0] !== HANDSHAKE_CLIENT_HELLO) return { kind: 'other' };
  const end = 4 + b.readUIntBE(1, 3);
  try {
    let p = 4 + 2 + 32; // version, random
    p += 1 + b.readUInt8(p); // session id
    p += 2 + b.readUInt16BE(p); // cipher suites
    p += 1 + b.readUInt8(p); // compression methods
    if (p >= end) return { kind: 'hello', serverName: null, offersSession: false }; // no extensions
    const extensionsEnd = Math.min(end, p + 2 + b.readUInt16BE(p));
    p += 2;
    let serverName: string | null = null;
    let offersSession = false;
    // At most (ClientHello bytes / 4) extensions: bounded by MAX_CLIENT_HELLO_BYTES.
    while (p + 4 <= extensionsEnd) {
      const type = b.readUInt16BE(p);
      const length = b.readUInt16BE(p + 2);
      p += 4;
      if (type === EXTENSION_SERVER_NAME && serverName === null) serverName = hostName(b, p, length);
      else if ((type === EXTENSION_SESSION_TICKET && length > 0) || type === EXTENSION_PRE_SHARED_KEY) offersSession = true;
      p += length;
    }
    return { kind: 'hello', serverName, offersSession };
  } catch {
    return { kind: 'other' }; // a length pointed past the end: malformed, TLS will refuse it
  }
}

/** The first host_name of a server_name extension's list at `p`, or null. */
function hostName(b: Buffer, p: number, length: number): string | null {
  const listEnd = Math.min(p + length, p + 2 + b.readUInt16BE(p));
  let q = p + 2;
  while (q + 3 <= listEnd) {
    const nameType = b.readUInt8(q);
    const nameLength = b.readUInt16BE(q + 1);
    if (nameType === 0 && q + 3 + nameLength <= listEnd) return b.toString('latin1', q + 3, q + 3 + nameLength);
    q += 3 + nameLength;
  }
  return null;
}

/** A fatal `unrecognized_name` alert (TLS 1.2 record framing, which every TLS version accepts here). */
export const UNRECOGNIZED_NAME_ALERT = Buffer.from([21, 3, 3, 0, 2, 2, 112]);

/**
 * A fatal `access_denied` alert: first contact from a source that has no registration attempt
 * left, refused before the handshake so that it costs the server no signature.
 */
export const ACCESS_DENIED_ALERT = Buffer.from([21, 3, 3, 0, 2, 2, 49]);
