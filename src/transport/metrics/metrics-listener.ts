/**
 * `serve --metrics-listen HOST:PORT`: Prometheus' `/metrics` on a listener of its own, without
 * authentication, for a scraper on a private network. It answers GET /metrics and nothing else.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { METRICS_PATH, type ServerMetrics } from './metrics.js';

export interface MetricsListener {
  /** host:port it listens on. */
  readonly address: string;
  close(): Promise<void>;
}

export interface MetricsListenerLog {
  error(obj: object, msg: string): void;
}

export async function startMetricsListener(metrics: ServerMetrics, at: { readonly host: string; readonly port: number }, log: MetricsListenerLog): Promise<MetricsListener> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== METRICS_PATH || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Only GET /metrics is served here.\n');
      return;
    }
    metrics.scrape().then(
      (scraped) => res.writeHead(200, { 'content-type': scraped.contentType, 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : scraped.body),
      (e: unknown) => {
        log.error({ err: e }, 'metrics scrape failed');
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('The metrics could not be read; see the server log.\n');
      },
    );
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => resolve());
  });
  const a = server.address() as AddressInfo; // a TCP listener answers with an AddressInfo
  const host = a.address.includes(':') ? `[${a.address}]` : a.address;
  return {
    address: `${host}:${a.port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
