/**
 * The body of a handshake thread (handshake-threads.ts starts it): the TLS side of connections
 * whose full handshake the device channel hands over. The channel's event loop keeps the TCP
 * socket and everything after TLS (HTTP, routes, the database); this thread gets the connection's
 * bytes as messages, runs OpenSSL on them with the context of the certificate the channel chose
 * (the RSA signature of the handshake, then the record layer), and answers with the bytes for the
 * wire and the plaintext for the HTTP server. Nothing else runs here.
 */
import { Duplex } from 'node:stream';
import { TLSSocket, type SecureContext } from 'node:tls';
import { parentPort } from 'node:worker_threads';
import type { ThreadInbound, ThreadOutbound, ThreadKeystoreEntry } from './handshake-threads.js';
import { contextFor } from './served-keystore.js';

interface Connection {
  /** The wire side: what the client sent comes in here, what TLS writes goes to the channel. */
  readonly wire: Duplex;
  readonly tls: TLSSocket;
}

const port = parentPort;
if (!port) throw new Error('handshake-worker.js runs as a worker thread only');

const send = (m: ThreadOutbound) => port.postMessage(m);
const bytes = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/** One context per served certificate, rebuilt only when its key or entry changes (served-keystore.ts). */
let contexts = new Map<string, ThreadKeystoreEntry & { readonly context: SecureContext }>();
const connections = new Map<number, Connection>();

function open(id: number, sha256Hex: string, first: Uint8Array): void {
  const served = contexts.get(sha256Hex);
  if (!served) {
    send({ t: 'tlsError', id, code: 'ERR_CERTFLEET_NO_CONTEXT', message: 'this handshake thread has no context for the chosen certificate' });
    return;
  }
  const wire = new Duplex({
    read() {
      // Bytes are pushed as they arrive from the channel ('in'); the channel pauses the socket instead.
    },
    write(chunk: Buffer, _encoding, done) {
      send({ t: 'out', id, b: chunk });
      done();
    },
    final(done) {
      send({ t: 'outEnd', id });
      done();
    },
  });
  const tls = new TLSSocket(wire, { isServer: true, secureContext: served.context });
  connections.set(id, { wire, tls });
  let failed = false;
  // Server-side TLSSockets report handshake errors on '_tlsError' (as in device-channel.ts).
  tls.on('_tlsError', (err: Error & { code?: string }) => {
    failed = true;
    send({ t: 'tlsError', id, code: err.code ?? null, message: err.message });
    tls.destroy();
  });
  tls.on('error', () => tls.destroy());
  tls.once('secure', () => send({ t: 'secure', id }));
  tls.on('data', (chunk: Buffer) => send({ t: 'plain', id, b: chunk }));
  tls.on('end', () => send({ t: 'plainEnd', id }));
  tls.once('close', () => {
    connections.delete(id);
    if (!failed) send({ t: 'closed', id });
  });
  wire.push(bytes(first));
}

port.on('message', (m: ThreadInbound) => {
  switch (m.t) {
    case 'keystore': {
      const tls = { ...m.tls, ticketKeys: bytes(m.tls.ticketKeys) };
      contexts = new Map(m.entries.map((e) => [e.sha256Hex, { ...e, context: contextFor(e, contexts.get(e.sha256Hex), tls) }]));
      return;
    }
    case 'open':
      open(m.id, m.sha256Hex, m.b);
      return;
    case 'in':
      connections.get(m.id)?.wire.push(bytes(m.b));
      return;
    case 'inEnd':
      connections.get(m.id)?.wire.push(null);
      return;
    case 'plainOut':
      connections.get(m.id)?.tls.write(bytes(m.b));
      return;
    case 'plainOutEnd':
      connections.get(m.id)?.tls.end();
      return;
    case 'close': {
      const c = connections.get(m.id);
      connections.delete(m.id);
      c?.tls.destroy();
      return;
    }
  }
});
