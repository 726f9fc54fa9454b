/**
 * The agent's HTTP over its pinned TLS connection, against a plain HTTPS server that frames its
 * answers the way any HTTP/1.1 server may: chunked (no Content-Length), kept alive between
 * requests, or closed after one. The agent must read them all, reuse one connection where the
 * protocol does (register → confirm and check-in on one pinned connection), and stay bounded.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { DeviceKeystoreEntry } from '../../src/app/device-keystore.js';
import { ConnectionFailure, ServerRefusal } from '../../src/agent/agent-errors.js';
import type { AgentEvent } from '../../src/agent/agent.js';
import { firmwareProfile } from '../../src/agent/profiles.js';
import { DeviceConnection } from '../../src/agent/tls-client.js';
import { colonFingerprint } from '../../src/domain/device-names.js';
import { makeEntry, MEMORY_CREDENTIAL, memoryAgent } from './channel-fixtures.js';

const MODERN = firmwareProfile('igel-os-12');

/** Writes `body` as JSON in chunks of `size` bytes, without a Content-Length: chunked encoding. */
function sendChunked(res: ServerResponse, status: number, body: unknown, size = 7): void {
  const text = Buffer.from(JSON.stringify(body), 'utf8');
  res.writeHead(status, { 'content-type': 'application/json' });
  for (let i = 0; i < text.length; i += size) res.write(text.subarray(i, i + size));
  res.end();
}

