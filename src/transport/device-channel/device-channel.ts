/**
 * The device channel (SPEC R5): TLS on port 30001, HTTP/1.1 + JSON inside (docs/device-protocol.md).
 *
 *   TCP accept ─ over the connection cap (or the cap on unfinished handshakes): closed at once
 *     ─ deadline: from accept to a finished handshake, `handshakeDeadlineMs` in all (not an idle
 *       timer: a client that sends one byte at a time gets no longer than one that sends none)
 *   ─ read the ClientHello's server name (client-hello.ts) ─ ServedKeystore.resolve
 *     ─ unknown pin: `unrecognized_name` alert, closed
 *     ─ first contact (no pin) from a source with no registration attempt left: held for
 *       `refusalHoldMs`, then an `access_denied` alert, counted as a refusal: a registration
 *       flood costs no RSA signature, and each of its connections waits
 *     ─ else TLS with exactly that entry's SecureContext; the pin of the connection is that
 *       entry, known before the handshake (full or resumed, TLS 1.2 or 1.3):
 *       ─ a ClientHello without a session to resume (a full handshake, an RSA signature): handed
 *         to a handshake thread (handshake-threads.ts), which runs TLS off the event loop
 *       ─ one with a session (or `handshakeThreads: 0`): a TLSSocket on the event loop
 *   handshake done ─ the HTTP server ─ routes ─ use cases of src/app
 *     (registrations: throttled per source, refusals counted per source and minute, source-limits.ts)
 *
 * Keystore changes: `reload()` when this node changed the keystore; a poll of the keystore revision
 * every `pollIntervalMs` for changes made on other nodes (H2). Contexts are rebuilt only when the
 * revision moves, and only for entries that changed. Connections already open keep theirs.
 *
 * Session resumption: every per-entry context has the same ticket key and session id context, so
 * a ticket issued under one entry's context resumes under any, and across reloads. The agent
 * offers a session only under the server name it was made with; a device that resumed one under
 * another pin would only mislead its own record (it never saw that certificate), no one else's.
 * The ticket key is per process: behind a load balancer a device that lands on another node makes
 * one full handshake there.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket, type SecureContextOptions } from 'node:tls';
import type { Logger } from 'pino';
import type { AppContext } from '../../app/context.js';
import { parseServerName } from '../../domain/device-names.js';
import { ErrorCode } from '../../domain/errors.js';
import { every, type Scheduler } from '../../domain/time.js';
import { ACCESS_DENIED_ALERT, MAX_CLIENT_HELLO_BYTES, peekClientHello, UNRECOGNIZED_NAME_ALERT } from './client-hello.js';
import { deviceRoutes, type RouteHandler } from './device.routes.js';
import { RefusalAudit, RegistrationThrottle, sourceOf, type ThrottleVerdict } from './source-limits.js';
import { APP_DEVICE_USE_CASES, type DeviceUseCases } from './device-use-cases.js';
import { sendError, sendHttpError, sendJson, transportError } from './http-io.js';
import { SERVER_TLS_OPTIONS } from '../tls-profile.js';
import { DEFAULT_HANDSHAKE_THREADS, DEVICE_CHANNEL_LIMITS, type DeviceChannelLimits } from './limits.js';
import { HandshakeThreads } from './handshake-threads.js';
import { buildServedKeystore, type ServedCertificate, type ServedKeystore } from './served-keystore.js';

export interface DeviceChannelOptions {
  readonly ctx: AppContext;
  readonly host: string;
  readonly port: number;
  readonly log: Logger;
  /**
   * How often the keystore revision is compared with the database: the safety net behind the
   * notifications of other nodes' changes (H2), which a lost connection can miss.
   */
  readonly pollIntervalMs?: number;
  /** The timer of the poll (the port is domain/time.ts). */
  readonly scheduler: Scheduler;
  /** The use cases behind the routes; the real ones of src/app by default. */
  readonly useCases?: DeviceUseCases;
  /** Told what happens on the port (the metrics count it); nothing by default. */
  readonly events?: DeviceChannelEvents;
  /** TLS session lifetime (tickets); devices check in every minute or so. */
  readonly sessionTimeoutSeconds?: number;
  /** What strangers may cost the port; each has its default in DEVICE_CHANNEL_LIMITS. */
  readonly limits?: Partial<DeviceChannelLimits>;
  /**
   * Worker threads for full handshakes (handshake-threads.ts); 0: every handshake on the event
   * loop. One per core by default.
   */
  readonly handshakeThreads?: number;
}

