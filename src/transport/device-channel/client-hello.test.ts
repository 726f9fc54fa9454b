import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { readFile } from 'node:fs/promises';
import { connect, createServer as createTlsServer, type ConnectionOptions } from 'node:tls';
import { MAX_CLIENT_HELLO_BYTES, peekClientHello } from './client-hello.js';

/** The first bytes a real Node TLS client sends, caught by a plain TCP server. */
async function clientHello(opts: Omit<ConnectionOptions, 'host' | 'port'>): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => {
      let got = Buffer.alloc(0);
      socket.on('data', (c: Buffer) => {
        got = Buffer.concat([got, c]);
        if (got.length >= 5 && got.length >= 5 + got.readUInt16BE(3)) {
          socket.destroy();
          server.close();
          resolve(got);
        }
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const client = connect({ ...opts, host: '127.0.0.1', port: (server.address() as AddressInfo).port, rejectUnauthorized: false }); // a TCP listener
      client.on('error', () => undefined);
      client.on('close', () => undefined);
    });
    server.on('error', reject);
  });
}

/** A session (ticket) from a real TLS server with a fixture certificate. */
async function sessionFrom(maxVersion: 'TLSv1.2' | 'TLSv1.3'): Promise<Buffer> {
  const pem = await readFile(new URL('../../../../test/fixtures/out/pem-plain.pem', import.meta.url), 'utf8'); // a certificate and its key, seen from dist/src/transport/device-channel/
  // The server keeps the connection open: a TLS 1.3 client gets its ticket after the handshake.
  const server = createTlsServer({ cert: pem, key: pem }, (s) => s.on('error', () => undefined));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const client = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, rejectUnauthorized: false, maxVersion }); // a TCP listener
      client.once('session', (session: Buffer) => {
        resolve(session);
        client.destroy();
      });
      client.on('error', reject);
      client.on('close', () => reject(new Error('closed without a session')));
    });
  } finally {
    server.close();
  }
}

describe('peekClientHello', () => {
  it('reads the server name of TLS 1.3 and TLS 1.2 ClientHellos', async () => {
    const name = '0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef.pin.certfleet.invalid';
    assert.deepEqual(peekClientHello(await clientHello({ servername: name })), { kind: 'hello', serverName: name, offersSession: false });
    assert.deepEqual(peekClientHello(await clientHello({ servername: 'ff.hello.certfleet.invalid', maxVersion: 'TLSv1.2' })), {
      kind: 'hello',
      serverName: 'ff.hello.certfleet.invalid',
      offersSession: false,
    });
  });

  it('reports no server name when the client sends none (an IP address)', async () => {
    assert.deepEqual(peekClientHello(await clientHello({})), { kind: 'hello', serverName: null, offersSession: false });
  });

  it('waits for the rest of a ClientHello that arrives byte by byte', async () => {
    const hello = await clientHello({ servername: 'device.example' });
    for (let n = 0; n < hello.length; n++) assert.equal(peekClientHello(hello.subarray(0, n)).kind, 'incomplete', `${n} bytes`);
    assert.deepEqual(peekClientHello(hello), { kind: 'hello', serverName: 'device.example', offersSession: false });
  });

  it('reads a ClientHello split over two records', async () => {
    const hello = await clientHello({ servername: 'split.example' });
    const body = hello.subarray(5);
    const cut = 40;
    const record = (part: Buffer) => Buffer.concat([Buffer.from([22, 3, 1, part.length >> 8, part.length & 0xff]), part]);
    assert.deepEqual(peekClientHello(Buffer.concat([record(body.subarray(0, cut)), record(body.subarray(cut))])), { kind: 'hello', serverName: 'split.example', offersSession: false });
  });

  it('tells whether the client offers a session to resume (TLS 1.3 pre_shared_key, TLS 1.2 ticket)', async () => {
    for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
      const session = await sessionFrom(maxVersion);
      const hello = await clientHello({ servername: 'device.example', maxVersion, session });
      assert.deepEqual(peekClientHello(hello), { kind: 'hello', serverName: 'device.example', offersSession: true }, maxVersion);
      assert.deepEqual(peekClientHello(await clientHello({ servername: 'device.example', maxVersion })), { kind: 'hello', serverName: 'device.example', offersSession: false }, maxVersion);
    }
  });

  it('lets anything else through to TLS to refuse', () => {
    assert.equal(peekClientHello(Buffer.from('GET / HTTP/1.1\r\n\r\n')).kind, 'other');
    assert.equal(peekClientHello(Buffer.from([22, 3, 1, 0, 4, 2, 0, 0, 0])).kind, 'other', 'a ServerHello');
    assert.equal(peekClientHello(Buffer.from([22, 3, 1, 0, 6, 1, 0, 0, 2, 3, 3])).kind, 'other', 'truncated inside');
    assert.equal(peekClientHello(Buffer.concat([Buffer.from([22, 3, 1, 0xff, 0xff]), Buffer.alloc(MAX_CLIENT_HELLO_BYTES)])).kind, 'other', 'too long');
  });
});
