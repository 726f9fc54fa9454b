/**
 * Full handshakes off the event loop (issue 11): the RSA-4096 signature of a full TLS handshake
 * costs ~4 ms of one core, and Node runs OpenSSL on the thread that owns the socket. A fleet that
 * switches to a new default makes one full handshake per device at once, so the device channel
 * hands those connections to a few worker threads (handshake-worker.ts) and keeps one core's worth
 * of everything else: accept, the ClientHello read, TCP, HTTP, routes and the database.
 *
 *   channel (event loop)                          handshake thread
 *   raw TCP socket ── 'data' ─── in ────────────▶ wire ─▶ TLSSocket (the entry's SecureContext)
 *   raw.write  ◀──────────────── out ──────────── wire ◀─┘   │ handshake, records
 *   PlainSocket ◀─ plain / plainEnd ───────────────────────── │ decrypted request
 *     └▶ HTTP server ── plainOut / plainOutEnd ─────────────▶ │ response, close_notify
 *
 * Resumed handshakes cost no signature and stay on the event loop (a TLSSocket on the raw socket,
 * as before): handing them over costs more than it saves. Every thread gets the same contexts —
 * same ticket key, same session id context — so a session made on a thread resumes on the event
 * loop and the other way round.
 *
 * A thread gets a new handshake only when it has no signature to make: from the ClientHello it is
 * sent to its first answer (the server's flight, signed). Otherwise the records of connections it
 * already carries would wait behind every signature queued in front of them; handshakes that find
 * every thread signing wait here, in order, their sockets paused (bounded by the channel's
 * `maxHandshakes`, each by its deadline). Threads start on demand, up to `threads`.
 * A thread that dies takes its connections with it (their sockets are closed; the devices retry);
 * the next hand-over starts a new one.
 */
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { SecureContextOptions } from 'node:tls';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { MAX_HANDSHAKE_THREADS } from './limits.js';

/** One certificate as a thread needs it (the served entry's certificate and key, PEM). */
export interface ThreadKeystoreEntry {
  readonly id: string;
  readonly sha256Hex: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/** What the channel sends a thread. */
export type ThreadInbound =
  | { readonly t: 'keystore'; readonly entries: readonly ThreadKeystoreEntry[]; readonly tls: SecureContextOptions & { readonly ticketKeys: Uint8Array } }
  | { readonly t: 'open'; readonly id: number; readonly sha256Hex: string; readonly b: Uint8Array }
  | { readonly t: 'in' | 'plainOut'; readonly id: number; readonly b: Uint8Array }
  | { readonly t: 'inEnd' | 'plainOutEnd' | 'close'; readonly id: number };

/** What a thread answers. */
export type ThreadOutbound =
  | { readonly t: 'out' | 'plain'; readonly id: number; readonly b: Uint8Array }
  | { readonly t: 'outEnd' | 'plainEnd' | 'secure' | 'closed'; readonly id: number }
  | { readonly t: 'tlsError'; readonly id: number; readonly code: string | null; readonly message: string };

/** What the channel is told about a connection it handed over. */
export interface HandedOverHandlers {
  /** The handshake finished: `plain` is the connection's cleartext, for the HTTP server. */
  secure(plain: PlainSocket): void;
  /** The handshake failed (no common version or suite, a bad record, the client's alert). */
  failed(error: { readonly code: string | null; readonly message: string }): void;
}

interface Slot {
  readonly worker: Worker;
  readonly connections: Map<number, HandedOver>;
  /** The connection whose ClientHello it was sent and whose signed answer has not come back. */
  signing: HandedOver | null;
}

interface HandedOver {
  readonly id: number;
  readonly raw: Socket;
  readonly slot: Slot;
  readonly handlers: HandedOverHandlers;
  plain: PlainSocket | null;
}

/** A handshake waiting for a thread with no signature to make. */
interface Waiting {
  readonly raw: Socket;
  readonly sha256Hex: string;
  readonly first: Buffer;
  readonly handlers: HandedOverHandlers;
  readonly onClose: () => void;
}

/**
 * The cleartext side of a connection whose TLS runs on a handshake thread, as the HTTP server sees
 * it: what it writes goes to the thread to be encrypted, what the thread decrypted is read here.
 * The two socket methods Node's HTTP server calls on a connection besides a Duplex's are here too
 * (`setTimeout`, `destroySoon`); the channel takes the client's address from the TCP socket.
 */
export class PlainSocket extends Duplex {
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly raw: Socket,
    private readonly post: (m: ThreadInbound) => void,
    private readonly id: number,
  ) {
    super({ allowHalfOpen: true });
  }