/** Why a TLS handshake on the device port did not finish. */
export const HandshakeFailure = {
  /** The client named a pin the keystore does not hold (or sent no usable ClientHello). */
  unknownPin: 'unknown_pin',
  /** TLS itself failed: no common version or suite, a bad record, the client's alert. */
  tls: 'tls_error',
  /** The handshake did not finish within the deadline. */
  timeout: 'timeout',
} as const;
export type HandshakeFailure = (typeof HandshakeFailure)[keyof typeof HandshakeFailure];

/** Where a TLS handshake on the device port runs. */
export const HandshakePlace = {
  /** A handshake thread: full handshakes (their signature) when the channel has threads. */
  thread: 'thread',
  /** The event loop: resumptions, and every handshake of a channel without threads. */
  eventLoop: 'event_loop',
} as const;
export type HandshakePlace = (typeof HandshakePlace)[keyof typeof HandshakePlace];

/** What the device channel tells about its traffic, for the metrics (declared by its consumer's side: here). */
export interface DeviceChannelEvents {
  /** A TLS handshake begins (the certificate is chosen) on a thread or on the event loop. */
  handshakeStarted(on: HandshakePlace): void;
  registered(): void;
  /** `reason`: the error code the device was answered with. */
  registrationRefused(reason: string): void;
  checkedIn(): void;
  handshakeFailed(reason: HandshakeFailure): void;
}

/** Events nobody listens to (the default). */
export const NO_CHANNEL_EVENTS: DeviceChannelEvents = { handshakeStarted: () => undefined, registered: () => undefined, registrationRefused: () => undefined, checkedIn: () => undefined, handshakeFailed: () => undefined };

export interface DeviceChannel {
  readonly address: AddressInfo;
  /** Loads the keystore now (this node or another changed it); resolves when the new certificates are served. */
  reload(): Promise<void>;
  /** The keystore revision served now (each node reports it in the cluster status). */
  readonly revision: number;
  close(): Promise<void>;
}

const DEFAULT_SESSION_TIMEOUT_SECONDS = 2 * 3600;
const CLOSE_GRACE_MS = 1_000;

