/**
 * The console/API server's limits against a real server on a real socket (issue 10, item 5):
 * stated TLS suites and HSTS on HTTPS, the header and request deadlines (a slowloris client is cut
 * off at the deadline, not later), the keep-alive timeout, the connection cap, and the Host
 * allow-list that keeps a DNS-rebinding page away from a loopback console. Deadlines are set small
 * here; the tests wait on the sockets' own events, never on a clock of their own.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { request } from 'node:https';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { acceptedSuites, staticRsaSuites } from '../support/tls-probe.js';
import { fixture, startSqliteApi, type ApiHarness } from './support.js';
import { buildHttpApi, HSTS_HEADER, type HttpLimits } from '../../src/transport/http-api/server.js';
import { allowedHostNames } from '../../src/main/serve.js';
import { TLS_CIPHERS } from '../../src/transport/tls-profile.js';

function pemBlock(text: string, label: RegExp): string {
  const m = new RegExp(`-----BEGIN (${label.source})-----[\\s\\S]*?-----END \\1-----\\n?`).exec(text);
  assert.ok(m, `no ${label.source} block`);
  return m[0];
}

function portOf(app: FastifyInstance): number {
  const a = app.server.address();
  assert.ok(a && typeof a === 'object');
  return a.port;
}

/** A raw client: what it received, and when it was closed (ms after connecting). */
function rawClient(port: number): { socket: Socket; received: () => string; closed: Promise<number> } {
  const socket = connect({ host: '127.0.0.1', port });
  let data = '';
  const started = performance.now();
  socket.on('data', (c: Buffer) => (data += c.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now() - started)));
  return { socket, received: () => data, closed };
}