  override _read(): void {
    // The HTTP server wants more: let the client's bytes flow again (see `deliver`).
    if (this.raw.isPaused()) this.raw.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.idleTimer?.refresh();
    this.post({ t: 'plainOut', id: this.id, b: chunk });
    done();
  }

  override _final(done: (error?: Error | null) => void): void {
    this.post({ t: 'plainOutEnd', id: this.id });
    done();
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.clearIdleTimer();
    // Ended in order (the answer and then the end went to the thread): the thread closes TLS and
    // then the socket ('outEnd', 'closed'). Destroyed otherwise (a timeout, an error): at once.
    if (error || !this.writableFinished) this.raw.destroy();
    done(error);
  }

  /** Decrypted bytes from the thread; past the stream's buffer the TCP socket waits. */
  deliver(chunk: Buffer | null): void {
    this.idleTimer?.refresh();
    if (!this.push(chunk) && chunk !== null) this.raw.pause();
  }

  /** As net.Socket: 'timeout' after `ms` without activity (the HTTP server's keep-alive timeout). */
  setTimeout(ms: number, callback?: () => void): this {
    this.clearIdleTimer();
    if (callback) this.once('timeout', callback);
    if (ms > 0) this.idleTimer = setTimeout(() => this.emit('timeout'), ms).unref();
    return this;
  }

  /** As net.Socket: end once written (the thread then closes the connection). */
  destroySoon(): void {
    this.end();
  }

  private clearIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }
}

