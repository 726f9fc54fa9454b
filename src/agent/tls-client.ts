/**
 * The device side of the channel: a TLS connection that checks the server's certificate the way a
 * firmware does — right after the handshake, before a single byte of the request is sent — and
 * Node's own HTTP/1.1 client on top of it for the JSON requests of docs/device-protocol.md.
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
 *
 * HTTP: each DeviceConnection has its own keep-alive `http.Agent` whose only socket is the verified
 * one (`createConnection` hands it out once, after the check). Node's client then does the framing
 * (Content-Length or chunked answers) and keeps the connection for the next request
 * (register → confirm and check-in on one pinned connection); a request never opens a socket of
 * its own, so nothing reaches a server whose certificate was not checked.
 */
import { X509Certificate } from 'node:crypto';
import { Agent, request as httpRequest, type ClientRequestArgs, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { connect, createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import { certificateSignatureAlgorithm } from '../crypto/signature-algorithm.js';
import { colonFingerprint, fingerprintHex } from '../domain/device-names.js';
import { CertificateNotSupportedError, ConnectionFailure, PinMismatchError, ServerRefusal } from './agent-errors.js';
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

type DescribedPem = PeerCertificate & { readonly pem: string };

/**
 * PEMs already described, by their exact text: a fleet is handed the same few certificates
 * thousands of times (registrations, replacements), and parsing them again took 4 % of a simulated
 * fleet's CPU in a profile. The facts of a given text never change; the map is bounded like
 * algorithmCache.
 */
const pemCache = new Map<string, DescribedPem>();

/** PEM → its facts and its PEM, normalised; null when it is not a certificate. */
export function describeCertificatePem(pem: string): DescribedPem | null {
  const known = pemCache.get(pem);
  if (known) return known;
  let x: X509Certificate;
  try {
    x = new X509Certificate(pem);
  } catch {
    return null;
  }
  const described = { ...describe(x), pem: x.toString() };
  if (pem.length <= 16 * 1024) {
    if (pemCache.size >= 100) pemCache.clear();
    pemCache.set(pem, described);
  }
  return described;
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

/** TLSSocket's setSession, which tls.connect() itself calls: left out of Node's type definitions. */
type SessionSettable = TLSSocket & { setSession(session: Buffer): void };

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

/**
 * The HTTP agent of one verified connection: its only socket is that connection's, kept alive
 * between requests (one request at a time). Once that socket is gone there is no other: a request
 * then fails before anything is sent, and the caller opens (and checks) a new connection.
 */
class PinnedSocketAgent extends Agent {
  private handedOut = false;

  constructor(
    private readonly socket: TLSSocket,
    private readonly label: string,
  ) {
    super({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1 });
  }

  override createConnection(_options: ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): Duplex | undefined {
    if (!this.handedOut && !this.socket.destroyed) {
      this.handedOut = true;
      return this.socket;
    }
    // The stream argument is never read when there is an error (http's Agent checks err first).
    callback?.(new ConnectionFailure(`${this.label}: the connection is closed`, this.label, true, null), this.socket);
    return undefined;
  }
}

export class DeviceConnection {
  private latestSession: Buffer | undefined;
  private closed = false;
  private readonly http: PinnedSocketAgent;

  private constructor(
    private readonly socket: TLSSocket,
    private readonly address: ServerAddress,
    readonly server: string,
    /** The certificate presented; null on a resumed handshake (none is sent). */
    readonly peer: PeerCertificate | null,
    private readonly timeoutMs: number,
  ) {
    this.http = new PinnedSocketAgent(socket, server);
    socket.on('session', (s: Buffer) => {
      this.latestSession = s;
    });
    // Between requests nobody else may listen: a reset of an idle connection only ends it.
    socket.on('error', () => undefined);
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
      });
      // Set here rather than in connect()'s options, which Node parses twice (TLSSocket's
      // constructor and connect() each call setSession, and a session holds the server's
      // certificate: 7 % of a simulated fleet's CPU in a profile). connect() returns before the TCP
      // connection is up, so this is still before the ClientHello, as in connect() itself.
      if (o.session) (socket as SessionSettable).setSession(o.session);
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
        const conn = new DeviceConnection(socket, o.server, label, peer, o.timeoutMs);
        if (early.length > 0) conn.latestSession = early[early.length - 1];
        resolve(conn);
      });
    });
  }

  /**
   * One request, one answer; a second request waits for the first answer (no pipelining). A 2xx
   * answer's JSON body is returned; an error document becomes a ServerRefusal; a broken
   * connection, a silence longer than the timeout or an answer over MAX_RESPONSE_BYTES a
   * ConnectionFailure (the connection is then closed).
   */
  request(method: 'GET' | 'POST', path: string, body?: unknown, credential?: string): Promise<HttpAnswer> {
    const label = this.server;
    if (this.closed || this.socket.destroyed || !this.socket.writable) {
      return Promise.reject(new ConnectionFailure(`${label}: the connection is closed`, label, true, null));
    }
    const payload = body === undefined ? null : Buffer.from(JSON.stringify(body), 'utf8');
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        outcome();
      };
      const fail = (e: Error) => {
        if (e instanceof ConnectionFailure) settle(() => reject(e));
        else {
          const cause = e as NodeJS.ErrnoException; // http's 'error' events carry socket and parser errors
          settle(() => reject(new ConnectionFailure(`${label}: ${cause.message}`, label, false, cause.code ?? null)));
        }
      };
      const req = httpRequest({
        agent: this.http,
        host: this.address.host,
        port: this.address.port,
        method,
        path,
        timeout: this.timeoutMs,
        headers: {
          accept: 'application/json',
          ...(credential ? { authorization: `Bearer ${credential}` } : {}),
          ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
        },
      });
      const tooLarge = () => new ConnectionFailure(`${label}: the answer is larger than ${MAX_RESPONSE_BYTES} bytes`, label, false, null);
      req.on('timeout', () => req.destroy(new ConnectionFailure(`${label}: no answer within ${this.timeoutMs} ms`, label, false, 'ETIMEDOUT')));
      req.on('error', fail);
      req.on('response', (res: IncomingMessage) => {
        res.on('error', fail);
        if (Number(res.headers['content-length'] ?? 0) > MAX_RESPONSE_BYTES) {
          req.destroy(tooLarge());
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) req.destroy(tooLarge());
          else chunks.push(chunk);
        });
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks, size).toString('utf8');
          let parsed: unknown = null;
          try {
            parsed = text.length > 0 ? JSON.parse(text) : null;
          } catch {
            settle(() => reject(new ServerRefusal(status, 'invalid_answer', `${label} answered ${status} with a body that is not JSON.`, {})));
            return;
          }
          if (status >= 200 && status < 300) settle(() => resolve({ status, body: parsed }));
          else settle(() => reject(errorOf(status, parsed, label)));
        });
      });
      req.end(payload ?? undefined);
    });
  }

  close(): void {
    this.closed = true;
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
