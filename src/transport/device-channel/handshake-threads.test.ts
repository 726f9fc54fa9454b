import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { connect as connectTcp, createServer as createNetServer, type AddressInfo, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connect } from 'node:tls';
import pino from 'pino';
import { HandshakeThreads, type HandedOverHandlers } from './handshake-threads.js';

const SHA = 'aa'.repeat(32);

/** A TCP server that hands every connection to `threads`, and an HTTP server behind them answering `{"n":…}`. */
function channel(threads: HandshakeThreads, events: { secure: number; failed: string[] }): Server {
  let n = 0;
  const http = createHttpServer((_req, res) => {
    const body = JSON.stringify({ n: ++n });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  (http as unknown as { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true; // as the device channel sets it
  const handlers: HandedOverHandlers = {
    secure: (plain) => {
      events.secure++;
      http.emit('connection', plain);
    },
    failed: (e) => events.failed.push(e.code ?? e.message),
  };
  return createNetServer((raw) => {
    raw.once('data', (first: Buffer) => {
      raw.pause();
      threads.handOver(raw, SHA, first, handlers);
    });
  });
}

/** One request over a fresh TLS connection that half-closes after sending it; the answer's body. */
function ask(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    let data = '';
    s.on('data', (c: Buffer) => (data += c.toString('utf8')));
    s.on('end', () => resolve(data.split('\r\n\r\n')[1] ?? ''));
    s.on('error', reject);
    s.once('secureConnect', () => s.end('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
  });
}

describe('handshake threads', () => {
  let threads: HandshakeThreads;
  let server: Server;
  let port: number;
  const events = { secure: 0, failed: [] as string[] };

  before(async () => {
    const pem = await readFile(new URL('../../../../test/fixtures/out/pem-plain.pem', import.meta.url), 'utf8'); // a certificate and its key, seen from dist/src/transport/device-channel/
    threads = new HandshakeThreads(1, pino({ level: 'silent' }));
    threads.setKeystore([{ id: 'e1', sha256Hex: SHA, certPem: pem, keyPem: pem }], { ticketKeys: randomBytes(48), sessionIdContext: 'test' });
    server = channel(threads, events);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port; // a TCP listener
  });
  after(async () => {
    server.close();
    await threads.close();
  });

  it('answers a client that half-closes after its request, over TLS made on the thread', async () => {
    const body = JSON.parse(await ask(port)) as { n: number }; // the HTTP server's answer
    assert.equal(typeof body.n, 'number');
    assert.equal(threads.running, 1);
  });

  it('takes more handshakes at once than it has threads: the others wait their turn, none is lost', async () => {
    const before = events.secure;
    const answers = await Promise.all(Array.from({ length: 6 }, () => ask(port)));
    assert.equal(new Set(answers).size, 6, 'six answers, each its own');
    assert.equal(events.secure - before, 6);
    assert.equal(threads.running, 1, 'never more threads than asked for');
  });

  // A socket left open would hang here until the test runner's own timeout fails the test.
  it('reports a handshake that fails on the thread and closes its socket', { timeout: 10_000 }, async () => {
    await new Promise<void>((resolve) => {
      const s = connectTcp(port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')); // plain HTTP on the TLS port
      s.on('error', () => undefined);
      s.on('close', () => resolve());
    });
    assert.equal(events.failed.length, 1, JSON.stringify(events.failed));
    // The thread is free again.
    assert.equal(typeof (JSON.parse(await ask(port)) as { n: number }).n, 'number');
  });
});
