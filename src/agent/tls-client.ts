/**
 * The device side of the channel: a TLS connection that checks the server's certificate the way a
 * firmware does — right after the handshake, before a single byte of the request is sent — and a
 * minimal HTTP/1.1 client for the JSON requests of docs/device-protocol.md.
 *
 * The check, on a full handshake:
 *   1. the certificate's signature algorithm (from its OID) must be one the firmware can verify
 *      (a legacy profile refuses SHA512withRSA and ECDSA here: a wrong assignment fails loudly);
 *   2. its SHA-256 must be the pinned one (on first contact there is no pin yet).
 * Node never calls checkServerIdentity with `rejectUnauthorized: false`, so both are done here.
 *
 * A resumed handshake carries no certificate. It can only resume a session the caller handed in,
 * and callers keep sessions only from connections that passed the check under the same pin, so a
 * resumed connection proves the same server (it knows that session's secret).
 */
import { X509Certificate } from 'node:crypto';
import { connect, createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import { certificateSignatureAlgorithm } from '../crypto/signature-algorithm.js';
import { colonFingerprint, fingerprintHex } from '../domain/device-names.js';
import { ServerRefusal } from '../transport/cli/cli-errors.js';
import { formatServer, type ServerAddress } from './servers.js';

/** What the device accepts on this connection. */
export interface CertificateCheck {
  /** SHA-256 (lower-case hex) of the pinned certificate; null on first contact. */
  readonly pinSha256Hex: string | null;
  /** Signature algorithms the firmware can verify. */
  readonly acceptedAlgorithms: readonly string[];
}

export interface PeerCertificate {
  readonly sha256Hex: string;
  /** Upper-case hex with colons, as the API spells fingerprints. */
  readonly sha256Fingerprint: string;
  readonly signatureAlgorithm: string;
}

/** The server could not be reached or the connection broke: the agent may try the next server. */
export class ConnectionFailure extends Error {
  override readonly name = 'ConnectionFailure';
  constructor(
    message: string,
    readonly server: string,
    /** True when the request had not been sent yet, so no server can have acted on it. */
    readonly beforeRequest: boolean,
    /** The TLS alert or socket error code, when there is one. */
    readonly code: string | null,
  ) {
    super(message);
  }
}

/** The server presented another certificate than the pinned one. Never a reason to try elsewhere. */
export class PinMismatchError extends Error {
  override readonly name = 'PinMismatchError';
  constructor(
    readonly server: string,
    readonly expectedSha256Hex: string,
    readonly presentedSha256Hex: string,
  ) {
    super(
      `${server} presented the certificate with SHA-256 ${colonFingerprint(presentedSha256Hex)}, but this device pins ` +
        `${colonFingerprint(expectedSha256Hex)}. The connection was closed before anything was sent.`,
    );
  }
}

/** The firmware cannot verify the certificate's signature algorithm (a wrong assignment). */
export class CertificateNotSupportedError extends Error {
  override readonly name = 'CertificateNotSupportedError';
  constructor(
    readonly server: string,
    readonly signatureAlgorithm: string,
    readonly acceptedAlgorithms: readonly string[],
  ) {
    super(
      `${server} presented a ${signatureAlgorithm} certificate, which this firmware cannot verify ` +
        `(it supports ${acceptedAlgorithms.join(', ')}). The handshake was refused.`,
    );
  }
}

export interface HttpAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** Signature algorithms of the certificates seen, by SHA-256: a fleet sees a handful, thousands of times. */
const algorithmCache = new Map<string, string>();

function describe(x: X509Certificate): PeerCertificate {
  const sha256Hex = fingerprintHex(x.fingerprint256);
  let signatureAlgorithm = algorithmCache.get(sha256Hex);
  if (signatureAlgorithm === undefined) {
    try {
      signatureAlgorithm = certificateSignatureAlgorithm(x.raw);
    } catch {
      signatureAlgorithm = 'unreadable';
    }
    if (algorithmCache.size > 1000) algorithmCache.clear();
    algorithmCache.set(sha256Hex, signatureAlgorithm);
  }
  return { sha256Hex, sha256Fingerprint: colonFingerprint(sha256Hex), signatureAlgorithm };
}

/** PEM → its facts and its PEM, normalised; null when it is not a certificate. */
export function describeCertificatePem(pem: string): (PeerCertificate & { readonly pem: string }) | null {
  let x: X509Certificate;
  try {
    x = new X509Certificate(pem);
  } catch {
    return null;
  }
  return { ...describe(x), pem: x.toString() };
}

export interface OpenOptions {
  readonly server: ServerAddress;
  readonly servername: string;
  readonly check: CertificateCheck;
  /** A session to resume, from an earlier connection that passed the same check. */
  readonly session?: Buffer | undefined;
  readonly timeoutMs: number;
  /** The newest TLS version to offer (a legacy firmware stops at TLS 1.2). */
  readonly maxVersion?: 'TLSv1.2' | 'TLSv1.3';
}

const MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * One client context per TLS version range, shared by every connection: without it each
 * connection builds its own OpenSSL context, which a simulator of thousands of devices pays for in
 * CPU and memory. No CA store: the device trusts its pin, nothing else.
 */
const clientContexts = new Map<string, SecureContext>();

function clientContext(maxVersion: 'TLSv1.2' | 'TLSv1.3'): SecureContext {
  let context = clientContexts.get(maxVersion);
  if (!context) {
    context = createSecureContext({ minVersion: 'TLSv1.2', maxVersion });
    clientContexts.set(maxVersion, context);
  }
  return context;
}

export class DeviceConnection {
  private latestSession: Buffer | undefined;
  private reusable = true;

  private constructor(
    private readonly socket: TLSSocket,
    readonly server: string,
    /** The certificate presented; null on a resumed handshake (none is sent). */
    readonly peer: PeerCertificate | null,
    private readonly timeoutMs: number,
  ) {
    socket.on('session', (s: Buffer) => {
      this.latestSession = s;
    });
    // Between requests nobody else listens: a reset of an idle connection only makes it unusable.
    socket.on('error', () => {
      this.reusable = false;
    });
  }

  get resumed(): boolean {
    return this.peer === null;
  }

  /** The newest session ticket of this connection, to resume the next one (same pin only). */
  get session(): Buffer | undefined {
    return this.latestSession;
  }

  static open(o: OpenOptions): Promise<DeviceConnection> {
    const label = formatServer(o.server);
    return new Promise((resolve, reject) => {
      let settled = false;
      const socket = connect({
        host: o.server.host,
        port: o.server.port,
        servername: o.servername,
        rejectUnauthorized: false, // the pin is checked below, before anything is sent
        secureContext: clientContext(o.maxVersion ?? 'TLSv1.3'),
        ...(o.session ? { session: o.session } : {}),
      });
      const early: Buffer[] = [];
      const fail = (e: Error) => {
        if (settled) return;
        settled = true;
        socket.destroy();
        reject(e);
      };
      socket.setTimeout(o.timeoutMs, () => fail(new ConnectionFailure(`${label}: no TLS handshake within ${o.timeoutMs} ms`, label, true, 'ETIMEDOUT')));
      const onError = (e: NodeJS.ErrnoException) => fail(new ConnectionFailure(`${label}: ${e.message}`, label, true, e.code ?? null));
      const onClose = () => fail(new ConnectionFailure(`${label}: the connection closed during the handshake`, label, true, null));
      const onSession = (s: Buffer) => early.push(s);
      socket.on('error', onError);
      socket.on('close', onClose);
      socket.on('session', onSession);
      socket.once('secureConnect', () => {
        let peer: PeerCertificate | null = null;
        if (!socket.isSessionReused()) {
          const x = socket.getPeerX509Certificate();
          if (!x) {
            fail(new ConnectionFailure(`${label}: the server presented no certificate`, label, true, null));
            return;
          }
          const presented = describe(x);
          if (!o.check.acceptedAlgorithms.includes(presented.signatureAlgorithm)) {
            fail(new CertificateNotSupportedError(label, presented.signatureAlgorithm, o.check.acceptedAlgorithms));
            return;
          }
          if (o.check.pinSha256Hex !== null && o.check.pinSha256Hex !== presented.sha256Hex) {
            fail(new PinMismatchError(label, o.check.pinSha256Hex, presented.sha256Hex));
            return;
          }
          peer = presented;
        } else if (!o.session) {
          fail(new ConnectionFailure(`${label}: resumed a session that was never offered`, label, true, null));
          return;
        }
        settled = true;
        socket.off('close', onClose);
        socket.off('error', onError);
        socket.off('session', onSession);
        socket.setTimeout(0);
        const conn = new DeviceConnection(socket, label, peer, o.timeoutMs);
        if (early.length > 0) conn.latestSession = early[early.length - 1];
        resolve(conn);
      });
    });
  }

  /**
   * One request, one answer (no pipelining). A 2xx answer's JSON body is returned; an error
   * document becomes a ServerRefusal; a broken connection a ConnectionFailure.
   */
  request(method: 'GET' | 'POST', path: string, body?: unknown, credential?: string): Promise<HttpAnswer> {
    const socket = this.socket;
    const label = this.server;
    if (!this.reusable || socket.destroyed) {
      return Promise.reject(new ConnectionFailure(`${label}: the connection is closed`, label, true, null));
    }
    const payload = body === undefined ? '' : JSON.stringify(body);
    const head =
      `${method} ${path} HTTP/1.1\r\nHost: certfleet\r\nAccept: application/json\r\n` +
      (credential ? `Authorization: Bearer ${credential}\r\n` : '') +
      (body === undefined ? '' : `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n`) +
      '\r\n';
    return new Promise((resolve, reject) => {
      let buffered: Buffer = Buffer.alloc(0);
      let headerEnd = -1;
      let status = 0;
      let length = -1;
      let closeAfter = false;
      const cleanup = () => {
        socket.off('data', onData);
        socket.off('error', onError);
        socket.off('close', onClose);
        socket.setTimeout(0);
      };
      const fail = (e: Error) => {
        cleanup();
        this.reusable = false;
        socket.destroy();
        reject(e);
      };
      const onError = (e: NodeJS.ErrnoException) => fail(new ConnectionFailure(`${label}: ${e.message}`, label, false, e.code ?? null));
      const onClose = () => fail(new ConnectionFailure(`${label}: the connection closed before the answer`, label, false, null));
      const onData = (chunk: Buffer) => {
        buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
        if (buffered.length > MAX_RESPONSE_BYTES) {
          fail(new ConnectionFailure(`${label}: the answer is too large`, label, false, null));
          return;
        }
        if (headerEnd < 0) {
          headerEnd = buffered.indexOf('\r\n\r\n');
          if (headerEnd < 0) return;
          const lines = buffered.subarray(0, headerEnd).toString('latin1').split('\r\n');
          const statusLine = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
          if (!statusLine) {
            fail(new ConnectionFailure(`${label}: the answer is not HTTP`, label, false, null));
            return;
          }
          status = Number(statusLine[1]);
          for (const line of lines.slice(1)) {
            const i = line.indexOf(':');
            const name = line.slice(0, i).trim().toLowerCase();
            const value = line.slice(i + 1).trim();
            if (name === 'content-length') length = Number(value);
            else if (name === 'connection' && value.toLowerCase() === 'close') closeAfter = true;
            else if (name === 'transfer-encoding') {
              fail(new ConnectionFailure(`${label}: unexpected transfer encoding ${value}`, label, false, null));
              return;
            }
          }
          if (!Number.isSafeInteger(length) || length < 0) {
            fail(new ConnectionFailure(`${label}: the answer has no Content-Length`, label, false, null));
            return;
          }
        }
        const start = headerEnd + 4;
        if (buffered.length < start + length) return;
        cleanup();
        if (closeAfter) {
          this.reusable = false;
          socket.end();
        }
        const text = buffered.subarray(start, start + length).toString('utf8');
        let parsed: unknown = null;
        try {
          parsed = text.length > 0 ? JSON.parse(text) : null;
        } catch {
          reject(new ServerRefusal(status, 'invalid_answer', `${label} answered ${status} with a body that is not JSON.`, {}));
          return;
        }
        if (status >= 200 && status < 300) {
          resolve({ status, body: parsed });
          return;
        }
        reject(errorOf(status, parsed, label));
      };
      socket.on('data', onData);
      socket.once('error', onError);
      socket.once('close', onClose);
      socket.setTimeout(this.timeoutMs, () => fail(new ConnectionFailure(`${label}: no answer within ${this.timeoutMs} ms`, label, false, 'ETIMEDOUT')));
      socket.write(head + payload);
    });
  }

  close(): void {
    this.reusable = false;
    if (!this.socket.destroyed) this.socket.end();
  }
}

function errorOf(status: number, body: unknown, label: string): ServerRefusal {
  if (typeof body === 'object' && body !== null && 'error' in body) {
    const error: unknown = body.error;
    if (typeof error === 'object' && error !== null) {
      const e = error as { code?: unknown; message?: unknown; details?: unknown }; // the API's error document, checked field by field
      const details = typeof e.details === 'object' && e.details !== null ? (e.details as Readonly<Record<string, unknown>>) : {}; // an object, checked
      return new ServerRefusal(
        status,
        typeof e.code === 'string' ? e.code : 'unknown',
        typeof e.message === 'string' ? e.message : `${label} answered ${status}.`,
        details,
      );
    }
  }
  return new ServerRefusal(status, 'invalid_answer', `${label} answered ${status} without an error document.`, {});
}