describe('console/API server limits', () => {
  let h: ApiHarness;
  const servers: FastifyInstance[] = [];
  before(async () => {
    h = await startSqliteApi();
  });
  after(async () => {
    for (const s of servers) await s.close();
    await h.close();
  });

  async function serve(limits: Partial<HttpLimits>, extra: { https?: { key: Buffer; cert: Buffer }; allowedHosts?: string[] } = {}): Promise<number> {
    const app = await buildHttpApi({ ctx: h.ctx, logger: false, limits, ...extra });
    servers.push(app);
    await app.listen({ host: '127.0.0.1', port: 0 });
    return portOf(app);
  }

  describe('HTTPS', () => {
    let port: number;
    let cert: string;
    before(async () => {
      // an RSA web certificate: the one kind with which static-RSA key exchange would be possible
      const pem = fixture('pem-plain.pem').toString('utf8');
      cert = pemBlock(pem, /CERTIFICATE/);
      port = await serve({}, { https: { key: Buffer.from(pemBlock(pem, /(?:RSA )?PRIVATE KEY/)), cert: Buffer.from(cert) } });
    });

    it('accepts exactly the stated ECDHE-RSA AEAD suites and TLS 1.3 ones; no static RSA', async () => {
      const accepted = await acceptedSuites({ host: '127.0.0.1', port });
      const stated = TLS_CIPHERS.filter((c) => c.startsWith('TLS_') || c.startsWith('ECDHE-RSA-'));
      assert.deepEqual(accepted, [...stated].sort());
      for (const s of staticRsaSuites()) assert.ok(!accepted.includes(s), s);
    });

    it('sends HSTS on HTTPS', async () => {
      const hsts = await new Promise<string | undefined>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/healthz', ca: cert, checkServerIdentity: () => undefined }, (res) => {
          res.resume();
          resolve(res.headers['strict-transport-security'] as string | undefined); // a single-valued header
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(hsts, HSTS_HEADER);
    });
  });

  it('sends no HSTS over plain HTTP (loopback)', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['strict-transport-security'], undefined);
  });

  it('cuts off a slowloris client that trickles headers at the header deadline, with 408', async () => {
    const port = await serve({ headersTimeoutMs: 600, requestTimeoutMs: 5_000 });
    const c = rawClient(port);
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    // one header line every 100 ms, for ever: an idle timer would never fire, the deadline must
    const trickle = setInterval(() => c.socket.writable && c.socket.write(`X-Slow-${Math.random().toString(36).slice(2)}: 1\r\n`), 100);
    const elapsed = await c.closed;
    clearInterval(trickle);
    assert.match(c.received(), /^HTTP\/1\.1 408/);
    assert.ok(elapsed >= 550, `closed after ${elapsed} ms, before the deadline`);
    // the deadline is checked every quarter of it: cut off within one check of it (plus scheduling)
    assert.ok(elapsed < 600 + 150 + 1_000, `closed after ${elapsed} ms`);
  });

  it('cuts off a request whose body trickles at the request deadline', async () => {
    const port = await serve({ headersTimeoutMs: 400, requestTimeoutMs: 800 });
    const c = rawClient(port);
    c.socket.write('POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{');
    const trickle = setInterval(() => c.socket.writable && c.socket.write(' '), 50);
    const elapsed = await c.closed;
    clearInterval(trickle);
    assert.match(c.received(), /^HTTP\/1\.1 408/);
    assert.ok(elapsed >= 750 && elapsed < 800 + 200 + 1_000, `closed after ${elapsed} ms`);
  });

  it('closes an idle keep-alive connection after the keep-alive timeout', async () => {
    const port = await serve({ keepAliveTimeoutMs: 300 });
    const c = rawClient(port);
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const elapsed = await c.closed;
    assert.match(c.received(), /^HTTP\/1\.1 200/);
    assert.ok(elapsed >= 250 && elapsed < 300 + 1_500, `closed after ${elapsed} ms`);
  });

  it('holds at most maxConnections: the next one is closed at once, and served again when one frees up', async () => {
    const port = await serve({ maxConnections: 3 });
    const held = [rawClient(port), rawClient(port), rawClient(port)];
    // each held connection has sent a partial request, so the server has accepted all three
    for (const c of held) c.socket.write('GET /healthz HTTP/1.1\r\n');
    await Promise.all(held.map((c) => new Promise((resolve) => (c.socket.readyState === 'open' ? resolve(null) : c.socket.once('connect', resolve)))));
    const extra = rawClient(port);
    await extra.closed;
    assert.equal(extra.received(), '', 'the fourth connection got no answer');
    assert.ok(held.every((c) => !c.socket.destroyed), 'the held connections are still open');
    held[0]?.socket.destroy();
    await held[0]?.closed;
    // the server counts the closed one out when it sees the close; a few tries at most
    let answer = '';
    for (let i = 0; i < 20 && !answer.startsWith('HTTP/1.1 200'); i++) {
      const c = rawClient(port);
      c.socket.end('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
      await c.closed;
      answer = c.received();
    }
    assert.match(answer, /^HTTP\/1\.1 200/);
    for (const c of held) c.socket.destroy();
  });

  describe('Host allow-list (DNS rebinding)', () => {
    it('refuses a foreign Host with 403 host_not_allowed, before authentication', async () => {
      const res = await h.app.inject({ method: 'GET', url: '/api/v1/certificates', headers: { host: 'attacker.example:8080' } });
      assert.equal(res.statusCode, 403);
      const body = res.json<{ error: { code: string; message: string; details: { host: string } } }>();
      assert.equal(body.error.code, 'host_not_allowed');
      assert.equal(body.error.details.host, 'attacker.example');
      assert.match(body.error.message, /--allowed-host/);
      const page = await h.app.inject({ method: 'GET', url: '/', headers: { host: 'attacker.example' } });
      assert.equal(page.statusCode, 403, 'nor the console');
    });

    it('answers health checks by any name, and a request without Host (HAProxy\'s HTTP/1.0 httpchk)', async () => {
      for (const url of ['/healthz', '/readyz']) {
        const res = await h.app.inject({ method: 'GET', url, headers: { host: 'node-7.lb.internal' } });
        assert.equal(res.statusCode, 200, url);
      }
      const port = await serve({});
      for (const path of ['/readyz', '/api/v1/openapi.json']) {
        const c = rawClient(port);
        c.socket.end(`GET ${path} HTTP/1.0\r\n\r\n`);
        await c.closed;
        assert.match(c.received(), /^HTTP\/1\.1 200/, path);
      }
    });

    it('answers the localhost names, with or without a port', async () => {
      for (const host of ['localhost', 'localhost:8080', '127.0.0.1:8080', '[::1]:8080', 'LOCALHOST.']) {
        const res = await h.app.inject({ method: 'GET', url: '/healthz', headers: { host } });
        assert.equal(res.statusCode, 200, host);
      }
    });

    it('answers configured names, on a real socket too', async () => {
      const port = await serve({}, { allowedHosts: ['certfleet.example.org'] });
      for (const [host, status] of [['certfleet.example.org', 200], ['rebound.attacker.example', 403]] as const) {
        const c = rawClient(port);
        c.socket.end(`GET /api/v1/openapi.json HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: close\r\n\r\n`);
        await c.closed;
        assert.match(c.received(), new RegExp(`^HTTP/1\\.1 ${status}`), host);
      }
    });

    it('serve allows its listen address, and on a wildcard address this machine\'s names', () => {
      assert.deepEqual(allowedHostNames('10.1.2.3', ['console.example']), ['10.1.2.3', 'console.example']);
      const wildcard = allowedHostNames('0.0.0.0', []);
      assert.ok(wildcard.includes('127.0.0.1'));
      assert.ok(wildcard.length >= 2);
    });
  });
});