describe('agent HTTP over the pinned connection', () => {
  let entry: DeviceKeystoreEntry;
  let server: Server;
  let port: number;
  /** TLS connections accepted, and the connection number of every request (path → numbers). */
  let connections = 0;
  const requests: { path: string; connection: number }[] = [];
  const connectionOf = new WeakMap<object, number>();
  let handler: (req: IncomingMessage, res: ServerResponse) => void = () => undefined;

  before(async () => {
    entry = await makeEntry('chunky', 'SHA256withRSA', 1);
    server = createServer({ cert: entry.certPem, key: entry.keyPem, keepAliveTimeout: 15_000 }, (req, res) => {
      requests.push({ path: req.url ?? '', connection: connectionOf.get(req.socket) ?? -1 });
      // The body is read before answering, as a real server does.
      req.resume();
      req.on('end', () => handler(req, res));
    });
    server.on('secureConnection', (socket) => connectionOf.set(socket, ++connections));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port; // a TCP listener
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const open = (timeoutMs = 5000) => {
    assert.ok(MODERN, 'the profile exists');
    return DeviceConnection.open({
      server: { host: '127.0.0.1', port },
      servername: 'chunky.certfleet.invalid',
      check: { pinSha256Hex: entry.sha256Hex, acceptedAlgorithms: MODERN.algorithms },
      timeoutMs,
    });
  };

  it('reads chunked answers, and two requests share one kept-alive connection', async () => {
    handler = (req, res) => sendChunked(res, 200, { path: req.url, padding: 'x'.repeat(3000) });
    const before = connections;
    const conn = await open();
    try {
      const first = await conn.request('POST', '/device/v1/check-in', { osVersion: '12.1' }, MEMORY_CREDENTIAL);
      const second = await conn.request('GET', '/device/v1/me', undefined, MEMORY_CREDENTIAL);
      assert.deepEqual(first, { status: 200, body: { path: '/device/v1/check-in', padding: 'x'.repeat(3000) } });
      assert.deepEqual(second, { status: 200, body: { path: '/device/v1/me', padding: 'x'.repeat(3000) } });
    } finally {
      conn.close();
    }
    assert.equal(connections - before, 1, 'one TLS connection');
    assert.deepEqual(requests.slice(-2).map((r) => r.connection), [before + 1, before + 1], 'both requests arrived on it');
  });

  it('reads a chunked error document as a refusal, and the connection stays usable', async () => {
    handler = (req, res) =>
      req.url === '/refuse'
        ? sendChunked(res, 409, { error: { code: 'pin_mismatch', message: 'not pinned', details: { why: 'test' } } })
        : sendChunked(res, 200, { ok: true });
    const conn = await open();
    try {
      await assert.rejects(conn.request('POST', '/refuse', {}), (e: unknown) => {
        assert.ok(e instanceof ServerRefusal, `a ServerRefusal, not ${String(e)}`);
        assert.deepEqual([e.status, e.code, e.message, e.details], [409, 'pin_mismatch', 'not pinned', { why: 'test' }]);
        return true;
      });
      assert.deepEqual(await conn.request('GET', '/after'), { status: 200, body: { ok: true } });
    } finally {
      conn.close();
    }
  });

  it('refuses a chunked answer larger than its limit, and closes the connection', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const piece = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      // Far past the limit, written as the client reads (it must stop reading, not buffer it all).
      const more = () => {
        while (sent < 64 && res.write(piece)) sent++;
        if (sent < 64) res.once('drain', more);
        else res.end();
      };
      res.on('close', () => res.off('drain', more));
      more();
    };
    const conn = await open();
    await assert.rejects(conn.request('GET', '/big'), (e: unknown) => e instanceof ConnectionFailure && /larger than 1048576 bytes/.test(e.message));
    await assert.rejects(conn.request('GET', '/after'), (e: unknown) => e instanceof ConnectionFailure && e.beforeRequest);
  });

  it('an answer with Connection: close ends the connection; the next request fails before it is sent', async () => {
    handler = (_req, res) => {
      res.setHeader('connection', 'close');
      sendChunked(res, 200, { last: true });
    };
    const conn = await open();
    assert.deepEqual(await conn.request('GET', '/once'), { status: 200, body: { last: true } });
    const count = requests.length;
    await assert.rejects(conn.request('GET', '/again'), (e: unknown) => e instanceof ConnectionFailure && e.beforeRequest);
    assert.equal(requests.length, count, 'nothing reached the server');
  });

  it('a server that never answers fails the request after the timeout', async () => {
    handler = () => undefined;
    const conn = await open(300);
    await assert.rejects(conn.request('GET', '/silent'), (e: unknown) => e instanceof ConnectionFailure && e.code === 'ETIMEDOUT' && !e.beforeRequest);
  });

  it('an agent registers, then confirms and checks in on one pinned connection, against chunked answers', async () => {
    const certificate = { alias: 'chunky', sha256Fingerprint: colonFingerprint(entry.sha256Hex), signatureAlgorithm: 'SHA256withRSA' };
    handler = (req, res) => {
      if (req.url === '/device/v1/register') sendChunked(res, 201, { deviceId: 'dev-1', credential: MEMORY_CREDENTIAL, certificate: { ...certificate, pem: entry.certPem } });
      else if (req.url === '/device/v1/confirm') sendChunked(res, 200, { certificate });
      else sendChunked(res, 200, { deviceId: 'dev-1', certificate, replacement: null, checkInSeconds: 60 });
    };
    const events: AgentEvent[] = [];
    const agent = memoryAgent([{ host: '127.0.0.1', port }], 'igel-os-12', { onEvent: (e) => events.push(e) });
    const before = { connections, requests: requests.length };
    const r = await agent.cycle('cfe_token');
    assert.equal(r.registered, true);
    assert.equal(r.pinned.sha256, certificate.sha256Fingerprint);
    const seen = requests.slice(before.requests);
    assert.deepEqual(seen.map((x) => x.path), ['/device/v1/register', '/device/v1/confirm', '/device/v1/check-in']);
    assert.deepEqual(
      seen.map((x) => x.connection - before.connections),
      [1, 2, 2],
      'first contact on one connection; confirm and check-in together on the pinned one',
    );
    assert.equal(events.filter((e) => e.kind === 'handshake').length, 2);
  });
});
