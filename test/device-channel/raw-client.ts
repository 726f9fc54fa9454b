/**
 * A device-protocol client with no manners, for tests that attack the channel: any method, path,
 * headers and body bytes, over real TLS, on a fresh connection or a kept-alive one (an `Agent`).
 * Unlike the agent's client it never checks a pin and never refuses to send.
 */
import { Agent, request } from 'node:https';
import { connect } from 'node:tls';

export interface RawAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly text: string;
  /** The parsed body, or undefined when it is not JSON. */
  readonly json: unknown;
}

export interface RawRequest {
  readonly method?: string;
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Buffer | string;
  /** TLS server name; none by default (the channel then presents its default). */
  readonly servername?: string;
  /** A keep-alive agent, to send many requests over few connections. */
  readonly agent?: Agent;
}

/** A keep-alive agent with at most `sockets` connections to the channel. */
export function floodAgent(sockets: number): Agent {
  return new Agent({ keepAlive: true, maxSockets: sockets, rejectUnauthorized: false });
}

export function rawRequest(port: number, r: RawRequest): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: r.method ?? 'POST',
        path: r.path,
        headers: { ...(r.body !== undefined ? { 'content-length': String(Buffer.byteLength(r.body)) } : {}), ...r.headers },
        rejectUnauthorized: false,
        ...(r.servername !== undefined ? { servername: r.servername } : {}),
        agent: r.agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(r.body);
  });
}

/** Milliseconds for one full TLS handshake pinning `servername` (connect to secureConnect). */
export function handshakeMs(port: number, servername: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false });
    socket.once('secureConnect', () => {
      const ms = performance.now() - started;
      socket.destroy();
      resolve(ms);
    });
    socket.once('error', reject);
  });
}

/** The error code of an answer in the API's shape, or null. */
export function errorCode(a: RawAnswer): string | null {
  const body = a.json as { error?: { code?: unknown } } | undefined; // the shape is checked by the caller's assertion
  return typeof body?.error?.code === 'string' ? body.error.code : null;
}
