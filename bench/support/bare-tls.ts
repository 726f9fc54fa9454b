/**
 * The baseline of the device benchmarks: a bare Node `tls.createServer` with a given certificate
 * and key that answers every HTTP request with `{}` — what a TLS handshake and a request cost
 * with no application behind them.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';

export interface BareTlsServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startBareTlsServer(certPem: string, keyPem: string): Promise<BareTlsServer> {
  const bare = createTlsServer({ cert: certPem, key: keyPem, minVersion: 'TLSv1.2' }, (socket) => {
    let buf = '';
    socket.on('data', (chunk: Buffer) => {
      buf += chunk.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const m = /content-length:\s*(\d+)/i.exec(buf.slice(0, end));
      if (buf.length < end + 4 + Number(m?.[1] ?? 0)) return;
      buf = '';
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}');
    });
    socket.on('error', () => socket.destroy());
  });
  bare.listen(0, '127.0.0.1');
  await once(bare, 'listening');
  return {
    port: (bare.address() as AddressInfo).port, // a TCP listener
    close: () => new Promise<void>((resolve) => bare.close(() => resolve())),
  };
}