export async function startDeviceChannel(opts: DeviceChannelOptions): Promise<DeviceChannel> {
  const { ctx, log } = opts;
  const pollIntervalMs = opts.pollIntervalMs ?? 2000;
  const uc = opts.useCases ?? APP_DEVICE_USE_CASES;
  const limits: DeviceChannelLimits = { ...DEVICE_CHANNEL_LIMITS, ...opts.limits };
  const throttle = new RegistrationThrottle(ctx.clock, {
    burst: limits.registrationBurst,
    perMinute: limits.registrationsPerMinute,
    maxSources: limits.maxThrottledSources,
  });
  const refusals = new RefusalAudit(
    { audit: { append: (e) => ctx.store.audit.append(e) }, clock: ctx.clock, scheduler: opts.scheduler, log },
    { action: 'device.register', maxSourcesPerMinute: limits.maxRefusalSourcesPerMinute },
  );
  const events = opts.events ?? NO_CHANNEL_EVENTS;
  const routes = deviceRoutes(ctx, uc, log, { throttle, refusals }, events);

  // In every context: tickets issued under one entry resume under any (and across reloads); the
  // versions, suites and groups are stated in tls-profile.ts (ECDHE + AEAD only, legacy needs there).
  const tlsCommon: SecureContextOptions & { readonly ticketKeys: Buffer } = {
    ticketKeys: randomBytes(48),
    sessionIdContext: 'certfleet-device-channel',
    sessionTimeout: opts.sessionTimeoutSeconds ?? DEFAULT_SESSION_TIMEOUT_SECONDS,
    ...SERVER_TLS_OPTIONS,
  };

  const threadCount = opts.handshakeThreads ?? DEFAULT_HANDSHAKE_THREADS;
  const threads = threadCount > 0 ? new HandshakeThreads(threadCount, log) : null;

  const load = async (previous: ServedKeystore | null): Promise<ServedKeystore> => {
    const next = buildServedKeystore(await uc.loadDeviceKeystore(ctx), previous, tlsCommon);
    threads?.setKeystore(next.entries, tlsCommon);
    return next;
  };
  let served: ServedKeystore = await load(null);

  /**
   * The certificate each connection was given, decided before its handshake, where it comes from,
   * and whether it already paid for one registration attempt (first contact pays at its ClientHello).
   */
  const presented = new WeakMap<Duplex, { readonly entry: ServedCertificate; readonly source: string; prepaid: boolean }>();
  /** Connections turned away at the caps since the last log line about it. */
  let turnedAway = 0;
  let handshaking = 0;
  // Every socket from the first byte (handshakes included), so that close() can end them all.
  const sockets = new Set<Socket>();

  const http = createHttpServer(
    { keepAliveTimeout: 15_000, headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 2_000, maxHeaderSize: 8 * 1024 },
    (req, res) => void handle(req, res),
  );
  // A request Node's parser refuses (an unknown method, a malformed header …) gets the API's error
  // shape too, not Node's bare "400 Bad Request"; timeouts just end the connection.
  http.on('clientError', (err: Error & { code?: string }, socket) => {
    // As Node's own handler: no answer on a connection whose response has begun (the bytes after
    // a refused body, say), whose answer the client already has.
    const answering = (socket as Socket & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage; // Node's field for the response in flight
    if (!socket.writable || answering?.headersSent || err.code === 'ECONNRESET' || err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      socket.destroy();
      return;
    }
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const body = JSON.stringify({
      error: tooLarge
        ? { code: ErrorCode.payload_too_large, message: 'The request headers are too large.', details: {} }
        : { code: ErrorCode.invalid_request, message: 'The request cannot be parsed as HTTP/1.1.', details: {} },
    });
    socket.end(
      `HTTP/1.1 ${tooLarge ? '413 Payload Too Large' : '400 Bad Request'}\r\ncontent-type: application/json; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n${body}`,
    );
  });
  // This HTTP server never listens itself (it is handed the TLS sockets made below), but Node
  // starts its check of headersTimeout and requestTimeout on 'listening': start it here.
  http.emit('listening');
  // A client that half-closes after its request (sends its FIN with it) still gets the answer,
  // then the connection ends: with Node's default (false) the server ends the socket at the FIN,
  // and a connection from a handshake thread delivers the request and the FIN together, so the
  // answer would be lost. (`httpAllowHalfOpen` is the http.Server field Node reads.)
  (http as unknown as { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;

  /** What the deadline of one connection is told: the TLS socket it must also end, and the end of the handshake. */
  interface HandshakeWatch {
    tlsStarted(tls: TLSSocket): void;
    finished(): void;
  }

  const tlsFailed = (err: { readonly code?: string | null; readonly message: string }) => {
    if (log.isLevelEnabled('debug')) log.debug({ code: err.code, message: err.message }, 'device TLS handshake failed');
    events.handshakeFailed(HandshakeFailure.tls);
  };

  function startTls(raw: Socket, entry: ServedCertificate, source: string, prepaid: boolean, firstBytes: Buffer, offersSession: boolean, watch: HandshakeWatch): void {
    if (threads && !offersSession) {
      events.handshakeStarted(HandshakePlace.thread);
      // A full handshake: its signature runs on a handshake thread; the socket stays here.
      threads.handOver(raw, entry.sha256Hex, firstBytes, {
        secure: (plain) => {
          presented.set(plain, { entry, source, prepaid });
          watch.finished();
          http.emit('connection', plain);
        },
        failed: tlsFailed,
      });
      return;
    }
    events.handshakeStarted(HandshakePlace.eventLoop);
    raw.unshift(firstBytes); // TLSSocket first takes in what the socket has buffered
    const socket = new TLSSocket(raw, { isServer: true, secureContext: entry.context });
    presented.set(socket, { entry, source, prepaid });
    watch.tlsStarted(socket);
    const fail = () => socket.destroy();
    // Server-side TLSSockets report handshake errors on '_tlsError' (where tls.Server listens too).
    socket.on('_tlsError', (err: Error & { code?: string }) => {
      tlsFailed(err);
      fail();
    });
    socket.on('error', fail);
    socket.once('secure', () => {
      watch.finished();
      http.emit('connection', socket);
    });
  }

  function accept(raw: Socket): void {
    if (sockets.size >= limits.maxConnections || handshaking >= limits.maxHandshakes) {
      raw.destroy();
      if (turnedAway++ === 0) {
        log.warn({ connections: sockets.size, handshaking, maxConnections: limits.maxConnections, maxHandshakes: limits.maxHandshakes }, 'device channel: at its connection cap; new connections are closed at once');
      }
      return;
    }
    if (turnedAway > 0) {
      log.info({ turnedAway }, 'device channel: below its connection cap again');
      turnedAway = 0;
    }
    sockets.add(raw);
    handshaking++;
    let tls: TLSSocket | null = null;
    let finished = false;
    /** A failure already counted (an unknown pin), so that the deadline does not count it again. */
    let failureCounted = false;
    // One deadline from accept to the end of the handshake, on the injected scheduler.
    const deadline = opts.scheduler.schedule(limits.handshakeDeadlineMs, () => {
      if (finished) return;
      if (!failureCounted) events.handshakeFailed(HandshakeFailure.timeout);
      tls?.destroy();
      raw.destroy();
    });
    const watch: HandshakeWatch = {
      tlsStarted: (socket) => {
        tls = socket;
      },
      finished: () => {
        if (finished) return;
        finished = true;
        handshaking--;
        deadline.cancel();
      },
    };
    raw.once('close', () => {
      sockets.delete(raw);
      watch.finished();
    });
    raw.on('error', () => raw.destroy());
    let buffered: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      const peek = peekClientHello(buffered);
      if (peek.kind === 'incomplete' && buffered.length < MAX_CLIENT_HELLO_BYTES) return;
      raw.off('data', onData);
      raw.pause();
      const request = parseServerName(peek.kind === 'hello' ? peek.serverName : null);
      const entry = served.resolve(request);
      if (!entry) {
        // An unknown pin (or an empty keystore): the handshake fails, as the protocol says; the
        // deadline ends the socket if the client does not close it.
        failureCounted = true;
        events.handshakeFailed(HandshakeFailure.unknownPin);
        raw.end(UNRECOGNIZED_NAME_ALERT);
        return;
      }
      // First contact is where registrations come from: it takes its attempt now, before the
      // handshake's signature, and a source with none left is turned away for nothing.
      const source = sourceOf(raw.remoteAddress);
      const firstContact = request.kind !== 'pin';
      if (firstContact) {
        const verdict = throttle.take(source);
        if (!verdict.ok) {
          refusals.count(source, ErrorCode.registration_rate_limited, ctx.clock.now().toISOString(), { before: 'handshake', retryAfterSeconds: verdict.retryAfterSeconds });
          // Held, then refused: a flood with N connections in flight makes N attempts per hold,
          // not thousands a second; the socket is the only cost, and the deadline still applies.
          const holdMs = Math.min(limits.refusalHoldMs, verdict.retryAfterSeconds * 1000);
          if (holdMs <= 0) {
            raw.end(ACCESS_DENIED_ALERT);
            return;
          }
          const hold = opts.scheduler.schedule(holdMs, () => raw.end(ACCESS_DENIED_ALERT));
          raw.once('close', () => hold.cancel());
          return;
        }
      }
      startTls(raw, entry, source, firstContact, buffered, peek.kind === 'hello' && peek.offersSession, watch);
    };
    raw.on('data', onData);
  }

  const server = createNetServer({ noDelay: true }, accept);

  let inFlight = 0;
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    inFlight++;
    const requestId = randomUUID();
    const started = performance.now();
    try {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const route: RouteHandler | undefined = routes.get(`${req.method ?? 'GET'} ${path}`);
      if (!route) {
        sendHttpError(res, transportError(ErrorCode.not_found, `There is no route ${req.method ?? ''} ${path.slice(0, 100)} on the device channel (see docs/device-protocol.md).`));
        return;
      }
      const conn = presented.get(req.socket); // the HTTP server only gets the connections made above
      const source = conn?.source ?? 'unknown';
      const registrationAttempt = (): ThrottleVerdict => {
        if (conn?.prepaid) {
          conn.prepaid = false; // the first registration on a first-contact connection paid at its ClientHello
          return { ok: true };
        }
        return throttle.take(source);
      };
      const answer = await route(req, { pinnedSha256Hex: conn?.entry.sha256Hex ?? null, source, registrationAttempt });
      sendJson(res, answer.status, answer.body);
      if (log.isLevelEnabled('debug')) log.debug({ requestId, route: path, status: answer.status, ms: Math.round(performance.now() - started) }, 'device request');
    } catch (e) {
      const error = sendError(res, e, requestId);
      // Never the body or the Authorization header: a credential or a token may be in them.
      if (error.unexpected) log.error({ err: e, requestId, route: req.url?.split('?')[0] }, 'device request failed');
      else if (log.isLevelEnabled('debug')) log.debug({ requestId, status: error.status, code: error.body.error.code }, 'device request refused');
    } finally {
      inFlight--;
    }
  }

  // Reloads run one after the other; one that failed does not stop the next.
  let reloading: Promise<void> = Promise.resolve();
  function reload(): Promise<void> {
    reloading = reloading.catch(() => undefined).then(async () => {
      const before = served;
      served = await load(served);
      const defaultChanged = served.default?.sha256Hex !== before.default?.sha256Hex;
      log.info({ revision: served.revision, entries: served.entries.length, default: served.default?.alias ?? null, defaultChanged }, 'device channel keystore loaded');
    });
    return reloading;
  }

  let polling = false;
  const poll = every(opts.scheduler, pollIntervalMs, () => {
    if (polling) return;
    polling = true;
    uc.keystoreRevision(ctx)
      .then((revision) => (revision !== served.revision ? reload() : undefined))
      .catch((e: unknown) => log.warn({ err: e }, 'device channel: cannot read the keystore revision; serving the certificates loaded before'))
      .finally(() => {
        polling = false;
      });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo; // a TCP listener always has an AddressInfo
  log.info({ host: address.address, port: address.port, certificates: served.entries.length, default: served.default?.alias ?? null }, 'device channel listening');

  return {
    address,
    reload,
    get revision() {
      return served.revision;
    },
    close: async () => {
      poll.cancel();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      http.close(() => undefined); // stops the timeout checks and ends idle connections; it never listened
      const deadline = Date.now() + CLOSE_GRACE_MS;
      while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const s of sockets) s.destroy();
      await closed;
      await threads?.close();
      await reloading.catch(() => undefined);
      await refusals.flush(); // the refusals of the minute so far
    },
  };
}
