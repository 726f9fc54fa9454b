/**
 * The CLI's only way to the server: the public REST API. Plain node:http(s), so that a private
 * CA (the self-signed web certificate of a server on a non-loopback address) can be trusted.
 */
import { readFileSync } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { ConnectionError, ServerRefusal, UsageError } from './cli-errors.js';
import { readConfig, type CliConfig } from './cli-config.js';
import type { ErrorResponse } from '../http-api/contract/index.js';

export interface ApiResponse {
  readonly status: number;
  readonly contentType: string;
  readonly body: Buffer;
}

export class ApiClient {
  private readonly base: URL;
  private readonly ca: Buffer | undefined;

  constructor(
    server: string,
    private readonly token: string | undefined,
    caFile?: string,
  ) {
    try {
      this.base = new URL(server);
    } catch {
      throw new UsageError(`"${server}" is not a server URL; give one like http://127.0.0.1:8080.`);
    }
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') {
      throw new UsageError(`"${server}" must start with http:// or https://.`);
    }
    try {
      this.ca = caFile ? readFileSync(caFile) : undefined;
    } catch (e) {
      throw new UsageError(`Cannot read the CA file ${caFile}: ${(e as Error).message}`);
    }
  }

  static fromConfig(config: CliConfig): ApiClient {
    if (!config.server) {
      throw new UsageError('No server is known. Run `certfleet login --server URL --user NAME --password-stdin` or set CERTFLEET_SERVER.');
    }
    if (!config.token) {
      throw new UsageError('You are not logged in. Run `certfleet login` or set CERTFLEET_TOKEN.');
    }
    return new ApiClient(config.server, config.token, config.caFile);
  }

  private url(path: string): URL {
    return new URL(path.replace(/^\//, ''), this.base.href.endsWith('/') ? this.base : new URL(this.base.href + '/'));
  }

  request(method: string, path: string, body?: unknown): Promise<ApiResponse> {
    const url = this.url(path);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = transport.request(url, { method, headers, ...(this.ca ? { ca: this.ca } : {}) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      });
      req.on('error', (e) => reject(new ConnectionError(`Cannot reach the server at ${this.base.origin}: ${e.message}`)));
      req.end(payload);
    });
  }

  /** Sends the request and returns the body on 2xx; turns an error document into a ServerRefusal. */
  async call(method: string, path: string, body?: unknown): Promise<ApiResponse> {
    const res = await this.request(method, path, body);
    if (res.status >= 200 && res.status < 300) return res;
    throw this.refusal(res.status, res.body);
  }

  /** The error document of a refused request, read leniently: a newer server may send a code this CLI does not know. */
  private refusal(status: number, body: Buffer): Error {
    let parsed: { error?: Partial<Omit<ErrorResponse['error'], 'code'> & { code: string }> } = {};
    try {
      parsed = JSON.parse(body.toString('utf8')) as typeof parsed; // shape checked below
    } catch {
      /* not JSON: handled below */
    }
    if (!parsed.error?.code) {
      return new ConnectionError(`The server at ${this.base.origin} answered ${status} without a certfleet error document.`);
    }
    return new ServerRefusal(status, parsed.error.code, parsed.error.message ?? '', parsed.error.details ?? {});
  }

  /**
   * A request whose body and answer stream (backups): `upload` is sent as application/octet-stream,
   * `json` as JSON. Resolves with the answer once its headers arrive, on 2xx; otherwise reads the
   * error document and rejects with it.
   */
  stream(
    method: string,
    path: string,
    o: { readonly headers?: Readonly<Record<string, string>>; readonly json?: unknown; readonly upload?: { readonly body: Readable; readonly length: number } },
  ): Promise<IncomingMessage> {
    const url = this.url(path);
    const headers: Record<string, string> = { accept: 'application/json, application/octet-stream', ...o.headers };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const payload = o.json === undefined ? undefined : Buffer.from(JSON.stringify(o.json), 'utf8');
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    } else if (o.upload) {
      headers['content-type'] = 'application/octet-stream';
      headers['content-length'] = String(o.upload.length);
    }
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = transport.request(url, { method, headers, ...(this.ca ? { ca: this.ca } : {}) }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          resolve(res);
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => reject(this.refusal(status, Buffer.concat(chunks))));
        res.on('error', reject);
      });
      req.on('error', (e) => reject(new ConnectionError(`Cannot reach the server at ${this.base.origin}: ${e.message}`)));
      if (o.upload) {
        o.upload.body.on('error', (e) => req.destroy(e));
        o.upload.body.pipe(req);
      } else req.end(payload);
    });
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.call(method, path, body);
    if (res.status === 204 || res.body.length === 0) return undefined as T; // no content: callers of 204 routes ask for void
    return JSON.parse(res.body.toString('utf8')) as T; // the API's documented shape
  }
}

/** The client of the server and token the CLI remembers (or the environment names). */
export function configuredClient(): ApiClient {
  return ApiClient.fromConfig(readConfig());
}