export class HandshakeThreads {
  private readonly slots: Slot[] = [];
  /** Handshakes waiting for a thread, oldest first (a Set keeps insertion order). */
  private readonly waiting = new Set<Waiting>();
  private keystore: Extract<ThreadInbound, { t: 'keystore' }> | null = null;
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly threads: number,
    private readonly log: Logger,
  ) {
    if (!Number.isInteger(threads) || threads < 1 || threads > MAX_HANDSHAKE_THREADS) {
      throw new RangeError(`handshake threads: 1 to ${MAX_HANDSHAKE_THREADS}, not ${threads}`);
    }
  }

  /** Threads running now (they start on demand). */
  get running(): number {
    return this.slots.length;
  }

  /** The certificates and TLS options every thread serves from now on (sent before any later hand-over). */
  setKeystore(entries: readonly ThreadKeystoreEntry[], tls: SecureContextOptions & { readonly ticketKeys: Buffer }): void {
    this.keystore = {
      t: 'keystore',
      entries: entries.map((e) => ({ id: e.id, sha256Hex: e.sha256Hex, certPem: e.certPem, keyPem: e.keyPem })),
      tls,
    };
    for (const slot of this.slots) slot.worker.postMessage(this.keystore);
  }

  /**
   * Hands a connection over: `first` are the bytes read so far (the ClientHello), `sha256Hex` the
   * certificate the channel chose; the socket is paused until a thread takes it. Its further bytes
   * go to that thread; destroying the socket ends the connection on the thread too.
   */
  handOver(raw: Socket, sha256Hex: string, first: Buffer, handlers: HandedOverHandlers): void {
    if (this.closed) {
      raw.destroy();
      return;
    }
    raw.pause();
    const slot = this.idleSlot();
    if (slot) {
      this.dispatch(slot, raw, sha256Hex, first, handlers);
      return;
    }
    const waiting: Waiting = { raw, sha256Hex, first, handlers, onClose: () => this.waiting.delete(waiting) };
    this.waiting.add(waiting);
    raw.once('close', waiting.onClose);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting) w.raw.destroy();
    this.waiting.clear();
    const slots = this.slots.splice(0);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  /** A thread with no signature to make, started if need be; null when all `threads` are signing. */
  private idleSlot(): Slot | null {
    for (const s of this.slots) if (s.signing === null) return s;
    return this.slots.length < this.threads ? this.start() : null;
  }

  private dispatch(slot: Slot, raw: Socket, sha256Hex: string, first: Buffer, handlers: HandedOverHandlers): void {
    const id = this.nextId++;
    const conn: HandedOver = { id, raw, slot, handlers, plain: null };
    slot.connections.set(id, conn);
    slot.signing = conn;
    const post = (m: ThreadInbound) => slot.worker.postMessage(m);
    // The client's FIN goes to TLS as the end of its input (a client may half-close after its
    // request); the socket must not end its own side then, TLS ends it after the answer.
    raw.allowHalfOpen = true;
    post({ t: 'open', id, sha256Hex, b: first });
    raw.on('data', (chunk: Buffer) => post({ t: 'in', id, b: chunk }));
    raw.on('end', () => post({ t: 'inEnd', id }));
    raw.once('close', () => {
      if (slot.connections.delete(id)) post({ t: 'close', id });
      this.signed(slot, conn);
      conn.plain?.destroy();
    });
    raw.resume();
  }

  /** `conn` no longer holds its thread's signature (answered, failed or gone): the next waiting handshake may go. */
  private signed(slot: Slot, conn: HandedOver): void {
    if (slot.signing !== conn) return;
    slot.signing = null;
    if (!this.slots.includes(slot)) return; // the thread is gone
    const w = this.takeWaiting();
    if (w) this.dispatch(slot, w.raw, w.sha256Hex, w.first, w.handlers);
  }

  /** The oldest handshake waiting for a thread, taken off the queue; null when none waits. */
  private takeWaiting(): Waiting | null {
    const next = this.waiting.values().next();
    if (next.done === true) return null;
    const w = next.value;
    this.waiting.delete(w);
    w.raw.off('close', w.onClose);
    return w;
  }

  private start(): Slot {
    const worker = new Worker(new URL('./handshake-worker.js', import.meta.url));
    const slot: Slot = { worker, connections: new Map(), signing: null };
    this.slots.push(slot);
    if (this.keystore) worker.postMessage(this.keystore);
    worker.on('message', (m: ThreadOutbound) => this.receive(slot, m));
    worker.on('error', (e) => this.log.error({ err: e }, 'device channel: a handshake thread failed; its connections are closed'));
    worker.once('exit', () => {
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      for (const c of slot.connections.values()) c.raw.destroy();
      slot.connections.clear();
      // A handshake still waiting goes to a new thread.
      const w = this.closed ? null : this.takeWaiting();
      if (w) this.handOver(w.raw, w.sha256Hex, w.first, w.handlers);
    });
    worker.unref();
    return slot;
  }

  private receive(slot: Slot, m: ThreadOutbound): void {
    const conn = slot.connections.get(m.id);
    if (!conn) return; // closed meanwhile
    switch (m.t) {
      case 'out':
        conn.raw.write(Buffer.from(m.b.buffer, m.b.byteOffset, m.b.byteLength));
        this.signed(slot, conn);
        return;
      case 'outEnd':
        conn.raw.end();
        return;
      case 'secure':
        conn.plain = new PlainSocket(conn.raw, (x) => slot.worker.postMessage(x), conn.id);
        conn.handlers.secure(conn.plain);
        return;
      case 'plain':
        conn.plain?.deliver(Buffer.from(m.b.buffer, m.b.byteOffset, m.b.byteLength));
        return;
      case 'plainEnd':
        conn.plain?.deliver(null);
        return;
      case 'tlsError':
        conn.handlers.failed({ code: m.code, message: m.message });
        conn.raw.destroy(); // and so `signed`
        return;
      case 'closed':
        conn.raw.destroySoon(); // after what TLS wrote last (its close_notify) is out
        return;
    }
  }
}
